"""Annual outcome series for evaluation: fuel poverty, insolvency, child poverty, Universal
Credit and household deprivation, as panels ``code, year, value`` at any unit.

:func:`outcome_lsoa_counts` puts one series' numerators and denominators on the LSOAs of one
vintage for every year asked (:mod:`.outcome_counts` says how counts cross geographies);
:func:`outcome_panel` sums both over the areas of the unit and divides, a ratio of sums:

.. math:: y_{gt} = s \\cdot \\frac{\\sum_{i \\in g} n_{it}}{\\sum_{i \\in g} d_{it}}

with :math:`s` the series' scale (1 for a share, 10,000 for a rate per 10,000). An area is
given a value for a year only when every one of its LSOAs has one. Every year asked for that
cannot be built is listed with its reason in ``panel.attrs["years"]`` and the notes; none is
dropped silently.

Notes
-----
**Fuel poverty measure break.** DESNZ measured fuel poverty as Low Income High Costs (LIHC)
for the data years 2011-2018 and as Low Income Low Energy Efficiency (LILEE) from 2019; the
two are not comparable (England: 10.3% in 2018 under LIHC, 13.4% in 2019 under LILEE). A
panel spanning 2018 and 2019 would show the break as a change, so mixing the measures is an
error unless asked for: ``measure="lihc"`` keeps 2011-2018, ``"lilee"`` 2019-2022, and
``"mixed"`` keeps both with a warning in the notes. The figures are modelled: DESNZ advises
against reading trends within one LSOA; aggregated to wards they are steadier but still
modelled.

**Universal Credit months to years.** The annual value is the mean of the monthly counts of
households on UC in a calendar year, built only when all 12 months are published: 2015
(August-December, 5 months) and 2023 (November only) are reported as partial and left out.
Months where Stat-Xplore shows ``..`` (nil or negligible) count as 0; the notes count them.

**Child poverty years** are financial years named by their end: 2015 = 2014/15; 2022
(2021/22) is provisional.

**Household deprivation** is a two-point series (Census 2011, Census 2021): the share of
households deprived in at least one (``measure="one_or_more"``, the default) or at least two
(``"two_or_more"``) of the four Census dimensions (employment, education, health and
disability, housing).

References
----------
DESNZ (2024), *Sub-regional fuel poverty statistics: methodology*; Insolvency Service (2023),
*Individual insolvencies by location, age and gender, England and Wales, 2022*; DWP,
*Children in low income families: local area statistics* and *Universal Credit statistics*
(Stat-Xplore); ONS, Census 2011 QS119EW and Census 2021 TS011.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError, examples
from .outcome_counts import (
    apportion_to_lsoas,
    lsoa_population,
    place_lsoas_in_wards,
    to_vintage,
    vintage_of,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["SERIES", "OutcomeSeries", "outcome_series", "is_series", "outcome_lsoa_counts", "outcome_panel"]


@dataclass(frozen=True)
class OutcomeSeries:
    """One annual outcome series: what is counted, over what, on which years and sources."""

    id: str
    label: str
    numerator: str
    denominator: str
    scale: float
    years: tuple[int, ...]
    sources: tuple[str, ...]
    source: str
    measures: tuple[str, ...] = ()
    higher_is_worse: bool = True

    @property
    def unit_label(self) -> str:
        return "share (0-1)" if self.scale == 1 else f"per {self.scale:,.0f}"


_VINTAGE_TABLES = ("lookup_lsoa01_lsoa11", "lookup_lsoa11_lsoa21_lad22", "population2019_lsoa11",
                   "census2021_population_lsoa21")
#: The annual series ``nlens evaluate --outcome`` and the profiles know.
SERIES: dict[str, OutcomeSeries] = {s.id: s for s in (
    OutcomeSeries("fuel_poverty", "fuel-poor households, share of households (0-1)", "fuel-poor households",
                  "households (DESNZ modelled)", 1.0, tuple(range(2011, 2023)),
                  ("fuel_poverty_lsoa", *_VINTAGE_TABLES), "DESNZ sub-regional fuel poverty statistics",
                  measures=("lihc", "lilee", "mixed")),
    OutcomeSeries("insolvency", "individual insolvencies per 10,000 residents", "individual insolvencies "
                  "(bankruptcies, DROs, IVAs)", "residents (mid-2019; Census 2021 for 2021-based units)", 1e4,
                  tuple(range(2012, 2023)),
                  ("insolvencies_ward", "boundaries_ward21", "boundaries_lsoa11", "boundaries_lsoa21",
                   *_VINTAGE_TABLES), "Insolvency Service, individual insolvencies by ward"),
    OutcomeSeries("child_low_income", "children in relative low-income families, share of children aged 0-15 "
                  "(0-1)", "children in relative low-income families", "children aged 0-15 (mid-2019)", 1.0,
                  tuple(range(2015, 2023)), ("children_low_income_msoa11", "lookup_lsoa11_msoa11", *_VINTAGE_TABLES),
                  "DWP children in low income families, local area statistics"),
    OutcomeSeries("uc_households", "households on Universal Credit (annual mean of months), share of households "
                  "(0-1)", "households on Universal Credit, mean of the 12 months", "households (Census 2021)", 1.0,
                  tuple(range(2015, 2024)), ("uc_households_msoa11", "lookup_lsoa11_msoa11",
                                             "census2021_household_deprivation_lsoa21", *_VINTAGE_TABLES),
                  "DWP Universal Credit statistics (Stat-Xplore)"),
    OutcomeSeries("household_deprivation", "households deprived in at least one Census dimension, share (0-1)",
                  "households deprived in >= 1 (or >= 2) dimensions", "households (Census)", 1.0, (2011, 2021),
                  ("census2011_household_deprivation_lsoa11", "census2021_household_deprivation_lsoa21",
                   *_VINTAGE_TABLES), "ONS Census 2011 QS119EW and Census 2021 TS011",
                  measures=("one_or_more", "two_or_more")),
)}
_FUEL_MEASURE = {"lihc": range(2011, 2019), "lilee": range(2019, 2023)}
FUEL_BREAK = ("fuel poverty: LIHC (Low Income High Costs) in 2011-2018, LILEE (Low Income Low Energy Efficiency) from "
              "2019; the two are not comparable (England 10.3% in 2018, 13.4% in 2019)")


def is_series(outcome: str | None) -> bool:
    """Whether ``outcome`` names one of :data:`SERIES` (rather than ``imd:...``)."""
    return outcome is not None and outcome.strip().lower() in SERIES


def outcome_series(outcome: str) -> OutcomeSeries:
    """The :class:`OutcomeSeries` of an id; an unknown id is a :class:`DataError` listing the valid ones."""
    key = outcome.strip().lower()
    if key not in SERIES:
        raise DataError(f"unknown outcome {outcome!r}; annual series: {', '.join(SERIES)}; or imd:DOMAIN for "
                        "the IMD editions")
    return SERIES[key]


def _measure_years(series: OutcomeSeries, years: Sequence[int] | None, measure: str | None) -> tuple[list[int], str]:
    """Validated years and measure (see the module Notes for the defaults)."""
    if measure is not None and measure not in series.measures:
        valid = ", ".join(series.measures) if series.measures else "none (this series has one measure)"
        raise DataError(f"--measure {measure!r} is not a measure of {series.id}; valid: {valid}")
    wanted = sorted(set(years)) if years else list(series.years)
    bad = [y for y in wanted if y not in series.years]
    if bad:
        raise DataError(f"{series.id}: year(s) {examples(bad)} are outside the series "
                        f"({series.years[0]}-{series.years[-1]})")
    if series.id == "fuel_poverty":
        if measure in _FUEL_MEASURE:
            keep = [y for y in wanted if y in _FUEL_MEASURE[measure]]
            if not keep:
                raise DataError(f"fuel_poverty --measure {measure}: none of the years {examples(wanted)} use it; "
                                f"{FUEL_BREAK}")
            wanted = keep if years is None else wanted
            off = [y for y in wanted if y not in _FUEL_MEASURE[measure]]
            if off:
                raise DataError(f"fuel_poverty --measure {measure}: year(s) {examples(off)} use the other measure; "
                                f"{FUEL_BREAK}")
        elif measure is None and any(y < 2019 for y in wanted) and any(y >= 2019 for y in wanted):
            raise DataError(f"the years {wanted[0]}-{wanted[-1]} span the fuel poverty measure break ({FUEL_BREAK}). "
                            "Use one measure: --measure lihc (2011-2018) or --measure lilee (2019-2022); "
                            "--measure mixed keeps both and reads the break as a change")
        measure = measure or ("lihc" if wanted[-1] < 2019 else "lilee")
    if series.id == "household_deprivation":
        measure = measure or "one_or_more"
    return wanted, measure or ""


def _fuel_poverty(con: duckdb.DuckDBPyConnection, vintage: int, years: list[int], memo: dict) -> pd.DataFrame:
    raw = con.execute("SELECT year, lsoa_vintage, lsoa_code AS code, households AS denominator, "
                      "fuel_poor_households AS numerator FROM fuel_poverty_lsoa WHERE lsoa_code LIKE 'E%' "
                      f"AND year IN ({', '.join(map(str, years))})").df()
    out = []
    for (year, label), f in raw.groupby(["year", "lsoa_vintage"], sort=True):
        moved = to_vintage(con, f[["code", "numerator", "denominator"]], source=vintage_of(label), target=vintage,
                           columns=["numerator", "denominator"], memo=memo)
        out.append(moved.assign(year=int(year)))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["code", "numerator", "denominator",
                                                                               "year"])


def _dims(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Column names of a Census household deprivation table: total and 0-4 dimensions."""
    cols = con.execute(f"DESCRIBE {table}").df()["column_name"].tolist()
    words = {0: ("not deprived", "_0_"), 1: ("one dimension", "_1_"), 2: ("two dimensions", "_2_"),
             3: ("three dimensions", "_3_"), 4: ("four dimensions", "_4_")}
    found = {"total": next((c for c in cols if "total" in c.lower()), None)}
    for k, keys in words.items():
        found[str(k)] = next((c for c in cols if any(w in c.lower() for w in keys)), None)
    if None in found.values():
        raise DataError(f"{table}: cannot find the total and 0-4 dimension columns among {examples(cols, limit=10)}")
    return found  # type: ignore[return-value]


