"""What a user keeps in the warehouse: stored indices, programme designs and evaluation results.

The build owns the official datasets and the tables derived from them; it does not own the
user's work. Work is kept in tables with a reserved prefix and a registry row, so that a
rebuild can carry it over, the CLI can list it, and the web app can draw it as a map layer:

``stored_results``
    one row per stored result: ``kind, name, table_name, unit, value_column, n_rows,
    description, parameters_json, sources_json, created_at, tool_version``.
``<kind>_<name>``
    the result itself: one row per area, a ``code`` column of the ``unit`` (see
    :mod:`.units`) and named value columns; ``value_column`` is the one a map colours by.

Neighbourhood sets (:mod:`.neighbourhoods`) keep their own registry ``neighbourhood_sets``
and tables ``neighbourhoods_<name>``; the adjacency cache is ``adjacency_lsoa11/21``.
:func:`user_tables` lists all of these, so a rebuild knows what to keep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import DataError, WarehouseError, examples
from .warehouse import has_table

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "KINDS",
    "RESULTS_TABLE",
    "USER_TABLE_PREFIXES",
    "USER_REGISTRIES",
    "result_table",
    "save_result",
    "list_results",
    "load_result",
    "drop_result",
    "user_tables",
]

#: The kinds of stored result.
KINDS = ("index", "programme", "evaluation")
#: The registry of stored results.
RESULTS_TABLE = "stored_results"
#: Prefixes of tables that hold the user's work or caches, never replaced by a build.
USER_TABLE_PREFIXES = ("neighbourhoods_", "index_", "programme_", "evaluation_", "adjacency_")
#: Registry tables of the user's work.
USER_REGISTRIES = ("neighbourhood_sets", RESULTS_TABLE)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_COLUMNS = (
    "kind VARCHAR, name VARCHAR, table_name VARCHAR, unit VARCHAR, value_column VARCHAR, "
    "n_rows BIGINT, description VARCHAR, parameters_json VARCHAR, sources_json VARCHAR, "
    "created_at TIMESTAMP, tool_version VARCHAR, PRIMARY KEY (kind, name)"
)


def result_table(kind: str, name: str) -> str:
    """The table name of a stored result, after checking ``kind`` and ``name``.

    >>> result_table("index", "my_need")
    'index_my_need'
    """
    if kind not in KINDS:
        raise DataError(f"unknown kind of stored result {kind!r}; valid kinds: {', '.join(KINDS)}")
    if not _NAME.match(name):
        raise DataError(
            f"name {name!r} is not allowed for a stored {kind}: use lower-case letters, digits and _ "
            "(start with a letter, at most 48 characters), e.g. my_need_2025"
        )
    return f"{kind}_{name}"


def save_result(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame,
    *,
    kind: str,
    name: str,
    unit: str,
    value_column: str,
    description: str = "",
    parameters: Mapping[str, Any] | None = None,
    sources: Iterable[str] = (),
) -> str:
    """Store ``frame`` (one row per area, a unique ``code`` column) as ``<kind>_<name>``.

    Replaces a stored result of the same kind and name. Needs a read-write connection.
    ``sources`` names the dataset ids the result was made from (for provenance).
    Returns the table name.
    """
    table = result_table(kind, name)
    if "code" not in frame.columns:
        raise DataError(f"a stored {kind} needs a 'code' column; got {examples(frame.columns, limit=10)}")
    if value_column not in frame.columns:
        raise DataError(f"value_column {value_column!r} is not a column of the {kind} {name!r}")
    dup = frame["code"][frame["code"].duplicated()]
    if len(dup):
        raise DataError(f"a stored {kind} has one row per area; {len(dup)} code(s) repeat: {examples(dup)}")
    from neighbourhood_lens import __version__

    cur = con.cursor()
    cur.register("_result", frame)
    cur.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM _result').fetchall()
    cur.unregister("_result")
    cur.execute(f"CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} ({_COLUMNS})").fetchall()
    cur.execute(f"DELETE FROM {RESULTS_TABLE} WHERE kind = ? AND name = ?", [kind, name]).fetchall()
    cur.execute(
        f"INSERT INTO {RESULTS_TABLE} VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [kind, name, table, unit, value_column, len(frame), description,
         json.dumps(dict(parameters or {}), default=str), json.dumps(list(dict.fromkeys(sources))),
         datetime.now(UTC).replace(tzinfo=None), __version__],
    ).fetchall()
    return table


def list_results(con: duckdb.DuckDBPyConnection, kind: str | None = None) -> pd.DataFrame:
    """The registry of stored results (all kinds, or one), empty if nothing is stored."""
    if kind is not None and kind not in KINDS:
        raise DataError(f"unknown kind of stored result {kind!r}; valid kinds: {', '.join(KINDS)}")
    if not has_table(con, RESULTS_TABLE):
        cols = [c.split()[0] for c in _COLUMNS.split(", ") if not c.startswith("PRIMARY")]
        return pd.DataFrame(columns=cols)
    sql = f"SELECT * FROM {RESULTS_TABLE}"
    params: list[object] = []
    if kind is not None:
        sql += " WHERE kind = ?"
        params.append(kind)
    return con.execute(sql + " ORDER BY kind, name", params).df()


def load_result(con: duckdb.DuckDBPyConnection, *, kind: str, name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A stored result and its registry row (as a dict)."""
    table = result_table(kind, name)
    reg = list_results(con, kind)
    row = reg[reg["name"] == name]
    if row.empty or not has_table(con, table):
        known = ", ".join(reg["name"]) or "none yet"
        raise WarehouseError(f"no stored {kind} called {name!r} in the warehouse (stored: {known})")
    return con.execute(f'SELECT * FROM "{table}"').df(), row.iloc[0].to_dict()


def drop_result(con: duckdb.DuckDBPyConnection, *, kind: str, name: str) -> None:
    """Remove a stored result and its registry row (no error if absent)."""
    table = result_table(kind, name)
    con.execute(f'DROP TABLE IF EXISTS "{table}"').fetchall()
    if has_table(con, RESULTS_TABLE):
        con.execute(f"DELETE FROM {RESULTS_TABLE} WHERE kind = ? AND name = ?", [kind, name]).fetchall()


def user_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table holding the user's work or a cache: registries and prefixed tables."""
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
    ).fetchall()]
    return [n for n in names if n in USER_REGISTRIES or n.startswith(USER_TABLE_PREFIXES)]
