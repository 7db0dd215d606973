"""Shared pieces of the CLI: options, console, error handling, progress and table rendering.

Tables never cut a code, a name or a URL. :func:`render_table` returns a Rich table that
decides at print time, from the console's width, how to show every cell in full:

* a normal table when each column fits at the width of its longest word (names wrap at
  spaces, column headings at underscores; codes, numbers and URLs never break);
* otherwise one block per record (``field  value`` lines), where only a value longer than the
  whole line (a long URL) continues on the next line — folded, never shortened;
* on a pipe (stdout not a terminal) the same cells as plain tab-separated values, with the
  title as a ``# title`` line and a header row (``--format csv|tsv|json`` gives raw values).

Commands with a ``--format`` option (:data:`FormatOption`) print through :func:`emit`, which
also writes ``csv``, ``tsv`` or ``json`` to stdout (the prose then goes to stderr) and says
when the screen shows only part of a table ("showing 15 of 466; all in FILE").
"""

from __future__ import annotations

import enum
import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from ..errors import DataError

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db", envvar="NLENS_DB",
        help="Warehouse file (default: env NLENS_DB, else ./nlens.duckdb in the current directory).",
        show_default=False,
    ),
]


class OutputFormat(enum.StrEnum):
    """How a command prints its tables (``--format``)."""

    auto = "auto"
    table = "table"
    csv = "csv"
    tsv = "tsv"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format", case_sensitive=False,
        help="Tables as: table (wrapped, never cut), csv, tsv or json on stdout (messages then go to stderr); "
             "auto = table on a terminal, tsv on a pipe.",
    ),
]

#: Settings of the command being run (set by :func:`handle_errors` from its ``fmt``/``out`` options).
_STATE: dict[str, Any] = {"format": OutputFormat.auto, "stdout_taken": False, "out_stdout": False, "emitted": 0}

F = TypeVar("F", bound=Callable[..., Any])


def is_stdout(path: Path | str | None) -> bool:
    """True for the ``--out -`` convention (write to stdout)."""
    return path is not None and str(path) == "-"


def handle_errors(fn: F) -> F:
    """Run a command: its ``--format``/``--out -`` settings, and every error a user can cause as one red line.

    The one error path of ``nlens`` (see :mod:`neighbourhood_lens.cli._errors`): the package's
    errors and file-reading errors exit with code 2, Ctrl-C with 130; anything else is a bug
    and keeps its traceback. Text is printed as text, never as Rich markup.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        fmt = kwargs.get("fmt")
        fmt = OutputFormat(fmt) if fmt is not None else OutputFormat.auto
        from neighbourhood_lens.outputs.tables import STDOUT_FORMAT

        out_stdout = any(is_stdout(v) for v in kwargs.values() if isinstance(v, Path))
        taken = out_stdout or fmt in (OutputFormat.csv, OutputFormat.tsv, OutputFormat.json)
        saved = dict(_STATE)
        _STATE.update(format=fmt, stdout_taken=taken, out_stdout=out_stdout, emitted=0)
        token = STDOUT_FORMAT.set(fmt.value if fmt in (OutputFormat.tsv, OutputFormat.json) else "csv")
        console.stderr = taken  # prose goes to stderr when stdout carries data
        try:
            from ._errors import EXIT_USER, unwritable_output

            problem = unwritable_output()  # before any work, and before a table names the file
            if problem is not None:
                err_console.print(Text.assemble(("Error:", "bold red"), " ", problem), highlight=False, soft_wrap=True)
                raise typer.Exit(EXIT_USER)
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except BaseException as exc:  # the one error path: see cli/_errors.py
            from ._errors import user_message

            told = user_message(exc)
            if told is None:
                raise
            text, code = told
            line = Text(text, style="bold red") if code == 130 else Text.assemble(("Error:", "bold red"), " ", text)
            err_console.print(line, highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None
        finally:
            STDOUT_FORMAT.reset(token)
            console.stderr = False
            _STATE.clear()
            _STATE.update(saved)

    wrapper.handles_errors = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar on stderr; yields ``update(label, n, total)`` (step ``n`` of ``total`` begins).

    The bar appears at the first update, so it always knows its total (never ``0/None``), and
    vanishes without a trace if the work fails, so the error line stands alone.
    """
    state: dict[str, Any] = {}

    def update(label: str, n: int, total: int) -> None:
        if "bar" not in state:
            bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                           TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[label]}"),
                           TimeElapsedColumn(), console=err_console)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(description, total=total, label="")
        state["bar"].update(state["task"], completed=n - 1, total=total, label=label)

    try:
        yield update
    except BaseException:
        if "bar" in state:
            state["bar"].live.transient = True
            quiet, err_console.quiet = err_console.quiet, True  # no blank line left on a pipe either
            try:
                state["bar"].stop()
            finally:
                err_console.quiet = quiet
        raise
    if "bar" in state:
        bar = state["bar"]
        bar.update(state["task"], completed=bar.tasks[0].total or 0, label="done")
        bar.stop()


