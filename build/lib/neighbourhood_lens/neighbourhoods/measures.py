"""Measures of custom neighbourhoods: summaries, homogeneity, pocket preservation, left behind.

Re-exported by :mod:`neighbourhood_lens.neighbourhoods.build`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.geo.geography import equal_count_decile, weighted_mean

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "within_variance_share",
    "pocket_preservation",
    "neighbourhood_summary",
    "homogeneity_report",
    "left_behind_for_neighbourhoods",
]

CNI_COLUMNS = ["cni_score", "civic_assets_score", "connectedness_score", "engaged_community_score"]


def within_variance_share(frame: pd.DataFrame, *, value: str | list[str], weight: str, by: str) -> float:
    """Share of the population-weighted variance of ``value`` that lies within groups ``by``.

    .. math:: \\frac{W}{T} = \\frac{\\sum_g \\sum_{i \\in g} w_i \\lVert x_i - \\bar x_g \\rVert^2}
              {\\sum_i w_i \\lVert x_i - \\bar x \\rVert^2}

    0 = every group homogeneous; lower = more homogeneous groups.

    >>> f = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [0.0, 0.0, 2.0, 2.0], "w": [1.0] * 4})
    >>> within_variance_share(f, value="x", weight="w", by="g")
    0.0
    """
    cols = [value] if isinstance(value, str) else list(value)
    x = frame[cols].to_numpy(dtype=float)
    w = frame[weight].to_numpy(dtype=float)
    means = weighted_mean(frame, value=cols, weight=weight, by=by).set_index(by)[cols]
    xg = means.loc[frame[by]].to_numpy(dtype=float)
    overall = (w[:, None] * x).sum(axis=0) / w.sum()
    within = float((w[:, None] * (x - xg) ** 2).sum())
    total = float((w[:, None] * (x - overall) ** 2).sum())
    return within / total if total > 0 else 0.0


def pocket_preservation(
    frame: pd.DataFrame, *, by: str, score: str = "imd_score", decile: str = "imd_decile", weight: str = "population"
) -> float:
    """Share of people in decile-1 LSOAs who live in areas that are themselves in decile 1.

    ``frame`` has one row per LSOA: its group ``by``, its national ``decile`` (1 = most
    deprived 10% of LSOAs), ``score`` and ``weight``. Areas are scored by the
    population-weighted mean of ``score``, ranked among themselves (rank 1 = most deprived)
    and put in equal-count deciles (:func:`~neighbourhood_lens.geo.geography.equal_count_decile`).

    .. math:: \\frac{\\sum_i w_i [d_i = 1][D_{g(i)} = 1]}{\\sum_i w_i [d_i = 1]}

    >>> f = pd.DataFrame({"g": list("abcdefghij") * 2, "imd_score": [50.0] + [10.0] * 19,
    ...                   "imd_decile": [1] + [5] * 19, "population": [1.0] * 20})
    >>> pocket_preservation(f, by="g")
    1.0
    """
    areas = weighted_mean(frame, value=score, weight=weight, by=by)
    rank = areas[score].rank(ascending=False, method="min")
    areas["_d"] = equal_count_decile(rank, len(areas))
    top = frame[by].map(areas.set_index(by)["_d"]) == 1
    pocket = frame[decile].to_numpy() == 1
    w = frame[weight].to_numpy(dtype=float)
    denom = w[pocket].sum()
    return float(w[pocket & top.to_numpy()].sum() / denom) if denom > 0 else float("nan")


def _lsoa_frame(con: duckdb.DuckDBPyConnection, assignment: pd.DataFrame, vintage: int) -> pd.DataFrame:
    """LSOAs of ``assignment`` with hierarchy, IMD score/rank/decile and (2021) CNI columns."""
    from neighbourhood_lens.geo.geography import hierarchy

    yy = str(vintage)[2:]
    key = f"lsoa{yy}_code"
    h = hierarchy(con, vintage)
    imd = con.execute(f"SELECT {key}, imd_score, imd_rank, imd_decile FROM "
                      f"{'imd2019_lsoa11' if vintage == 2011 else 'imd2025_lsoa21'}").df()
    cols = [key, "neighbourhood_code"] + (["neighbourhood_name"] if "neighbourhood_name" in assignment else [])
    f = assignment[cols].merge(
        h, on=key, how="left", validate="one_to_one").merge(imd, on=key, how="left", validate="one_to_one")
    if vintage == 2021:
        cni = con.execute(f"SELECT lsoa21_code, {', '.join(CNI_COLUMNS)} FROM cni2023_lsoa21").df()
        f = f.merge(cni, on=key, how="left", validate="one_to_one")
    missing = f["imd_score"].isna() | f["population"].isna()
    if missing.any():
        raise DataError(f"{int(missing.sum())} LSOA(s) of the neighbourhoods have no IMD score or population")
    return f


def neighbourhood_summary(
    con: duckdb.DuckDBPyConnection, assignment: pd.DataFrame, *, vintage: int
) -> pd.DataFrame:
    """One row per neighbourhood: population, IMD and CNI scores, ranks and deciles among neighbourhoods.

    Columns: ``code, name, lad_code, lad_name, region_code, region_name, population, n_lsoas,
    imd_score, imd_rank, imd_decile, cni_score, cni_rank, cni_decile, civic_assets_score,
    connectedness_score, engaged_community_score``. Scores are population-weighted means of
    the LSOAs' (IMD 2025 and CNI 2023 for 2021; IMD 2019 for 2011); rank 1 = most deprived /
    highest need, among neighbourhoods; deciles are equal-count among neighbourhoods.

    For 2011, CNI 2019 exists only for 2017 wards: each neighbourhood takes the CNI of the
    ward holding most of its population (an approximation, stated in the docs).
    """
    yy = str(vintage)[2:]
    lad, region = ("lad19", "region19") if vintage == 2011 else ("lad24", "region24")
    f = _lsoa_frame(con, assignment, vintage)
    values = ["imd_score"] + (CNI_COLUMNS if vintage == 2021 else [])
    out = weighted_mean(f, value=values, weight="population", by="neighbourhood_code")
    lead = f.sort_values(["neighbourhood_code", "population", f"lsoa{yy}_code"], ascending=[True, False, True])
    lead = lead.drop_duplicates("neighbourhood_code")
    if "neighbourhood_name" not in lead:
        lead = lead.assign(neighbourhood_name=lead["neighbourhood_code"])
    keep = ["neighbourhood_code", "neighbourhood_name", f"{lad}_code", f"{lad}_name", f"{region}_code",
            f"{region}_name"]
    out = out.merge(lead[keep], on="neighbourhood_code", how="left", validate="one_to_one")
    if vintage == 2011:
        ward = f.groupby(["neighbourhood_code", "ward17_code"], as_index=False)["population"].sum()
        ward = ward.sort_values(["neighbourhood_code", "population", "ward17_code"], ascending=[True, False, True])
        ward = ward.drop_duplicates("neighbourhood_code")[["neighbourhood_code", "ward17_code"]]
        cni = con.execute(f"SELECT ward17_code, {', '.join(CNI_COLUMNS)} FROM cni2019_ward17").df()
        out = out.merge(ward.merge(cni, on="ward17_code", how="left"), on="neighbourhood_code", how="left")
    out = out.rename(columns={"neighbourhood_code": "code", "neighbourhood_name": "name",
                              f"{lad}_code": "lad_code", f"{lad}_name": "lad_name",
                              f"{region}_code": "region_code", f"{region}_name": "region_name"})
    n = len(out)
    out["imd_rank"] = out["imd_score"].rank(ascending=False, method="min").astype(int)
    out["imd_decile"] = equal_count_decile(out["imd_rank"], n)
    has = out["cni_score"].notna()
    out["cni_rank"] = out["cni_score"].rank(ascending=False, method="min").astype("Int64")
    out["cni_decile"] = pd.array([pd.NA] * n, dtype="Int64")
    if has.any():
        out.loc[has, "cni_decile"] = equal_count_decile(out.loc[has, "cni_rank"].astype(int), int(has.sum()))
    cols = ["code", "name", "lad_code", "lad_name", "region_code", "region_name", "population", "n_lsoas",
            "imd_score", "imd_rank", "imd_decile", "cni_score", "cni_rank", "cni_decile", "civic_assets_score",
            "connectedness_score", "engaged_community_score"]
    return out[cols].sort_values("code").reset_index(drop=True)


def homogeneity_report(
    con: duckdb.DuckDBPyConnection, assignment: pd.DataFrame, *, vintage: int,
    variables: list[str] | None = None,
) -> pd.DataFrame:
    """Custom neighbourhoods against wards on the same LSOAs, side by side.

    One row per unit (``neighbourhoods``, ``ward17``/``ward24``): ``areas``, ``median_population``,
    ``max_population``, ``within_share_imd`` (:func:`within_variance_share` of the LSOA IMD
    score), ``within_share_variables`` (the same over the standardised regionalisation
    variables, i.e. the objective relative to its total) and ``pocket_preservation``.
    Wards are restricted to the LSOAs in ``assignment`` (whole wards for a national run).
    """
    from neighbourhood_lens.neighbourhoods.inputs import DEFAULT_VARIABLES, lsoa_inputs

    ward = "ward17_code" if vintage == 2011 else "ward24_code"
    key = f"lsoa{str(vintage)[2:]}_code"
    f = _lsoa_frame(con, assignment, vintage)
    variables = list(variables or DEFAULT_VARIABLES[vintage])
    z, _ = lsoa_inputs(con, vintage=vintage, variables=variables)
    f = f.merge(z[[key, *variables]], on=key, how="left", validate="one_to_one")
    rows = []
    for unit, by in (("neighbourhoods", "neighbourhood_code"), (ward[:-5], ward)):
        pops = f.groupby(by)["population"].sum()
        rows.append({
            "unit": unit, "areas": len(pops), "median_population": float(pops.median()),
            "max_population": float(pops.max()),
            "within_share_imd": within_variance_share(f, value="imd_score", weight="population", by=by),
            "within_share_variables": within_variance_share(f, value=variables, weight="population", by=by),
            "pocket_preservation": pocket_preservation(f, by=by),
        })
    return pd.DataFrame(rows)


def left_behind_for_neighbourhoods(
    con: duckdb.DuckDBPyConnection, name: str, *, imd_share: float = 0.1, cni_share: float = 0.1
) -> pd.DataFrame:
    """Left-behind custom neighbourhoods of a stored set: top ``imd_share`` on IMD x top ``cni_share`` on CNI.

    Neighbourhoods are scored by :func:`neighbourhood_summary` and ranked among themselves
    (rank 1 = most deprived / highest need); the rule is
    :func:`~neighbourhood_lens.deprivation.left_behind.double_disadvantage` with :math:`N` = the number of
    neighbourhoods (IMD) and the number with a CNI value (CNI). Columns as
    :data:`neighbourhood_lens.deprivation.left_behind.OUTPUT_COLUMNS`, all neighbourhoods, sorted by IMD rank.
    """
    from neighbourhood_lens.deprivation.left_behind import OUTPUT_COLUMNS, double_disadvantage
    from neighbourhood_lens.geo.neighbourhood_sets import load_neighbourhoods

    assignment, vintage = load_neighbourhoods(con, name)
    s = neighbourhood_summary(con, assignment, vintage=vintage)
    n_cni = int(s["cni_score"].notna().sum())
    s["cni_rank"] = s["cni_rank"].astype(float)
    out = double_disadvantage(s, n_imd=len(s), n_cni=max(n_cni, 1), imd_share=imd_share, cni_share=cni_share)
    out["in_cni_share"] = np.where(out["cni_rank"].isna(), False, out["in_cni_share"])
    out["left_behind"] = out["in_imd_share"] & out["in_cni_share"]
    out["cni_rank"] = out["cni_rank"].astype("Int64")
    return out[OUTPUT_COLUMNS].sort_values(["imd_rank", "code"]).reset_index(drop=True)
