"""What a rebuild keeps: datasets not being replaced, and the user's work.

A build writes a new warehouse file beside the old one and swaps it in at the end. Before the
swap it copies from the old warehouse (attached read-only):

* the datasets this build does not load (``--file ID=PATH`` replaces one dataset, ``--only``
  loads some; neither deletes the rest), with their provenance rows;
* every table of the user's work and caches (:func:`neighbourhood_lens.store.user_tables`:
  ``neighbourhood_sets`` and ``neighbourhoods_*``, ``stored_results`` and ``index_*``,
  ``programme_*``, ``evaluation_*``, the ``adjacency_*`` cache) with their provenance rows;
* the ward 2021 best fits (``bestfit_lsoa11_ward21``, ``bestfit_lsoa21_ward21``) with their
  ``join_report`` rows, when the boundaries they are derived from were all kept and the old
  warehouse was built by this version (:func:`carry_bestfit`); otherwise the build derives them again.

A rebuild of an existing warehouse starts from a copy of its file (:func:`start_from_copy`: a
file copy, where copying the tables one by one meant decompressing and compressing all of them
again at the commit) and drops from the copy every table and view that this list does not name,
so the new warehouse holds the same tables either way; a warehouse with a write-ahead log beside
it (not closed cleanly) is copied table by table instead.

Then it checks whether the new data invalidates any of them and says so: an adjacency cache
computed from boundaries that changed is dropped (recompute with ``nlens data adjacency``);
a neighbourhood set or stored result whose area codes are no longer in the warehouse is kept
but reported with the count and examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from neighbourhood_lens.data.outcome_tables import BESTFIT_INPUTS, BESTFIT_STEP, bestfit_note
from neighbourhood_lens.errors import WarehouseError, examples
from neighbourhood_lens.warehouse import is_duckdb_file, lock_message, sql_text, table_names

if TYPE_CHECKING:
    import duckdb

__all__ = ["check_writable", "old_datasets", "can_copy_file", "start_from_copy", "copy_datasets",
           "carry_user_tables", "carry_bestfit"]

_OLD = "nlens_old"


def check_writable(path: Path) -> None:
    """Raise :class:`WarehouseError` if ``path`` is not a DuckDB file or another process holds it."""
    import duckdb

    if not path.exists():
        return
    if path.is_dir() or not is_duckdb_file(path):
        raise WarehouseError(
            f"{path} is not a DuckDB warehouse (it exists but is not a DuckDB database file). Point --db (or "
            "NLENS_DB) at a warehouse file, or at a new path to build one; the build will not overwrite it"
        )
    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseError(lock_message(path, exc)) from None
        raise WarehouseError(f"cannot open the warehouse {path}: {exc}") from None


def old_datasets(path: Path) -> set[str]:
    """Dataset ids recorded in the provenance of the warehouse at ``path`` (empty if none)."""
    import duckdb

    if not path.exists():
        return set()
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = table_names(con)
        if "provenance" not in tables:
            return set()
        ids = {r[0] for r in con.execute("SELECT dataset_id FROM provenance").fetchall()}
        return ids & tables
    finally:
        con.close()


def attach(con: duckdb.DuckDBPyConnection, old: Path) -> None:
    con.execute(f"ATTACH {sql_text(str(old))} AS {_OLD} (READ_ONLY)")


def detach(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DETACH {_OLD}")


def _old_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        f"SELECT table_name FROM information_schema.tables WHERE table_catalog = '{_OLD}'").fetchall()}


def can_copy_file(path: Path) -> bool:
    """Whether the warehouse at ``path`` can be copied as a file: it has no write-ahead log beside it
    (a warehouse that was not closed cleanly keeps recent changes there until it is next opened)."""
    return path.is_file() and not path.with_name(path.name + ".wal").exists()


def _is_user_table(name: str) -> bool:
    from neighbourhood_lens.store import USER_REGISTRIES, USER_TABLE_PREFIXES

    return name in USER_REGISTRIES or name.startswith(USER_TABLE_PREFIXES)


def start_from_copy(con: duckdb.DuckDBPyConnection, keep: list[str]) -> None:
    """In ``con``, a file copy of the old warehouse, drop every view and every table except the
    datasets in ``keep`` and the user's tables: what is left is what :func:`copy_datasets` and
    :func:`carry_user_tables` would copy into an empty file (the audit tables are made afresh)."""
    wanted = set(keep)
    views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal "
                                       "AND database_name = current_database()").fetchall()]
    for v in views:
        con.execute(f'DROP VIEW "{v}"')
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                        "WHERE database_name = current_database()").fetchall()]
    for t in tables:
        if t not in wanted and not _is_user_table(t):
            con.execute(f'DROP TABLE "{t}"')


def copy_datasets(con: duckdb.DuckDBPyConnection, ids: list[str], *, in_place: bool = False) -> list[str]:
    """Copy datasets (tables and provenance rows) from the attached old warehouse; ``in_place``: the
    tables are already there (:func:`start_from_copy`), so only their provenance rows are copied."""
    copied = []
    old = _old_tables(con)
    for ds in ids:
        if ds not in old:
            continue
        if not in_place:
            con.execute(f'CREATE OR REPLACE TABLE "{ds}" AS SELECT * FROM {_OLD}."{ds}"')
        con.execute(f"INSERT OR REPLACE INTO provenance SELECT * FROM {_OLD}.provenance WHERE dataset_id = ?", [ds])
        copied.append(ds)
    return copied


def carry_bestfit(con: duckdb.DuckDBPyConnection, loaded: list[str], version: str) -> list[str] | None:
    """Copy the ward 2021 best fits and their ``join_report`` rows from the old warehouse, and return
    the messages their derivation gave; ``None`` (nothing copied) unless the old warehouse holds
    them, this build ``loaded`` none of :data:`.outcome_tables.BESTFIT_INPUTS`, the same ones are in both
    warehouses, and the old provenance of each says it was loaded by ``version`` of the tool."""
    old = _old_tables(con)
    here = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                      "WHERE database_name = current_database()").fetchall()}
    inputs = [t for t in BESTFIT_INPUTS if t in here]
    if (set(loaded) & set(BESTFIT_INPUTS) or inputs != [t for t in BESTFIT_INPUTS if t in old]
            or "boundaries_ward21" not in inputs or not {"join_report", "provenance"} <= old):
        return None
    made = [f"bestfit_lsoa{yy}_ward21" for yy in ("11", "21") if f"boundaries_lsoa{yy}" in inputs]
    versions = {r[0] for r in con.execute(
        f"SELECT tool_version FROM {_OLD}.provenance WHERE dataset_id IN ({', '.join('?' * len(inputs))})",
        inputs).fetchall()}
    steps = con.execute(f"SELECT step, left_table, unmatched, unmatched_examples FROM {_OLD}.join_report "
                        "WHERE step LIKE 'bestfit_lsoa%_ward21: %'").fetchall()
    if versions != {version} or not set(made) <= old or len(steps) != 2 * len(made):
        return None
    for t in made:
        con.execute(f'CREATE OR REPLACE TABLE "{t}" AS SELECT * FROM {_OLD}."{t}"')
    con.execute(f"INSERT INTO join_report SELECT * FROM {_OLD}.join_report WHERE step LIKE 'bestfit_lsoa%_ward21: %'")
    # the notes of derive_ward21_bestfit, from its own records
    return [bestfit_note(step.split(":", 1)[0], unmatched, shown.split(", "))
            for step, _, unmatched, shown in steps if step.endswith(f": {BESTFIT_STEP}") and unmatched]


def carry_user_tables(con: duckdb.DuckDBPyConnection, *, in_place: bool = False) -> tuple[list[str], list[str]]:
    """Copy the user's tables from the old warehouse into the new one and check them (``in_place``:
    they are already there, see :func:`start_from_copy`; one that is not carried is dropped).

    Returns ``(kept table names, messages)``; messages say what the new data invalidates.
    """
    old = sorted(t for t in _old_tables(con) if _is_user_table(t))
    messages: list[str] = []
    kept: list[str] = []
    for t in old:
        if t.startswith("adjacency_lsoa"):
            msg = _adjacency_changed(con, t)
            if msg:
                messages.append(msg)
                if in_place:
                    con.execute(f'DROP TABLE "{t}"')
                continue
        if not in_place:
            con.execute(f'CREATE OR REPLACE TABLE "{t}" AS SELECT * FROM {_OLD}."{t}"')
        con.execute(f"INSERT OR REPLACE INTO provenance SELECT * FROM {_OLD}.provenance WHERE dataset_id = ?", [t])
        kept.append(t)
    if "neighbourhood_sets" in kept:
        messages += _check_sets(con)
    if "stored_results" in kept:
        messages += _check_results(con)
    return kept, messages


def _adjacency_changed(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """A message if the boundaries the cached adjacency was computed from have changed."""
    src = "boundaries_" + table.removeprefix("adjacency_")
    was = con.execute(f"SELECT sha256 FROM {_OLD}.provenance WHERE dataset_id = ?", [table]).fetchall()
    now = con.execute("SELECT sha256 FROM provenance WHERE dataset_id = ?", [src]).fetchall()
    if not now:
        return f"{table} dropped: the new warehouse has no {src} to check it against; recompute with " \
               "`nlens data adjacency` once the boundaries are loaded"
    if not was or was[0][0] != now[0][0]:
        old_sha = (was[0][0] or "unknown")[:12] if was else "unknown"
        return (f"{table} dropped: {src} changed (sha256 {old_sha}... -> {now[0][0][:12]}...), so the cached "
                "contiguity no longer matches; recompute with `nlens data adjacency`")
    return None


def _check_sets(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Sets whose LSOAs left the rebuilt hierarchy, or that miss LSOAs the rebuild added."""
    out = []
    old = _old_tables(con)
    for name, vintage in con.execute("SELECT name, vintage FROM neighbourhood_sets ORDER BY name").fetchall():
        key = f"lsoa{str(vintage)[2:]}_code"
        table, ref = f"neighbourhoods_{name}", f"hierarchy_lsoa{str(vintage)[2:]}"
        was = f"{_OLD}.{ref}" if ref in old else ref
        try:
            gone = con.execute(
                f'SELECT count(*), list({key} ORDER BY {key})[1:5] FROM "{table}" '
                f"WHERE {key} NOT IN (SELECT {key} FROM {ref})").fetchall()[0]
            added = con.execute(
                f"SELECT count(*), list({key} ORDER BY {key})[1:5] FROM {ref} WHERE {key} NOT IN "
                f'(SELECT {key} FROM {was}) AND {key} NOT IN (SELECT {key} FROM "{table}")').fetchall()[0]
        except Exception as exc:  # noqa: BLE001 - a set of another layout is reported, not fatal
            out.append(f"neighbourhood set {name!r} could not be checked against {ref}: {exc}")
            continue
        if gone[0] or added[0]:
            parts = []
            if gone[0]:
                parts.append(f"{gone[0]:,} of its LSOA codes are gone (e.g. {examples(gone[1] or [])})")
            if added[0]:
                parts.append(f"{added[0]:,} new LSOAs are in no neighbourhood (e.g. {examples(added[1] or [])})")
            out.append(f"neighbourhood set {name!r} kept but no longer matches the rebuilt {ref}: "
                       f"{' and '.join(parts)}; rebuild it with `nlens neighbourhoods build --name {name}`")
    return out


def _check_results(con: duckdb.DuckDBPyConnection) -> list[str]:
    from neighbourhood_lens.data.levels import LEVELS

    out = []
    tables = table_names(con)
    for kind, name, table, unit in con.execute(
            "SELECT kind, name, table_name, unit FROM stored_results ORDER BY 1, 2").fetchall():
        if unit not in LEVELS or table not in tables or LEVELS[unit].table not in tables:
            continue
        lv = LEVELS[unit]
        rows = con.execute(
            f'SELECT count(*), list(code ORDER BY code)[1:5] FROM "{table}" WHERE code NOT IN '
            f"(SELECT {lv.code} FROM {lv.table})"
        ).fetchall()[0]
        if rows[0]:
            out.append(f"stored {kind} {name!r} kept, but {rows[0]:,} of its {unit} codes are not in the rebuilt "
                       f"warehouse (e.g. {examples(rows[1] or [])})")
    return out
