"""Area profiles: everything the project knows about one LSOA, ward, local authority or region.

A profile is a plain dict (JSON-ready) used by the web API, the LAD report and the CLI. It
holds the area's IMD position and domain deciles, its Community Needs Index (CNI) position,
population, left-behind status, its neighbours (areas whose boundaries touch it) with their
IMD deciles, and the context of its local authority.

Which edition a code gets depends on the geography it belongs to:

* LSOA 2021, ward 2024, LAD 2024, region 2024: **IoD2025** and **CNI 2023**;
  left-behind = the 2023 LSOA definition (:mod:`.left_behind`).
* LSOA 2011, ward 2017, LAD 2019, region 2019: **IoD2019** and **CNI 2019**;
  left-behind = the 2019 ward definition (the published 225 wards).

A code that exists in both vintages (most LSOAs were unchanged in 2021; many wards and
LADs kept their codes) gets the newer edition as the profile and the older one under
``other_editions``.

Areas above the LSOA are summarised from their LSOAs the way MHCLG summarises local
authorities in the IoD:

.. math:: \\text{average score}_g = \\frac{\\sum_{i \\in g} p_i s_i}{\\sum_{i \\in g} p_i}
   \\qquad \\text{average rank}_g = \\frac{\\sum_{i \\in g} p_i r_i}{\\sum_{i \\in g} p_i}

with :math:`p_i` the LSOA population, :math:`s_i` the IMD score and :math:`r_i` a domain rank
(rank 1 = most deprived). Areas are ranked on the average score (IMD; higher = more deprived)
or the average rank (domains; lower = more deprived) among all areas of their type, and the
rank is turned into an equal-count decile (:func:`.geography.equal_count_decile`). Ward 2017
IMD and CNI are those of :func:`.left_behind.left_behind_scores` (the official CNI 2019 ward
values). The CNI of a 2021-based ward, LAD or region is the population-weighted mean of its
LSOAs' CNI 2023 scores (higher = higher need), ranked among areas of that type.

Notes
-----
Neighbours are queen neighbours: areas whose generalised boundary polygons share at least a
point with the area's (the warehouse's cached LSOA adjacency, :mod:`.adjacency`; wards and
LADs from their LSOAs' links). Island bridges (``kind = 'nearest'``) are not shown as
neighbours. Slivers in the generalised boundaries can make a true neighbour missing.

References
----------
MHCLG (2025), *English Indices of Deprivation 2025: technical report*, section on
local-authority summary measures (average score, average rank).
OCSI for Local Trust (2019), *Left behind? Understanding communities on the edge*.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError
from neighbourhood_lens.geo.geography import GSS_CODE, equal_count_decile

if TYPE_CHECKING:
    import duckdb

__all__ = ["CODE_PATTERN", "DOMAINS", "GEOGRAPHY_LABELS", "custom_area_profile", "ProfileStore", "load_store",
           "summarise_areas", "area_profile",
           "UnknownAreaError"]

#: An ONS GSS code: a country letter and eight digits.
CODE_PATTERN = GSS_CODE
#: The seven IoD domains, in MHCLG's order.
DOMAINS = ("income", "employment", "education", "health", "crime", "housing", "environment")
_CNI_DOMAINS = ("civic_assets", "connectedness", "engaged_community")


class UnknownAreaError(DataError):
    """A well-formed code that is not an English area the warehouse knows."""


@dataclass
class ProfileStore:
    """The national tables a profile needs, held in memory and indexed by code.

    Build it once with :func:`load_store` (about a second) and share it: lookups are then
    index lookups, safe to run from many threads at once.
    """

    frames: dict[str, pd.DataFrame]
    neighbours: dict[str, Mapping[str, list[str]]]
    areas: pd.DataFrame
    notes: dict[str, str] = field(default_factory=dict)
    #: per-level outcome tables (:func:`.profile_outcomes.outcome_tables`)
    outcomes: dict[str, Any] = field(default_factory=dict)

    def levels_of(self, code: str) -> list[str]:
        """The geography levels whose frame holds ``code``, newest vintage first."""
        order = ["lsoa21", "ward24", "lad24", "region24", "lsoa11", "msoa11", "ward17", "lad19", "region19"]
        return [lv for lv in order if code in self.frames[lv].index]


def summarise_areas(
    lsoas: pd.DataFrame, *, by: str, domains: tuple[str, ...] = DOMAINS, cni: bool = True
) -> pd.DataFrame:
    """Population-weighted IMD summary of areas made of LSOAs.

    ``lsoas`` has ``by``, ``population``, ``imd_score``, ``imd_decile``, ``<domain>_rank`` for
    each domain, and (if ``cni``) ``cni_score`` and ``left_behind``. Returns one row per area
    indexed by ``by``: ``population, n_lsoas, imd_score`` (average score), ``imd_rank``
    (1 = most deprived), ``imd_decile``, ``imd_decile1_share`` (share of LSOAs in the national
    most deprived decile, 0-1), ``<domain>_avg_rank, <domain>_rank, <domain>_decile``, and
    with ``cni``: ``cni_score, cni_rank, cni_decile`` (rank 1 = highest need) and
    ``n_left_behind``.

    >>> f = pd.DataFrame({"w": ["a", "a", "b"], "population": [1.0, 3.0, 2.0],
    ...                   "imd_score": [10.0, 30.0, 20.0], "imd_decile": [1, 5, 9]})
    >>> out = summarise_areas(f, by="w", domains=(), cni=False).reset_index()
    >>> out[["w", "imd_score", "imd_rank", "imd_decile1_share"]]
       w  imd_score  imd_rank  imd_decile1_share
    0  a       25.0         1                0.5
    1  b       20.0         2                0.0
    """
    pop = lsoas["population"].astype(float)
    if pop.isna().any():
        raise DataError(f"summarise_areas: {int(pop.isna().sum())} LSOA(s) have no population")
    work = pd.DataFrame({by: lsoas[by], "population": pop, "n_lsoas": 1,
                         "imd_score": lsoas["imd_score"] * pop,
                         "imd_decile1_share": (lsoas["imd_decile"] == 1).astype(float)})
    for d in domains:
        work[f"{d}_avg_rank"] = lsoas[f"{d}_rank"] * pop
    if cni:
        work["cni_score"] = lsoas["cni_score"].fillna(0) * pop
        work["cni_pop"] = pop.where(lsoas["cni_score"].notna(), 0.0)
        work["n_left_behind"] = lsoas["left_behind"].astype(int)
    out = work.groupby(by, sort=True).sum()
    out["imd_score"] /= out["population"]
    out["imd_decile1_share"] /= out["n_lsoas"]
    n = len(out)
    out["imd_rank"] = out["imd_score"].rank(ascending=False, method="min").astype(int)
    out["imd_decile"] = equal_count_decile(out["imd_rank"], n)
    for d in domains:
        out[f"{d}_avg_rank"] /= out["population"]
        out[f"{d}_rank"] = out[f"{d}_avg_rank"].rank(ascending=True, method="min").astype(int)
        out[f"{d}_decile"] = equal_count_decile(out[f"{d}_rank"], n)
    if cni:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["cni_score"] = (out["cni_score"] / out["cni_pop"]).where(out["cni_pop"] > 0)
        out = out.drop(columns="cni_pop")
        rank = out["cni_score"].rank(ascending=False, method="min")
        out["cni_rank"] = rank.astype("Int64")
        out["cni_decile"] = pd.array(equal_count_decile(rank, int(rank.count())), dtype="Int64")
    return out


def _pairs(con: duckdb.DuckDBPyConnection, vintage: int, codes: pd.Index) -> pd.DataFrame:
    """Queen-adjacent English LSOAs (both directions): the warehouse's cached adjacency
    (:mod:`.adjacency`), computed on the fly when the warehouse has none yet."""
    from neighbourhood_lens.geo.adjacency import adjacency_for_vintage, load_adjacency, neighbours
    from neighbourhood_lens.warehouse import has_table

    cached = has_table(con, f"adjacency_lsoa{str(vintage)[2:]}")
    links = load_adjacency(con, vintage) if cached else adjacency_for_vintage(con, vintage)
    both = neighbours(links[links["kind"] == "queen"]).rename(columns={"code": "a", "neighbour": "b"})
    return both.loc[isin(both["a"], codes) & isin(both["b"], codes), ["a", "b"]].reset_index(drop=True)


class NeighbourLists(Mapping[str, list[str]]):
    """``code -> sorted neighbour codes`` of one level, read-only: the pairs sorted once, each list cut
    from them when asked (a profile asks for a handful; building 33,000 Python lists up front took
    longer than the rest of the store's neighbours)."""

    def __init__(self, a: np.ndarray, b: np.ndarray, codes: np.ndarray) -> None:
        """``a``, ``b``: the pairs as positions in ``codes`` (sorted text), sorted by ``a`` then ``b``."""
        starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]]) if len(a) else np.zeros(0, dtype=np.intp)
        ends = [*starts[1:].tolist(), len(a)]
        self._codes, self._b = codes, b
        self._bounds = dict(zip(codes[a[starts]].tolist(), zip(starts.tolist(), ends, strict=True), strict=True))

    def __getitem__(self, code: str) -> list[str]:
        start, end = self._bounds[code]
        return self._codes[self._b[start:end]].tolist()

    def __iter__(self) -> Iterator[str]:
        return iter(self._bounds)

    def __len__(self) -> int:
        return len(self._bounds)


