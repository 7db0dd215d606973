"""Stored neighbourhood sets: table ``neighbourhoods_<name>`` plus registry ``neighbourhood_sets``.

Re-exported by :mod:`neighbourhood_lens.neighbourhoods.build`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from neighbourhood_lens.errors import DataError, WarehouseError
from neighbourhood_lens.geo.geography import hierarchy_columns as _cols

if TYPE_CHECKING:
    import duckdb

__all__ = ["store_neighbourhoods", "neighbourhood_sets", "load_neighbourhoods"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def _table(name: str) -> str:
    if not _NAME.match(name):
        raise DataError(
            f"neighbourhood set name {name!r} is not allowed: use lower-case letters, digits and _ "
            "(start with a letter, at most 48 characters), e.g. lsoa21_max10000"
        )
    return f"neighbourhoods_{name}"


def store_neighbourhoods(
    con: duckdb.DuckDBPyConnection, name: str, assignment: pd.DataFrame, *, vintage: int,
    parameters: dict[str, object] | None = None,
) -> str:
    """Save an assignment as table ``neighbourhoods_<name>`` and register it.

    The table has the LSOA code, ``neighbourhood_code``, ``neighbourhood_name`` and LAD code
    columns; ``neighbourhood_sets(name, vintage, created_at, parameters_json, tool_version,
    n_neighbourhoods)`` gets one row (replaced if the name exists). Needs a read-write
    connection. Returns the table name.
    """
    from neighbourhood_lens import __version__

    key, lad, _, _ = _cols(vintage)
    table = _table(name)
    cols = [key, "neighbourhood_code", "neighbourhood_name", lad]
    con = con.cursor()  # a fresh cursor: earlier fetchone() calls may leave results pending (DuckDB 2)
    con.register("_nb", assignment[cols])
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _nb ORDER BY {key}").fetchall()
    con.unregister("_nb")
    con.execute(
        "CREATE TABLE IF NOT EXISTS neighbourhood_sets (name VARCHAR PRIMARY KEY, vintage INTEGER, "
        "created_at TIMESTAMP, parameters_json VARCHAR, tool_version VARCHAR, n_neighbourhoods INTEGER)"
    ).fetchall()
    con.execute("DELETE FROM neighbourhood_sets WHERE name = ?", [name]).fetchall()
    con.execute(
        "INSERT INTO neighbourhood_sets VALUES (?, ?, ?, ?, ?, ?)",
        [name, vintage, datetime.now(UTC).replace(tzinfo=None), json.dumps(parameters or {}, default=str),
         __version__, int(assignment["neighbourhood_code"].nunique())],
    ).fetchall()
    return table


def neighbourhood_sets(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The registry of stored neighbourhood sets (empty if none)."""
    from neighbourhood_lens.warehouse import has_table

    if not has_table(con, "neighbourhood_sets"):
        return pd.DataFrame(columns=["name", "vintage", "created_at", "parameters_json", "tool_version",
                                     "n_neighbourhoods"])
    return con.execute("SELECT * FROM neighbourhood_sets ORDER BY name").df()


def load_neighbourhoods(con: duckdb.DuckDBPyConnection, name: str) -> tuple[pd.DataFrame, int]:
    """A stored set: ``(assignment, vintage)``; the assignment as written by :func:`store_neighbourhoods`."""
    table = _table(name)
    sets = neighbourhood_sets(con)
    row = sets[sets["name"] == name]
    if row.empty:
        known = ", ".join(sets["name"]) or "none yet"
        raise WarehouseError(
            f"no neighbourhood set {name!r} in the warehouse (stored: {known}). "
            f"Build it: `nlens neighbourhoods build --name {name} ...`"
        )
    return con.execute(f"SELECT * FROM {table}").df(), int(row["vintage"].iloc[0])
