"""LSOA-level numerators and denominators of every outcome, on the LSOA vintage asked for.

:func:`outcome_values` is the one entry point: for an outcome of the catalogue and a year it
returns, for every English LSOA of the requested vintage (2011 or 2021), a ``numerator`` and a
``denominator`` whose ratio (times the outcome's scale) is the outcome, so that any group of
LSOAs is summarised as :math:`\\sum n / \\sum d` (see :mod:`.catalogue`):

* **shares and rates** - the counts (fuel-poor households / households, insolvencies /
  residents ...);
* **scores and ratios** - :math:`n = P v`, :math:`d = P` with :math:`P` the LSOA population, so
  the ratio of sums is the population-weighted mean.

Geography is bridged as follows (all counts by :func:`.carry.apportion`, which keeps totals):

* another LSOA vintage: the ONS best-fit lookups (2001 -> 2011 -> 2021 and back), counts shared
  by target population, scores by :func:`neighbourhood_lens.geo.vintages.convert`;
* MSOA 2011 (DWP series): the MSOA count shared among its LSOAs by their children aged 0-15
  (children in low income families) or households (Universal Credit);
* WD21 wards (insolvencies): each ward's count shared among the LSOAs placed in it by
  ``bestfit_lsoa<yy>_ward21`` (interior point; see :mod:`neighbourhood_lens.data.outcome_tables`),
  by population.

Coverage is reported in ``frame.attrs["coverage"]``: LSOAs of the vintage, LSOAs with a value,
and the share of the population they hold. LSOAs without a value keep NaN (never dropped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, examples
from neighbourhood_lens.geo.geography import hierarchy
from neighbourhood_lens.geo.vintages import lookup
from neighbourhood_lens.outcomes.carry import apportion, shares
from neighbourhood_lens.outcomes.catalogue import Outcome, get_outcome
from neighbourhood_lens.warehouse import require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = ["VALUE_COLUMNS", "outcome_values", "outcome_datasets", "check_year", "default_year", "lsoa_population"]

#: Columns of :func:`outcome_values` besides the LSOA code.
VALUE_COLUMNS = ["numerator", "denominator", "value"]
_POP_TABLE = {2011: "population2019_lsoa11", 2021: "census2021_population_lsoa21"}


def check_year(outcome: Outcome | str, year: int) -> int:
    """``year`` if the outcome holds it, else a :class:`DataError` naming the years held."""
    o = get_outcome(outcome) if isinstance(outcome, str) else outcome
    if int(year) not in o.years:
        raise DataError(f"outcome {o.id} has no year {year}: the series holds {', '.join(map(str, o.years))}. "
                        "Pass one of those with --year (or leave it out for the default).")
    return int(year)


def default_year(outcome: Outcome | str, vintage: int) -> int:
    """The year compared for a left-behind vintage: the latest year held up to ``vintage``
    (the earliest if all are later), except that the 2023 vintage, defined with IMD 2025,
    takes the IoD2025 indicators.

    >>> default_year("fuel_poverty", 2019), default_year("fuel_poverty", 2023), default_year("disability", 2019)
    (2019, 2022, 2021)
    """
    o = get_outcome(outcome) if isinstance(outcome, str) else outcome
    limit = 2025 if (vintage == 2023 and o.kind == "indicator") else vintage
    earlier = [y for y in o.years if y <= limit]
    return max(earlier) if earlier else min(o.years)


def outcome_datasets(outcome: Outcome | str, *, year: int, lsoa_vintage: int) -> list[str]:
    """Every warehouse table :func:`outcome_values` reads for this outcome, year and vintage."""
    o = get_outcome(outcome) if isinstance(outcome, str) else outcome
    ds = list(o.datasets)
    if o.kind == "indicator" or o.id.startswith("household_deprivation"):
        ds = [d for d in ds if ("2019" in d or "2011" in d) == (_native_vintage(o, year) == 2011)]
    ds += [f"hierarchy_lsoa{str(lsoa_vintage)[2:]}", _POP_TABLE[lsoa_vintage]]
    if o.id == "insolvency":
        ds.append(f"bestfit_lsoa{str(lsoa_vintage)[2:]}_ward21")
    if o.geography == "msoa11":
        ds += ["lookup_lsoa11_msoa11", "population2019_lsoa11"]
        if o.id == "uc_households":
            ds.append("lookup_lsoa11_lsoa21_lad22")
    native = _native_vintage(o, year)
    if native != lsoa_vintage:
        ds += ["lookup_lsoa01_lsoa11"] if native == 2001 else []
        ds += ["lookup_lsoa11_lsoa21_lad22"] if 2021 in (native, lsoa_vintage) else []
        ds.append(_POP_TABLE[2011])
    return list(dict.fromkeys(ds))


def lsoa_population(con: duckdb.DuckDBPyConnection, vintage: int, *, cache: dict | None = None) -> pd.Series:
    """Residents per English LSOA (the hierarchy's default population), indexed by code."""
    def read() -> pd.Series:
        h = hierarchy(con, vintage)
        s = h.set_index(f"lsoa{str(vintage)[2:]}_code")["population"].astype(float)
        s.index = s.index.astype(object)
        return s
    return _cached(cache, ("population", vintage), read)


def _cached(cache: dict | None, key: tuple, fn):  # noqa: ANN001, ANN202
    """``fn()``, remembered in ``cache`` (a dict the caller keeps for one warehouse) when given."""
    if cache is None:
        return fn()
    if key not in cache:
        cache[key] = fn()
    return cache[key]


def _lookup(con: duckdb.DuckDBPyConnection, source: int, target: int, cache: dict | None) -> pd.DataFrame:
    return _cached(cache, ("lookup", source, target), lambda: _obj(lookup(con, source=source, target=target)))


def _obj(frame: pd.DataFrame) -> pd.DataFrame:
    """Code columns as Python objects (pandas' Arrow strings make ``isin`` slow on national tables)."""
    for c in frame.columns:
        if frame[c].dtype != object and (pd.api.types.is_string_dtype(frame[c])):
            frame[c] = frame[c].astype(object)
    return frame


def outcome_values(
    con: duckdb.DuckDBPyConnection, outcome: Outcome | str, *, year: int, lsoa_vintage: int,
    cache: dict | None = None,
) -> pd.DataFrame:
    """Numerator, denominator and value of ``outcome`` in ``year`` for every English LSOA of
    ``lsoa_vintage`` (2011 or 2021).

    Returns ``lsoa11_code`` (or ``lsoa21_code``), ``numerator``, ``denominator``, ``value``
    (``numerator / denominator x per``; shares 0-1), one row per LSOA of the vintage's
    hierarchy, sorted by code; LSOAs the outcome does not reach have NaN. ``attrs`` holds
    ``coverage`` (``lsoas``, ``lsoas_with_value``, ``population_share``), ``datasets`` (tables
    read) and ``notes`` (how it was placed on the vintage). ``cache`` (an empty dict the caller
    keeps while the warehouse is unchanged) reuses populations and lookups across calls.
    """
    o = get_outcome(outcome) if isinstance(outcome, str) else outcome
    year = check_year(o, year)
    if lsoa_vintage not in (2011, 2021):
        raise DataError(f"unknown LSOA vintage {lsoa_vintage!r}; valid: 2011, 2021")
    key = f"lsoa{str(lsoa_vintage)[2:]}_code"
    require_tables(con, [d for d in outcome_datasets(o, year=year, lsoa_vintage=lsoa_vintage)
                         if not d.startswith("lookup_lsoa01") or year == 2011])
    notes: list[str] = []
    pop = lsoa_population(con, lsoa_vintage, cache=cache)
    if o.id == "insolvency":
        counts = _insolvency(con, year, lsoa_vintage, pop, notes, cache)
    else:
        native = _native_vintage(o, year)
        frame, is_score = _native(con, o, year, notes, cache)
        counts = _to_vintage(con, _obj(frame), native=native, target=lsoa_vintage, score=is_score, notes=notes,
                             cache=cache)
    out = pd.DataFrame({key: pop.index})
    out = out.merge(counts.rename(columns={"code": key}), on=key, how="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["value"] = np.where(out["denominator"] > 0, out["numerator"] / out["denominator"], np.nan) * o.scale
    have = out["value"].notna().to_numpy()
    p = pop.reindex(out[key]).to_numpy()
    out.attrs["coverage"] = {"lsoas": len(out), "lsoas_with_value": int(have.sum()),
                             "population_share": float(p[have].sum() / p.sum()) if p.sum() else 0.0}
    out.attrs["datasets"] = outcome_datasets(o, year=year, lsoa_vintage=lsoa_vintage)
    out.attrs["notes"] = notes
    return out[[key, *VALUE_COLUMNS]]


def _native_vintage(o: Outcome, year: int) -> int:
    if o.id == "fuel_poverty":
        return 2001 if year == 2011 else (2011 if year <= 2020 else 2021)
    if o.geography == "msoa11":
        return 2011
    if o.kind == "indicator":
        return 2011 if year == 2019 else 2021
    if o.id.startswith("household_deprivation"):
        return 2011 if year == 2011 else 2021
    return 2021


def _native(con: duckdb.DuckDBPyConnection, o: Outcome, year: int, notes: list[str],
            cache: dict | None) -> tuple[pd.DataFrame, bool]:
    """``code, numerator, denominator`` on the outcome's own LSOA vintage (or ``code, value`` for a score)."""
    q = con.execute
    if o.id == "fuel_poverty":
        f = q("SELECT lsoa_code AS code, fuel_poor_households AS numerator, households AS denominator, measure "
              "FROM fuel_poverty_lsoa WHERE year = ?", [year]).df()
        notes.append(f"fuel poverty measure {f['measure'].iloc[0]} (data year {year})" if len(f) else "")
        return f.drop(columns="measure"), False
    if o.id.startswith("household_deprivation"):
        t = "census2011_household_deprivation_lsoa11" if year == 2011 else "census2021_household_deprivation_lsoa21"
        c = "lsoa11_code" if year == 2011 else "lsoa21_code"
        dims = range(1, 5) if o.id == "household_deprivation" else range(2, 5)
        num = " + ".join(f"households_deprived_{d}_dimensions" for d in dims)
        return q(f"SELECT {c} AS code, {num} AS numerator, households_total AS denominator FROM {t} "
                 f"WHERE {c} LIKE 'E%'").df(), False
    if o.id in ("disability", "overcrowding", "social_renting"):
        t, num, den = {
            "disability": ("census2021_disability_lsoa21", "residents_disabled", "residents_total"),
            "overcrowding": ("census2021_overcrowding_lsoa21",
                             "households_occupancy_minus_1 + households_occupancy_minus_2_or_less", "households_total"),
            "social_renting": ("census2021_tenure_lsoa21",
                               "households_social_rented_council + households_social_rented_other", "households_total"),
        }[o.id]
        return q(f"SELECT lsoa21_code AS code, {num} AS numerator, {den} AS denominator FROM {t} "
                 "WHERE lsoa21_code LIKE 'E%'").df(), False
    if o.id == "child_low_income":
        return _msoa_children(con, year, notes, cache), False
    if o.id == "uc_households":
        return _msoa_uc(con, year, notes, cache), False
    if o.kind == "indicator":
        col = dict(c.split(":", 1) for c in o.column.split(";"))[str(year)]
        t, c = ("imd2019_lsoa11_indicators", "lsoa11_code") if year == 2019 else ("imd2025_lsoa21_indicators",
                                                                                  "lsoa21_code")
        return q(f'SELECT {c} AS code, "{col}"::DOUBLE AS value FROM {t}').df(), True
    raise DataError(f"outcome {o.id}: no reader")  # pragma: no cover - every catalogue id has one


def _to_vintage(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, *, native: int, target: int, score: bool,
                notes: list[str], cache: dict | None) -> pd.DataFrame:
    """Carry native LSOA values to ``target``.

    Counts are apportioned by target population (:func:`.carry.apportion`). A score becomes
    ``numerator = P v``, ``denominator = P`` with the native population ``P`` first, and both are
    apportioned the same way, so a target takes its parent's score (unchanged, split) or the
    population-weighted mean of its sources (merged): the rule of
    :func:`neighbourhood_lens.geo.vintages.convert`, checked against it in the tests.
    """
    if score:
        pop_n = lsoa_population(con, native, cache=cache)
        v = frame["value"].to_numpy(dtype=float)
        w = pop_n.reindex(frame["code"]).to_numpy()
        frame = pd.DataFrame({"code": frame["code"].to_numpy(), "numerator": v * w,
                              "denominator": np.where(np.isnan(v), np.nan, w)})
    steps = {(2001, 2011): [(2001, 2011)], (2001, 2021): [(2001, 2011), (2011, 2021)],
             (2011, 2021): [(2011, 2021)], (2021, 2011): [(2021, 2011)]}.get((native, target), [])
    for src, dst in steps:
        lk = _lookup(con, src, dst, cache)
        outside = ~isin(frame["code"], lk["source_code"])
        if outside.any():
            notes.append(f"{int(outside.sum())} LSOA {src} code(s) not in the ONS lookup to {dst}, not carried: "
                         f"{examples(frame.loc[outside, 'code'])}")
        pop_dst = lsoa_population(con, dst, cache=cache)
        shared = _cached(cache, ("shares", src, dst), lambda: shares(lk, pop_dst))  # noqa: B023
        frame = apportion(frame[~outside].rename(columns={"code": "source_code"}),
                          pairs=shared, weights=pop_dst, columns=["numerator", "denominator"])
        frame = frame.rename(columns={"target_code": "code"})
        notes.append(f"{'score' if score else 'counts'} carried from LSOA {src} to {dst} (ONS lookup, shared by "
                     "population)")
    return frame


def _insolvency(con: duckdb.DuckDBPyConnection, year: int, vintage: int, pop: pd.Series,
                notes: list[str], cache: dict | None) -> pd.DataFrame:
    yy = str(vintage)[2:]
    wards = con.execute("SELECT ward21_code AS source_code, insolvencies FROM insolvencies_ward "
                        "WHERE year = ? AND type = 'total' AND ward21_code LIKE 'E%'", [year]).df()
    pairs = _cached(cache, ("ward21", vintage), lambda: _obj(con.execute(
        f"SELECT ward21_code AS source_code, lsoa{yy}_code AS target_code FROM bestfit_lsoa{yy}_ward21").df()))
    wards = _obj(wards)
    counts = apportion(wards, pairs=pairs, weights=pop, columns=["insolvencies"])
    notes.append(f"ward (WD21) counts shared among the LSOA {vintage} placed in each ward (interior point), "
                 "by population")
    out = pd.DataFrame({"code": pop.index, "denominator": pop.to_numpy()})
    out["numerator"] = out["code"].map(counts.set_index("target_code")["insolvencies"]).fillna(0.0).to_numpy()
    return out[["code", "numerator", "denominator"]]


def _children(con: duckdb.DuckDBPyConnection, year: int, cache: dict | None) -> pd.DataFrame:
    t = "population2020_lsoa11" if year >= 2020 else "population2019_lsoa11"
    ages = " + ".join(f"age_{a}" for a in range(16))
    return _cached(cache, ("children", t), lambda: _obj(con.execute(
        f"SELECT p.lsoa11_code AS code, m.msoa11_code, {ages} AS children FROM {t} p "
        "JOIN lookup_lsoa11_msoa11 m USING (lsoa11_code) ORDER BY 1").df()))


def _msoa_children(con: duckdb.DuckDBPyConnection, year: int, notes: list[str], cache: dict | None) -> pd.DataFrame:
    kids = _children(con, year, cache)
    msoa = con.execute("SELECT msoa11_code AS source_code, children_relative_low_income::DOUBLE AS n "
                       "FROM children_low_income_msoa11 WHERE year = ?", [year]).df()
    msoa = _obj(msoa)
    pairs = kids.rename(columns={"msoa11_code": "source_code", "code": "target_code"})
    placed = apportion(msoa, pairs=pairs, weights=kids.set_index("code")["children"], columns=["n"])
    notes.append(f"MSOA counts shared among LSOAs by children aged 0-15 (ONS mid-{2020 if year >= 2020 else 2019})")
    out = kids[["code", "children"]].rename(columns={"children": "denominator"})
    out["numerator"] = out["code"].map(placed.set_index("target_code")["n"]).to_numpy()
    return out[["code", "numerator", "denominator"]]


def _households_lsoa11(con: duckdb.DuckDBPyConnection, cache: dict | None) -> pd.DataFrame:
    """Census 2021 households on LSOA 2011 with the MSOA (households shared by mid-2019 population)."""
    def read() -> pd.DataFrame:
        hh = _obj(con.execute("SELECT lsoa21_code AS source_code, households_total AS h FROM "
                              "census2021_household_deprivation_lsoa21").df())
        lk = _lookup(con, 2021, 2011, cache)
        hh = apportion(hh[isin(hh["source_code"], lk["source_code"])], pairs=lk,
                       weights=lsoa_population(con, 2011, cache=cache), columns=["h"])
        m = _obj(con.execute("SELECT lsoa11_code AS code, msoa11_code FROM lookup_lsoa11_msoa11 "
                             "WHERE lsoa11_code LIKE 'E%'").df())
        return m.merge(hh.rename(columns={"target_code": "code"}), on="code", how="left")
    return _cached(cache, ("households", 2011), read)


def _msoa_uc(con: duckdb.DuckDBPyConnection, year: int, notes: list[str], cache: dict | None) -> pd.DataFrame:
    hh = _households_lsoa11(con, cache)
    uc = con.execute("SELECT msoa11_code AS source_code, sum(coalesce(households_on_uc, 0))::DOUBLE / "
                     "count(DISTINCT month) AS n, count(DISTINCT month) AS months FROM uc_households_msoa11 "
                     "WHERE month LIKE ? GROUP BY 1", [f"{year}-%"]).df()
    uc = _obj(uc)
    pairs = hh.rename(columns={"msoa11_code": "source_code", "code": "target_code"})
    placed = apportion(uc[["source_code", "n"]], pairs=pairs, weights=hh.set_index("code")["h"], columns=["n"])
    months = int(uc["months"].max()) if len(uc) else 0
    notes.append(f"mean of {months} month(s) of {year}; MSOA counts shared among LSOAs by Census 2021 households "
                 "(carried to LSOA 2011)")
    out = hh[["code", "h"]].rename(columns={"h": "denominator"})
    out["numerator"] = out["code"].map(placed.set_index("target_code")["n"]).to_numpy()
    return out[["code", "numerator", "denominator"]]