def _neighbour_lists(pairs: pd.DataFrame, mapping: pd.Series | None = None) -> NeighbourLists:
    """``code -> sorted neighbour codes``; with ``mapping`` (LSOA -> area), of the areas (pairs within
    one area dropped, each pair of areas once). The codes are numbered in sorted order once, and the
    pairs sorted as numbers."""
    a, b = pairs["a"], pairs["b"]
    if mapping is not None:
        a, b = a.map(mapping), b.map(mapping)
        both = a.notna().to_numpy() & b.notna().to_numpy()
        a, b = a[both], b[both]
    n = len(a)
    number, codes = pd.factorize(pd.concat([a, b], ignore_index=True), sort=True)
    ia, ib = number[:n].astype(np.int64), number[n:].astype(np.int64)
    if mapping is not None:
        keep = ia != ib
        ia, ib = ia[keep], ib[keep]
    order = np.lexsort((ib, ia))
    ia, ib = ia[order], ib[order]
    if mapping is not None and len(ia):
        first = np.r_[True, (ia[1:] != ia[:-1]) | (ib[1:] != ib[:-1])]
        ia, ib = ia[first], ib[first]
    return NeighbourLists(ia, ib, np.asarray(codes, dtype=object))


def load_store(con: duckdb.DuckDBPyConnection, *, neighbours: bool = True, outcomes: bool = True,
               outcome_vintages: tuple[int, ...] = (2021, 2011)) -> ProfileStore:
    """Read the national tables once and index them by code (see :class:`ProfileStore`);
    with ``outcomes``, also the outcome statistics of every level based on the LSOA
    ``outcome_vintages`` (:mod:`.profile_outcomes`; a LAD 2024 report needs only 2021's)."""
    from neighbourhood_lens.deprivation.left_behind import left_behind_scores
    from neighbourhood_lens.warehouse import require_tables

    require_tables(con, ["imd2019_lsoa11", "imd2025_lsoa21", "hierarchy_lsoa11", "hierarchy_lsoa21",
                         "cni2019_ward17", "cni2023_lsoa21", "areas"])
    ranks = ", ".join(f"i.{d}_rank, i.{d}_decile" for d in DOMAINS)
    # 2021-based: LSOA 2021 with IoD2025, CNI 2023 and the 2023 left-behind flag.
    lb23 = left_behind_scores(con, vintage=2023)[["code", "left_behind"]]
    l21 = con.execute(
        "SELECT h.lsoa21_code AS code, h.lsoa21_name AS name, h.ward24_code, h.ward24_name, h.lad24_code, "
        "h.lad24_name, h.region24_code, h.region24_name, h.population, i.imd_score, i.imd_rank, i.imd_decile, "
        f"{ranks}, {', '.join(f'i.{d}_score' for d in DOMAINS)}, c.cni_score, c.cni_rank, "
        f"{', '.join(f'c.{d}_score' for d in _CNI_DOMAINS)} "
        "FROM hierarchy_lsoa21 h JOIN imd2025_lsoa21 i USING (lsoa21_code) "
        "LEFT JOIN cni2023_lsoa21 c USING (lsoa21_code)"
    ).df().merge(lb23, on="code", how="left", validate="one_to_one")
    n_cni23 = int(l21["cni_rank"].count())
    l21["cni_decile"] = pd.array(equal_count_decile(l21["cni_rank"], n_cni23), dtype="Int64")
    # 2011-based: LSOA 2011 with IoD2019; CNI 2019 and left-behind 2019 are ward-level.
    w17 = left_behind_scores(con, vintage=2019).set_index("code")
    l11 = con.execute(
        "SELECT h.lsoa11_code AS code, h.lsoa11_name AS name, h.msoa11_code, h.msoa11_name, h.ward17_code, "
        "h.ward17_name, h.lad19_code, "
        "h.lad19_name, h.region19_code, h.region19_name, h.population, i.imd_score, i.imd_rank, i.imd_decile, "
        f"{ranks}, i.income_score, i.employment_score "
        "FROM hierarchy_lsoa11 h JOIN imd2019_lsoa11 i USING (lsoa11_code)"
    ).df()
    l11["cni_score"] = l11["ward17_code"].map(w17["cni_score"])
    l11["left_behind"] = l11["ward17_code"].map(w17["left_behind"]).fillna(False).astype(bool)
    frames: dict[str, pd.DataFrame] = {"lsoa21": l21.set_index("code"), "lsoa11": l11.set_index("code")}
    names = {"ward24": ("ward24_name", l21), "lad24": ("lad24_name", l21), "region24": ("region24_name", l21),
             "ward17": ("ward17_name", l11), "lad19": ("lad19_name", l11), "region19": ("region19_name", l11),
             "msoa11": ("msoa11_name", l11)}
    parents = {"ward24": ["lad24", "region24"], "lad24": ["region24"], "region24": [],
               "ward17": ["lad19", "region19"], "lad19": ["region19"], "region19": [],
               "msoa11": ["lad19", "region19"]}
    for lv, (label, src) in names.items():
        key = f"{lv}_code"
        out = summarise_areas(src, by=key)
        first = src.sort_values([key, "population"], ascending=[True, False]).drop_duplicates(key).set_index(key)
        out["name"] = first[label]
        for p in parents[lv]:
            out[f"{p}_code"] = first[f"{p}_code"]
            out[f"{p}_name"] = first[f"{p}_name"]
        frames[lv] = out
    # Ward 2017: the official CNI 2019 ward values and the published left-behind rule.
    wf = frames["ward17"]
    for col in ["imd_score", "imd_rank", "imd_decile", "cni_score", "cni_rank", "cni_decile",
                *(f"{d}_score" for d in _CNI_DOMAINS), "left_behind"]:
        wf[col] = w17[col].reindex(wf.index)
    wf["n_left_behind"] = wf["left_behind"].fillna(False).astype(int)
    for lv, child in (("lad19", "lad19_code"), ("region19", "region19_code")):
        counts = wf.groupby(child)["n_left_behind"].sum()
        frames[lv]["n_left_behind"] = counts.reindex(frames[lv].index).fillna(0).astype(int)
    for frame in frames.values():
        for col in frame.columns:
            if col.endswith(("_rank", "_decile")) and not col.endswith("_avg_rank"):
                frame[col] = frame[col].round().astype("Int64")
    nb: dict[str, Mapping[str, list[str]]] = {}
    if neighbours:
        p21 = _pairs(con, 2021, frames["lsoa21"].index)
        p11 = _pairs(con, 2011, frames["lsoa11"].index)
        nb["lsoa21"] = _neighbour_lists(p21)
        nb["lsoa11"] = _neighbour_lists(p11)
        for lv in ("ward24", "lad24"):
            nb[lv] = _neighbour_lists(p21, l21.set_index("code")[f"{lv}_code"])
        for lv in ("ward17", "lad19", "msoa11"):
            nb[lv] = _neighbour_lists(p11, l11.set_index("code")[f"{lv}_code"])
    areas = con.execute("SELECT code, name, type, vintage, lad_code, lad_name FROM areas").df()
    tables: dict[str, Any] = {}
    if outcomes:
        from neighbourhood_lens.outputs.profile_outcomes import outcome_tables

        tables = outcome_tables(con, frames, vintages=outcome_vintages)
    return ProfileStore(frames=frames, neighbours=nb, areas=areas, outcomes=tables)


