"""Hidden pockets and next-door gaps: deprivation beside affluence.

Area-wide averages hide deprived neighbourhoods in comparatively affluent places. Two views:

**Hidden pockets** (:func:`hidden_pockets`)
    A neighbourhood (LSOA, or ward) is a *hidden pocket* when it is in the most deprived
    ``max_decile`` deciles **nationally** (default 3: the most deprived 30%; decile 1 = most
    deprived 10%) and either

    * it lies in a *comparatively affluent LAD*: the LAD's population-weighted average score
      ranks in the less deprived ``lad_affluent_share`` of LADs (default 0.5: the less
      deprived half; LAD rank 1 = highest average score = most deprived), or
    * it is *beside an affluent neighbour*: at least one adjacent neighbourhood (queen
      contiguity, :mod:`.adjacency`) is in decile ``affluent_decile`` or above (default 8).

    Pockets are ranked by the **gap** in score points: the larger of (own score - LAD average
    score), when the LAD is affluent, and (own score - score of the least deprived neighbour),
    when beside an affluent neighbour.

**Next-door gaps** (:func:`next_door_pairs`, :func:`next_door_by_lad`)
    Every adjacent pair with its score and decile difference; and per LAD the share of
    residents living in a *deprived* neighbourhood (decile <= ``deprived_decile``, default 2)
    that has a neighbour at least ``min_decile_gap`` deciles less deprived (default 5).

Ward level: a ward's score is the population-weighted mean of its LSOAs' scores (the IoD
convention for larger areas); wards are ranked nationally (rank 1 = most deprived) and put
into equal-count deciles (:func:`~neighbourhood_lens.geo.geography.equal_count_decile`). Two wards
are adjacent when any of their LSOAs are. LSOA deciles are the published national deciles.

Notes
-----
Deciles are national (published, or computed over all wards in England) and are never
recomputed inside a LAD filter: filter the output, not the input. Neighbourhoods without
any neighbour (islands with no link) can be pockets only through their LAD.

References
----------
MHCLG (2019). *The English Indices of Deprivation 2019: Technical report*, section 3.5
(ranks and deciles) and 3.8 (summaries for larger areas: population-weighted average score).
Local Trust (2024). *A neighbourhood lens* (the examples of East Finchley, Tang Hall and
Littlemoor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, examples

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "AREA_COLUMNS",
    "area_scores",
    "ward_links",
    "hidden_pockets",
    "next_door_pairs",
    "next_door_by_lad",
    "filter_lad",
]

#: Columns of the ``areas`` frame every function here takes.
AREA_COLUMNS = ["code", "name", "ward_name", "lad_code", "lad_name", "population", "score", "decile"]


def ward_links(links: pd.DataFrame, lsoa_to_ward: pd.Series) -> pd.DataFrame:
    """Ward adjacency from LSOA adjacency: two wards touch when any of their LSOAs do.

    ``lsoa_to_ward`` maps LSOA code -> ward code. ``kind`` is ``queen`` if any underlying link
    is a shared boundary, else ``nearest``.

    >>> links = pd.DataFrame({"a": ["l1", "l2", "l1"], "b": ["l2", "l3", "l4"],
    ...                       "kind": ["queen", "queen", "nearest"]})
    >>> ward_links(links, pd.Series({"l1": "W1", "l2": "W1", "l3": "W2", "l4": "W3"}))
        a   b     kind
    0  W1  W2    queen
    1  W1  W3  nearest
    """
    wa, wb = links["a"].map(lsoa_to_ward), links["b"].map(lsoa_to_ward)
    unmatched = wa.isna() | wb.isna()
    if unmatched.any():
        codes = pd.concat([links.loc[wa.isna(), "a"], links.loc[wb.isna(), "b"]]).unique()
        raise DataError(f"{len(codes)} LSOA(s) in the adjacency have no ward: {examples(codes)}")
    frame = pd.DataFrame({"a": np.minimum(wa, wb), "b": np.maximum(wa, wb),
                          "queen": links["kind"].eq("queen").to_numpy()})
    frame = frame[frame["a"] != frame["b"]]
    out = frame.groupby(["a", "b"], as_index=False)["queen"].any()
    out["kind"] = np.where(out["queen"], "queen", "nearest")
    return out[["a", "b", "kind"]]


def area_scores(
    con: duckdb.DuckDBPyConnection, *, index: str = "imd2019", domain: str = "imd", level: str = "lsoa"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Neighbourhoods of ``level`` (``lsoa`` or ``ward``) with scores, and their adjacency.

    Returns ``(areas, links)``: ``areas`` has :data:`AREA_COLUMNS` (higher score = more
    deprived, decile 1 = most deprived 10% nationally); ``links`` has ``a, b, kind`` from the
    warehouse's cached LSOA adjacency (aggregated to wards for ``level='ward'``).
    """
    from neighbourhood_lens.deprivation.inequality import INDICES, lsoa_scores
    from neighbourhood_lens.geo.adjacency import load_adjacency
    from neighbourhood_lens.geo.geography import equal_count_decile, weighted_mean

    if level not in ("lsoa", "ward"):
        raise DataError(f"unknown level {level!r}; valid levels: lsoa, ward")
    lsoas = lsoa_scores(con, index=index, domain=domain)
    vintage = INDICES[index][1]
    yy = str(vintage)[2:]
    ward, lad = ("ward17", "lad19") if vintage == 2011 else ("ward24", "lad24")
    links = load_adjacency(con, vintage)
    if level == "lsoa":
        if "decile" not in lsoas:
            raise DataError(f"{index} has no published {domain} decile to define 'most deprived' nationally")
        areas = lsoas.rename(columns={f"lsoa{yy}_code": "code", f"lsoa{yy}_name": "name",
                                      f"{ward}_name": "ward_name", f"{lad}_code": "lad_code",
                                      f"{lad}_name": "lad_name"})
        areas["decile"] = areas["decile"].astype(int)
        known = set(areas["code"])
        links = links[isin(links["a"], known) & isin(links["b"], known)].reset_index(drop=True)
        return areas[AREA_COLUMNS].reset_index(drop=True), links
    wards = weighted_mean(lsoas, value="score", weight="population", by=[f"{ward}_code", f"{ward}_name",
                                                                        f"{lad}_code", f"{lad}_name"])
    dup = wards[f"{ward}_code"].duplicated(keep=False)
    if dup.any():
        raise DataError(f"{int(dup.sum())} ward row(s) span several LADs: {examples(wards.loc[dup, f'{ward}_code'])}")
    rank = wards["score"].rank(ascending=False, method="min")
    wards["decile"] = equal_count_decile(rank, len(wards))
    areas = wards.rename(columns={f"{ward}_code": "code", f"{ward}_name": "name", f"{lad}_code": "lad_code",
                                  f"{lad}_name": "lad_name"})
    areas["ward_name"] = areas["name"]
    lsoa_ward = lsoas.set_index(f"lsoa{yy}_code")[f"{ward}_code"]
    links = links[isin(links["a"], lsoa_ward.index) & isin(links["b"], lsoa_ward.index)]
    return areas[AREA_COLUMNS].reset_index(drop=True), ward_links(links, lsoa_ward)


