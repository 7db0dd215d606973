"""The DuckDB warehouse: where it lives, how to open it, and what is in it.

One DuckDB file holds every dataset (one table per dataset id, columns as in
:mod:`.normalise`), derived tables (``hierarchy_lsoa11``, ``hierarchy_lsoa21``, ``areas``),
the long-format ``iod_lsoa`` view, and two audit tables:

``provenance``
    one row per loaded dataset: ``dataset_id, title, publisher, licence, source, sha256,
    rows_read, rows_loaded, loaded_at, tool_version, notes``.
``join_report``
    one row per join made while building: ``step, left_table, right_table, left_rows,
    matched, unmatched, unmatched_examples``.

One rule says where the warehouse is, for reading and for building: ``--db PATH``; else the
``NLENS_DB`` environment variable; else ``nlens.duckdb`` in the current directory (what
``nlens data build`` writes there and ``scripts/setup`` builds, so commands work in any new
shell started in that directory).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WarehouseError, examples

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = [
    "default_db_path",
    "resolve_db_path",
    "connect",
    "require_tables",
    "has_table",
    "table_names",
    "sql_text",
    "scalar",
    "status",
    "join_report",
]

APP_NAME = "neighbourhood-lens"


LOCAL_NAME = "nlens.duckdb"


_DUCKDB_MAGIC = b"DUCK"


def is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` starts like a DuckDB database file (magic bytes ``DUCK`` at offset 8)."""
    with open(path, "rb") as f:
        head = f.read(16)
    return len(head) >= 12 and head[8:12] == _DUCKDB_MAGIC


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at the last whole word within ``limit`` characters, with "…" when cut.

    >>> _shorten("/usr/bin/python /venv/bin/nlens serve --db x.duckdb", 35)
    '/usr/bin/python /venv/bin/nlens …'
    """
    if len(text) <= limit:
        return text
    words, out = text.split(), ""
    for w in words:
        if len(out) + len(w) + 1 > limit - 2:
            break
        out = f"{out} {w}" if out else w
    return (out or text[: limit - 2]) + " …"


def lock_message(path: Path, exc: BaseException) -> str:
    """One line naming the process that holds ``path`` (DuckDB's lock error gives its PID)."""
    import re

    text = str(exc)
    m = re.search(r"PID (\d+)", text)
    holder = ""
    if m:
        pid = m.group(1)
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            cmd = ""
        holder = f"process {pid}" + (f" ({_shorten(cmd, 80)})" if cmd else "")
    else:
        holder = "another process"
    return (
        f"the warehouse {path} is in use by {holder}, so it cannot be written. Stop that process (e.g. the "
        "`nlens serve` web app) or wait for it to finish, then run the command again; or write elsewhere with "
        "--db OTHER.duckdb"
    )


def default_db_path() -> Path:
    """``$NLENS_DB`` if set, else ``./nlens.duckdb`` (in the current directory, present or not)."""
    env = os.environ.get("NLENS_DB")
    if env:
        return Path(env).expanduser()
    return Path.cwd() / LOCAL_NAME


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    """The warehouse path to use: ``db`` if given, else :func:`default_db_path`."""
    return Path(db).expanduser() if db else default_db_path()


def connect(
    db: str | os.PathLike[str] | None = None, *, read_only: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; read-only unless building.

    Raises :class:`~neighbourhood_lens.errors.WarehouseError` if a read-only warehouse does not
    exist yet, saying how to build it.
    """
    import duckdb

    path = resolve_db_path(db)
    if read_only and not path.exists():
        raise WarehouseError(
            f"no warehouse at {path}. Build it first: "
            f"`nlens data build --mirror DIR --db {path}` (offline, from a mirror such as "
            "../shared/data) or `nlens data fetch` then `nlens data build`."
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)

    if path.is_file() and not is_duckdb_file(path):
        raise WarehouseError(
            f"{path} is not a DuckDB warehouse (it is not a DuckDB database file). Point --db or NLENS_DB at the "
            "warehouse built by `nlens data build`, or build one there with `nlens data build --db NEW.duckdb`"
        )
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseError(lock_message(path, exc)) from None
        raise WarehouseError(f"cannot open the warehouse {path}: {exc}") from None


def sql_text(text: str) -> str:
    """``text`` as a SQL string literal, for what DuckDB takes only as a literal (a file in
    ``read_csv``, ``ATTACH``, a struct's keys); a quote in a folder's name is doubled.

    >>> sql_text("/data/O'Brien/onspd.csv")
    "'/data/O''Brien/onspd.csv'"
    """
    return "'" + text.replace("'", "''") + "'"


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of every table and view (registered frames and temporary tables included), in every
    attached database: what ``information_schema.tables`` lists, read from ``duckdb_tables()`` and
    ``duckdb_views()`` directly (about a third of the time; analyses check their tables at every call)."""
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() UNION ALL "
                                      "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table or view called ``name`` exists."""
    # fetchall, not fetchone: DuckDB keeps a partly fetched result open, which blocks a
    # later ``register`` on the same connection.
    return name in table_names(con)


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> object:
    """The single value a query returns, fetched completely (see :func:`has_table`)."""
    return con.execute(sql, params or []).fetchall()[0][0]


def require_tables(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
    """Raise :class:`WarehouseError` naming every missing table and how to load it."""
    names = list(dict.fromkeys(names))
    if not names:
        return
    found = table_names(con)
    missing = [n for n in names if n not in found]
    if missing:
        raise WarehouseError(
            f"the warehouse lacks table(s) {examples(missing, limit=10)}. Rebuild it with "
            "`nlens data build --mirror DIR` (CNI is not open data: pass your copy with "
            "`--file cni2019_ward17=PATH`)."
        )


def status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What is loaded and from where: the ``provenance`` table, one row per dataset."""
    require_tables(con, ["provenance"])
    return con.execute(
        "SELECT dataset_id, rows_loaded, rows_read, source, sha256, loaded_at, tool_version, "
        "notes FROM provenance ORDER BY dataset_id"
    ).df()


def join_report(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every join made by the build, with unmatched counts and examples."""
    require_tables(con, ["join_report"])
    return con.execute("SELECT * FROM join_report ORDER BY step").df()