_EDITION = {
    "lsoa21": ("IoD2025", "CNI 2023", 2023), "ward24": ("IoD2025", "CNI 2023", 2023),
    "lad24": ("IoD2025", "CNI 2023", 2023), "region24": ("IoD2025", "CNI 2023", 2023),
    "lsoa11": ("IoD2019", "CNI 2019", 2019), "ward17": ("IoD2019", "CNI 2019", 2019),
    "lad19": ("IoD2019", "CNI 2019", 2019), "region19": ("IoD2019", "CNI 2019", 2019),
    "msoa11": ("IoD2019", "CNI 2019", 2019),
}
_TYPE = {"lsoa": "LSOA", "ward": "ward", "lad": "local authority district", "region": "region", "msoa": "MSOA",
         "custom": "custom area"}
#: Readable names of the geography levels, for pages.
GEOGRAPHY_LABELS = {
    "lsoa21": "LSOA (2021 boundaries)", "ward24": "ward (2024 boundaries)", "lad24": "local authority (2024)",
    "region24": "region (2024)", "lsoa11": "LSOA (2011 boundaries)", "msoa11": "MSOA (2011 boundaries)",
    "ward17": "ward (2017 boundaries)", "lad19": "local authority (2019)", "region19": "region (2019)",
}


def _py(value: Any) -> Any:
    """A JSON-ready Python scalar (NaN and NA become None)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _edition(store: ProfileStore, level: str, code: str) -> dict[str, Any]:
    row = store.frames[level].loc[code]
    kind = re.sub(r"\d+$", "", level)
    iod, cni, lb_vintage = _EDITION[level]
    n = len(store.frames[level])
    domains = []
    for d in DOMAINS:
        item = {"domain": d, "rank": _py(row.get(f"{d}_rank")), "decile": _py(row.get(f"{d}_decile"))}
        if kind == "lsoa":
            item["score"] = _py(row.get(f"{d}_score"))
        else:
            item["average_rank"] = _py(row.get(f"{d}_avg_rank"))
        domains.append(item)
    cni_part: dict[str, Any] = {"edition": cni, "score": _py(row.get("cni_score"))}
    if kind == "lsoa" and level == "lsoa11":
        cni_part["note"] = "CNI 2019 is published for wards only: this is the value of the LSOA's 2017 ward."
    else:
        cni_part.update(rank=_py(row.get("cni_rank")), decile=_py(row.get("cni_decile")))
        cni_part.update({f"{d}_score": _py(row.get(f"{d}_score")) for d in _CNI_DOMAINS if f"{d}_score" in row})
    if level in ("lsoa21", "ward17"):
        left = {"vintage": lb_vintage, "left_behind": bool(_py(row["left_behind"]) or False)}
    elif level == "msoa11":
        left = {"vintage": 2019, "left_behind": None,
                "note": f"{_py(row['n_left_behind'])} of its {_py(row['n_lsoas'])} LSOAs lie in 2019 left-behind "
                        "wards (left-behind status is defined for wards; MSOAs and wards do not nest)."}
    elif level == "lsoa11":
        left = {"vintage": 2019, "left_behind": bool(row["left_behind"]),
                "note": "2019 left-behind status is defined for wards: this is the LSOA's 2017 ward."}
    else:
        left = {"vintage": lb_vintage, "left_behind": None}
    if "n_left_behind" in row and level not in ("ward17", "msoa11"):
        left["n_left_behind_within"] = _py(row["n_left_behind"])
    method = ("published LSOA values" if kind == "lsoa" else
              "population-weighted average score (IMD) and average rank (domains) of the area's LSOAs, "
              "ranked among all areas of its type")
    if level == "ward17":
        method = "ward IMD 2019 score and CNI 2019 as in the 2019 left-behind definition"
    imd = {"edition": iod, "score": _py(row["imd_score"]), "rank": _py(row["imd_rank"]),
           "decile": _py(row["imd_decile"]), "n_areas": n, "method": method,
           "direction": "rank 1 = most deprived; decile 1 = most deprived 10%"}
    if "imd_decile1_share" in row:
        imd["decile1_share"] = _py(row["imd_decile1_share"])
    if kind == "region":  # a "decile" of 9 regions means nothing: ranks only
        imd["decile"] = None
        imd["note"] = "regions are ranked among England's 9 regions; deciles are not given for 9 areas"
        cni_part["decile"] = None
        for item in domains:
            item["decile"] = None
    if level == "msoa11":
        cni_part["note"] = ("CNI 2019 is published for wards only: this is the population-weighted mean of its "
                            "LSOAs' ward values.")
    return {"geography": level, "geography_label": GEOGRAPHY_LABELS[level], "imd": imd, "domains": domains,
            "cni": cni_part, "left_behind": left}


def _summary(store: ProfileStore, level: str, code: str) -> dict[str, Any]:
    row = store.frames[level].loc[code]
    return {"code": code, "name": _py(row.get("name")), "imd_decile": _py(row.get("imd_decile")),
            "imd_rank": _py(row.get("imd_rank")), "cni_decile": _py(row.get("cni_decile")),
            "left_behind": _py(row.get("left_behind")) if "left_behind" in row else None,
            "population": _py(row.get("population"))}


def _summaries(store: ProfileStore, level: str, codes: list[str]) -> list[dict[str, Any]]:
    """:func:`_summary` of many areas at once (column-wise: 5,000 LSOAs in milliseconds, not seconds)."""
    frame = store.frames[level]
    cols = {k: frame[k].reindex(codes).tolist() if k in frame.columns else [None] * len(codes)
            for k in ("name", "imd_decile", "imd_rank", "cni_decile", "left_behind", "population")}
    missing = [c for c in codes if c not in frame.index]
    if missing:
        raise KeyError(missing[0])
    return [{"code": c, **{k: _py(v[i]) for k, v in cols.items()}} for i, c in enumerate(codes)]


def area_profile(con: duckdb.DuckDBPyConnection | None, code: str, *,
                 store: ProfileStore | None = None) -> dict[str, Any]:
    """The profile of an English LSOA, ward, LAD or region (see the module docstring).

    Pass a ``store`` from :func:`load_store` to answer from memory (``con`` may then be
    None); without one, the store is built from ``con`` first (about a second).

    Raises :class:`DataError` for a malformed code and :class:`UnknownAreaError` for a code
    the warehouse does not hold.
    """
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise DataError(f"area code {code!r} is not a GSS code: expected a letter E, W, S or N and 8 digits, "
                        "e.g. E01033583 (LSOA), E05001645 (ward), E08000021 (local authority)")
    if store is None:
        if con is None:
            raise DataError("area_profile needs a warehouse connection or a ProfileStore")
        store = load_store(con)
    levels = store.levels_of(code)
    if not levels:
        hint = ("only English areas are covered" if not code.startswith("E") else
                "use an LSOA (E01), MSOA (E02), ward (E05), local authority (E06-E09) or region (E12) code; "
                "search by name with /api/search?q=")
        raise UnknownAreaError(f"no English LSOA, MSOA, ward, local authority or region has code {code}: {hint}")
    level = levels[0]
    row = store.frames[level].loc[code]
    kind = re.sub(r"\d+$", "", level)
    suffix = level[len(kind):]
    profile: dict[str, Any] = {"code": code, "name": _py(row.get("name")), "type": kind,
                               "type_label": _TYPE[kind], "population": _py(row["population"]),
                               "n_lsoas": _py(row.get("n_lsoas", 1))}
    for parent in ("ward", "lad", "region"):
        key = f"{parent}{'24' if suffix in ('21', '24') else ('17' if parent == 'ward' else '19')}"
        if kind == "msoa" and parent == "ward":
            continue
        if f"{key}_code" in row:
            profile[f"{parent}_code"] = _py(row[f"{key}_code"])
            profile[f"{parent}_name"] = _py(row[f"{key}_name"])
    profile.update(_edition(store, level, code))
    profile["other_editions"] = [{"code": code, **_edition(store, lv, code)} for lv in levels[1:]]
    if len(levels) > 1:
        profile["notes"] = [f"{code} is the code of an {GEOGRAPHY_LABELS[level]} and of an "
                            f"{', '.join(GEOGRAPHY_LABELS[lv] for lv in levels[1:])}: the profile shows "
                            f"{_EDITION[level][0]}; the older edition is shown below it."]
    profile["neighbours"] = [_summary(store, level, c) for c in store.neighbours.get(level, {}).get(code, [])
                             if c in store.frames[level].index]
    profile["geography"], profile["geography_label"] = level, GEOGRAPHY_LABELS[level]
    lad_level = {"21": "lad24", "24": "lad24", "11": "lad19", "17": "lad19"}.get(suffix)
    lad = profile.get("lad_code")
    if lad_level and lad in store.frames[lad_level].index:
        ctx = _summary(store, lad_level, lad)
        frame = store.frames[lad_level]
        ctx.update(geography=lad_level, n_areas=len(frame),
                   decile1_share=_py(frame.loc[lad, "imd_decile1_share"]),
                   n_left_behind=_py(frame.loc[lad, "n_left_behind"]))
        profile["lad_context"] = ctx
    profile["trajectory"] = None
    from neighbourhood_lens.outputs.profile_outcomes import outcomes_section

    profile["outcomes"] = outcomes_section(store.outcomes, level, code, decile=profile["imd"]["decile"],
                                           kind_label=GEOGRAPHY_LABELS[level], edition=_EDITION[level][0])
    return profile


def _beaten(values: pd.Series, x: float, *, higher_is_worse: bool) -> int:
    """1 + how many areas are worse than ``x`` (the rank ``x`` would take among ``values``)."""
    v = values.dropna().to_numpy(dtype=float)
    return 1 + int((v > x).sum() if higher_is_worse else (v < x).sum())


def custom_area_profile(store: ProfileStore, codes: list[str] | pd.Series, *, name: str = "Custom area",
                        code: str = "custom") -> dict[str, Any]:
    """The profile of an area made of LSOAs, shaped like :func:`area_profile`'s.

    ``codes`` are LSOA codes, all of 2021 (IoD2025, CNI 2023) or all of 2011 (IoD2019,
    CNI 2019) boundaries; a code valid in both vintages counts for 2021 when every code is a
    2021 code. The area is summarised from its LSOAs as MHCLG summarises local authorities
    (population-weighted average score for the IMD and CNI, average rank for the domains;
    see the module docstring) and **ranked as if it were a ward** of the same vintage:
    its rank is one more than the number of wards (ward 2024 or ward 2017) more deprived than
    it, and its decile is that rank's equal-count decile among the wards. ``lsoas`` lists its
    LSOAs; ``neighbours`` the LSOAs outside it that touch it.

    Raises :class:`DataError` naming the count and first few codes that are not English LSOAs
    of one vintage.
    """
    wanted = pd.Index(pd.Series(list(codes), dtype=str).str.strip().str.upper().unique())
    wanted = wanted[wanted != ""]
    if wanted.empty:
        raise DataError("a custom area needs at least one LSOA code, e.g. E01033583")
    bad = [c for c in wanted if not CODE_PATTERN.match(c) or not c.startswith("E01")]
    if bad:
        raise DataError(f"{len(bad)} code(s) are not English LSOA codes (E01 and 8 digits): "
                        f"{', '.join(bad[:5])}; list one LSOA code per line")

    def known(lv: str) -> np.ndarray:  # hash lookup (Index.isin on Arrow strings converts each value: slow)
        return store.frames[lv].index.get_indexer(wanted) >= 0

    level = next((lv for lv in ("lsoa21", "lsoa11") if known(lv).all()), None)
    if level is None:
        missing21 = wanted[~known("lsoa21")]
        missing11 = wanted[~known("lsoa11")]
        raise UnknownAreaError(
            f"the codes are not all LSOAs of one vintage: {len(missing21)} are not 2021 LSOAs "
            f"({', '.join(missing21[:5])}) and {len(missing11)} are not 2011 LSOAs ({', '.join(missing11[:5])}); "
            "use codes of one vintage (convert with `nlens` vintages) ")
    wards = {"lsoa21": "ward24", "lsoa11": "ward17"}[level]
    rows = store.frames[level].loc[wanted]
    ward = store.frames[wards]
    pop = rows["population"].astype(float)
    total = float(pop.sum())

    def mean(col: str) -> float | None:
        ok = rows[col].notna()
        return float((rows.loc[ok, col].astype(float) * pop[ok]).sum() / pop[ok].sum()) if ok.any() else None

    n = len(ward)
    iod, cni_edition, lb_vintage = _EDITION[level]
    score = mean("imd_score")
    rank = _beaten(ward["imd_score"], score, higher_is_worse=True)
    imd = {"edition": iod, "score": score, "rank": rank, "decile": int(equal_count_decile(pd.Series([rank]), n)[0]),
           "n_areas": n, "decile1_share": float((rows["imd_decile"] == 1).mean()),
           "method": f"population-weighted average score (IMD) and average rank (domains) of its {len(rows)} LSOAs, "
                     f"ranked as if it were one of England's {n:,} wards on 20{wards[-2:]} boundaries",
           "direction": "rank 1 = most deprived; decile 1 = most deprived 10%"}
    domains = []
    for d in DOMAINS:
        avg = mean(f"{d}_rank")
        r = _beaten(ward[f"{d}_avg_rank"], avg, higher_is_worse=False) if avg is not None else None
        domains.append({"domain": d, "average_rank": avg, "rank": r,
                        "decile": int(equal_count_decile(pd.Series([r]), n)[0]) if r else None})
    cni_score = mean("cni_score")
    cni: dict[str, Any] = {"edition": cni_edition, "score": cni_score}
    if cni_score is not None:
        r = _beaten(ward["cni_score"], cni_score, higher_is_worse=True)
        cni.update(rank=r, decile=int(equal_count_decile(pd.Series([r]), int(ward["cni_score"].count()))[0]))
    if level == "lsoa11":
        cni["note"] = "CNI 2019 is published for wards only: each LSOA takes its 2017 ward's value."
    flags = rows["left_behind"].fillna(False).astype(bool)
    left: dict[str, Any] = {"vintage": lb_vintage, "left_behind": None, "n_left_behind_within": int(flags.sum())}
    if level == "lsoa11":
        left["note"] = "counts LSOAs that lie in a 2019 left-behind ward (the 2019 definition is for wards)"
    lad_pop = pop.groupby(rows["lad24_code" if level == "lsoa21" else "lad19_code"]).sum().sort_values(ascending=False)
    lad_level = "lad24" if level == "lsoa21" else "lad19"
    lad = str(lad_pop.index[0])
    inside = set(wanted)
    around = sorted({c for x in wanted for c in store.neighbours.get(level, {}).get(x, [])} - inside)
    profile: dict[str, Any] = {
        "code": code, "name": name, "type": "custom", "type_label": _TYPE["custom"], "population": total,
        "n_lsoas": len(rows), "geography": level,
        "geography_label": f"custom area of {len(rows)} LSOA(s) ({GEOGRAPHY_LABELS[level].split('(')[1]}",
        "lad_code": lad, "lad_name": _py(store.frames[lad_level].loc[lad, "name"]),
        "lads": [{"code": str(k), "name": _py(store.frames[lad_level].loc[k, "name"]), "population_share": v / total}
                 for k, v in lad_pop.items()],
        "imd": imd, "domains": domains, "cni": cni, "left_behind": left, "other_editions": [],
        "lsoas": _summaries(store, level, list(wanted)),
        "neighbours": _summaries(store, level, around),
        "trajectory": None,
    }
    frame = store.frames[lad_level]
    ctx = _summary(store, lad_level, lad)
    ctx.update(geography=lad_level, n_areas=len(frame), decile1_share=_py(frame.loc[lad, "imd_decile1_share"]),
               n_left_behind=_py(frame.loc[lad, "n_left_behind"]))
    profile["lad_context"] = ctx
    from neighbourhood_lens.outputs.profile_outcomes import custom_outcomes_section

    profile["outcomes"] = custom_outcomes_section(store.outcomes, wanted, vintage=2021 if level == "lsoa21" else 2011,
                                                  decile=imd["decile"])
    return profile
