"""The groups an outcome comparison sets side by side, each a set of areas made of LSOAs.

Default groups (the paper's, Local Trust 2024):

``left_behind``
    exactly the areas :func:`neighbourhood_lens.deprivation.left_behind.left_behind` finds: the
    225 wards (2017 boundaries) of the 2019 vintage, or the LSOAs 2021 of the 2023 vintage;
``other_deprived``
    areas of the same kind in the most deprived 10% on the IMD that are not left behind: wards
    ranked by the same ward IMD 2019 score (2019), LSOAs 2021 in IMD 2025 decile 1 (2023);
``england``
    every English ward (2019) or LSOA 2021 (2023).

Any list of codes (a CSV with a ``code`` column, or one code a line), a stored programme
(``programme:NAME``) or a stored neighbourhood set (``neighbourhoods:NAME``) is a group too.
A list may hold codes of any level of the vintage's hierarchy (LSOA, MSOA, ward, LAD, region);
each code is one area (a bootstrap cluster). The areas of a group are its **clusters**: the
confidence intervals resample whole areas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, VintageError, examples
from neighbourhood_lens.geo.geography import LEVELS, hierarchy

if TYPE_CHECKING:
    import duckdb

__all__ = ["Group", "DEFAULT_GROUPS", "COMPARATORS", "LSOA_VINTAGE", "default_groups", "group_from_codes",
           "read_code_list", "resolve_groups", "groups_datasets"]

DEFAULT_GROUPS = ("left_behind", "other_deprived", "england")
COMPARATORS = ("other_deprived", "england")
#: The LSOA vintage each left-behind vintage is compared on.
LSOA_VINTAGE = {2019: 2011, 2023: 2021}
_MAX_LIST_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Group:
    """A named set of areas: ``members`` has the vintage's LSOA code column and ``cluster`` (the
    area code each LSOA belongs to)."""

    name: str
    members: pd.DataFrame
    description: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def n_areas(self) -> int:
        return int(self.members["cluster"].nunique())


def groups_datasets(vintage: int) -> list[str]:
    """Tables the default groups read."""
    if vintage == 2019:
        return ["imd2019_lsoa11", "cni2019_ward17", "lookup_lsoa11_ward17", "hierarchy_lsoa11",
                "population2019_lsoa11"]
    return ["imd2025_lsoa21", "cni2023_lsoa21", "hierarchy_lsoa21", "census2021_population_lsoa21"]


def _check_vintage(vintage: int) -> int:
    if vintage not in LSOA_VINTAGE:
        raise DataError(f"unknown vintage {vintage!r}; valid vintages: 2019 (wards 2017, IMD 2019 x CNI 2019), "
                        "2023 (LSOA 2021, IMD 2025 x CNI 2023)")
    return LSOA_VINTAGE[vintage]


def default_groups(con: duckdb.DuckDBPyConnection, *, vintage: int) -> dict[str, Group]:
    """``left_behind``, ``other_deprived`` and ``england`` of a vintage (see the module docstring)."""
    from neighbourhood_lens.deprivation.left_behind import left_behind_scores

    lv = _check_vintage(vintage)
    key = f"lsoa{str(lv)[2:]}_code"
    scores = left_behind_scores(con, vintage=vintage)
    if vintage == 2019:
        h = hierarchy(con, 2011)[[key, "ward17_code"]].rename(columns={"ward17_code": "cluster"})
        kind = "wards (2017)"
    else:
        h = hierarchy(con, 2021)[[key]].assign(cluster=lambda f: f[key])
        kind = "LSOAs (2021)"
    lb = set(scores.loc[scores["left_behind"], "code"])
    od = set(scores.loc[scores["in_imd_share"] & ~scores["left_behind"], "code"])
    return {
        "left_behind": Group("left_behind", h[isin(h["cluster"], lb)].reset_index(drop=True),
                             f"{len(lb):,} left-behind {kind}: IMD top 10% x CNI top 10% (nlens left-behind)"),
        "other_deprived": Group("other_deprived", h[isin(h["cluster"], od)].reset_index(drop=True),
                                f"{len(od):,} other {kind} in the most deprived 10% on the IMD, not left behind"),
        "england": Group("england", h.reset_index(drop=True), f"all {h['cluster'].nunique():,} English {kind}"),
    }


def read_code_list(path: str | Path) -> pd.Series:
    """Area codes from a CSV (a ``code`` column, or the first column whose values look like GSS codes)
    or a text file with one code a line. Files over 20 MB, empty files and files without codes are
    refused with a message; blank lines are skipped, codes trimmed."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"group file {p} does not exist")
    if p.stat().st_size > _MAX_LIST_BYTES:
        raise DataError(f"group file {p} is {p.stat().st_size / 1e6:.0f} MB; a list of area codes is at most "
                        f"{_MAX_LIST_BYTES // 1_000_000} MB")
    try:
        frame = pd.read_csv(p, dtype=str, keep_default_na=False, header=None, skip_blank_lines=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"group file {p} cannot be read as CSV or a list of codes: {exc}") from None
    if frame.empty:
        raise DataError(f"group file {p} is empty; give one area code a line or a CSV with a 'code' column")
    head = [str(v).strip().lower() for v in frame.iloc[0]]
    if "code" in head:
        col = head.index("code")
        codes = frame.iloc[1:, col]
    else:
        looks = [frame[c].str.strip().str.fullmatch(r"[EWSNK]\d{8}").mean() for c in frame.columns]
        col = max(range(len(looks)), key=lambda i: looks[i])
        if looks[col] == 0:
            raise DataError(f"group file {p}: no column holds area codes (like E05001234); name the column 'code'")
        codes = frame.iloc[:, col]
        if not re.fullmatch(r"[EWSNK]\d{8}", str(codes.iloc[0]).strip()):
            codes = codes.iloc[1:]  # a header row
    codes = codes.astype(str).str.strip()
    return codes[codes != ""].reset_index(drop=True)


