"""Eligibility: which areas a programme may choose, with every removal counted.

Rules are applied in a fixed order and each area is given the **first** rule that removes it
(``reason``); :func:`eligibility_report` also counts how many areas each rule would remove
on its own, so an over-tight design can say which rule binds.

Order: need indicators present; need rule (e.g. double disadvantage); ``min_need_weight``;
``min_population``; ``max_population``; ``rural_urban``; ``regions`` / ``exclude_regions``;
``lads`` / ``exclude_lads``; ``exclude`` (places already funded).

Rural-urban class of an area: the ONS rural-urban classification (2011 for 2011-based units,
2021 for 2021-based units) of the LSOAs holding most of its residents; a class matches by its
broad name (``Urban``/``Rural``), its detailed name or its code, case-insensitive.

Places already funded (``exclude``): codes of any geography the hierarchies know (LSOA 2011
and 2021, MSOA 2011, ward 2017 and 2024, LAD 2019 and 2024, region) or of the unit itself.
A code is looked up first in the unit's own vintage, then in the other, whose LSOAs are
carried over with the ONS LSOA 2011 <-> 2021 lookup. An area is excluded when any of its
LSOAs lies in an excluded place (so an LSOA code excludes its ward, and a ward code excludes
its LSOAs). Codes found nowhere are reported by count with examples, and the run goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.geo.units import Unit, unit_lsoas

from ..errors import DataError, examples
from ..warehouse import require_tables
from .spec import Eligibility

if TYPE_CHECKING:
    import duckdb

__all__ = ["RULES", "read_codes", "resolve_places", "rural_urban_class", "apply_eligibility", "eligibility_report"]

#: The rules in the order they are applied (the ``reason`` of an ineligible area).
RULES = ("missing_indicator", "need_rule", "min_need_weight", "min_population", "max_population", "rural_urban",
         "regions", "exclude_regions", "lads", "exclude_lads", "exclude")

_LEVEL_COLUMNS = {2011: ["lsoa11_code", "msoa11_code", "ward17_code", "lad19_code", "region19_code"],
                  2021: ["lsoa21_code", "ward24_code", "lad24_code", "region24_code"]}


def read_codes(path: str | Path) -> pd.Series:
    """The codes in a CSV file: its ``code`` column (any case), else its first column."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"eligibility.exclude: file {path} does not exist")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"eligibility.exclude: {path} has no rows; give one code per row under a 'code' header")
    cols = {c.strip().lower(): c for c in frame.columns}
    col = cols.get("code", frame.columns[0])
    codes = frame[col].astype(str).str.strip().str.upper()
    return codes[codes != ""].drop_duplicates().reset_index(drop=True)


def _membership(con: duckdb.DuckDBPyConnection, vintage: int, codes: pd.Series) -> pd.DataFrame:
    """``code, lsoa_code`` for every code that is an area of the ``vintage`` hierarchy."""
    yy = str(vintage)[2:]
    require_tables(con, [f"hierarchy_lsoa{yy}"])
    h = con.execute(f"SELECT {', '.join(_LEVEL_COLUMNS[vintage])} FROM hierarchy_lsoa{yy}").df()
    key = f"lsoa{yy}_code"
    wanted = set(codes)
    frames = [pd.DataFrame({"code": h.loc[isin(h[c], wanted), c].to_numpy(),
                            "lsoa_code": h.loc[isin(h[c], wanted), key].to_numpy()}) for c in _LEVEL_COLUMNS[vintage]]
    return pd.concat(frames, ignore_index=True).drop_duplicates()