def _household_deprivation(con: duckdb.DuckDBPyConnection, vintage: int, years: list[int], measure: str,
                           memo: dict) -> pd.DataFrame:
    out = []
    for year in years:
        table = ("census2011_household_deprivation_lsoa11" if year == 2011 else
                 "census2021_household_deprivation_lsoa21")
        c = _dims(con, table)
        deprived = [c[k] for k in (("1", "2", "3", "4") if measure == "one_or_more" else ("2", "3", "4"))]
        key = "lsoa11_code" if year == 2011 else "lsoa21_code"
        summed = " + ".join(f'"{d}"' for d in deprived)
        f = con.execute(f"SELECT {key} AS code, {summed} AS numerator, \"{c['total']}\" AS denominator "
                        f"FROM {table} WHERE {key} LIKE 'E%'").df()
        out.append(to_vintage(con, f, source=year, target=vintage, columns=["numerator", "denominator"], memo=memo)
                   .assign(year=year))
    return pd.concat(out, ignore_index=True)


def _msoa(con: duckdb.DuckDBPyConnection, vintage: int, counts: pd.DataFrame, weight: pd.Series, what: str,
          memo: dict) -> pd.DataFrame:
    """MSOA counts ``code, year, numerator`` -> LSOA 2011 by ``weight`` -> ``vintage`` (numerator only)."""
    if "msoa_members" not in memo:
        memo["msoa_members"] = con.execute("SELECT DISTINCT lsoa11_code AS lsoa_code, msoa11_code AS code "
                                           "FROM lookup_lsoa11_msoa11 WHERE lsoa11_code LIKE 'E%'").df()
    member = memo["msoa_members"]
    wide = counts.pivot(index="code", columns="year", values="numerator")
    cols = [f"y{y}" for y in wide.columns]
    wide.columns = cols
    lsoa = apportion_to_lsoas(wide.reset_index(), member, columns=cols, weight=weight, what=what)
    lsoa = to_vintage(con, lsoa.rename(columns={"lsoa_code": "code"}), source=2011, target=vintage, columns=cols,
                      memo=memo)
    long = lsoa.melt(id_vars="code", var_name="year", value_name="numerator")
    long["year"] = long["year"].str[1:].astype(int)
    return long