def group_from_codes(
    con: duckdb.DuckDBPyConnection, codes: pd.Series, *, vintage: int, name: str, description: str = ""
) -> Group:
    """A group of the areas named by ``codes`` (codes of any level of the vintage's hierarchy).

    Unknown codes, codes of the other LSOA vintage (a :class:`VintageError`, e.g. LSOA 2011 codes
    for the 2023 comparison), repeated codes and areas that overlap (an LAD and a ward in it)
    are refused, each with the count and the first codes.
    """
    lv = _check_vintage(vintage)
    key = f"lsoa{str(lv)[2:]}_code"
    codes = pd.Series(codes, dtype=object).astype(str).str.strip()
    if codes.empty:
        raise DataError(f"group {name!r} has no codes")
    dup = codes[codes.duplicated()]
    if len(dup):
        raise DataError(f"group {name!r}: {len(dup)} code(s) repeat: {examples(dup.unique())}; list each area once")
    h = hierarchy(con, lv)
    levels = [lv_ for lv_ in LEVELS.values() if lv_.lsoa_vintage == lv]
    long = pd.concat([pd.DataFrame({key: h[key].to_numpy(), "cluster": h[lvl.code].to_numpy(), "level": lvl.name})
                      for lvl in levels], ignore_index=True)
    long = long[isin(long["cluster"], set(codes))]
    unknown = sorted(set(codes) - set(long["cluster"]))
    if unknown:
        other = 2021 if lv == 2011 else 2011
        oh = hierarchy(con, other)
        other_codes = {c for lvl in LEVELS.values() if lvl.lsoa_vintage == other for c in oh[lvl.code].dropna()}
        wrong = [c for c in unknown if c in other_codes]
        if wrong:
            other_v = 2023 if vintage == 2019 else 2019
            raise VintageError(
                f"group {name!r}: {len(wrong)} code(s) belong to the {other}-based geography (e.g. LSOA {other}, "
                f"{'ward 2024' if other == 2021 else 'ward 2017'}), not the {lv}-based one of the {vintage} "
                f"comparison: {examples(wrong)}. Use --vintage {other_v}, or convert the codes first.")
        raise DataError(f"group {name!r}: {len(unknown)} code(s) are not English area codes of the {lv}-based "
                        f"geography (LSOA, MSOA, ward, LAD or region): {examples(unknown)}")
    # a code can name two levels at once (a ward that is also an LAD does not occur; LSOA = LSOA)
    long = long.drop_duplicates([key, "cluster"])
    overlap = long[long[key].duplicated(keep=False)]
    if len(overlap):
        clash = sorted(overlap["cluster"].unique())
        raise DataError(f"group {name!r}: {len(clash)} area(s) overlap (one contains another), so LSOAs would count "
                        f"twice: {examples(clash)}. List areas that do not overlap.")
    members = long[[key, "cluster"]].sort_values([key]).reset_index(drop=True)
    levels_used = ", ".join(sorted(long["level"].unique()))
    return Group(name, members, description or f"{len(codes):,} areas from a list ({levels_used})")


