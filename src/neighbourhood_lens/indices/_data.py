"""Reading an index spec's components from the warehouse or CSV files, with every check done up front."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from neighbourhood_lens.data.normalise import NORMALISERS, normalise_headers, snake
from neighbourhood_lens.geo.geography import LEVELS
from neighbourhood_lens.geo.units import Unit, resolve_unit, unit_areas

from ..errors import DataError, JoinError, SchemaError, examples
from ..warehouse import has_table
from ._cache import cached
from .spec import Component, IndexSpec

if TYPE_CHECKING:
    import duckdb

__all__ = ["resolve_column", "load_raw"]

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")


def resolve_column(column: str, available: list[str], *, source: str, where: str, dataset: str | None = None) -> str:
    """Find ``column`` among ``available``: exactly, case-insensitively, as snake_case, or through
    the dataset's normaliser (official header -> warehouse column). Unknown: an error listing them.

    >>> resolve_column("Income_rank", ["lsoa11_code", "income_rank"], source="t", where="component 'income'")
    'income_rank'
    """
    if column in available:
        return column
    folded = {c.casefold(): c for c in available}
    for cand in (column.casefold(), snake(column)):
        if cand in folded:
            return folded[cand]
    if dataset in NORMALISERS:
        mapped = normalise_headers(dataset, [column]).get(column)
        if mapped in available:
            return mapped
    raise SchemaError(f"{where}: column {column!r} is not in {source}.\n{_choices(column, available, what='columns')}")


def _choices(name: str, options: list[str], *, what: str) -> str:
    """A short second line for an unknown ``name``: the closest ``options``, then a few others.

    >>> _choices("imd2019", ["imd2019_lsoa11", "areas", "cni2019_ward17"], what="tables")
    'Closest tables: imd2019_lsoa11 (of 3)'
    >>> _choices("x", ["a", "b"], what="tables")
    'Tables: a, b'
    """
    import difflib

    key = name.casefold()
    close = [o for o in options if o.casefold().startswith(key) or (len(key) >= 4 and key in o.casefold())]
    close += [o for o in difflib.get_close_matches(name, options, n=3, cutoff=0.6) if o not in close]
    if close:
        return f"Closest {what}: {', '.join(close[:4])} (of {len(options)})"
    return f"{what.capitalize()}: {examples(options, limit=12)}"


def _code_columns(unit: Unit) -> list[str]:
    own = [LEVELS[unit.name].code] if unit.name in LEVELS else ["neighbourhood_code"]
    return [*own, "code"]


@dataclass
class _Source:
    """One source of components: its codes (non-null, in the order read) and a column of values per component."""

    label: str
    codes: pa.Array
    values: dict[str, np.ndarray]


def _strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous Arrow array of ``large_string`` (the storage of pandas' ``str`` dtype)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values if values.type == pa.large_string() else values.cast(pa.large_string())


def _columns(con: duckdb.DuckDBPyConnection, table: str, *, where: str) -> dict[str, str]:
    """The table's columns and their types (the bound relation's schema, or one ``DESCRIBE``); a
    missing table is a :class:`DataError`. Kept per read-only connection (:mod:`._cache`)."""
    return dict(cached(con, ("columns", table), lambda: _read_columns(con, table, where=where), tables=[table]))


def _read_columns(con: duckdb.DuckDBPyConnection, table: str, *, where: str) -> dict[str, str]:
    import duckdb

    try:
        if _PLAIN.match(table):  # the relation's schema is bound without running a statement
            rel = con.table(table)
            return dict(zip(rel.columns, (str(t) for t in rel.types), strict=True))
        rows = con.execute(f'DESCRIBE "{table}"').fetchall()
    except duckdb.Error:
        if has_table(con, table):
            raise
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        raise DataError(f"{where}: table = {table!r} is not in the warehouse (`nlens data status` lists its datasets)."
                        f"\n{_choices(table, tables, what='tables')}") from None
    return {r[0]: r[1] for r in rows}


def _read_table(con: duckdb.DuckDBPyConnection, table: str, comps: list[Component], unit: Unit) -> _Source:
    """The components of one table: its schema checked (one ``DESCRIBE``), then one read of exactly
    the code and component columns, as Arrow (rows without a code left out, as before any join)."""
    types = _columns(con, table, where=f"component {comps[0].name!r}")
    cols = list(types)
    code = next((c for c in _code_columns(unit) if c in types), None)
    if code is None:
        raise JoinError(
            f"component {comps[0].name!r}: table {table!r} has no code column for unit {unit.name} (looked for "
            f"{' or '.join(_code_columns(unit))}); its columns: {examples(cols, limit=20)}. "
            "Use a table of this unit or change unit = ..."
        )
    select = [f'CAST("{code}" AS VARCHAR) AS code']
    for c in comps:
        col = resolve_column(c.column, cols, source=f"table {table!r}", where=f"component {c.name!r}", dataset=table)
        if not types[col].upper().startswith(_NUMERIC):
            raise SchemaError(f"component {c.name!r}: column {col!r} of table {table!r} is {types[col]}, not numeric; "
                              "choose a numeric column")
        select.append(f'CAST("{col}" AS DOUBLE) AS "{c.name}"')
    got = con.sql(f'SELECT {", ".join(select)} FROM "{table}" WHERE "{code}" IS NOT NULL').to_arrow_table()
    values = {c.name: got.column(c.name).to_numpy() for c in comps}
    return _Source(f"table {table!r}", _strings(got.column("code")), values)


def _read_file(comp: Component, unit: Unit) -> _Source:
    path = comp.file
    assert path is not None
    where = f"component {comp.name!r}"
    if not path.is_file():
        raise DataError(f"{where}: file {str(path)!r} does not exist")
    frame = pd.read_csv(path, dtype=str)
    code = next((c for c in _code_columns(unit) if c in frame.columns), None)
    if code is None:
        raise JoinError(f"{where}: file {str(path)!r} has no code column ({' or '.join(_code_columns(unit))}); "
                        f"its columns: {examples(frame.columns, limit=20)}")
    col = resolve_column(comp.column, list(frame.columns), source=f"file {str(path)!r}", where=where)
    text = frame[col].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & text.notna() & (text != "")
    if bad.any():
        raise SchemaError(f"{where}: column {col!r} of {str(path)!r} is not numeric: {int(bad.sum())} value(s) such "
                          f"as {examples(text[bad].unique())}; fix them or leave them empty (missing)")
    codes = frame[code].str.strip()
    has = codes.notna().to_numpy()
    return _Source(f"file {str(path)!r} ({comp.name})", _strings(pa.array(codes[has].to_numpy(dtype=object))),
                   {comp.name: values.to_numpy(dtype=float)[has]})


def _ascending(codes: pa.Array) -> bool:
    """Whether every code is greater than the one before (sorted and unique)."""
    return len(codes) < 2 or bool(pc.all(pc.less(codes[:-1], codes[1:])).as_py())


def _sorted_unique(codes: pa.Array) -> pa.Array:
    """The distinct codes in ascending order (Arrow compares UTF-8 bytes, which is Python's code
    point order); codes already so are returned as they are."""
    if _ascending(codes):
        return codes
    codes = _strings(pc.unique(codes))
    return codes.take(pc.sort_indices(codes))


def _unit_codes(con: duckdb.DuckDBPyConnection, unit: Unit) -> pa.Array:
    """The codes of the unit's areas, sorted: those of :func:`..geo.units.unit_areas`, read for a
    geography level straight from its LSOA hierarchy (one column, not the whole area table) and
    kept per read-only connection (:mod:`._cache`: the hierarchy cannot change under one)."""
    if unit.neighbourhood_set is not None or unit.name not in LEVELS:
        codes = unit_areas(con, unit)["code"].astype(str).to_numpy(dtype=object)
        return _sorted_unique(_strings(pa.array(codes)))
    table = f"hierarchy_lsoa{str(unit.lsoa_vintage)[2:]}"
    return cached(con, ("unit_codes", unit.name, table), lambda: _level_codes(con, unit, table), tables=[table])


def _level_codes(con: duckdb.DuckDBPyConnection, unit: Unit, table: str) -> pa.Array:
    col = LEVELS[unit.name].code
    distinct = "" if col == unit.lsoa_code else "DISTINCT "  # the hierarchy has one row per LSOA (checked below)
    got = con.sql(f'SELECT {distinct}CAST("{col}" AS VARCHAR) AS code FROM {table} WHERE "{col}" IS NOT NULL')
    codes = _strings(got.to_arrow_table().column("code"))
    if distinct and not _ascending(codes):
        return codes.take(pc.sort_indices(codes))
    return _sorted_unique(codes)


def _positions(codes: pa.Array, universe: pa.Array) -> np.ndarray:
    """Where each code is in ``universe`` (a hash lookup), -1 where it is not; codes equal to the
    universe element by element (a table in code order) need no lookup."""
    if len(codes) == len(universe) and bool(pc.all(pc.equal(codes, universe)).as_py() or len(codes) == 0):
        return np.arange(len(codes), dtype=np.intp)
    return pc.fill_null(pc.index_in(codes, value_set=universe), -1).to_numpy().astype(np.intp)


def _check_duplicates(source: _Source, pos: np.ndarray, n_unit: int) -> None:
    """One row per code: counted on the positions in the unit (``bincount``) and among the rest."""
    inside = pos >= 0
    repeat = bool((np.bincount(pos[inside], minlength=n_unit) > 1).any())
    if not repeat and not inside.all():
        outside = source.codes.filter(pa.array(~inside))
        repeat = len(pc.unique(outside)) < len(outside)
    if repeat:
        codes = pd.Series(source.codes.to_pylist(), dtype=object)
        dup = codes[codes.duplicated()]
        raise JoinError(f"{source.label}: {len(dup)} code(s) repeat: {examples(dup.unique())}; one row per area needed")


def load_raw(
    con: duckdb.DuckDBPyConnection, spec: IndexSpec
) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray, list[str], list[str]]:
    """Every component's raw values on the areas of the index.

    Returns the codes (sorted, pandas ``str``), the values (areas x components, in the order of
    ``spec.leaves()``, NaN = missing; column-major, so each component's values are contiguous),
    notes (counts of what was dropped or is missing) and the warehouse tables read. All checks
    (table, column, type, unit, duplicate codes) happen here, before any transformation. Each
    table is read once (its code and component columns, as Arrow); codes are matched by hash
    lookups (``pyarrow.compute.index_in``), not joins.
    """
    unit = resolve_unit(con, spec.unit)
    unit_codes = _unit_codes(con, unit)
    leaves = spec.leaves()
    by_table: dict[str, list[Component]] = {}
    for c in leaves:
        if c.table is not None:
            by_table.setdefault(c.table, []).append(c)
    sources = [_read_table(con, table, comps, unit) for table, comps in by_table.items()]
    sources += [_read_file(c, unit) for c in leaves if c.file is not None]
    notes: list[str] = []
    in_unit: list[np.ndarray] = []
    for src in sources:
        pos = _positions(src.codes, unit_codes)
        in_unit.append(pos)
        _check_duplicates(src, pos, len(unit_codes))
        n_out = int((pos < 0).sum())
        if n_out == 0:
            continue
        outside = sorted(src.codes.filter(pa.array(pos < 0)).to_pylist())
        if n_out > len(src.codes) / 2:
            raise JoinError(
                f"{src.label}: {n_out} of {len(src.codes)} codes are not areas of unit {unit.name} "
                f"({examples(outside)}); the unit does not match the table's codes: change unit = ..."
            )
        if spec.areas == "unit":
            raise JoinError(
                f"{src.label}: {n_out} code(s) are not areas of unit {unit.name}: {examples(outside)}. "
                "Use data on the unit's codes, or set areas = \"data\" to index the codes the data has"
            )
        notes.append(f"{src.label}: {n_out} code(s) not among the {len(unit_codes):,} areas of unit {unit.name} "
                     f"kept (areas = \"data\"): {examples(outside)}")
    if spec.areas == "unit":
        universe = unit_codes
    else:
        every = pa.chunked_array([s.codes for s in sources], type=pa.large_string())
        universe = _sorted_unique(_strings(every))
        in_unit = [_positions(s.codes, universe) for s in sources]
    column = {c.name: j for j, c in enumerate(leaves)}
    raw = np.full((len(universe), len(leaves)), np.nan, order="F")  # column-major: a component is contiguous
    for src, pos in zip(sources, in_unit, strict=True):  # a left join on code (one row per code, checked above)
        same = len(pos) == len(universe) and bool((pos == np.arange(len(pos))).all())  # the universe, in its order
        found = pos >= 0
        for name, values in src.values.items():
            if same:
                raw[:, column[name]] = values
            else:
                raw[pos[found], column[name]] = values[found]
    for j, c in enumerate(leaves):
        if np.isnan(raw[:, j]).all():
            raise DataError(f"component {c.name!r}: no area of the index has a value (column {c.column!r}); "
                            "check the unit and the table")
    codes = pd.array(universe, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    return codes, raw, notes, list(by_table)


def missing_summary(raw: pd.DataFrame, names: list[str]) -> dict[str, int]:
    """How many areas lack each component."""
    return {n: int(np.isnan(raw[n].to_numpy(dtype=float)).sum()) for n in names}