def check_suffix(path: Path | None, allowed: tuple[str, ...], *, option: str = "--out") -> None:
    """Fail before any work if ``path`` has a suffix we cannot write (``-`` = stdout is always allowed)."""
    if path is None or is_stdout(path):
        return
    if path.suffix.lower() == ".xlsx" and ".csv" in allowed:
        return
    if path.suffix.lower() not in allowed:
        extra = (".xlsx", "-") if ".csv" in allowed else ()
        raise DataError(f"{option} {path}: unknown suffix {path.suffix!r}; use one of {', '.join(allowed + extra)}")


def data_format() -> bool:
    """True when ``--format`` is ``csv``, ``tsv`` or ``json`` (tables go to stdout as data, raw columns)."""
    return _STATE["format"] in (OutputFormat.csv, OutputFormat.tsv, OutputFormat.json)


def note(text: str, *, label: str = "note") -> None:
    """A note in yellow through the console: wrapped to the terminal, on stderr when stdout carries data."""
    console.print(Text.assemble((f"{label}:", "yellow"), " ", str(text)), highlight=False)


def wrote(n: int, out: Path, what: str = "rows") -> None:
    """The one-line note after writing ``n`` rows to ``out``."""
    where = "stdout" if is_stdout(out) else str(out)
    console.print(Text(f"Wrote {n:,} {what} to {where}"), highlight=False)


# -- cells -----------------------------------------------------------------------------------

def _is_missing(val: Any) -> bool:
    try:
        return val is None or bool(val != val)
    except (TypeError, ValueError):
        return False


def format_cells(frame: Any, formats: Mapping[str, str] | None = None) -> list[list[str]]:
    """Format every cell of ``frame`` as text: ``formats[col]`` if given, else a default.

    Floats get thousands separators and 2 decimals (no decimals when the whole column holds
    whole numbers); missing values are empty.

    >>> import pandas as pd
    >>> format_cells(pd.DataFrame({"a": ["x", None], "n": [1234.0, 5.0], "s": [0.125, float("nan")]}))
    [['x', '1,234', '0.12'], ['', '5', '']]
    """
    formats = dict(formats or {})
    cols = list(frame.columns)
    defaults: dict[str, str] = {}
    for col in cols:
        if col in formats or frame[col].dtype.kind != "f":
            continue
        vals = frame[col].dropna()
        defaults[col] = ",.0f" if len(vals) and bool((vals == vals.round()).all()) else ",.2f"
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for col, val in zip(cols, row, strict=True):
            fmt = formats.get(col) or defaults.get(col)
            if _is_missing(val):
                cells.append("")
            elif fmt:
                try:
                    cells.append(format(val, fmt))
                except (TypeError, ValueError):
                    cells.append(str(val))
            else:
                cells.append(str(val))
        rows.append(cells)
    return rows


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


def _header_chunks(name: str) -> list[str]:
    """A heading split where it may break: after each underscore and at spaces."""
    chunks: list[str] = []
    for word in name.split(" "):
        parts = word.split("_")
        chunks += [p + "_" for p in parts[:-1]] + [parts[-1]]
    return [c for c in chunks if c]