def _stored(con: duckdb.DuckDBPyConnection, spec: str, *, vintage: int) -> Group:
    """``programme:NAME`` (a stored programme's selected areas) or ``neighbourhoods:NAME`` (a stored set)."""
    from neighbourhood_lens.geo.units import resolve_unit, unit_lsoas
    from neighbourhood_lens.store import load_result

    lv = _check_vintage(vintage)
    kind, _, name = spec.partition(":")
    if kind == "programme":
        frame, row = load_result(con, kind="programme", name=name)
        unit = resolve_unit(con, str(row["unit"]))
        codes = set(frame["code"].astype(str))
        desc = f"programme {name!r}: {len(codes):,} {unit.name} areas"
    else:
        unit = resolve_unit(con, f"neighbourhoods:{name}")
        codes = None
        desc = f"neighbourhood set {name!r}"
    if unit.lsoa_vintage != lv:
        raise VintageError(f"group {spec!r} is on LSOA {unit.lsoa_vintage} ({unit.name}); the {vintage} comparison "
                           f"is on LSOA {lv}. Use --vintage {2019 if unit.lsoa_vintage == 2011 else 2023}.")
    lsoas = unit_lsoas(con, unit)
    members = lsoas[[unit.lsoa_code, "code"]].rename(columns={"code": "cluster"})
    if codes is not None:
        missing = codes - set(members["cluster"])
        if missing:
            raise DataError(f"group {spec!r}: {len(missing)} stored code(s) are not {unit.name} areas of this "
                            f"warehouse: {examples(sorted(missing))}")
        members = members[isin(members["cluster"], codes)]
    return Group(spec, members.reset_index(drop=True), desc)


def resolve_groups(con: duckdb.DuckDBPyConnection, specs: list[str | Group] | None, *,
                   vintage: int) -> dict[str, Group]:
    """Groups by name: the defaults, a list file's path, ``programme:NAME`` or ``neighbourhoods:NAME``,
    or a :class:`Group` built by the caller (e.g. one area's LSOAs for a profile).

    The comparators ``other_deprived`` and ``england`` are always included (the gaps are measured
    against them); ``specs=None`` gives the three default groups.
    """
    defaults = default_groups(con, vintage=vintage)
    if not specs:
        return defaults
    out: dict[str, Group] = {}
    for spec in specs:
        if isinstance(spec, Group):
            out[spec.name] = spec
        elif spec in defaults:
            out[spec] = defaults[spec]
        elif spec.startswith(("programme:", "neighbourhoods:")):
            g = _stored(con, spec, vintage=vintage)
            out[g.name] = g
        elif Path(spec).suffix or Path(spec).exists():
            name = Path(spec).stem
            out[name] = group_from_codes(con, read_code_list(spec), vintage=vintage, name=name)
        else:
            raise DataError(f"unknown group {spec!r}: give one of {', '.join(DEFAULT_GROUPS)}, a file of area codes "
                            "(CSV with a 'code' column, or one code a line), programme:NAME (a stored programme) "
                            "or neighbourhoods:NAME (a stored neighbourhood set)")
    for c in COMPARATORS:
        out.setdefault(c, defaults[c])
    return out