def resolve_places(con: duckdb.DuckDBPyConnection, unit: Unit, codes: pd.Series) -> tuple[pd.Index, dict[str, Any]]:
    """The unit codes overlapping the places ``codes`` (see the module docstring), and a report:
    ``codes`` (read), ``matched``, ``converted`` (found only in the other LSOA vintage),
    ``unknown`` and ``unknown_examples``, ``areas`` (unit areas excluded)."""
    codes = pd.Series(codes, dtype=object).astype(str).str.strip().str.upper().drop_duplicates()
    lsoas = unit_lsoas(con, unit)
    key = unit.lsoa_code
    own_units = pd.Index(lsoas["code"].unique())
    direct = codes[isin(codes, own_units)]
    rest = codes[~isin(codes, own_units)]
    own = _membership(con, unit.lsoa_vintage, rest)
    rest2 = rest[~isin(rest, own["code"])]
    other = 2021 if unit.lsoa_vintage == 2011 else 2011
    theirs = _membership(con, other, rest2)
    converted_lsoas = pd.Series([], dtype=object)
    if len(theirs):
        require_tables(con, ["lookup_lsoa11_lsoa21_lad22"])
        src, dst = f"lsoa{str(other)[2:]}_code", key
        lk = con.execute(f"SELECT DISTINCT {src} AS lsoa_code, {dst} AS target FROM lookup_lsoa11_lsoa21_lad22").df()
        converted_lsoas = theirs.merge(lk, on="lsoa_code", how="inner")["target"]
    hit_lsoas = pd.Index(pd.concat([own["lsoa_code"], converted_lsoas]).unique())
    via_lsoa = lsoas.loc[isin(lsoas[key], hit_lsoas), "code"]
    areas = pd.Index(pd.concat([direct, via_lsoa]).unique()).sort_values()
    found = set(direct) | set(own["code"]) | set(theirs["code"])
    unknown = codes[~isin(codes, found)].sort_values()
    report = {"codes": int(len(codes)), "matched": int(len(codes) - len(unknown)),
              "converted": int(theirs["code"].nunique()), "unknown": int(len(unknown)),
              "unknown_examples": examples(unknown.tolist()), "areas": int(len(areas))}
    return areas, report


def rural_urban_class(con: duckdb.DuckDBPyConnection, unit: Unit) -> pd.DataFrame:
    """``code, ruc_code, ruc_class, ruc_broad``: the class of the LSOAs holding most of each
    area's residents (ties: first class by code)."""
    yy = "11" if unit.lsoa_vintage == 2011 else "21"
    require_tables(con, [f"ruc20{yy}_lsoa{yy}"])
    ruc = con.execute(f"SELECT lsoa{yy}_code, ruc{yy}_code AS ruc_code, ruc{yy}_class AS ruc_class, "
                      f"ruc{yy}_broad AS ruc_broad FROM ruc20{yy}_lsoa{yy}").df()
    m = unit_lsoas(con, unit)[[unit.lsoa_code, "code", "population"]].merge(ruc, on=unit.lsoa_code, how="left")
    g = m.groupby(["code", "ruc_code", "ruc_class", "ruc_broad"], as_index=False)["population"].sum()
    g = g.sort_values(["code", "population", "ruc_code"], ascending=[True, False, True]).drop_duplicates("code")
    return g[["code", "ruc_code", "ruc_class", "ruc_broad"]].reset_index(drop=True)


def _match(values: pd.Series, names: pd.Series, wanted: list[str], key: str) -> np.ndarray:
    w = {s.strip().lower() for s in wanted}
    known = set(values.str.lower()) | set(names.str.lower())
    unknown = sorted(w - known)
    if unknown:
        shown = sorted(set(names.dropna()))
        raise DataError(f"eligibility.{key}: {examples(unknown)} match no area's code or name; "
                        f"allowed: codes or names such as {examples(shown, limit=10)}")
    return (isin(values.str.lower(), w) | isin(names.str.lower(), w)).to_numpy()