def _wrap_header(name: str, width: int) -> str:
    lines: list[str] = []
    for chunk in _header_chunks(name):
        if lines and cell_len(lines[-1]) + cell_len(chunk) + (0 if lines[-1].endswith("_") else 1) <= width:
            lines[-1] += chunk if lines[-1].endswith("_") else " " + chunk
        else:
            lines.append(chunk)
    return "\n".join(lines)


def _allocate(minimum: list[int], maximum: list[int], available: int) -> list[int] | None:
    """Column widths between ``minimum`` and ``maximum`` summing to at most ``available``; None if impossible."""
    if sum(minimum) > available:
        return None
    if sum(maximum) <= available:
        return list(maximum)
    widths = list(minimum)
    spare = available - sum(minimum)
    # Complete the columns that need least first (fewer columns wrap); share what is left in
    # proportion to what each remaining column still lacks.
    order = sorted(range(len(widths)), key=lambda j: (maximum[j] - minimum[j], j))
    while order and maximum[order[0]] - widths[order[0]] <= spare:
        i = order.pop(0)
        spare -= maximum[i] - widths[i]
        widths[i] = maximum[i]
    lacking = sum(maximum[i] - widths[i] for i in order)
    shares = [(maximum[i] - widths[i]) * spare // lacking if lacking else 0 for i in order]
    for i, share in zip(order, shares, strict=True):
        widths[i] += share
    left = spare - sum(shares)
    for i in order[::-1]:  # the rounding remainder, one column each, widest need first
        if left > 0 and widths[i] < maximum[i]:
            widths[i] += 1
            left -= 1
    return widths


class FrameTable(Table):
    """A Rich :class:`~rich.table.Table` of a DataFrame that never truncates a cell (see the module notes)."""

    def __init__(self, frame: Any, *, title: str | None = None, formats: Mapping[str, str] | None = None,
                 caption: str | None = None) -> None:
        super().__init__(title=title, caption=caption, header_style="bold", show_lines=False)
        self.frame = frame
        self.headers = [str(c) for c in frame.columns]
        self.numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]
        self.cells = format_cells(frame, formats)
        for name, numeric in zip(self.headers, self.numeric, strict=True):
            self.add_column(name, justify="right" if numeric else "left")
        for row in self.cells:
            self.add_row(*row)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if _STATE["format"] == OutputFormat.auto and not console.is_terminal:
            # On a pipe: the same cells, tab-separated, every one whole; the title as a comment line.
            lines = [f"# {self.title}"] if self.title else []
            lines += ["\t".join(self.headers)] + ["\t".join(c.replace("\t", " ") for c in row) for row in self.cells]
            # Written straight to the console's file: Rich would expand the tabs and crop long lines.
            console.file.write("\n".join(lines) + "\n")
            console.file.flush()
            if self.caption:
                err_console.print(f"[dim]{self.caption}[/]", highlight=False)
            return
        width = options.max_width
        layout = self._grid(width)
        yield layout if layout is not None else self._records(width)

    def _grid(self, width: int) -> Table | None:
        n = len(self.headers)
        if n == 0:
            return None
        minimum, content, maximum = [], [], []
        for j, name in enumerate(self.headers):
            column = [row[j] for row in self.cells]
            head_min = max(cell_len(c) for c in _header_chunks(name)) if name else 0
            if self.numeric[j]:
                cmin = max((cell_len(c) for c in column), default=0)
                cmax = cmin
            else:
                cmin = max((_longest_word(c) for c in column), default=0)
                cmax = max((cell_len(c) for c in column), default=0)
            minimum.append(max(cmin, head_min, 1))
            content.append(max(cmax, minimum[-1]))
            maximum.append(max(cmax, cell_len(name), minimum[-1]))
        available = width - 3 * n - 1
        widths = _allocate(minimum, content, available)  # first whole cells, then unbroken headings
        if widths is None:
            return None
        if widths == content:
            widths = _allocate(content, maximum, available) or content
        table = Table(title=self.title, caption=self.caption, header_style="bold", show_lines=False)
        for name, numeric, w in zip(self.headers, self.numeric, widths, strict=True):
            table.add_column(Text(_wrap_header(name, w)), justify="right" if numeric else "left",
                             width=w, no_wrap=numeric, overflow="fold")
        for row in self.cells:
            table.add_row(*[Text(c) for c in row])
        return table

    def _records(self, width: int) -> Table:
        """One block per row: ``field  value`` lines; values fold only when longer than the line."""
        n = len(self.cells)
        outer = Table.grid()
        outer.add_column(overflow="fold")
        if self.title:
            outer.add_row(Text(f"{self.title}", style="italic"))
        label = max((cell_len(h) for h in self.headers), default=0)
        for i, row in enumerate(self.cells, start=1):
            rule = f"── {i} of {n} "
            outer.add_row(Text(rule + "─" * max(0, width - cell_len(rule)), style="dim"))
            grid = Table.grid(Column(width=min(label, max(width // 2, 1)), no_wrap=False, overflow="fold",
                                     style="bold"),
                              Column(overflow="fold"), padding=(0, 0, 0, 0))
            grid.padding = (0, 1)
            for name, cell in zip(self.headers, row, strict=True):
                grid.add_row(Text(name), Text(cell))
            outer.add_row(grid)
        if self.caption:
            outer.add_row(Text(self.caption, style="dim"))
        return outer


def render_table(frame: Any, *, title: str | None = None, formats: dict[str, str] | None = None,
                 caption: str | None = None) -> Table:
    """A table of a DataFrame for ``console.print``: numbers right-aligned and formatted, no cell cut.

    ``formats`` maps a column to a format spec (e.g. ``",.0f"``). The result is a Rich
    :class:`~rich.table.Table` that picks its layout when printed (see the module notes).
    """
    return FrameTable(frame, title=title, formats=formats, caption=caption)


def cap_note(shown: int, total: int, *, out: Path | None = None, hint: str = "--out FILE") -> str | None:
    """``"showing 15 of 466; all in FILE"`` when the screen shows part of a table, else None.

    >>> cap_note(15, 466, out=Path("lb.csv"))
    'showing 15 of 466; all in lb.csv'
    >>> cap_note(15, 466)
    'showing 15 of 466; all with --out FILE'
    >>> cap_note(3, 3) is None
    True
    """
    if shown >= total:
        return None
    where = f"in {out}" if out is not None and not is_stdout(out) else f"with {hint}"
    return f"showing {shown:,} of {total:,}; all {where}"


def emit(frame: Any, *, title: str | None = None, formats: dict[str, str] | None = None,
         limit: int | None = None, out: Path | None = None, hint: str = "--out FILE") -> None:
    """Print a table the way ``--format`` asks.

    ``table``/``auto``: the first ``limit`` rows (all if None) with a note when capped.
    ``csv``/``tsv``/``json``: stdout carries exactly one table, the command's main one (the
    first it emits): every row, no formatting; json is one array of records, so
    ``json.loads(stdout)`` always works. Any further table of the command (a summary, a
    balance table) is shown as on screen, on stderr with the other messages. With ``--out -``
    the screen tables are left out, so stdout carries only the written file.
    """
    fmt = _STATE["format"]
    if _STATE["out_stdout"]:
        return
    if fmt in (OutputFormat.csv, OutputFormat.tsv, OutputFormat.json) and not _STATE["emitted"]:
        from neighbourhood_lens.outputs.tables import integer_counts

        frame = integer_counts(frame)
        if fmt == OutputFormat.json:
            sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
        else:
            from neighbourhood_lens._spreadsheet import csv_quoting, neutralise_frame

            safe = neutralise_frame(frame)
            sys.stdout.write(safe.to_csv(sep="," if fmt == OutputFormat.csv else "\t", index=False,
                                         quoting=csv_quoting(safe)))
        sys.stdout.flush()
        _STATE["emitted"] += 1
        return
    shown = frame if limit is None or limit <= 0 else frame.head(limit)
    note = cap_note(len(shown), len(frame), out=out, hint=hint)
    console.print(render_table(shown, title=title, formats=formats, caption=note))
