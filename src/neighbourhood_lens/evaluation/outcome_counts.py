"""LSOA-level numerators and denominators of the annual outcome statistics, on one LSOA vintage.

Each outcome series of :mod:`.outcome_panel` is a ratio: a count of people or households
with the outcome (the **numerator**) over the people or households it could happen to (the
**denominator**). To follow one series across years and aggregate it to any unit, both are
put on the LSOAs of one boundary vintage (2011 or 2021) as **counts**, so that a unit's rate
is a ratio of sums, never a mean of area rates:

.. math:: r_g = \\frac{\\sum_{i \\in g} n_i}{\\sum_{i \\in g} d_i}.

Counts are moved between geographies by **apportionment**, which keeps totals
(:func:`carry_counts`): a source area's count is shared among the target areas it maps to in
proportion to a weight, :math:`c_t = \\sum_{s \\to t} c_s\\, w_t / \\sum_{t' \\leftarrow s} w_{t'}`.

* **LSOA 2001 -> 2011 -> 2021, and 2021 -> 2011**: the ONS best-fit lookups of
  :func:`..geo.vintages.lookup`; the weight is the target LSOA's population (mid-2019 for
  LSOA 2011, Census 2021 for LSOA 2021). An unchanged or merged LSOA passes its whole count
  on; a split one shares it by the new LSOAs' populations. (:func:`..geo.vintages.convert`
  carries *means*, where a split LSOA's parts each inherit the parent's value; that is right
  for rates and wrong for counts, which would be counted twice.)
* **MSOA 2011 -> LSOA 2011**: by the LSOA's share of the MSOA's denominator (children
  aged 0-15, or households), so every LSOA of an MSOA takes the MSOA's rate.
* **Ward (December 2021) -> LSOA**: no LSOA -> WD21 lookup is in the mirror, so each LSOA is
  placed in the WD21 ward that contains an interior point of its polygon (best fit; the
  nearest ward if the point falls in none); a ward's count is shared among its LSOAs by
  population. A ward in which no LSOA is placed passes its count to the LSOA that contains
  the ward's own interior point, so no insolvency is lost; both are counted in the notes.

Notes
-----
Denominators are fixed populations where the source publishes none by year: mid-2019 LSOA
populations (2011-based units) or Census 2021 (2021-based units) for residents and for
children aged 0-15, Census 2021 households for Universal Credit. A series' rate therefore
moves with its numerator only; DWP's and the Insolvency Service's published rates use the
population of each year and differ slightly.

References
----------
ONS (2022), *LSOA (2011) to LSOA (2021) to LAD (2022) Lookup in England and Wales*;
ONS (2021), *Wards (December 2021) Boundaries*, Open Geography Portal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError, JoinError, examples

if TYPE_CHECKING:
    import duckdb

__all__ = ["carry_counts", "lsoa_population", "to_vintage", "place_lsoas_in_wards", "apportion_to_lsoas", "vintage_of"]

_CODE = {2001: "lsoa01_code", 2011: "lsoa11_code", 2021: "lsoa21_code"}


def vintage_of(label: str | int) -> int:
    """The LSOA vintage year of a label such as ``lsoa11``, ``2011`` or ``11``.

    >>> vintage_of("lsoa01"), vintage_of(2021)
    (2001, 2021)
    """
    text = str(label).lower().removeprefix("lsoa")
    year = int(text) if text.isdigit() else -1
    year = 2000 + year if 0 <= year < 100 else year
    if year not in _CODE:
        raise DataError(f"unknown LSOA vintage {label!r}; valid: lsoa01, lsoa11, lsoa21")
    return year


def carry_counts(frame: pd.DataFrame, *, lookup: pd.DataFrame, columns: list[str], code: str = "code",
                 weight: pd.Series | None = None) -> pd.DataFrame:
    """Apportion counts of source areas to target areas, keeping totals (see module docstring).

    ``lookup`` has ``source_code, target_code`` (one row per pair). ``weight`` (indexed by
    target code) shares a source's count among its targets; a source whose targets all lack
    a positive weight (or ``weight=None``) shares it equally. Every source code of ``frame``
    must be in the lookup (a :class:`JoinError` names the first few otherwise). Returns
    ``code`` and the ``columns`` (float) for every target reached, sorted by code.

    >>> lk = pd.DataFrame({"source_code": ["a", "b", "b", "d", "e"],
    ...                    "target_code": ["A", "B1", "B2", "C", "C"]})
    >>> f = pd.DataFrame({"code": ["a", "b", "d", "e"], "n": [1, 8, 10, 20]})
    >>> carry_counts(f, lookup=lk, columns=["n"], weight=pd.Series({"A": 1, "B1": 1, "B2": 3, "C": 1}))
      code     n
    0    A   1.0
    1   B1   2.0
    2   B2   6.0
    3    C  30.0
    """
    if missing := {code, *columns} - set(frame.columns):
        raise DataError(f"carry_counts: frame lacks column(s) {sorted(missing)}")
    # object strings: pandas' Arrow-string isin/merge is slow on national code lists
    src = frame[[code, *columns]].rename(columns={code: "source_code"})
    src["source_code"] = src["source_code"].to_numpy(dtype=object)
    lookup = pd.DataFrame({"source_code": lookup["source_code"].to_numpy(dtype=object),
                           "target_code": lookup["target_code"].to_numpy(dtype=object)})
    if src["source_code"].duplicated().any():
        raise DataError(f"carry_counts: duplicate source code(s): "
                        f"{examples(src.loc[src['source_code'].duplicated(), 'source_code'])}")
    known = set(lookup["source_code"].tolist())
    unmatched = pd.Series([c not in known for c in src["source_code"].tolist()], index=src.index, dtype=bool)
    if unmatched.any():
        raise JoinError(f"{int(unmatched.sum())} source area(s) are not in the lookup: "
                        f"{examples(src.loc[unmatched, 'source_code'])}")
    if pd.isna(lookup["target_code"]).any():
        raise JoinError(f"{int(lookup['target_code'].isna().sum())} lookup row(s) have no target code "
                        f"(sources {examples(lookup.loc[lookup['target_code'].isna(), 'source_code'])})")
    lookup = lookup.drop_duplicates()
    pos = pd.Index(src["source_code"]).get_indexer(lookup["source_code"])
    keep = pos >= 0
    pos, s_code, t_code = pos[keep], lookup["source_code"].to_numpy()[keep], lookup["target_code"].to_numpy()[keep]
    if weight is not None:
        weight = pd.Series(weight.to_numpy(dtype=float), index=weight.index.to_numpy(dtype=object))
        w = weight[~weight.index.duplicated()].reindex(t_code).to_numpy(dtype=float)
    else:
        w = np.ones(len(t_code))
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    sid = pd.factorize(s_code)[0]
    total, k = np.bincount(sid, weights=w)[sid], np.bincount(sid)[sid].astype(float)
    share = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / k)
    order = np.argsort(t_code, kind="stable")
    tid, targets = pd.factorize(t_code[order])
    out = pd.DataFrame({"code": np.asarray(targets, dtype=object)})
    for c in columns:
        v = src[c].to_numpy(dtype=float)[pos] * share
        out[c] = np.bincount(tid, weights=v[order], minlength=len(targets))
    return out


def _lookup(con: duckdb.DuckDBPyConnection, source: int, target: int, memo: dict | None) -> pd.DataFrame:
    from neighbourhood_lens.geo.vintages import lookup

    key = ("lookup", source, target)
    if memo is None or key not in memo:
        found = lookup(con, source=source, target=target)
        if memo is None:
            return found
        memo[key] = found
    return memo[key]


def lsoa_population(con: duckdb.DuckDBPyConnection, vintage: int, *, ages: range | None = None,
                    memo: dict | None = None) -> pd.Series:
    """Residents of each English LSOA: mid-2019 (LSOA 2011) or Census 2021 (LSOA 2021).

    ``ages`` (e.g. ``range(0, 16)``) sums single years of age from the mid-2019 estimates;
    for LSOA 2021 (no ages in Census 2021 TS021) they are carried from LSOA 2011. ``memo``
    (a dict shared by the calls of one build) keeps what was read for the next call.
    """
    key = ("population", vintage, None if ages is None else (ages.start, ages.stop))
    if memo is not None and key in memo:
        return memo[key]
    out = _population(con, vintage, ages, memo)
    if memo is not None:
        memo[key] = out
    return out


def _population(con: duckdb.DuckDBPyConnection, vintage: int, ages: range | None, memo: dict | None) -> pd.Series:
    if ages is None:
        if vintage == 2011:
            q = "SELECT lsoa11_code AS code, population FROM population2019_lsoa11 WHERE lsoa11_code LIKE 'E%'"
        else:
            q = "SELECT lsoa21_code AS code, population FROM census2021_population_lsoa21"
        return con.execute(q).df().set_index("code")["population"].astype(float)
    cols = " + ".join(f"coalesce(age_{a}, 0)" for a in ages)
    p11 = con.execute(f"SELECT lsoa11_code AS code, {cols} AS n FROM population2019_lsoa11 "
                      "WHERE lsoa11_code LIKE 'E%'").df()
    if vintage == 2011:
        return p11.set_index("code")["n"].astype(float)
    moved = carry_counts(p11, lookup=_lookup(con, 2011, 2021, memo), columns=["n"],
                         weight=lsoa_population(con, 2021, memo=memo))
    return moved.set_index("code")["n"]


def to_vintage(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, *, source: int, target: int,
               columns: list[str], memo: dict | None = None) -> pd.DataFrame:
    """Carry LSOA counts (``code`` + ``columns``) from vintage ``source`` to ``target``, through
    2011 when going from 2001 to 2021 (see the module docstring for the weights)."""
    at = source
    while at != target:
        nxt = 2011 if at in (2001, 2021) else 2021
        frame = carry_counts(frame, lookup=_lookup(con, at, nxt, memo), columns=columns,
                             weight=lsoa_population(con, nxt, memo=memo))
        at = nxt
    return frame


def apportion_to_lsoas(counts: pd.DataFrame, membership: pd.DataFrame, *, columns: list[str],
                       weight: pd.Series, what: str) -> pd.DataFrame:
    """Share area counts (``code`` + ``columns``) among their LSOAs by ``weight``.

    ``membership`` has ``lsoa_code, code`` (each LSOA in one area). Areas of ``counts`` with
    no LSOA raise a :class:`JoinError`. Returns ``lsoa_code`` and the ``columns``.

    >>> m = pd.DataFrame({"lsoa_code": ["x", "y", "z"], "code": ["M", "M", "N"]})
    >>> apportion_to_lsoas(pd.DataFrame({"code": ["M", "N"], "n": [10, 4]}), m, columns=["n"],
    ...                    weight=pd.Series({"x": 1.0, "y": 4.0, "z": 2.0}), what="demo")
      lsoa_code    n
    0         x  2.0
    1         y  8.0
    2         z  4.0
    """
    members = set(membership["code"].tolist())
    lost = pd.Series([c not in members for c in counts["code"].tolist()], index=counts.index, dtype=bool)
    if lost.any():
        raise JoinError(f"{what}: {int(lost.sum())} area(s) have no LSOA to share their counts among: "
                        f"{examples(counts.loc[lost, 'code'])}")
    lk = membership.rename(columns={"code": "source_code", "lsoa_code": "target_code"})
    out = carry_counts(counts, lookup=lk, columns=columns, weight=weight)
    return out.rename(columns={"code": "lsoa_code"})


def place_lsoas_in_wards(con: duckdb.DuckDBPyConnection, vintage: int) -> tuple[pd.DataFrame, list[str]]:
    """Best-fit placement of English LSOAs in December 2021 wards (see module docstring).

    Reads the warehouse's ``bestfit_lsoa11_ward21`` / ``bestfit_lsoa21_ward21`` when the build
    made them (the same rule), else places the LSOAs from ``boundaries_ward21`` now.

    Returns ``lsoa_code, ward21_code`` (one row per LSOA; plus one row for each ward in which
    no LSOA was placed, pointing at the LSOA holding the ward's interior point, flagged
    ``extra``) and the notes saying how many were placed by nearest ward or by reverse point.
    """
    from neighbourhood_lens.warehouse import has_table, require_tables

    table = f"bestfit_lsoa{str(vintage)[2:]}_ward21"
    if has_table(con, table):  # built with the warehouse (data.outcome_tables.derive_ward21_bestfit)
        got = con.execute(f"SELECT {_CODE[vintage]} AS lsoa_code, ward21_code, method FROM {table}").df()
        counts = got["method"].value_counts()
        notes = [f"{table}: {int(counts.get('nearest', 0))} LSOA(s) placed in the nearest ward and "
                 f"{int(counts.get('ward_interior_point', 0))} ward(s) holding no LSOA point passed to the LSOA "
                 "holding the ward's interior point"]
        return got.assign(extra=got["method"] == "ward_interior_point")[["lsoa_code", "ward21_code", "extra"]], notes
    import geopandas as gpd

    from neighbourhood_lens.geo.boundaries import BRITISH_NATIONAL_GRID, lsoa_boundaries

    require_tables(con, ["boundaries_ward21"])
    lsoas = lsoa_boundaries(con, vintage).rename(columns={_CODE[vintage]: "lsoa_code"})
    frame = con.execute("SELECT ward21_code, geometry FROM boundaries_ward21 WHERE ward21_code LIKE 'E%'").df()
    wards = gpd.GeoDataFrame({"ward21_code": frame["ward21_code"].to_numpy()},
                             geometry=gpd.GeoSeries.from_wkb(frame["geometry"].map(bytes), crs=4326), crs=4326)
    lsoas, wards = lsoas.to_crs(BRITISH_NATIONAL_GRID), wards.to_crs(BRITISH_NATIONAL_GRID)
    points = gpd.GeoDataFrame({"lsoa_code": lsoas["lsoa_code"].to_numpy()},
                              geometry=lsoas.geometry.representative_point().to_numpy(), crs=lsoas.crs)
    hit = gpd.sjoin(points, wards, how="left", predicate="within").drop_duplicates("lsoa_code")
    notes = []
    none = hit["ward21_code"].isna()
    if none.any():
        near = gpd.sjoin_nearest(points[points["lsoa_code"].isin(hit.loc[none, "lsoa_code"])], wards, how="left")
        near = near.drop_duplicates("lsoa_code").set_index("lsoa_code")["ward21_code"]
        hit.loc[none, "ward21_code"] = hit.loc[none, "lsoa_code"].map(near)
        notes.append(f"{int(none.sum())} LSOA {vintage} interior point(s) fall in no December 2021 ward "
                     "(generalised coastlines): placed in the nearest ward")
    placed = hit[["lsoa_code", "ward21_code"]].assign(extra=False)
    empty = wards[~wards["ward21_code"].isin(placed["ward21_code"])]
    if len(empty):
        wp = gpd.GeoDataFrame({"ward21_code": empty["ward21_code"].to_numpy()},
                              geometry=empty.geometry.representative_point().to_numpy(), crs=wards.crs)
        back = gpd.sjoin_nearest(wp, lsoas, how="left").drop_duplicates("ward21_code")
        placed = pd.concat([placed, pd.DataFrame({"lsoa_code": back["lsoa_code"].to_numpy(),
                                                  "ward21_code": back["ward21_code"].to_numpy(), "extra": True})],
                           ignore_index=True)
        notes.append(f"{len(empty)} small December 2021 ward(s) hold no LSOA {vintage} interior point: each passes "
                     "its counts to the LSOA that holds the ward's own interior point")
    return placed.reset_index(drop=True), notes