def _both_ways(links: pd.DataFrame) -> pd.DataFrame:
    fwd = links[["a", "b"]].rename(columns={"a": "code", "b": "neighbour"})
    back = links[["a", "b"]].rename(columns={"b": "code", "a": "neighbour"})
    return pd.concat([fwd, back[["code", "neighbour"]]], ignore_index=True)


def hidden_pockets(
    areas: pd.DataFrame,
    links: pd.DataFrame,
    *,
    max_decile: int = 3,
    affluent_decile: int = 8,
    lad_affluent_share: float = 0.5,
) -> pd.DataFrame:
    """Deprived neighbourhoods in affluent LADs or beside affluent neighbours, ranked by gap.

    ``areas`` has :data:`AREA_COLUMNS` for **all** of England (national deciles);
    ``links`` has ``a, b``. Returns the pockets only, largest ``gap`` first, with columns
    ``code, name, ward_name, lad_code, lad_name, population, score, decile, lad_score,
    lad_rank, in_affluent_lad, neighbour_code, neighbour_name, neighbour_ward_name,
    neighbour_score, neighbour_decile, affluent_neighbour_wards, beside_affluent, gap_lad,
    gap_neighbour, decile_gap, gap``. ``neighbour_*`` describe the least deprived neighbour;
    ``affluent_neighbour_wards`` lists (``; ``) the wards of all neighbours in decile >=
    ``affluent_decile``. See the module docstring for the definition.

    >>> areas = pd.DataFrame({"code": ["A", "B", "C", "D"], "name": ["A", "B", "C", "D"],
    ...     "ward_name": ["wa", "wb", "wc", "wd"], "lad_code": ["L1", "L1", "L2", "L2"],
    ...     "lad_name": ["L1", "L1", "L2", "L2"], "population": [1.0, 1.0, 1.0, 1.0],
    ...     "score": [40.0, 5.0, 45.0, 42.0], "decile": [1, 10, 1, 1]})
    >>> links = pd.DataFrame({"a": ["A", "C"], "b": ["B", "D"]})
    >>> hidden_pockets(areas, links)[["code", "gap_lad", "gap_neighbour", "gap"]]
      code  gap_lad  gap_neighbour   gap
    0    A     17.5           35.0  35.0
    """
    for name, v, lo, hi in (("max_decile", max_decile, 1, 10), ("affluent_decile", affluent_decile, 1, 10)):
        if not lo <= v <= hi:
            raise DataError(f"{name} must be an integer decile 1-10; got {v}")
    if affluent_decile <= max_decile:
        raise DataError(f"affluent_decile ({affluent_decile}) must be above max_decile ({max_decile})")
    if not 0 < lad_affluent_share <= 1:
        raise DataError(f"lad_affluent_share must be in (0, 1]; got {lad_affluent_share}")
    missing = [c for c in AREA_COLUMNS if c not in areas]
    if missing:
        raise DataError(f"areas lack column(s) {', '.join(missing)}; need {', '.join(AREA_COLUMNS)}")
    out = areas[AREA_COLUMNS].copy()
    wx = out["score"] * out["population"]
    lad = pd.DataFrame({"lad_code": out["lad_code"], "wx": wx, "w": out["population"]}).groupby("lad_code").sum()
    lad["lad_score"] = lad["wx"] / lad["w"]
    lad["lad_rank"] = lad["lad_score"].rank(ascending=False, method="min").astype(int)
    n_lads = len(lad)
    out = out.merge(lad[["lad_score", "lad_rank"]], left_on="lad_code", right_index=True, how="left")
    out["in_affluent_lad"] = out["lad_rank"] > (1 - lad_affluent_share) * n_lads

    nb = _both_ways(links).merge(
        out[["code", "name", "ward_name", "score", "decile"]].rename(
            columns=lambda c: "neighbour" if c == "code" else f"neighbour_{c}"),
        on="neighbour", how="inner",
    )
    best = nb.sort_values(["code", "neighbour_score", "neighbour"]).drop_duplicates("code")
    best = best.rename(columns={"neighbour": "neighbour_code"}).drop(columns="neighbour_ward_name")
    best = best.merge(out[["code", "ward_name"]].rename(columns={"code": "neighbour_code",
                                                                 "ward_name": "neighbour_ward_name"}),
                      on="neighbour_code", how="left")
    rich = nb[nb["neighbour_decile"] >= affluent_decile]
    rich_wards = (rich.drop_duplicates(["code", "neighbour_ward_name"]).sort_values(["code", "neighbour_ward_name"])
                  .groupby("code")["neighbour_ward_name"].agg("; ".join).rename("affluent_neighbour_wards"))
    out = out.merge(best, on="code", how="left").merge(rich_wards, left_on="code", right_index=True, how="left")
    out["affluent_neighbour_wards"] = out["affluent_neighbour_wards"].fillna("")
    out["beside_affluent"] = out["neighbour_decile"].fillna(0) >= affluent_decile
    out["gap_lad"] = out["score"] - out["lad_score"]
    out["gap_neighbour"] = out["score"] - out["neighbour_score"]
    out["decile_gap"] = (out["neighbour_decile"] - out["decile"]).astype("Int64")
    out["gap"] = np.fmax(out["gap_lad"].where(out["in_affluent_lad"]),
                         out["gap_neighbour"].where(out["beside_affluent"]))
    pockets = out[(out["decile"] <= max_decile) & (out["in_affluent_lad"] | out["beside_affluent"])]
    pockets = pockets.assign(neighbour_decile=pockets["neighbour_decile"].astype("Int64"))
    return pockets.sort_values(["gap", "code"], ascending=[False, True]).reset_index(drop=True)