def apply_eligibility(
    con: duckdb.DuckDBPyConnection, unit: Unit, frame: pd.DataFrame, rules: Eligibility
) -> pd.DataFrame:
    """Add ``eligible`` and ``reason`` (the first rule that removes the area, '' if eligible) to
    ``frame`` (unit areas joined with the need table: ``code, population, region_code,
    region_name, lad_code, lad_name, complete, meets_need, need_weight``).

    ``frame.attrs['rules']`` counts, per rule, the areas it removes on its own and the areas
    it is the first reason for; ``frame.attrs['exclude']`` is the exclusion report.
    """
    out = frame.copy()
    n = len(out)
    fails: dict[str, np.ndarray] = {"missing_indicator": ~out["complete"].to_numpy(bool),
                                    "need_rule": out["complete"].to_numpy(bool) & ~out["meets_need"].to_numpy(bool)}
    weight = out["need_weight"].to_numpy(dtype=float)
    pop = out["population"].to_numpy(dtype=float)
    if rules.min_need_weight is not None:
        fails["min_need_weight"] = ~(weight >= rules.min_need_weight)
    if rules.min_population is not None:
        fails["min_population"] = pop < rules.min_population
    if rules.max_population is not None:
        fails["max_population"] = pop > rules.max_population
    if rules.rural_urban is not None:
        ruc = out[["code"]].merge(rural_urban_class(con, unit), on="code", how="left")
        wanted = {s.strip().lower() for s in rules.rural_urban}
        allowed = set(ruc["ruc_code"].dropna().str.lower()) | set(ruc["ruc_class"].dropna().str.lower()) \
            | set(ruc["ruc_broad"].dropna().str.lower())
        if wanted - allowed:
            raise DataError(f"eligibility.rural_urban: unknown class(es) {examples(sorted(wanted - allowed))}; "
                            f"allowed: {examples(sorted(set(ruc['ruc_broad'].dropna()) | set(ruc['ruc_class'].dropna())), limit=12)}")  # noqa: E501
        ok = np.zeros(n, bool)
        for col in ("ruc_code", "ruc_class", "ruc_broad"):
            ok |= isin(ruc[col].fillna("").str.lower(), wanted).to_numpy()
        fails["rural_urban"] = ~ok
    for key, col, name, keep in (("regions", "region_code", "region_name", True),
                                 ("exclude_regions", "region_code", "region_name", False),
                                 ("lads", "lad_code", "lad_name", True),
                                 ("exclude_lads", "lad_code", "lad_name", False)):
        wanted = getattr(rules, key)
        if wanted is not None:
            hit = _match(out[col].fillna("").astype(str), out[name].fillna("").astype(str), wanted, key)
            fails[key] = ~hit if keep else hit
    out.attrs["exclude"] = None
    if rules.exclude is not None:
        areas, report = resolve_places(con, unit, read_codes(rules.exclude))
        report["file"] = str(rules.exclude)
        fails["exclude"] = isin(out["code"], areas).to_numpy()
        out.attrs["exclude"] = report
    reason = np.full(n, "", dtype=object)
    for rule in reversed(RULES):
        if rule in fails:
            reason[fails[rule]] = rule
    out["eligible"] = reason == ""
    out["reason"] = reason
    out.attrs["rules"] = {rule: {"removes_alone": int(fails[rule].sum()), "first_reason": int((reason == rule).sum())}
                          for rule in RULES if rule in fails}
    return out


def eligibility_report(frame: pd.DataFrame) -> pd.DataFrame:
    """A table of the rules applied: ``rule, removes_alone, first_reason`` plus an ``eligible`` row.

    >>> f = pd.DataFrame({"eligible": [True, False]})
    >>> f.attrs["rules"] = {"min_population": {"removes_alone": 1, "first_reason": 1}}
    >>> eligibility_report(f)
                 rule  removes_alone  first_reason
    0  min_population              1             1
    1        eligible              1             1
    """
    rows = [{"rule": r, **v} for r, v in frame.attrs.get("rules", {}).items()]
    n_ok = int(frame["eligible"].sum())
    rows.append({"rule": "eligible", "removes_alone": n_ok, "first_reason": n_ok})
    return pd.DataFrame(rows, columns=["rule", "removes_alone", "first_reason"])
