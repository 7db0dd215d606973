"""The one error path of ``nlens``: every failure a user can cause becomes one or two lines.

:func:`neighbourhood_lens.cli._common.handle_errors` wraps every command and hands what it
catches to :func:`user_message`, which returns the text to print and the exit code, or
``None`` for a genuine bug (whose traceback is then shown, so it gets reported):

* the package's own errors (:class:`~neighbourhood_lens.errors.NeighbourhoodLensError`):
  their message, exit code 2;
* errors from reading a file the user named (empty, binary, wrong encoding, not CSV/Parquet/
  XLSX, missing or unreadable): ``--option PATH: what is wrong; how to fix it``, exit code 2.
  An ``OSError`` raised while writing (a folder made, a file opened to write: :func:`_is_write`)
  is ``--option PATH: cannot write ...`` instead (a file in the way of its folder, a folder given
  as the file, permission denied, the disk full), exit code 2;
  The file is the one the failing code was reading (the error's ``filename``, else the
  innermost frame of the traceback holding the path of an existing file), shown with the
  option that named it; failing that, every file option of the command;
* Ctrl-C, including DuckDB's ``Query interrupted``: ``Interrupted.``, exit code 130 (the
  shell's code for SIGINT). The warehouse is written in transactions, so an interrupted
  command leaves it as it was.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from ..errors import NeighbourhoodLensError, first_line

__all__ = ["EXIT_INTERRUPT", "EXIT_USER", "file_options", "is_interrupt", "unwritable_output", "user_message"]

EXIT_USER = 2
EXIT_INTERRUPT = 130


def _paths_in(value: Any) -> list[str]:
    """Paths of existing files named by an option value (a path, ``ID=PATH``, or a list of them)."""
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _paths_in(v)]
    if not isinstance(value, (str, Path)):
        return []
    text = str(value)
    found = [text] if os.path.isfile(text) else []
    if not found and "=" in text:
        tail = text.split("=", 1)[1]
        found = [tail] if os.path.isfile(os.path.expanduser(tail)) else []
    return found


def _params() -> list[tuple[str, str, Any]]:
    """``(name, label, value)`` of every option and argument of the running command (the label: its
    longest flag, or the argument's name in capitals); empty outside a command."""
    try:  # Typer ships its own copy of click, with its own context stack
        from typer.main import get_current_context
    except ImportError:  # pragma: no cover - older Typer uses click itself
        from click import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is None:
        return []
    out = []
    for param in ctx.command.params:
        opts = [o for o in param.opts if o.startswith("-")]
        out.append((param.name or "", max(opts, key=len) if opts else (param.name or "").upper(),
                    ctx.params.get(param.name or "")))
    return out


def _options() -> list[tuple[str, Any]]:
    """``(label, value)`` of every option and argument of the running command (see :func:`_params`)."""
    return [(label, value) for _, label, value in _params()]


def file_options() -> list[tuple[str, str]]:
    """``(option, path)`` for every option or argument of the running command that names a file."""
    return [(label, path) for label, value in _options() for path in _paths_in(value)]


def _same_file(a: Any, b: str) -> bool:
    try:
        return os.path.realpath(os.fspath(a)) == os.path.realpath(os.path.expanduser(b))
    except (TypeError, ValueError):
        return False


def _file_being_read(exc: BaseException) -> str | None:
    """The file the failing code was reading: the innermost frame with a local naming an existing file."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in list(frame.f_locals.values()):
            if isinstance(value, (str, Path)) and 0 < len(str(value)) < 4096:
                try:
                    if os.path.isfile(value):
                        return os.fspath(value)
                except (OSError, ValueError):
                    continue
    return None


def _where(exc: BaseException) -> str:
    """``--option PATH`` (or just ``PATH``) of the file an error is about."""
    named = getattr(exc, "filename", None) or _file_being_read(exc)
    candidates = file_options()
    if named:
        for option, path in candidates:
            if _same_file(named, path):
                return f"{option} {path}"
        return str(named)
    if not candidates:
        return "the input file"
    return " or ".join(f"{option} {path}" for option, path in candidates)


#: Functions whose failure is a failure to write: making a folder, writing a file (Python, pandas,
#: matplotlib, the package's own writers); see :func:`_is_write`.
_WRITERS = frozenset({"mkdir", "makedirs", "write_text", "write_bytes", "touch", "to_csv", "to_parquet",
                      "to_excel", "to_file", "savefig", "print_figure", "write_table", "write_sidecar",
                      "write_dataframe", "copyfile", "copy2", "replace", "rename"})


def _is_write(exc: OSError) -> bool:
    """Whether an ``OSError`` came from writing: a frame of its traceback is one of :data:`_WRITERS`,
    or opened its file with a mode that writes (``"w"``, ``"a"``, ``"x"``, ``"+"``)."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name in _WRITERS:
            return True
        mode = frame.f_locals.get("mode", frame.f_locals.get("flag"))
        if isinstance(mode, str) and 0 < len(mode) <= 4 and set(mode) <= set("rwaxbt+U") and set(mode) & set("wax+"):
            return True
        tb = tb.tb_next
    return False


def _output_named(filename: str) -> tuple[str, Path] | None:
    """``(option, path)`` of the command's option that names ``filename`` or a file inside it."""
    try:
        target = Path(os.path.realpath(filename))
    except (TypeError, ValueError):
        return None
    for label, value in _options():
        if not isinstance(value, (str, Path)) or not str(value):
            continue
        try:
            given = Path(os.path.realpath(os.path.expanduser(str(value))))
        except (TypeError, ValueError):
            continue
        if given == target or target in given.parents:
            return label, Path(str(value))
    return None


def _write_problem(exc: OSError) -> str:
    """``--option PATH: cannot write ...`` for an error raised while writing an output."""
    named = getattr(exc, "filename", None)
    named = os.fspath(named) if isinstance(named, (str, Path)) else None
    found = _output_named(named) if named else None
    where = f"{found[0]} {found[1]}" if found else (named or "the output")
    path = found[1] if found else Path(named) if named else None
    if isinstance(exc, IsADirectoryError) and path is not None and path.is_dir():
        return f"{where}: cannot write: it is a folder; give a file name"
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and path is not None:
        blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
        if blocker is not None and blocker != path:
            return f"{where}: cannot write: {blocker} is a file, not a folder"
        if blocker == path and isinstance(exc, FileExistsError):  # a folder was to be made here
            return f"{where}: cannot write: it is a file, where a folder is needed"
    if isinstance(exc, PermissionError):
        return f"{where}: cannot write (permission denied)"
    return f"{where}: cannot write ({exc.strerror or first_line(str(exc))})"


#: The options of the commands that name a file to be written (parameter names) and a folder to be written in.
OUTPUT_FILES = frozenset({"out", "chart", "map", "map_file", "map_path", "plot", "report", "pairs_out", "sobol_out",
                          "summary_out", "assignment_out", "rejected", "unlocated"})
OUTPUT_FOLDERS = frozenset({"cache"})


def unwritable_output() -> str | None:
    """``--option PATH: cannot write ...`` for the first output option of the running command that
    cannot be written, checked before the command starts (so no table says "all in FILE" of a file that
    will not be there, and no work is done first); None when every output can be tried.

    An output file cannot be written when it is a folder, when a folder above it is a file, or when it
    (or the nearest folder above it that exists) may not be written; a folder output when it is a file.
    The words are :func:`_write_problem`'s, which still catches what only the write itself finds.
    """
    for name, label, value in _params():
        if name not in OUTPUT_FILES | OUTPUT_FOLDERS or not isinstance(value, (str, Path)) or str(value) in ("", "-"):
            continue
        where, path = f"{label} {value}", Path(os.path.expanduser(str(value)))
        try:
            if name in OUTPUT_FOLDERS:
                if path.exists() and not path.is_dir():
                    return f"{where}: cannot write: it is a file, where a folder is needed"
                continue
            if path.is_dir():
                return f"{where}: cannot write: it is a folder; give a file name"
            above = next((p for p in path.parents if p.exists()), None)  # a relative path ends at "."
            if above is not None and not above.is_dir():
                return f"{where}: cannot write: {above} is a file, not a folder"
            if (path.exists() and not os.access(path, os.W_OK)) or (
                    not path.exists() and above is not None and not os.access(above, os.W_OK | os.X_OK)):
                return f"{where}: cannot write (permission denied)"
        except OSError:  # a path the system refuses to look at: the write itself will say why
            continue
    return None


#: The starts of pandas' messages for a ``.zip`` it cannot read as one CSV (``pandas.io.common.get_handle``).
_PANDAS_ZIP_ERRORS = ("Multiple files found in ZIP file", "Zero files found in ZIP file")


def _read_problem(exc: BaseException) -> str | None:
    """What is wrong with a file, from the error its reader raised; None if it is no reading error."""
    import pandas as pd

    if isinstance(exc, pd.errors.EmptyDataError):
        return "the file is empty (no header row); expected a CSV with a header row and data rows"
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start:exc.start + 1].hex() if isinstance(exc.object, bytes) else "?"
        return (f"not UTF-8 text (byte 0x{byte} at position {exc.start}); is it a binary file? Save a CSV "
                "as UTF-8 (Excel: 'CSV UTF-8')")
    if isinstance(exc, pd.errors.ParserError):
        return f"not a readable CSV ({first_line(str(exc))}); check the delimiter is a comma and quotes are closed"
    if isinstance(exc, zipfile.BadZipFile):
        return "not a valid .xlsx workbook (it is not a zip archive); save it again from Excel, or as CSV"
    if isinstance(exc, ValueError) and str(exc).startswith(_PANDAS_ZIP_ERRORS):
        # pandas opens a CSV named .zip as an archive of exactly one member
        return f"a ZIP archive that is not one CSV ({first_line(str(exc), 120)}); give the CSV itself"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "cannot be read (permission denied)"
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or first_line(str(exc))})"
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pa = None
    if pa is not None and isinstance(exc, pa.ArrowException):
        return f"not a readable Parquet/Arrow file ({first_line(str(exc))})"
    try:
        from openpyxl.utils.exceptions import InvalidFileException
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        InvalidFileException = ()  # noqa: N806
    if InvalidFileException and isinstance(exc, InvalidFileException):
        return f"not a readable .xlsx workbook ({first_line(str(exc))})"
    import duckdb

    if isinstance(exc, (duckdb.InvalidInputException, duckdb.IOException)) and file_options():
        return f"cannot be read ({first_line(str(exc))})"
    return None


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, however it arrives: Python's ``KeyboardInterrupt`` or DuckDB's interrupted query."""
    import duckdb

    if isinstance(exc, (KeyboardInterrupt, duckdb.InterruptException)):
        return True
    return isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower()


def user_message(exc: BaseException) -> tuple[str, int] | None:
    """``(message, exit code)`` for an error the user can fix or caused; None for a bug.

    >>> user_message(KeyboardInterrupt())
    ('Interrupted.', 130)
    >>> user_message(ZeroDivisionError()) is None
    True
    """
    if is_interrupt(exc):
        return "Interrupted.", EXIT_INTERRUPT
    if isinstance(exc, NeighbourhoodLensError):
        return str(exc), EXIT_USER
    if isinstance(exc, OSError) and _is_write(exc):
        return _write_problem(exc), EXIT_USER
    problem = _read_problem(exc)
    if problem is None:
        return None
    return f"{_where(exc)}: {problem}", EXIT_USER
