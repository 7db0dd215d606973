"""Presets: the published composites rebuilt from their published domains.

``imd2019`` / ``imd2025`` (MHCLG, LSOA 2011 / LSOA 2021)
    The seven domain ranks (rank 1 = most deprived), each exponentially transformed (see
    :mod:`.transforms`) and combined as a weighted sum with the official weights: Income 22.5%,
    Employment 22.5%, Education, Skills and Training 13.5%, Health Deprivation and Disability
    13.5%, Crime 9.3%, Barriers to Housing and Services 9.3%, Living Environment 9.3%.
    The official method exponentially transforms the *ranks of the domain scores*; the published
    domain ranks are exactly those ranks, and most domain scores are not in IoD2019 File 7's
    mirror (only income and employment), so the presets read the ranks.
``cni2019`` (OCSI, wards 2017) / ``cni2023`` (OCSI, LSOA 2021)
    The three domains (Civic Assets, Connectedness, Active and Engaged Community) combined
    with equal weights as the **sum of their exponentially transformed domain ranks**, each on
    the same 0-100 scale as the IoD's. For CNI 2019 the published domain scores *are* these
    transforms (they run 0.003-100 with identical distributions) and the published CNI score
    is their sum; for CNI 2023 the published domain scores are on other scales (civic assets
    a z-score), but the CNI score is still the sum of the exponentially transformed domain
    ranks. ``cni2019`` uses ``areas = "data"``: OCSI ranked 7,433 wards, twelve of which are
    absent from the best-fit LSOA -> ward 2017 lookup, and N = 7,433 is needed to reproduce
    the transform.

Notes
-----
Tied ranks. The mirror's IoD2019 File 7 has 4-56 tied ranks per domain (351 LSOAs), IoD2025
has 5, CNI 2019 2 and CNI 2023 18-42 per domain; each tie is followed by a gap (ranks *r, r*,
no *r + 1*). The transform ranks ties at their average (*r + 0.5*, the midpoint of the two
true ranks), which halves the worst error of a tied LSOA. :func:`compare_with_published`
reports how close each rebuild is; the numbers are in ``docs/indices.md``.

References
----------
MHCLG (2019), *The English Indices of Deprivation 2019: Technical Report*, sections 3.7-3.8;
MHCLG (2025), *The English Indices of Deprivation 2025: Technical Report*. OCSI for Local Trust
(2019), *Community Needs Index: measuring social and cultural factors*; OCSI (2023), *Community
Needs Index 2023* method note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError
from .spec import IndexSpec, parse_spec

if TYPE_CHECKING:
    import duckdb

__all__ = ["PRESETS", "IMD_WEIGHTS", "preset", "published", "compare_with_published", "top_decile_overlap"]

#: The official IoD domain weights (IoD2019 and IoD2025) as shares: 22.5%, 22.5%, 13.5%, 13.5%, 9.3% x 3.
IMD_WEIGHTS = {"income": 0.225, "employment": 0.225, "education": 0.135, "health": 0.135,
               "crime": 0.093, "housing": 0.093, "environment": 0.093}
_CNI_DOMAINS = ("civic_assets", "connectedness", "engaged_community")


def _imd(year: int, table: str, unit: str) -> dict:
    return {
        "name": f"IMD {year} rebuilt from its seven domain ranks",
        "description": f"MHCLG IoD{year}: exponentially transformed domain ranks, official weights, weighted sum",
        "unit": unit,
        "component": [{"name": d, "table": table, "column": f"{d}_rank", "need": "low", "transform": "exponential",
                       "weight": w} for d, w in IMD_WEIGHTS.items()],
        "aggregate": {"method": "weighted_sum"},
    }


def _cni(year: int, table: str, unit: str, areas: str) -> dict:
    return {
        "name": f"Community Needs Index {year} rebuilt from its three domain ranks",
        "description": f"OCSI CNI {year}: sum of the exponentially transformed domain ranks (equal weights)",
        "unit": unit,
        "areas": areas,
        "component": [{"name": d, "table": table, "column": f"{d}_rank", "need": "low", "transform": "exponential",
                       "weight": 1} for d in _CNI_DOMAINS],
        "aggregate": {"method": "weighted_sum"},
    }


#: Preset name -> (spec as a dict, published table, its code column).
PRESETS: dict[str, tuple[dict, str, str]] = {
    "imd2019": (_imd(2019, "imd2019_lsoa11", "lsoa11"), "imd2019_lsoa11", "lsoa11_code"),
    "imd2025": (_imd(2025, "imd2025_lsoa21", "lsoa21"), "imd2025_lsoa21", "lsoa21_code"),
    "cni2019": (_cni(2019, "cni2019_ward17", "ward17", "data"), "cni2019_ward17", "ward17_code"),
    "cni2023": (_cni(2023, "cni2023_lsoa21", "lsoa21", "unit"), "cni2023_lsoa21", "lsoa21_code"),
}


def preset(name: str) -> IndexSpec:
    """The spec of a preset.

    >>> s = preset("imd2019")
    >>> [c.weight for c in s.component], s.aggregate.method
    ([0.225, 0.225, 0.135, 0.135, 0.093, 0.093, 0.093], 'weighted_sum')
    """
    if name not in PRESETS:
        raise DataError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return parse_spec(PRESETS[name][0], source=f"preset {name}")


def published(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """The published composite of a preset: ``code, score, rank`` (rank 1 = most need)."""
    preset(name)
    _, table, code = PRESETS[name]
    kind = "imd" if name.startswith("imd") else "cni"
    return con.execute(
        f"SELECT {code} AS code, CAST({kind}_score AS DOUBLE) AS score, CAST({kind}_rank AS BIGINT) AS rank "
        f"FROM {table}").df()


def compare_with_published(built: pd.DataFrame, pub: pd.DataFrame) -> dict[str, float]:
    """How a rebuilt index matches the published one, on the areas both have.

    Returns ``n`` (areas compared), ``max_abs_diff`` and ``mean_abs_diff`` of the scores,
    ``share_rank_identical`` (rebuilt rank = published rank), ``share_rank_within_1`` and
    ``share_decile_identical`` (equal-count deciles of each rank over ``n``).

    >>> b = pd.DataFrame({"code": ["a", "b"], "score": [2.0, 1.0], "rank": [1, 2]})
    >>> compare_with_published(b, b.assign(score=[2.0004, 1.0]))["max_abs_diff"]
    0.0004
    """
    m = built[["code", "score", "rank"]].merge(pub, on="code", suffixes=("", "_pub"), validate="one_to_one")
    diff = np.abs(m["score"].to_numpy() - m["score_pub"].to_numpy())
    n = len(m)
    r, rp = m["rank"].to_numpy(), m["rank_pub"].to_numpy()
    return {
        "n": n,
        "max_abs_diff": round(float(diff.max()), 7),
        "mean_abs_diff": float(diff.mean()),
        "share_rank_identical": float(np.mean(r == rp)),
        "share_rank_within_1": float(np.mean(np.abs(r - rp) <= 1)),
        "share_decile_identical": float(np.mean(np.ceil(10 * r / n) == np.ceil(10 * rp / n))),
    }


def top_decile_overlap(built: pd.DataFrame, pub: pd.DataFrame) -> dict[str, float]:
    """How many areas of the built index's decile 1 are in the published composite's decile 1.

    Both deciles are equal-count over the areas the two share (published rank 1 = most need).
    Returns ``n_top`` (areas in each decile 1), ``overlap`` and ``share``, plus the Spearman
    rank correlation ``spearman``.

    >>> b = pd.DataFrame({"code": list("abcdefghij"), "score": range(10, 0, -1), "rank": range(1, 11)})
    >>> top_decile_overlap(b, b.assign(rank=[2, 1, 3, 4, 5, 6, 7, 8, 9, 10]))["overlap"]
    0
    """
    m = built[["code", "rank"]].merge(pub[["code", "rank"]], on="code", suffixes=("", "_pub"), validate="one_to_one")
    n = len(m)
    r = m["rank"].rank(method="first").to_numpy()
    rp = m["rank_pub"].rank(method="first").to_numpy()
    n_top = n // 10
    overlap = int(np.sum((r <= n_top) & (rp <= n_top)))
    spearman = float(np.corrcoef(r, rp)[0, 1])
    return {"n": n, "n_top": n_top, "overlap": overlap, "share": overlap / n_top if n_top else float("nan"),
            "spearman": spearman}