def _child_low_income(con: duckdb.DuckDBPyConnection, vintage: int, years: list[int], memo: dict) -> pd.DataFrame:
    counts = con.execute("SELECT msoa11_code AS code, year, children_relative_low_income AS numerator "
                         f"FROM children_low_income_msoa11 WHERE year IN ({', '.join(map(str, years))})").df()
    kids11 = lsoa_population(con, 2011, ages=range(0, 16), memo=memo)
    out = _msoa(con, vintage, counts, kids11, "children_low_income_msoa11", memo)
    den = kids11 if vintage == 2011 else lsoa_population(con, 2021, ages=range(0, 16), memo=memo)
    return out.assign(denominator=out["code"].map(den))


def _households(con: duckdb.DuckDBPyConnection, vintage: int, memo: dict) -> pd.Series:
    if ("households", vintage) in memo:
        return memo[("households", vintage)]
    c = _dims(con, "census2021_household_deprivation_lsoa21")
    h = con.execute(f'SELECT lsoa21_code AS code, "{c["total"]}" AS n FROM census2021_household_deprivation_lsoa21 '
                    "WHERE lsoa21_code LIKE 'E%'").df()
    memo[("households", vintage)] = to_vintage(con, h, source=2021, target=vintage, columns=["n"], memo=memo
                                               ).set_index("code")["n"]
    return memo[("households", vintage)]


