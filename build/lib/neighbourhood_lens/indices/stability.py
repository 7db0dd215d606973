"""Stability of the left-behind list (2019 rule) when the IMD and CNI domain weights move.

For each Monte Carlo draw (weights jittered as in :mod:`.sensitivity`, one independent
factor :math:`U(1 - J, 1 + J)` per domain weight, rescaled to the original total):

1. the IMD 2019 of every LSOA is rebuilt from its seven exponentially transformed domain
   ranks with the jittered weights (preset ``imd2019``);
2. a ward's IMD is the population-weighted mean of its LSOAs' scores (best-fit LSOA 2011 ->
   ward 2017 lookup, ONS mid-2019 population), and the 7,427 wards are ranked;
3. the CNI 2019 is either rebuilt from its three exponentially transformed domain ranks with
   jittered weights over the 7,433 wards OCSI ranked (``cni="jitter"``, the default) or kept
   at its published rank (``cni="published"``);
4. a ward is left behind when its IMD rank :math:`\\le 0.1 \\times 7{,}427` **and** its CNI
   rank :math:`\\le 0.1 \\times 7{,}433`, exactly as :func:`neighbourhood_lens.deprivation.left_behind.
   double_disadvantage`.

The result has one row per ward that is left behind at baseline or in any draw, with
``p_left_behind`` (share of draws in which it is on the list), ``p_imd_top`` and
``p_cni_top``.

Notes
-----
The baseline is the rule applied to the *rebuilt* indices with the official weights (no
jitter). The rebuilt LSOA IMD differs from the published, 3-decimal score by at most 0.0005
(see :mod:`.presets`), so the baseline list is compared with the published 225 and any
difference is reported in ``attrs``. Ranks within a draw are ordinal (see :mod:`.sensitivity`).

References
----------
OCSI for Local Trust (2019), *Left behind? Understanding communities on the edge*.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from neighbourhood_lens.geo.geography import hierarchy

from ..errors import DataError
from .aggregate import evaluate, prepare
from .presets import preset
from .sensitivity import _ordinal_ranks_t, weight_draws

if TYPE_CHECKING:
    import duckdb

__all__ = ["left_behind_stability"]


def _ward_matrix(lsoa_codes: np.ndarray, h: pd.DataFrame) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Sparse (wards x LSOAs) matrix of population shares, so ward score = M @ LSOA scores."""
    pos = pd.Index(lsoa_codes).get_indexer(h["lsoa11_code"])
    if (pos < 0).any():
        raise DataError(f"{int((pos < 0).sum())} LSOA(s) of the 2011 hierarchy have no rebuilt IMD 2019 score")
    wid, wards = pd.factorize(h["ward17_code"], sort=True)
    pop = h["population"].to_numpy(dtype=float)
    tot = np.bincount(wid, weights=pop)
    m = sparse.csr_matrix((pop / tot[wid], (wid, pos)), shape=(len(wards), len(lsoa_codes)))
    return m, np.asarray(wards)


