"""Units of analysis: any geography level the warehouse knows, or a stored neighbourhood set.

Programme design, evaluation and composite indices all work on a *unit*: ``lsoa11``,
``msoa11``, ``ward17``, ``lad19``, ``region19`` (2011-based), ``lsoa21``, ``ward24``,
``lad24``, ``region24`` (2021-based), or the name of a neighbourhood set stored with
``nlens neighbourhoods build --name NAME`` (also written ``neighbourhoods:NAME``). Every unit
is a set of whole LSOAs of one vintage, so LSOA values can be aggregated to it.

Aggregation is the population-weighted mean (:func:`.geography.weighted_mean`), the
convention MHCLG uses for the IoD "average score". A unit's LAD and region are those of its
most populous LSOA (wards and neighbourhoods nest in LADs, so this only matters for the few
best-fit wards that straddle a boundary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError, examples
from neighbourhood_lens.geo.geography import LEVELS, hierarchy

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "Unit",
    "resolve_unit",
    "unit_names",
    "unit_lsoas",
    "unit_areas",
    "aggregate_to_unit",
    "unit_adjacency",
]

AREA_COLUMNS = ["code", "name", "lad_code", "lad_name", "region_code", "region_name", "population", "n_lsoas"]


@dataclass(frozen=True)
class Unit:
    """A unit of analysis: its name, LSOA vintage (2011 or 2021), kind and, for a stored
    neighbourhood set, the set's name."""

    name: str
    lsoa_vintage: int
    kind: str
    neighbourhood_set: str | None = None

    @property
    def lsoa_code(self) -> str:
        """The LSOA code column of the unit's vintage (``lsoa11_code`` or ``lsoa21_code``)."""
        return f"lsoa{str(self.lsoa_vintage)[2:]}_code"

    @property
    def lad_level(self) -> str:
        return "lad19" if self.lsoa_vintage == 2011 else "lad24"

    @property
    def region_level(self) -> str:
        return "region19" if self.lsoa_vintage == 2011 else "region24"


