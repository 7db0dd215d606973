"""Annual outcome series for evaluation: fuel poverty, insolvency, child poverty, Universal
Credit and household deprivation, as panels ``code, year, value`` at any unit.

:func:`outcome_lsoa_counts` puts one series' numerators and denominators on the LSOAs of one
vintage for every year asked, one :func:`neighbourhood_lens.outcomes.outcome_values` call per
year (which says how counts cross LSOA vintages, MSOAs and wards, keeping totals);
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
(2021/22) is provisional. The outcomes wing divides by children aged 0-15 of mid-2019 up to
2019 and of mid-2020 from 2020; a panel holds **one denominator for every year** (mid-2019),
so that the series moves with its numerator only and no step appears in 2020.

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

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError, examples

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
                   "census2021_population_lsoa21", "hierarchy_lsoa11", "hierarchy_lsoa21")
#: The annual series ``nlens evaluate --outcome`` and the profiles know.
SERIES: dict[str, OutcomeSeries] = {s.id: s for s in (
    OutcomeSeries("fuel_poverty", "fuel-poor households, share of households (0-1)", "fuel-poor households",
                  "households (DESNZ modelled)", 1.0, tuple(range(2011, 2023)),
                  ("fuel_poverty_lsoa", *_VINTAGE_TABLES), "DESNZ sub-regional fuel poverty statistics",
                  measures=("lihc", "lilee", "mixed")),
    OutcomeSeries("insolvency", "individual insolvencies per 10,000 residents", "individual insolvencies "
                  "(bankruptcies, DROs, IVAs)", "residents (mid-2019; Census 2021 for 2021-based units)", 1e4,
                  tuple(range(2012, 2023)),
                  ("insolvencies_ward", "boundaries_ward21", "bestfit_lsoa11_ward21", "bestfit_lsoa21_ward21",
                   *_VINTAGE_TABLES), "Insolvency Service, individual insolvencies by ward"),
    OutcomeSeries("child_low_income", "children in relative low-income families, share of children aged 0-15 "
                  "(0-1)", "children in relative low-income families", "children aged 0-15 (mid-2019)", 1.0,
                  tuple(range(2015, 2023)),
                  ("children_low_income_msoa11", "lookup_lsoa11_msoa11", "population2020_lsoa11", *_VINTAGE_TABLES),
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
NOTES = {
    "fuel_poverty": "fuel poverty figures are modelled (DESNZ advises against reading trends within one LSOA)",
    "insolvency": "insolvency: calendar years; fixed denominator (residents, mid-2019 or Census 2021)",
    "child_low_income": "child_low_income: financial years named by their end (2015 = 2014/15); 2022 is provisional; "
                        "one denominator for every year (children aged 0-15, mid-2019)",
    "uc_households": "uc_households: annual value = mean of the 12 monthly counts of the calendar year; households "
                     "from Census 2021",
    "household_deprivation": "household deprivation: Census 2011 and Census 2021 only (a two-point series)",
}
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


def _catalogue_id(series: OutcomeSeries, measure: str) -> str:
    """The outcomes-wing id of a series and measure."""
    return "household_deprivation_2plus" if measure == "two_or_more" else series.id


def _uc_gaps(con: duckdb.DuckDBPyConnection, years: list[int]) -> dict[int, str]:
    """Years of the UC series without all 12 months published, with the reason."""
    months = con.execute("SELECT substr(month, 1, 4)::INT AS year, count(DISTINCT month) AS n, min(month) AS first, "
                         "max(month) AS last FROM uc_households_msoa11 GROUP BY ALL").df().set_index("year")
    gaps = {}
    for y in years:
        if y not in months.index:
            gaps[y] = "no month published"
        elif months.loc[y, "n"] < 12:
            gaps[y] = (f"partial year: {months.loc[y, 'n']} month(s) published ({months.loc[y, 'first']} to "
                       f"{months.loc[y, 'last']}); an annual mean needs all 12")
    return gaps


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
    from neighbourhood_lens.outcomes import outcome_values

    series = outcome_series(outcome)
    wanted, measure = _measure_years(series, years, measure)
    cid = _catalogue_id(series, measure)
    memo = {} if memo is None else memo
    gaps = _uc_gaps(con, wanted) if series.id == "uc_households" else {}
    notes: list[str] = [NOTES[series.id]]
    if series.id == "fuel_poverty":
        notes.append(f"fuel poverty measure {measure.upper()}" + (f" -- {FUEL_BREAK}" if measure == "mixed" else ""))
    frames, seen = [], set()
    for y in wanted:
        if y in gaps:
            continue
        v = outcome_values(con, cid, year=y, lsoa_vintage=vintage, cache=memo)
        for n in v.attrs.get("notes", []):
            key = re.sub(r"\b20\d\d\b", "YEAR", n)  # one note per kind, not per year
            if n and key not in seen:
                seen.add(key)
                notes.append(f"{series.id}: {n}")
        frames.append(pd.DataFrame({"code": v.iloc[:, 0].to_numpy(), "year": y, "numerator": v["numerator"].to_numpy(),
                                    "denominator": v["denominator"].to_numpy()}))
    frame = (pd.concat(frames, ignore_index=True) if frames else
             pd.DataFrame(columns=["code", "year", "numerator", "denominator"]))
    if series.id == "child_low_income" and len(frame):
        fixed = outcome_values(con, cid, year=2019, lsoa_vintage=vintage, cache=memo)
        frame["denominator"] = frame["code"].map(pd.Series(fixed["denominator"].to_numpy(),
                                                           index=fixed.iloc[:, 0].to_numpy())).to_numpy()
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
