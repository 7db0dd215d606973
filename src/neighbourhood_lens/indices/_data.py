"""Reading an index spec's components from the warehouse or CSV files, with every check done up front."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens.data.normalise import NORMALISERS, normalise_headers, snake
from neighbourhood_lens.geo.geography import LEVELS
from neighbourhood_lens.geo.units import Unit, resolve_unit, unit_areas

from ..errors import DataError, JoinError, SchemaError, examples
from ..warehouse import has_table
from .spec import Component, IndexSpec

if TYPE_CHECKING:
    import duckdb

__all__ = ["resolve_column", "load_raw"]

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


def _read_table(con: duckdb.DuckDBPyConnection, table: str, comps: list[Component], unit: Unit) -> pd.DataFrame:
    where = f"component {comps[0].name!r}"
    if not has_table(con, table):
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        raise DataError(f"{where}: table = {table!r} is not in the warehouse (`nlens data status` lists its datasets)."
                        f"\n{_choices(table, tables, what='tables')}")
    desc = con.execute(f'DESCRIBE "{table}"').df()
    types = dict(zip(desc["column_name"], desc["column_type"], strict=True))
    cols = list(types)
    code = next((c for c in _code_columns(unit) if c in types), None)
    if code is None:
        raise JoinError(
            f"{where}: table {table!r} has no code column for unit {unit.name} (looked for "
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
    return con.execute(f'SELECT {", ".join(select)} FROM "{table}"').df()


def _read_file(comp: Component, unit: Unit) -> pd.DataFrame:
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
    return pd.DataFrame({"code": frame[code].str.strip(), comp.name: values.astype(float)})


def _unit_codes(con: duckdb.DuckDBPyConnection, unit: Unit) -> pd.Index:
    """The codes of the unit's areas, sorted: those of :func:`..geo.units.unit_areas`, read for a
    geography level straight from its LSOA hierarchy (one column, not the whole area table)."""
    if unit.neighbourhood_set is not None or unit.name not in LEVELS:
        return pd.Index(unit_areas(con, unit)["code"].astype(str))
    col = LEVELS[unit.name].code
    table = f"hierarchy_lsoa{str(unit.lsoa_vintage)[2:]}"
    codes = con.execute(f'SELECT DISTINCT CAST("{col}" AS VARCHAR) AS code FROM {table} WHERE "{col}" IS NOT NULL '
                        "ORDER BY 1").df()["code"]
    return pd.Index(codes.to_numpy(dtype=object))


def load_raw(con: duckdb.DuckDBPyConnection, spec: IndexSpec) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Every component's raw values on the areas of the index: ``code`` + one column per component.

    Returns the frame (sorted by code), notes (counts of what was dropped or is missing) and the
    warehouse tables read. All checks (table, column, type, unit, duplicate codes) happen here,
    before any transformation.
    """
    unit = resolve_unit(con, spec.unit)
    unit_codes = _unit_codes(con, unit)
    leaves = spec.leaves()
    sources: dict[str, pd.DataFrame] = {}
    by_table: dict[str, list[Component]] = {}
    for c in leaves:
        if c.table is not None:
            by_table.setdefault(c.table, []).append(c)
    for table, comps in by_table.items():
        sources[f"table {table!r}"] = _read_table(con, table, comps, unit)
    for c in leaves:
        if c.file is not None:
            sources[f"file {str(c.file)!r} ({c.name})"] = _read_file(c, unit)
    notes: list[str] = []
    for label in list(sources):
        frame = sources[label] = sources[label].dropna(subset=["code"])
        dup = frame["code"][frame["code"].duplicated()]
        if len(dup):
            raise JoinError(f"{label}: {len(dup)} code(s) repeat: {examples(dup.unique())}; one row per area needed")
        codes = pd.Index(frame["code"].to_numpy(dtype=object))
        outside = codes[unit_codes.get_indexer(codes) < 0]  # a hash lookup (codes are unique here)
        if len(outside) == 0:
            continue
        if len(outside) > len(codes) / 2:
            raise JoinError(
                f"{label}: {len(outside)} of {len(codes)} codes are not areas of unit {unit.name} "
                f"({examples(sorted(outside))}); the unit does not match the table's codes: change unit = ..."
            )
        if spec.areas == "unit":
            raise JoinError(
                f"{label}: {len(outside)} code(s) are not areas of unit {unit.name}: {examples(sorted(outside))}. "
                "Use data on the unit's codes, or set areas = \"data\" to index the codes the data has"
            )
        notes.append(f"{label}: {len(outside)} code(s) not among the {len(unit_codes):,} areas of unit {unit.name} "
                     f"kept (areas = \"data\"): {examples(sorted(outside))}")
    if spec.areas == "unit":
        universe = unit_codes
    else:
        universe = pd.Index(sorted(set().union(*(set(f["code"]) for f in sources.values()))))
    universe = universe.sort_values()
    out = pd.DataFrame({"code": universe.to_numpy(dtype=object)})
    for frame in sources.values():  # a left join on code (each source has one row per code, checked above)
        at = pd.Index(frame["code"].to_numpy(dtype=object)).get_indexer(out["code"].to_numpy(dtype=object))
        for col in frame.columns.drop("code"):
            values = frame[col].to_numpy(dtype=float)
            out[col] = np.where(at >= 0, values[np.maximum(at, 0)] if len(values) else np.nan, np.nan)
    out = out[["code", *[c.name for c in leaves]]]
    for c in leaves:
        n_missing = int(out[c.name].isna().sum())
        if n_missing == len(out):
            raise DataError(f"component {c.name!r}: no area of the index has a value (column {c.column!r}); "
                            "check the unit and the table")
    return out.reset_index(drop=True), notes, list(by_table)


def missing_summary(raw: pd.DataFrame, names: list[str]) -> dict[str, int]:
    """How many areas lack each component."""
    return {n: int(np.isnan(raw[n].to_numpy(dtype=float)).sum()) for n in names}
