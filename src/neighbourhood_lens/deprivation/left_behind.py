"""Double disadvantage: the "left behind" neighbourhoods.

Local Trust and OCSI defined England's **left-behind neighbourhoods** as areas in the most
deprived 10% on the Index of Multiple Deprivation *and* the highest-need 10% on the
Community Needs Index ("double disadvantage").

Two vintages are implemented:

``2019`` (the published 225)
    Units: wards, 2017 boundaries. Ward IMD 2019 score = population-weighted mean of the
    scores of its LSOAs (best-fit LSOA 2011 -> ward 2017 lookup; ONS mid-2019 population).
    Wards are ranked by that score (rank 1 = most deprived; ties share the lowest rank).
    Left behind = ward IMD rank <= ``imd_share`` x N_wards **and** published CNI 2019 rank
    <= ``cni_share`` x N_CNI, where N_CNI is the number of wards OCSI ranked.

``2023`` (its successor)
    Units: LSOAs, 2021 boundaries. Left behind = published IoD2025 IMD rank
    <= ``imd_share`` x 33,755 (for 0.1, exactly IMD decile 1) **and** CNI 2023 rank
    <= ``cni_share`` x N (equal-count deciles of CNI rank, rank 1 = highest need).

Notes
-----
With the mirror's official inputs the 2019 rule yields 225 wards, the figure in Local
Trust's papers; the test suite checks it. Six wards (City of London) have IMD but no CNI
2019 value and can never qualify; twelve CNI wards have codes absent from the 2017 lookup.

References
----------
OCSI for Local Trust (2019), *Left behind? Understanding communities on the edge*, and
*Community Needs Index: measuring social and cultural factors*.
Local Trust (2024), *A neighbourhood lens* (policy paper).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError, examples
from neighbourhood_lens.geo.geography import equal_count_decile, hierarchy, share_rank, weighted_mean
from neighbourhood_lens.warehouse import require_tables, scalar

if TYPE_CHECKING:
    import duckdb

__all__ = ["VINTAGES", "OUTPUT_COLUMNS", "score_wards_2019", "double_disadvantage",
           "left_behind_scores", "left_behind", "summary_by_region"]

VINTAGES = (2019, 2023)
OUTPUT_COLUMNS = [
    "code", "name", "lad_code", "lad_name", "region_code", "region_name", "population",
    "imd_score", "imd_rank", "imd_decile", "cni_score", "cni_rank", "cni_decile",
    "civic_assets_score", "connectedness_score", "engaged_community_score",
    "in_imd_share", "in_cni_share", "left_behind",
]


def score_wards_2019(lsoas: pd.DataFrame) -> pd.DataFrame:
    """Ward IMD 2019 scores and ranks from LSOA scores.

    ``lsoas`` has ``lsoa11_code, ward17_code, imd_score, population`` (and may carry LAD and
    region columns, taken from each ward's most populous LSOA). Returns one row per ward with
    ``imd_score`` (population-weighted mean), ``population``, ``n_lsoas`` and ``imd_rank``
    (1 = most deprived; ties share the lowest rank).

    >>> f = pd.DataFrame({"lsoa11_code": ["a", "b", "c"], "ward17_code": ["W1", "W1", "W2"],
    ...                   "imd_score": [10.0, 40.0, 30.0], "population": [1000, 1000, 500]})
    >>> score_wards_2019(f)[["ward17_code", "imd_score", "imd_rank"]]
      ward17_code  imd_score  imd_rank
    0          W1       25.0         2
    1          W2       30.0         1
    """
    out = weighted_mean(lsoas, value="imd_score", weight="population", by="ward17_code")
    extra = [c for c in lsoas.columns if c.startswith(("lad19_", "region19_", "ward17_name"))]
    if extra:
        # each ward's most populous LSOA (the first in file order among equals): one stable sort of
        # (ward, -population), the first row of each ward; out has one row per ward, sorted by code
        ward, names = pd.factorize(lsoas["ward17_code"], sort=True)
        order = np.lexsort((-lsoas["population"].to_numpy(dtype=float), ward))
        lead = order[np.r_[True, ward[order][1:] != ward[order][:-1]]]
        if not (names.to_numpy(dtype=object) == out["ward17_code"].to_numpy(dtype=object)).all():
            raise DataError("internal error: the ward means and the wards' lead LSOAs are not the same wards")
        for c in extra:
            out[c] = lsoas[c].iloc[lead].to_numpy()
    out["imd_rank"] = out["imd_score"].rank(ascending=False, method="min").astype(int)
    return out


def double_disadvantage(
    frame: pd.DataFrame,
    *,
    n_imd: int,
    n_cni: int,
    imd_share: float = 0.1,
    cni_share: float = 0.1,
) -> pd.DataFrame:
    """Flag areas in the top ``imd_share`` by IMD rank and top ``cni_share`` by CNI rank.

    ``frame`` has ``imd_rank`` and ``cni_rank`` (rank 1 = most deprived / highest need,
    national ranks among ``n_imd`` and ``n_cni`` areas). Adds ``in_imd_share``,
    ``in_cni_share`` and ``left_behind``. An area without a CNI rank is never left behind.

    >>> f = pd.DataFrame({"imd_rank": [1, 2, 9], "cni_rank": [1, 9, 1]})
    >>> double_disadvantage(f, n_imd=10, n_cni=10, imd_share=0.2, cni_share=0.2)["left_behind"].tolist()
    [True, False, False]
    """  # noqa: E501
    out = frame.copy()
    out["in_imd_share"] = share_rank(out["imd_rank"], n_imd, imd_share)
    cni = out["cni_rank"].to_numpy(dtype=float)
    out["in_cni_share"] = np.where(np.isnan(cni), False, share_rank(np.nan_to_num(cni, nan=np.inf), n_cni, cni_share))
    out["left_behind"] = out["in_imd_share"] & out["in_cni_share"]
    return out


def _by_code(frame: pd.DataFrame, key: str, codes: pd.Series, table: str) -> dict[str, np.ndarray]:
    """The columns of ``frame`` other than ``key`` for each of ``codes`` (NaN where absent): a left join
    on ``key``, which must be unique in ``frame`` (a repeated code is an error naming the table, not a
    silent duplication of rows)."""
    index = pd.Index(frame[key])
    if not index.is_unique:
        raise DataError(f"{table}: {key} repeats, e.g. {examples(index[index.duplicated()].unique())}")
    at = index.get_indexer(codes)
    found = at >= 0
    return {c: np.where(found, frame[c].to_numpy(dtype=float)[at], np.nan) for c in frame.columns if c != key}


def left_behind_scores(
    con: duckdb.DuckDBPyConnection,
    *,
    vintage: int = 2019,
    imd_share: float = 0.1,
    cni_share: float = 0.1,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every ward (2019) or LSOA (2023) with its IMD and CNI position and the flags.

    Columns: :data:`OUTPUT_COLUMNS`. Sorted by IMD rank. See the module docstring for the
    definitions; ``population`` overrides the default LSOA population (2019 only affects
    the ward scores; 2023 only the reported population).
    """
    if vintage not in VINTAGES:
        raise DataError(f"unknown vintage {vintage!r}; valid vintages: 2019, 2023")
    if vintage == 2019:
        require_tables(con, ["imd2019_lsoa11", "cni2019_ward17", "hierarchy_lsoa11"])
        h = hierarchy(con, 2011, population=population)
        imd = con.sql("SELECT lsoa11_code, imd_score FROM imd2019_lsoa11").to_arrow_table().to_pandas()
        lsoas = h.assign(**_by_code(imd, "lsoa11_code", h["lsoa11_code"], "imd2019_lsoa11"))
        wards = score_wards_2019(lsoas)
        cni = con.sql(
            "SELECT ward17_code, cni_score, cni_rank, civic_assets_score, connectedness_score, "
            "engaged_community_score FROM cni2019_ward17"
        ).to_arrow_table().to_pandas()
        n_cni = int(scalar(con, "SELECT max(cni_rank) FROM cni2019_ward17"))
        wards = wards.assign(**_by_code(cni, "ward17_code", wards["ward17_code"], "cni2019_ward17"))
        out = wards.rename(
            columns={"ward17_code": "code", "ward17_name": "name", "lad19_code": "lad_code",
                     "lad19_name": "lad_name", "region19_code": "region_code",
                     "region19_name": "region_name"}
        )
        n_imd = len(out)
    else:
        require_tables(con, ["imd2025_lsoa21", "cni2023_lsoa21", "hierarchy_lsoa21"])
        h = hierarchy(con, 2021, population=population)
        imd = con.sql("SELECT lsoa21_code, imd_score, imd_rank FROM imd2025_lsoa21").to_arrow_table().to_pandas()
        cni = con.sql(
            "SELECT lsoa21_code, cni_score, cni_rank, civic_assets_score, connectedness_score, "
            "engaged_community_score FROM cni2023_lsoa21"
        ).to_arrow_table().to_pandas()
        n_imd = int(scalar(con, "SELECT count(*) FROM imd2025_lsoa21"))
        n_cni = int(scalar(con, "SELECT count(*) FROM cni2023_lsoa21"))
        out = (
            h.assign(**_by_code(imd, "lsoa21_code", h["lsoa21_code"], "imd2025_lsoa21"),
                     **_by_code(cni, "lsoa21_code", h["lsoa21_code"], "cni2023_lsoa21"))
            .rename(
                columns={"lsoa21_code": "code", "lsoa21_name": "name", "lad24_code": "lad_code",
                         "lad24_name": "lad_name", "region24_code": "region_code",
                         "region24_name": "region_name"}
            )
        )
        missing = out["imd_rank"].isna()
        if missing.any():
            raise DataError(f"{int(missing.sum())} LSOA(s) of the 2021 hierarchy have no IMD 2025 rank")
    out["imd_decile"] = pd.array(equal_count_decile(out["imd_rank"], n_imd), dtype="Int64")
    out["cni_decile"] = pd.array(equal_count_decile(out["cni_rank"], n_cni), dtype="Int64")
    out = double_disadvantage(out, n_imd=n_imd, n_cni=n_cni, imd_share=imd_share, cni_share=cni_share)
    out["imd_rank"] = out["imd_rank"].astype(int)
    out["cni_rank"] = out["cni_rank"].astype("Int64")
    return out[OUTPUT_COLUMNS].sort_values(["imd_rank", "code"]).reset_index(drop=True)


def left_behind(
    con: duckdb.DuckDBPyConnection,
    *,
    vintage: int = 2019,
    imd_share: float = 0.1,
    cni_share: float = 0.1,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The left-behind areas only (see :func:`left_behind_scores`)."""
    scores = left_behind_scores(
        con, vintage=vintage, imd_share=imd_share, cni_share=cni_share, population=population
    )
    return scores[scores["left_behind"]].reset_index(drop=True)


def summary_by_region(frame: pd.DataFrame) -> pd.DataFrame:
    """Count and population of left-behind areas per region, plus an England total row.

    >>> f = pd.DataFrame({"region_name": ["A", "A", "B"], "population": [10.0, 20.0, 5.0]})
    >>> summary_by_region(f)
      region_name  areas  population
    0           A      2        30.0
    1           B      1         5.0
    2     England      3        35.0
    """
    by = frame.groupby("region_name", as_index=False).agg(
        areas=("population", "size"), population=("population", "sum")
    )
    total = pd.DataFrame(
        {"region_name": ["England"], "areas": [len(frame)], "population": [frame["population"].sum()]}
    )
    return pd.concat([by, total], ignore_index=True)