def unit_names(con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """Every unit name: the hierarchy levels, then stored neighbourhood sets (with a warehouse)."""
    names = list(LEVELS)
    if con is not None:
        from neighbourhood_lens.geo.neighbourhood_sets import neighbourhood_sets

        names += [f"neighbourhoods:{n}" for n in neighbourhood_sets(con)["name"]]
    return names


def resolve_unit(con: duckdb.DuckDBPyConnection | None, unit: str) -> Unit:
    """Look up a unit by name; an unknown name is a :class:`DataError` listing the valid ones.

    >>> resolve_unit(None, "ward17")
    Unit(name='ward17', lsoa_vintage=2011, kind='ward', neighbourhood_set=None)
    """
    if unit in LEVELS:
        lv = LEVELS[unit]
        return Unit(unit, lv.lsoa_vintage, lv.kind)
    set_name = unit.removeprefix("neighbourhoods:")
    if con is not None:
        from neighbourhood_lens.geo.neighbourhood_sets import neighbourhood_sets

        sets = neighbourhood_sets(con)
        row = sets[sets["name"] == set_name]
        if not row.empty:
            return Unit(f"neighbourhoods:{set_name}", int(row["vintage"].iloc[0]), "neighbourhoods", set_name)
    raise DataError(
        f"unknown unit {unit!r}; valid units: {', '.join(unit_names(con))} "
        "(or a neighbourhood set stored with `nlens neighbourhoods build --name NAME`)"
    )


def unit_lsoas(
    con: duckdb.DuckDBPyConnection, unit: Unit | str, *, population: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Which unit each English LSOA belongs to: ``<lsoa code>, code, population`` plus the
    LSOA's LAD and region (``lad_code, lad_name, region_code, region_name``).

    ``population`` overrides the default LSOA population (see :func:`.geography.hierarchy`).
    For a neighbourhood set, LSOAs the set does not assign are an error.
    """
    u = resolve_unit(con, unit) if isinstance(unit, str) else unit
    h = hierarchy(con, u.lsoa_vintage, population=population)
    lad, region = LEVELS[u.lad_level], LEVELS[u.region_level]
    # the hierarchy's own columns (Arrow text, not converted to Python strings and back)
    out = pd.DataFrame({
        u.lsoa_code: h[u.lsoa_code],
        "population": h["population"].astype(float),
        "lad_code": h[lad.code], "lad_name": h[lad.label],
        "region_code": h[region.code], "region_name": h[region.label],
    })
    if u.neighbourhood_set is None:
        lv = LEVELS[u.name]
        out.insert(1, "code", h[lv.code])
        out.insert(2, "name", h[lv.label])
        return out
    from neighbourhood_lens.geo.neighbourhood_sets import load_neighbourhoods

    assignment, _ = load_neighbourhoods(con, u.neighbourhood_set)
    assignment = assignment.rename(columns={"neighbourhood_code": "code", "neighbourhood_name": "name"})
    merged = out.merge(assignment[[u.lsoa_code, "code", "name"]], on=u.lsoa_code, how="left", validate="one_to_one")
    unassigned = merged.loc[merged["code"].isna(), u.lsoa_code]
    if len(unassigned):
        raise DataError(
            f"neighbourhood set {u.neighbourhood_set!r} leaves {len(unassigned)} English LSOA(s) unassigned: "
            f"{examples(unassigned)}. Rebuild the set for this warehouse."
        )
    return merged[[u.lsoa_code, "code", "name", *[c for c in out.columns if c != u.lsoa_code]]]


def unit_areas(
    con: duckdb.DuckDBPyConnection, unit: Unit | str, *, population: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per area of the unit: :data:`AREA_COLUMNS`, sorted by code.

    ``population`` is the sum over the unit's LSOAs; LAD and region are those of the most
    populous LSOA (ties broken by LSOA code).
    """
    u = resolve_unit(con, unit) if isinstance(unit, str) else unit
    lsoas = unit_lsoas(con, u, population=population)
    # codes numbered in sorted order once; the lead LSOA of each area by one sort of numbers
    area, codes = pd.factorize(lsoas["code"], sort=True)
    if (area < 0).any():
        raise DataError(f"unit {u.name}: {int((area < 0).sum())} LSOA(s) have no area code")
    lsoa_order = pd.factorize(lsoas[u.lsoa_code], sort=True)[0]
    pop = lsoas["population"].to_numpy(dtype=float)
    order = np.lexsort((lsoa_order, -pop, area))
    lead = order[np.r_[True, area[order][1:] != area[order][:-1]]]
    sums = pd.DataFrame({"area": area, "population": pop}).groupby("area", sort=True)["population"].sum()
    columns = ["code", "name", "lad_code", "lad_name", "region_code", "region_name"]
    out = lsoas.iloc[lead][columns].reset_index(drop=True)
    out["population"] = sums.to_numpy()
    out["n_lsoas"] = np.bincount(area, minlength=len(codes)).astype(np.int64)
    if u.kind == "lad":
        out[["lad_code", "lad_name"]] = out[["code", "name"]]
    if u.kind == "region":
        out[["lad_code", "lad_name"]] = None
    return out[AREA_COLUMNS].sort_values("code").reset_index(drop=True)


def aggregate_to_unit(
    con: duckdb.DuckDBPyConnection,
    unit: Unit | str,
    values: pd.DataFrame,
    *,
    columns: list[str],
    population: pd.DataFrame | None = None,
    what: str = "values",
) -> pd.DataFrame:
    """Population-weighted means of LSOA ``values`` over the areas of ``unit``.

    ``values`` has the unit's LSOA code column and ``columns``. Returns ``code`` plus each
    column and ``coverage_share`` (the share of the area's population whose LSOAs have every
    value). An area is given a value only where coverage is complete; areas with partial or
    no coverage get NaN and are listed in a :class:`DataError` only when *every* area is
    affected (a wrong vintage); callers report partial gaps by count.

    LSOA codes in ``values`` that are not English LSOAs of the unit's vintage raise a
    :class:`DataError` naming them.
    """
    u = resolve_unit(con, unit) if isinstance(unit, str) else unit
    key = u.lsoa_code
    if key not in values.columns:
        raise DataError(f"{what}: needs column {key!r} for unit {u.name}; got {examples(values.columns, limit=10)}")
    dup = values[key][values[key].duplicated()]
    if len(dup):
        raise DataError(f"{what}: {len(dup)} LSOA code(s) repeat: {examples(dup)}")
    lsoas = unit_lsoas(con, u, population=population)[[key, "code", "population"]]
    unknown = pd.Index(values[key]).difference(pd.Index(lsoas[key]))
    if len(unknown):
        raise DataError(
            f"{what}: {len(unknown)} code(s) are not English LSOA {u.lsoa_vintage} codes: {examples(sorted(unknown))}"
        )
    merged = lsoas.merge(values[[key, *columns]], on=key, how="left")
    vals = merged[columns].to_numpy(dtype=float)
    complete = ~np.isnan(vals).any(axis=1)
    w = merged["population"].to_numpy(dtype=float)
    work = pd.DataFrame({"code": merged["code"].to_numpy(), "_w": w, "_wc": w * complete})
    for i, c in enumerate(columns):
        work[c] = np.where(complete, vals[:, i], 0.0) * w
    g = work.groupby("code", sort=True)
    sums = g.sum()
    out = pd.DataFrame({"code": sums.index})
    full = (sums["_wc"] >= sums["_w"]).to_numpy() & (sums["_w"] > 0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in columns:
            out[c] = np.where(full, sums[c].to_numpy() / sums["_w"].to_numpy(), np.nan)
        out["coverage_share"] = np.where(sums["_w"] > 0, sums["_wc"] / sums["_w"], 0.0)
    if len(out) and not full.any():
        raise DataError(
            f"{what}: no area of unit {u.name} is covered; are the values on LSOA {u.lsoa_vintage} codes?"
        )
    return out.reset_index(drop=True)


def unit_adjacency(con: duckdb.DuckDBPyConnection, unit: Unit | str) -> pd.DataFrame:
    """Pairs ``a < b`` of areas of ``unit`` that touch: two areas are neighbours when any of
    their LSOAs are queen neighbours (or island-linked) in :mod:`.adjacency`.

    Uses the cached ``adjacency_lsoa11/21`` table when present (``nlens data adjacency``),
    else computes it in memory (about a second).
    """
    from neighbourhood_lens.geo.adjacency import adjacency_for_vintage
    from neighbourhood_lens.warehouse import has_table

    u = resolve_unit(con, unit) if isinstance(unit, str) else unit
    table = f"adjacency_lsoa{str(u.lsoa_vintage)[2:]}"
    links = (
        con.execute(f"SELECT a, b FROM {table}").df() if has_table(con, table)
        else adjacency_for_vintage(con, u.lsoa_vintage)[["a", "b"]]
    )
    owner = unit_lsoas(con, u).set_index(u.lsoa_code)["code"]
    a, b = links["a"].map(owner), links["b"].map(owner)
    keep = a.notna() & b.notna() & (a != b)
    lo = np.where(a[keep] < b[keep], a[keep], b[keep])
    hi = np.where(a[keep] < b[keep], b[keep], a[keep])
    out = pd.DataFrame({"a": lo, "b": hi}).drop_duplicates()
    return out.sort_values(["a", "b"]).reset_index(drop=True)
