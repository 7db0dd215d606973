"""Evaluation stage 1: the outcome panel and the treated areas.

An evaluation needs an outcome observed for every area of one unit (:mod:`..units`) in
several years, ``code, year, value``, and the treated areas, ``code, start`` (the first
treated year). The panel is either the user's own (:func:`read_panel`, any outcome: claimant
rates, crime, survey scores) or built from the English Indices of Deprivation
(:func:`imd_panel`): one domain of every edition 2004-2025 that publishes it, put on one
LSOA boundary vintage with :func:`..vintages.convert` and averaged to the unit with
:func:`..units.aggregate_to_unit` (population-weighted means).

Notes
-----
The IMD is a **relative** measure and its indicators, weights and data years change between
editions, so an IMD panel is not a time series of absolute deprivation. Two measures are
offered (``imd:DOMAIN[:MEASURE]``):

``score``
    The domain score. Only the income and employment domains are **rates** (share of the
    population income-deprived; share of working-age people employment-deprived), and are
    the default for those domains. Their benefit definitions still change between editions
    (e.g. Universal Credit from IoD2019). Some files store these rates as percentages
    (0-100): the scale is detected per edition from the values, as in
    :func:`..summaries._as_rate`, and everything is converted to 0-1.
``percentile``
    The national rank percentile of each LSOA, :math:`q = r / N` (rank 1 = most deprived, so
    smaller = more deprived), as in :mod:`..trajectories`. The default for every other
    domain and for the overall IMD, whose scores are not comparable between editions.

A change in either is a change **relative to other areas** under that edition's
indicators, never an absolute improvement.

The panel ``year`` is the edition year (2004, 2007, 2010, 2015, 2019, 2025); the
underlying data are mostly two to three years older (e.g. IoD2019 income uses 2015/16
benefit data). Editions on LSOA 2001 are carried to 2011 with equal weights (no 2001
populations), 2011 to 2021 by mid-2019 population, 2021 back to 2011 by Census 2021
population, exactly as :mod:`..trajectories` does.

References
----------
MHCLG (2019), *The English Indices of Deprivation 2019: Technical report*, ch. 3 (income and
employment domains as rates) and *FAQ*, "Can I compare over time?".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin

from ..errors import DataError, examples

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "IMD_CAVEAT",
    "IMD_EDITIONS",
    "Outcome",
    "parse_outcome",
    "read_panel",
    "validate_panel",
    "read_treated",
    "validate_treated",
    "imd_panel",
    "detect_unit",
]

#: IoD editions: year -> (warehouse table, LSOA vintage).
IMD_EDITIONS: dict[int, tuple[str, int]] = {
    2004: ("imd2004_lsoa01", 2001), 2007: ("imd2007_lsoa01", 2001), 2010: ("imd2010_lsoa01", 2001),
    2015: ("imd2015_lsoa11", 2011), 2019: ("imd2019_lsoa11", 2011), 2025: ("imd2025_lsoa21", 2021),
}
_DOMAINS = ("imd", "income", "employment", "education", "health", "crime", "housing", "environment")
_RATE_DOMAINS = ("income", "employment")
_MEASURES = ("score", "percentile")
_CODE = {2001: "lsoa01_code", 2011: "lsoa11_code", 2021: "lsoa21_code"}

#: What every IMD-based output says about the outcome.
IMD_CAVEAT = (
    "The IMD is a relative measure and its indicators, weights and data years change between editions. "
    "A change in a domain score or national percentile is a change relative to other areas under each "
    "edition's definitions, not an absolute improvement or decline."
)


@dataclass(frozen=True)
class Outcome:
    """An IMD outcome: the domain (``imd`` = overall) and the measure (``score`` or ``percentile``)."""

    domain: str
    measure: str

    @property
    def label(self) -> str:
        if self.measure == "percentile":
            return f"IMD {self.domain} national rank percentile (0-1, smaller = more deprived)"
        if self.domain in _RATE_DOMAINS:
            return f"IMD {self.domain} domain rate (0-1, share of people deprived; higher = more deprived)"
        return f"IMD {self.domain} score (higher = more deprived)"


def parse_outcome(spec: str) -> Outcome:
    """Parse ``imd:DOMAIN[:MEASURE]``; income and employment default to the score (a rate), the
    others to the national percentile.

    >>> parse_outcome("imd:income")
    Outcome(domain='income', measure='score')
    >>> parse_outcome("imd:health")
    Outcome(domain='health', measure='percentile')
    """
    parts = spec.strip().lower().split(":")
    if parts[0] != "imd" or len(parts) not in (2, 3) or parts[1] not in _DOMAINS:
        raise DataError(
            f"--outcome {spec!r} is not understood; use imd:DOMAIN or imd:DOMAIN:MEASURE with DOMAIN one of "
            f"{', '.join(_DOMAINS)} and MEASURE one of {', '.join(_MEASURES)} (e.g. imd:income, imd:imd:percentile)"
        )
    measure = parts[2] if len(parts) == 3 else ("score" if parts[1] in _RATE_DOMAINS else "percentile")
    if measure not in _MEASURES:
        raise DataError(f"--outcome {spec!r}: unknown measure {measure!r}; valid: {', '.join(_MEASURES)}")
    return Outcome(parts[1], measure)


def _rows(mask: pd.Series | np.ndarray, frame: pd.DataFrame, *, column: str | None = None) -> str:
    """File rows (header = row 1) of the ``True`` entries, for error messages; with ``column``,
    the value given there, quoted.

    >>> _rows([False, True], pd.DataFrame({"code": ["a", "b"], "year": ["2019", "twenty"]}), column="year")
    "row 3 (b: year 'twenty')"
    """
    idx = np.flatnonzero(np.asarray(mask))
    if column is None:
        return examples([f"row {i + 2} ({frame.iloc[i, 0]})" for i in idx])
    return examples([f"row {i + 2} ({frame.iloc[i, 0]}: {column} {frame[column].iloc[i]!r})" for i in idx])


def validate_panel(frame: pd.DataFrame, *, what: str = "panel") -> pd.DataFrame:
    """Check a panel ``code, year, value`` and return it typed and sorted by code and year.

    Missing columns, non-integer years, non-numeric or missing values and duplicate
    ``(code, year)`` pairs are errors naming the rows (row 1 = header).

    >>> validate_panel(pd.DataFrame({"code": ["b", "a"], "year": ["2019", "2019"], "value": [1, 2]}))
      code  year  value
    0    a  2019    2.0
    1    b  2019    1.0
    """
    missing = [c for c in ("code", "year", "value") if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: needs columns code, year, value; missing {', '.join(missing)} "
                        f"(got {examples(frame.columns, limit=10)})")
    f = frame[["code", "year", "value"]].reset_index(drop=True)
    f["code"] = f["code"].astype(str).str.strip()
    year = pd.to_numeric(f["year"], errors="coerce")
    bad = year.isna() | (year != year.round())
    if bad.any():
        raise DataError(f"{what}: {int(bad.sum())} row(s) have a year that is not a whole number: "
                        f"{_rows(bad, f, column='year')}")
    value = pd.to_numeric(f["value"], errors="coerce")
    bad = value.isna() | ~np.isfinite(value)
    if bad.any():
        raise DataError(f"{what}: {int(bad.sum())} row(s) have a missing or non-numeric value: "
                        f"{_rows(bad, f, column='value')}; "
                        "leave out the rows of years without a value")
    f["year"], f["value"] = year.astype(int), value.astype(float)
    dup = f.duplicated(["code", "year"], keep=False)
    if dup.any():
        raise DataError(f"{what}: {int(dup.sum())} row(s) repeat a (code, year) pair: {_rows(dup, f)}; "
                        "keep one value per area and year")
    return f.sort_values(["code", "year"]).reset_index(drop=True)


def read_panel(path: str | Path) -> pd.DataFrame:
    """Read and :func:`validate_panel` a CSV file ``code, year, value``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"panel file {path} does not exist")
    return validate_panel(pd.read_csv(path, dtype={"code": str}), what=str(path))