def left_behind_stability(
    con: duckdb.DuckDBPyConnection,
    *,
    draws: int = 1000,
    weight_jitter: float = 0.2,
    seed: int = 1,
    cni: Literal["jitter", "published"] = "jitter",
    imd_share: float = 0.1,
    cni_share: float = 0.1,
    chunk: int = 100,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """How often each ward is left behind when the domain weights are jittered (module docstring)."""
    if cni not in ("jitter", "published"):
        raise DataError(f"cni must be 'jitter' or 'published'; got {cni!r}")
    if draws < 1:
        raise DataError(f"draws must be at least 1; got {draws}")
    start = time.perf_counter()
    imd = prepare(con, preset("imd2019"))
    h = hierarchy(con, 2011)
    m, wards = _ward_matrix(imd.codes, h)
    n_w = len(wards)
    cplan = prepare(con, preset("cni2019"))
    n_c = cplan.n
    cpos = pd.Index(cplan.codes).get_indexer(wards)  # ward -> row of the CNI index (-1: not ranked by OCSI)
    published = con.execute("SELECT ward17_code, CAST(cni_rank AS DOUBLE) AS r FROM cni2019_ward17").df()
    pub_rank = published.set_index("ward17_code")["r"].reindex(wards).to_numpy()
    rng = np.random.default_rng(seed)
    itw, ilw = weight_draws(imd, draws=draws + 1, jitter=weight_jitter, rng=rng)
    ctw, clw = weight_draws(cplan, draws=draws + 1, jitter=weight_jitter, rng=rng)
    # column 0 is the baseline (official weights)
    itw[:, 0], ilw[:, 0] = imd.top_weights(), imd.leaf_weights()
    ctw[:, 0], clw[:, 0] = cplan.top_weights(), cplan.leaf_weights()
    ileaf, cleaf = imd.transformed(), cplan.transformed()
    imd_cut, cni_cut = imd_share * n_w, cni_share * n_c
    in_imd = np.zeros((draws + 1, n_w), dtype=bool)
    in_cni = np.zeros((draws + 1, n_w), dtype=bool)
    for s in range(0, draws + 1, chunk):
        cols = np.arange(s, min(s + chunk, draws + 1))
        lsoa, _ = evaluate(imd, ileaf, leaf_weights=ilw[:, cols], top_weights=itw[:, cols])
        ward_rank = _ordinal_ranks_t(np.asarray(m @ lsoa).T)
        in_imd[cols] = ward_rank <= imd_cut
        if cni == "jitter":
            c, _ = evaluate(cplan, cleaf, leaf_weights=clw[:, cols], top_weights=ctw[:, cols])
            c_rank = _ordinal_ranks_t(c.T)
            in_cni[cols] = np.where(cpos >= 0, c_rank[:, np.maximum(cpos, 0)] <= cni_cut, False)
        else:
            in_cni[cols] = np.nan_to_num(pub_rank, nan=np.inf)[None, :] <= cni_cut
        if progress is not None:
            progress(len(cols) - (1 if s == 0 else 0))
    lb = in_imd & in_cni
    base = lb[0]
    p = lb[1:].mean(axis=0)
    keep = base | (p > 0)
    names = h.drop_duplicates("ward17_code").set_index("ward17_code")
    out = pd.DataFrame({
        "code": wards[keep],
        "name": names["ward17_name"].reindex(wards[keep]).to_numpy(),
        "lad_name": names["lad19_name"].reindex(wards[keep]).to_numpy(),
        "left_behind_baseline": base[keep],
        "p_left_behind": p[keep],
        "p_imd_top": in_imd[1:, keep].mean(axis=0),
        "p_cni_top": in_cni[1:, keep].mean(axis=0),
        "cni_rank_published": pd.array(pub_rank[keep], dtype="Int64"),
    }).sort_values(["p_left_behind", "code"], ascending=[False, True]).reset_index(drop=True)
    from neighbourhood_lens.deprivation.left_behind import left_behind

    official = set(left_behind(con, vintage=2019, imd_share=imd_share, cni_share=cni_share)["code"])
    rebuilt = set(wards[base])
    out.attrs.update(
        draws=draws, weight_jitter=weight_jitter, seed=seed, cni=cni, seconds=time.perf_counter() - start,
        n_wards=n_w, n_cni_wards=n_c, n_baseline=int(base.sum()), n_official=len(official),
        baseline_matches_official=rebuilt == official,
        baseline_not_official=sorted(rebuilt - official), official_not_baseline=sorted(official - rebuilt),
        n_always=int((base & (p == 1)).sum()), n_baseline_uncertain=int((base & (p < 1)).sum()),
        n_enter=int((~base & (p > 0)).sum()), n_ever=int(keep.sum()),
        sources=["imd2019_lsoa11", "cni2019_ward17", "lookup_lsoa11_ward17", "population2019_lsoa11"],
    )
    return out
