"""Shared pieces of the CLI: options, console, error handling, progress and table rendering."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import DataError, NeighbourhoodLensError

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db", envvar="NLENS_DB",
        help="Warehouse file (default: env NLENS_DB, else ./nlens.duckdb if present, else the user data dir).",
        show_default=False,
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Turn the package's own errors into a red one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NeighbourhoodLensError as exc:
            err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar; yields ``update(label, n, total)``."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[label]}"), TimeElapsedColumn(), console=err_console, transient=False,
    ) as bar:
        task = bar.add_task(description, total=None, label="")

        def update(label: str, n: int, total: int) -> None:
            bar.update(task, completed=n - 1, total=total, label=label)

        yield update
        bar.update(task, completed=bar.tasks[0].total or 0, label="done")


def check_suffix(path: Path | None, allowed: tuple[str, ...], *, option: str = "--out") -> None:
    """Fail before any work if ``path`` has a suffix we cannot write."""
    if path is not None and path.suffix.lower() not in allowed:
        raise DataError(f"{option} {path}: unknown suffix {path.suffix!r}; use one of {', '.join(allowed)}")


def render_table(frame: Any, *, title: str | None = None, formats: dict[str, str] | None = None) -> Table:
    """A Rich table of a DataFrame; numbers right-aligned and formatted."""
    formats = formats or {}
    table = Table(title=title, show_lines=False, header_style="bold")
    for col in frame.columns:
        numeric = frame[col].dtype.kind in "iuf"
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for col, val in zip(frame.columns, row, strict=True):
            fmt = formats.get(col)
            if fmt and val == val and val is not None:
                cells.append(format(val, fmt))
            elif isinstance(val, float):
                cells.append(f"{val:,.2f}")
            else:
                cells.append("" if val is None else str(val))
        table.add_row(*cells)
    return table