def _uc_households(con: duckdb.DuckDBPyConnection, vintage: int, years: list[int], notes: list[str], memo: dict
                   ) -> tuple[pd.DataFrame, dict[int, str]]:
    months = con.execute("SELECT substr(month, 1, 4)::INT AS year, count(DISTINCT month) AS n, min(month) AS first, "
                         "max(month) AS last, count(*) FILTER (WHERE households_on_uc IS NULL) AS nil "
                         "FROM uc_households_msoa11 GROUP BY ALL").df().set_index("year")
    gaps = {}
    for y in years:
        if y not in months.index:
            gaps[y] = "no month published"
        elif months.loc[y, "n"] < 12:
            gaps[y] = (f"partial year: {months.loc[y, 'n']} month(s) published ({months.loc[y, 'first']} to "
                       f"{months.loc[y, 'last']}); an annual mean needs all 12")
    full = [y for y in years if y not in gaps]
    nil = int(months.loc[months.index.isin(full), "nil"].sum()) if full else 0
    if nil:
        notes.append(f"uc_households: {nil:,} MSOA-month(s) shown as '..' (nil or negligible) count as 0")
    if not full:
        return pd.DataFrame(columns=["code", "year", "numerator", "denominator"]), gaps
    counts = con.execute("SELECT msoa11_code AS code, substr(month, 1, 4)::INT AS year, "
                         "avg(coalesce(households_on_uc, 0)) AS numerator FROM uc_households_msoa11 "
                         f"WHERE substr(month, 1, 4)::INT IN ({', '.join(map(str, full))}) GROUP BY ALL").df()
    out = _msoa(con, vintage, counts, _households(con, 2011, memo), "uc_households_msoa11", memo)
    return out.assign(denominator=out["code"].map(_households(con, vintage, memo))), gaps