def next_door_pairs(areas: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Every adjacent pair, oriented more deprived first, with its gap; largest gap first.

    Columns: ``code, name, ward_name, lad_code, lad_name, score, decile, neighbour_code,
    neighbour_name, neighbour_ward_name, neighbour_lad_code, neighbour_lad_name, neighbour_score,
    neighbour_decile, score_gap, decile_gap, kind`` (``kind`` from ``links`` if present).
    Sorted by ``decile_gap`` then ``score_gap``, both descending.

    >>> areas = pd.DataFrame({"code": ["A", "B", "C"], "name": ["A", "B", "C"], "ward_name": ["w"] * 3,
    ...     "lad_code": ["L"] * 3, "lad_name": ["L"] * 3, "population": [1.0] * 3,
    ...     "score": [50.0, 5.0, 30.0], "decile": [1, 10, 3]})
    >>> next_door_pairs(areas, pd.DataFrame({"a": ["A", "B"], "b": ["B", "C"]}))[
    ...     ["code", "neighbour_code", "score_gap", "decile_gap"]]
      code neighbour_code  score_gap  decile_gap
    0    A              B       45.0           9
    1    C              B       25.0           7
    """
    cols = ["code", "name", "ward_name", "lad_code", "lad_name", "score", "decile"]
    left = links.merge(areas[cols], left_on="a", right_on="code", how="inner")
    both = left.merge(areas[cols].rename(columns=lambda c: f"_b_{c}"), left_on="b", right_on="_b_code", how="inner")
    dropped = len(links) - len(both)
    if dropped:
        raise DataError(f"{dropped} adjacency link(s) refer to neighbourhoods missing from the scores; "
                        "rebuild the adjacency for this vintage (`nlens data adjacency --rebuild`)")
    swap = both["score"] < both["_b_score"]
    out = pd.DataFrame(index=both.index)
    for c in cols:
        out[c] = both[c].where(~swap, both[f"_b_{c}"])
        nc = "neighbour_code" if c == "code" else f"neighbour_{c}"
        out[nc] = both[f"_b_{c}"].where(~swap, both[c])
    out["score_gap"] = out["score"] - out["neighbour_score"]
    out["decile_gap"] = (out["neighbour_decile"] - out["decile"]).astype(int)
    out["kind"] = both["kind"] if "kind" in both else "queen"
    order = ["code", "name", "ward_name", "lad_code", "lad_name", "score", "decile", "neighbour_code",
             "neighbour_name", "neighbour_ward_name", "neighbour_lad_code", "neighbour_lad_name", "neighbour_score",
             "neighbour_decile", "score_gap", "decile_gap", "kind"]
    return out[order].sort_values(["decile_gap", "score_gap", "code"], ascending=[False, False, True],
                                  ignore_index=True)


def next_door_by_lad(
    areas: pd.DataFrame, links: pd.DataFrame, *, deprived_decile: int = 2, min_decile_gap: int = 5
) -> pd.DataFrame:
    """Per LAD, the share of residents in a deprived neighbourhood next to a much less deprived one.

    A neighbourhood counts when its decile <= ``deprived_decile`` and some neighbour's decile
    >= its own + ``min_decile_gap``. Columns: ``lad_code, lad_name, population,
    deprived_population, gap_population, gap_share`` (of all residents, 0-1),
    ``gap_share_of_deprived`` (of residents of deprived neighbourhoods, 0-1), ``areas_with_gap``.
    Sorted by ``gap_share`` descending.

    >>> areas = pd.DataFrame({"code": ["A", "B", "C"], "name": ["A", "B", "C"], "ward_name": ["w"] * 3,
    ...     "lad_code": ["L"] * 3, "lad_name": ["L"] * 3, "population": [100.0, 100.0, 200.0],
    ...     "score": [50.0, 5.0, 45.0], "decile": [1, 10, 2]})
    >>> next_door_by_lad(areas, pd.DataFrame({"a": ["A"], "b": ["B"]}))[
    ...     ["deprived_population", "gap_population", "gap_share", "gap_share_of_deprived"]]
       deprived_population  gap_population  gap_share  gap_share_of_deprived
    0                300.0           100.0       0.25               0.333333
    """
    if not 1 <= deprived_decile <= 9 or not 1 <= min_decile_gap <= 9:
        raise DataError(f"deprived_decile and min_decile_gap must be 1-9; got {deprived_decile}, {min_decile_gap}")
    nb = _both_ways(links).merge(areas[["code", "decile"]].rename(columns={"code": "neighbour",
                                                                         "decile": "nd"}), on="neighbour")
    top = nb.groupby("code")["nd"].max()
    out = areas[["code", "lad_code", "lad_name", "population", "decile"]].copy()
    out["top"] = out["code"].map(top)
    deprived = out["decile"] <= deprived_decile
    gap = deprived & (out["top"] >= out["decile"] + min_decile_gap)
    out["deprived_population"] = out["population"].where(deprived, 0.0)
    out["gap_population"] = out["population"].where(gap, 0.0)
    out["areas_with_gap"] = gap.astype(int)
    res = out.groupby(["lad_code", "lad_name"], as_index=False)[
        ["population", "deprived_population", "gap_population", "areas_with_gap"]].sum()
    res["gap_share"] = res["gap_population"] / res["population"]
    with np.errstate(invalid="ignore", divide="ignore"):
        res["gap_share_of_deprived"] = res["gap_population"] / res["deprived_population"]
    cols = ["lad_code", "lad_name", "population", "deprived_population", "gap_population", "gap_share",
            "gap_share_of_deprived", "areas_with_gap"]
    return res[cols].sort_values(["gap_share", "lad_code"], ascending=[False, True], ignore_index=True)


def filter_lad(frame: pd.DataFrame, lad: str | None, *, column: str = "lad") -> pd.DataFrame:
    """Rows whose ``{column}_code`` or ``{column}_name`` (case-insensitive) equals ``lad``.

    An unknown LAD raises :class:`DataError` listing close names.
    """
    if lad is None:
        return frame
    code, name = f"{column}_code", f"{column}_name"
    mask = frame[code].str.upper().eq(lad.upper()) | frame[name].str.casefold().eq(lad.casefold())
    if not mask.any():
        names = pd.Series(frame[name].unique())
        near = names[names.str.casefold().str.contains(lad.casefold()[:4], regex=False)]
        hint = f"; did you mean {examples(sorted(near))}?" if len(near) else ""
        raise DataError(f"no LAD called or coded {lad!r} in this vintage{hint} "
                        "(LADs are 2019 for IMD 2019/2015, 2024 for IMD 2025)")
    return frame[mask].reset_index(drop=True)