def validate_treated(frame: pd.DataFrame, *, what: str = "treated") -> pd.DataFrame:
    """Check the treated areas ``code, start`` (first treated year) and return them typed.

    >>> validate_treated(pd.DataFrame({"code": ["a"], "start": ["2020"]}))
      code  start
    0    a   2020
    """
    missing = [c for c in ("code", "start") if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: needs columns code, start (first treated year); missing {', '.join(missing)}")
    f = frame[["code", "start"]].reset_index(drop=True)
    f["code"] = f["code"].astype(str).str.strip()
    start = pd.to_numeric(f["start"], errors="coerce")
    bad = start.isna() | (start != start.round())
    if bad.any():
        raise DataError(f"{what}: {int(bad.sum())} row(s) have a start that is not a year: "
                        f"{_rows(bad, f, column='start')}")
    f["start"] = start.astype(int)
    dup = f["code"].duplicated(keep=False)
    if dup.any():
        raise DataError(f"{what}: {int(dup.sum())} row(s) repeat a code: {_rows(dup, f)}; one start per area")
    if f.empty:
        raise DataError(f"{what}: no treated areas")
    return f


def read_treated(path: str | Path, *, start: int | None = None) -> pd.DataFrame:
    """Read and :func:`validate_treated` a CSV file ``code, start``.

    ``start`` gives every area the same start when the file has no ``start`` column (e.g. the
    output of ``nlens left-behind``); a file with its own ``start`` column keeps it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"treated file {path} does not exist")
    frame = pd.read_csv(path, dtype={"code": str})
    if "start" not in frame.columns and start is not None:
        frame["start"] = start
    return validate_treated(frame, what=str(path))


def detect_unit(con: duckdb.DuckDBPyConnection, codes: pd.Series | list[str], *, what: str = "codes") -> str:
    """The unit whose areas include every code (2011-based levels first, then stored neighbourhood sets).

    LSOA and ward codes that did not change keep their code across vintages; when the codes
    fit several units the 2011-based one is chosen (pass ``unit=`` to choose another).
    """
    from neighbourhood_lens.geo.geography import LEVELS
    from neighbourhood_lens.geo.neighbourhood_sets import neighbourhood_sets

    wanted = pd.DataFrame({"code": pd.Index(codes).unique()})
    con.register("_eval_codes", wanted)
    rows = con.execute(
        "SELECT a.type, a.vintage, count(DISTINCT w.code) AS n FROM _eval_codes w JOIN areas a ON a.code = w.code "
        "GROUP BY ALL"
    ).df()
    con.unregister("_eval_codes")
    levels = {f"{t}{str(v)[2:]}": int(n) for t, v, n in rows.itertuples(index=False)}
    full = sorted((lv for lv, n in levels.items() if lv in LEVELS and n == len(wanted)),
                  key=lambda lv: (LEVELS[lv].lsoa_vintage, list(LEVELS).index(lv)))
    if full:
        return full[0]
    for name in neighbourhood_sets(con)["name"]:
        codes_set = set(con.execute(f'SELECT DISTINCT neighbourhood_code FROM "neighbourhoods_{name}"').df().iloc[:, 0])
        if set(wanted["code"]) <= codes_set:
            return f"neighbourhoods:{name}"
    best = max(levels.items(), key=lambda kv: kv[1]) if levels else None
    hint = f"; the closest is {best[0]} ({best[1]} of {len(wanted)} codes)" if best else ""
    unknown = wanted["code"][~isin(wanted["code"], _known(con, best[0]) if best else set())]
    raise DataError(
        f"{what}: {len(unknown)} of {len(wanted)} code(s) are not areas of one unit the warehouse knows "
        f"(LSOA, MSOA, ward, LAD, region, or a stored neighbourhood set){hint}: {examples(unknown)}"
    )


def _known(con: duckdb.DuckDBPyConnection, level: str) -> set[str]:
    from neighbourhood_lens.geo.geography import LEVELS

    lv = LEVELS[level]
    return set(con.execute("SELECT code FROM areas WHERE type = ? AND vintage = ?",
                           [lv.kind, str(_vintage_year(level))]).df()["code"])


def _vintage_year(level: str) -> int:
    return {"lsoa11": 2011, "msoa11": 2011, "ward17": 2017, "lad19": 2019, "region19": 2019, "lsoa21": 2021,
            "ward24": 2024, "lad24": 2024, "region24": 2024}[level]


def _edition_values(con: duckdb.DuckDBPyConnection, year: int, outcome: Outcome) -> pd.DataFrame | None:
    """LSOA values of one edition in its own vintage (``code, value``), or ``None`` if not published."""
    from neighbourhood_lens.deprivation.summaries import _as_rate

    table, vintage = IMD_EDITIONS[year]
    cols = set(con.execute(f"DESCRIBE {table}").df()["column_name"])
    col = f"{outcome.domain}_{'rank' if outcome.measure == 'percentile' else 'score'}"
    if col not in cols:
        return None
    expr = f"{col} / count(*) OVER ()" if outcome.measure == "percentile" else f"CAST({col} AS DOUBLE)"
    out = con.execute(f"SELECT {_CODE[vintage]} AS code, {expr} AS value FROM {table}").df()
    if outcome.measure == "score" and outcome.domain in _RATE_DOMAINS:
        out["value"], _ = _as_rate(out["value"], what=f"{table}.{col}")
    return out


def imd_panel(
    con: duckdb.DuckDBPyConnection,
    unit: str,
    *,
    outcome: Outcome | str,
    years: list[int] | tuple[int, ...] | None = None,
) -> pd.DataFrame:
    """An IMD outcome panel ``code, year, value`` for every area of ``unit``.

    Each edition of ``years`` (default: all that publish the domain and measure) is read at
    LSOA level, converted to the unit's LSOA vintage (:func:`..vintages.convert`; see the
    module Notes for the weights) and aggregated to the unit by population-weighted mean.
    Editions that do not publish the domain are skipped and listed in
    ``result.attrs["notes"]``, together with :data:`IMD_CAVEAT`. Areas without complete
    LSOA coverage in an edition get no row for it (counted in the notes).
    """
    from neighbourhood_lens.geo.units import aggregate_to_unit, resolve_unit
    from neighbourhood_lens.geo.vintages import convert, lookup

    out_spec = parse_outcome(outcome) if isinstance(outcome, str) else outcome
    u = resolve_unit(con, unit)
    wanted = list(years) if years is not None else list(IMD_EDITIONS)
    bad = [y for y in wanted if y not in IMD_EDITIONS]
    if bad:
        raise DataError(f"unknown IoD edition(s) {examples(bad)}; valid: {', '.join(map(str, IMD_EDITIONS))}")
    pops = {
        2011: con.execute("SELECT lsoa11_code, population FROM population2019_lsoa11").df()
        .set_index("lsoa11_code")["population"],
        2021: con.execute("SELECT lsoa21_code, population FROM census2021_population_lsoa21").df()
        .set_index("lsoa21_code")["population"],
    }
    weights = {(2001, 2011): None, (2011, 2021): 2011, (2021, 2011): 2021}
    notes = [IMD_CAVEAT]
    skipped, frames = [], []
    for year in wanted:
        vals = _edition_values(con, year, out_spec)
        if vals is None:
            skipped.append(year)
            continue
        at = IMD_EDITIONS[year][1]
        while at != u.lsoa_vintage:
            nxt = 2011 if at in (2001, 2021) else 2021
            pop_v = weights[(at, nxt)]
            moved = convert(vals, lookup=lookup(con, source=at, target=nxt), values="value",
                            population=None if pop_v is None else pops[pop_v])
            vals, at = moved[["code", "value"]], nxt
        agg = aggregate_to_unit(con, u, vals.rename(columns={"code": u.lsoa_code}), columns=["value"],
                                what=f"IoD{year} {out_spec.domain}")
        gaps = int(agg["value"].isna().sum())
        if gaps:
            notes.append(f"IoD{year}: {gaps} area(s) without complete LSOA coverage have no value")
        agg = agg[agg["value"].notna()]
        frames.append(pd.DataFrame({"code": agg["code"], "year": year, "value": agg["value"]}))
    if skipped:
        notes.append(f"editions without a published {out_spec.domain} {out_spec.measure} in the warehouse were "
                     f"left out: {', '.join(map(str, skipped))}")
    if not frames:
        raise DataError(f"no IoD edition of {examples(wanted)} publishes the {out_spec.domain} "
                        f"{out_spec.measure}; try imd:{out_spec.domain}:percentile or other --years")
    panel = pd.concat(frames, ignore_index=True).sort_values(["code", "year"]).reset_index(drop=True)
    panel.attrs["notes"] = notes
    panel.attrs["outcome"] = out_spec.label
    return panel