def _insolvency(con: duckdb.DuckDBPyConnection, vintage: int, years: list[int], notes: list[str], memo: dict
                ) -> pd.DataFrame:
    cols = con.execute("DESCRIBE insolvencies_ward").df()["column_name"].tolist()
    col = "insolvencies" if "insolvencies" in cols else '"count"'  # the warehouse name, or the mirror's
    counts = con.execute(f"SELECT ward21_code AS code, year, {col} AS numerator FROM insolvencies_ward "
                         f"WHERE type = 'total' AND ward21_code LIKE 'E%' AND year IN ({', '.join(map(str, years))})"
                         ).df()
    placed, placing = place_lsoas_in_wards(con, vintage)
    notes += [f"insolvency: {n}" for n in placing]
    wide = counts.pivot(index="code", columns="year", values="numerator").fillna(0.0)
    cols = [f"y{y}" for y in wide.columns]
    wide.columns = cols
    pop = lsoa_population(con, vintage, memo=memo)
    lsoa = apportion_to_lsoas(wide.reset_index(), placed.rename(columns={"ward21_code": "code"}), columns=cols,
                              weight=pop, what="insolvencies_ward")
    long = lsoa.melt(id_vars="lsoa_code", var_name="year", value_name="numerator").rename(columns={"lsoa_code": "code"})
    long["year"] = long["year"].str[1:].astype(int)
    return long.assign(denominator=long["code"].map(pop))


def outcome_lsoa_counts(
    con: duckdb.DuckDBPyConnection,
    outcome: str,
    *,
    vintage: int,
    years: Sequence[int] | None = None,
    measure: str | None = None,
    memo: dict | None = None,
) -> pd.DataFrame:
    """Numerators and denominators of one series on the English LSOAs of ``vintage`` (2011 or 2021).

    ``memo`` (a dict shared by several calls on one warehouse) keeps the lookups and
    populations read for the next call.

    Returns ``code, year, numerator, denominator``. ``attrs["notes"]`` says how the counts
    were carried; ``attrs["years"]`` lists every year asked for with ``status`` (``built`` or
    ``not built``) and ``reason``. Years outside the series or a measure the series does not
    have are a :class:`DataError`; see the module Notes for the fuel poverty measure break.
    """
    from neighbourhood_lens.warehouse import require_tables

    series = outcome_series(outcome)
    wanted, measure = _measure_years(series, years, measure)
    require_tables(con, [t for t in series.sources if not t.startswith("boundaries_lsoa")])
    notes: list[str] = []
    gaps: dict[int, str] = {}
    memo = {} if memo is None else memo
    if series.id == "fuel_poverty":
        frame = _fuel_poverty(con, vintage, wanted, memo)
        notes.append(f"fuel poverty measure {measure.upper()}" + (f" -- {FUEL_BREAK}" if measure == "mixed" else ""))
        notes.append("fuel poverty figures are modelled (DESNZ advises against reading trends within one LSOA)")
    elif series.id == "household_deprivation":
        frame = _household_deprivation(con, vintage, wanted, measure, memo)
        notes.append(f"household deprivation: households deprived in {measure.replace('_', ' ')} of the four "
                     "Census dimensions; Census 2011 and Census 2021 only")
    elif series.id == "child_low_income":
        frame = _child_low_income(con, vintage, wanted, memo)
        notes.append("child_low_income: financial years named by their end (2015 = 2014/15); 2022 is provisional; "
                     "MSOA counts shared among LSOAs by children aged 0-15 (mid-2019)")
    elif series.id == "uc_households":
        frame, gaps = _uc_households(con, vintage, wanted, notes, memo)
        notes.append("uc_households: annual value = mean of the 12 monthly counts of the calendar year; "
                     "MSOA counts shared among LSOAs by Census 2021 households")
    else:
        frame = _insolvency(con, vintage, wanted, notes, memo)
        notes.append("insolvency: calendar years; fixed denominator (residents, mid-2019 or Census 2021)")
    got = set(frame["year"].unique().tolist())
    for y in wanted:
        if y not in got and y not in gaps:
            gaps[y] = "no data in the warehouse for this year"
    frame = frame[["code", "year", "numerator", "denominator"]].sort_values(["year", "code"]).reset_index(drop=True)
    frame.attrs["notes"] = notes
    frame.attrs["measure"] = measure
    frame.attrs["years"] = pd.DataFrame({"year": wanted, "status": ["not built" if y in gaps else "built"
                                                                     for y in wanted],
                                         "reason": [gaps.get(y, "") for y in wanted]})
    return frame


def outcome_panel(
    con: duckdb.DuckDBPyConnection,
    unit: str,
    *,
    outcome: str,
    years: Sequence[int] | None = None,
    measure: str | None = None,
) -> pd.DataFrame:
    """The panel ``code, year, value, numerator, denominator`` of one series at ``unit``.

    ``value`` is the ratio of the summed numerators to the summed denominators of the
    area's LSOAs, times the series' scale (see the module docstring). Areas with an LSOA
    lacking a value in a year get no row for that year (counted in the notes).
    ``attrs``: ``notes``, ``outcome`` (the label), ``series`` (the id), ``measure`` and
    ``years`` (every year asked for, built or not, with the reason).
    """
    from neighbourhood_lens.geo.units import resolve_unit, unit_lsoas

    series = outcome_series(outcome)
    u = resolve_unit(con, unit)
    counts = outcome_lsoa_counts(con, series.id, vintage=u.lsoa_vintage, years=years, measure=measure)
    member = unit_lsoas(con, u)[[u.lsoa_code, "code"]].rename(columns={"code": "area", u.lsoa_code: "code"})
    merged = member.merge(counts, on="code", how="inner")
    ok = merged[["numerator", "denominator"]].notna().all(axis=1)
    merged = merged.assign(numerator=merged["numerator"].where(ok, 0.0), denominator=merged["denominator"]
                           .where(ok, 0.0), bad=(~ok).astype(int), n=1)
    g = merged.groupby(["area", "year"], sort=True).agg(numerator=("numerator", "sum"),
                                                       denominator=("denominator", "sum"), bad=("bad", "sum"),
                                                       n=("n", "sum")).reset_index()
    size = member.groupby("area").size()
    complete = (g["bad"] == 0) & (g["n"] == g["area"].map(size)) & (g["denominator"] > 0)
    notes = list(counts.attrs["notes"])
    lost = g.loc[~complete].groupby("year").size()
    for y, n in lost.items():
        notes.append(f"{series.id} {y}: {n} area(s) of {u.name} have an LSOA without a value and get none")
    g = g[complete]
    with np.errstate(divide="ignore", invalid="ignore"):
        value = series.scale * g["numerator"] / g["denominator"]
    panel = pd.DataFrame({"code": g["area"].to_numpy(), "year": g["year"].astype(int).to_numpy(),
                          "value": value.to_numpy(float), "numerator": g["numerator"].to_numpy(float),
                          "denominator": g["denominator"].to_numpy(float)})
    table = counts.attrs["years"]
    for rec in table[table["status"] != "built"].itertuples(index=False):
        notes.append(f"{series.id} {rec.year} not built: {rec.reason}")
    panel.attrs.update(notes=notes, outcome=series.label if series.id != "household_deprivation" or
                       counts.attrs["measure"] == "one_or_more" else series.label.replace("at least one",
                                                                                          "at least two"),
                       series=series.id, measure=counts.attrs["measure"], years=table)
    return panel.sort_values(["code", "year"]).reset_index(drop=True)
