"""How stable are an index's ranks? Monte Carlo weight jitter and variance-based (Sobol) indices.

For each of ``draws`` Monte Carlo draws, every weight (top-level and inside each domain) is
multiplied by an independent factor :math:`u \\sim U(1 - J, 1 + J)` and the weights of each
level are rescaled to their original total:

.. math:: w'_k = u_k w_k \\frac{\\sum_j w_j}{\\sum_j u_j w_j}.

Optionally the transform of every component (``transforms=[...]``) and the top-level
aggregation (``aggregations=[...]``) are also drawn, uniformly from the lists given. Each draw
is scored with :func:`.aggregate.evaluate` on all areas at once (draws are columns of a
matrix, processed in chunks to bound memory) and ranked. Per area the result gives the
baseline ``rank`` and ``score``, ``rank_median``, ``rank_p05``, ``rank_p95`` and
``p_top_decile``: the share of draws in which the area is among the :math:`\\lfloor N/10
\\rfloor` areas of most need.

:func:`sobol_indices` estimates first-order and total-order Sobol indices (Saltelli sampling,
Jansen estimators, via SALib) of the *mean absolute rank shift* from the baseline over all
areas, for every weight and for the transform and aggregation choices, saying which choice
moves the ranks most.

Notes
-----
Within a draw, ranks are ordinal so that exactly :math:`\\lfloor N/10 \\rfloor` areas are in
the top decile. Exactly equal scores (which jittered continuous weights practically never
give) are ordered by NumPy's introsort: reproducibly for a given input, but not by code.
Percentiles of ranks are linear interpolations between order statistics (NumPy's default). Ranks are held as
``uint16`` when :math:`N < 65{,}536` (1,000 draws x 33,755 LSOAs = 68 MB) and scores as
``float64`` only one chunk at a time.

References
----------
OECD/JRC (2008), *Handbook on Constructing Composite Indicators*, step 7 (uncertainty and
sensitivity analysis). Saisana, M., Saltelli, A. and Tarantola, S. (2005), Uncertainty and
sensitivity analysis techniques as tools for the quality assessment of composite indicators,
*J. R. Stat. Soc. A* 168(2), 307-323. Saltelli, A. et al. (2010), Variance based sensitivity
analysis of model output, *Computer Physics Communications* 181, 259-270. Herman, J. and Usher,
W. (2017), SALib, *JOSS* 2(9), 97.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from .aggregate import Plan, evaluate, rank_scores
from .spec import AGGREGATIONS, TRANSFORMS

__all__ = ["weight_draws", "ordinal_ranks", "draw_ranks", "sensitivity", "sobol_indices", "sensitivity_chart"]


def _groups(plan: Plan) -> list[tuple[str, list[int]]]:
    """Weight groups rescaled together: ('top', item indices) and ('leaf', leaf indices) per domain."""
    out: list[tuple[str, list[int]]] = [("top", list(range(len(plan.spec.top))))]
    for d in plan.spec.domain:
        out.append(("leaf", [plan.leaf_index(c.name) for c in d.component]))
    return out


def _apply_factors(plan: Plan, top_u: np.ndarray, leaf_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights (items x draws, leaves x draws) from factors, each level rescaled to its original total."""
    tw0, lw0 = plan.top_weights(), plan.leaf_weights()
    tw = tw0[:, None] * top_u
    tw *= tw0.sum() / tw.sum(axis=0, keepdims=True)
    lw = lw0[:, None] * leaf_u
    for kind, idx in _groups(plan):
        if kind == "leaf":
            lw[idx] *= lw0[idx].sum() / lw[idx].sum(axis=0, keepdims=True)
    return tw, lw


def weight_draws(plan: Plan, *, draws: int, jitter: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Jittered weights: top-level (items x draws) and component (leaves x draws), see module docstring."""
    if not 0 <= jitter < 1:
        raise DataError(f"weight jitter must be in [0, 1); got {jitter}")
    top_u = rng.uniform(1 - jitter, 1 + jitter, size=(len(plan.spec.top), draws))
    leaf_u = rng.uniform(1 - jitter, 1 + jitter, size=(len(plan.leaves), draws))
    return _apply_factors(plan, top_u, leaf_u)


def ordinal_ranks(scores: np.ndarray, *, dtype: type = np.int32) -> np.ndarray:
    """Rank 1 = highest score in each column, ranks 1..N all used (exact ties broken by the sort).

    >>> ordinal_ranks(np.array([[1.0, 5.0], [3.0, 4.0], [2.0, 0.0]])).tolist()
    [[3, 1], [1, 2], [2, 3]]
    """
    return _ordinal_ranks_t(scores.T, dtype=dtype).T


def _ordinal_ranks_t(scores_t: np.ndarray, *, dtype: type = np.int32) -> np.ndarray:
    """:func:`ordinal_ranks` of ``scores_t`` (draws x areas) along rows, contiguous for speed."""
    order = np.argsort(-np.ascontiguousarray(scores_t), axis=1)
    ranks = np.empty(order.shape, dtype=dtype)
    rows = np.arange(1, order.shape[1] + 1, dtype=dtype)[None, :]
    np.put_along_axis(ranks, order, np.broadcast_to(rows, order.shape), axis=1)
    return ranks


def _check_choices(values: Sequence[str] | None, allowed: tuple[str, ...], what: str) -> list[str]:
    values = list(values or [])
    bad = [v for v in values if v not in allowed]
    if bad:
        raise DataError(f"{what}: unknown choice(s) {', '.join(bad)}; valid: {', '.join(allowed)}")
    return values


def draw_ranks(
    plan: Plan,
    tw: np.ndarray,
    lw: np.ndarray,
    *,
    t_idx: np.ndarray | None = None,
    a_idx: np.ndarray | None = None,
    transforms: Sequence[str] = (),
    aggregations: Sequence[str] = (),
    chunk: int = 100,
    progress: Callable[[int], None] | None = None,
    reduce: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> np.ndarray | None:
    """Scores and ranks for every draw (columns of ``tw``/``lw``), chunk by chunk.

    Returns ranks as draws x areas (rows contiguous), rank 1 = highest score in the draw.

    ``t_idx``/``a_idx`` pick, per draw, a transform from ``transforms`` and an aggregation from
    ``aggregations`` (default: the spec's). Returns the rank matrix (draws x areas), or, with
    ``reduce(scores, columns)``, hands each chunk of scores to it and returns None.
    """
    n, d = plan.n, tw.shape[1]
    t_idx = np.zeros(d, dtype=int) if t_idx is None else t_idx
    a_idx = np.zeros(d, dtype=int) if a_idx is None else a_idx
    tlist = list(transforms) or [None]
    alist = list(aggregations) or [None]
    leaf = {t: plan.transformed(t) for t in sorted(set(tlist[i] for i in np.unique(t_idx)), key=str)}
    rank_dtype = np.uint16 if n < 65536 else np.int32
    ranks = None if reduce is not None else np.empty((d, n), dtype=rank_dtype)
    for start in range(0, d, chunk):
        cols = np.arange(start, min(start + chunk, d))
        scores = np.empty((n, len(cols)))
        for ti in np.unique(t_idx[cols]):
            for ai in np.unique(a_idx[cols]):
                sel = np.flatnonzero((t_idx[cols] == ti) & (a_idx[cols] == ai))
                if len(sel) == 0:
                    continue
                c = cols[sel]
                s, _ = evaluate(plan, leaf[tlist[ti]], leaf_weights=lw[:, c], top_weights=tw[:, c], method=alist[ai])
                scores[:, sel] = s
        if reduce is not None:
            reduce(scores, cols)
        else:
            ranks[cols] = _ordinal_ranks_t(scores.T, dtype=rank_dtype)
        if progress is not None:
            progress(len(cols))
    return ranks


def sensitivity(
    plan: Plan,
    *,
    draws: int = 1000,
    weight_jitter: float = 0.2,
    seed: int = 1,
    transforms: Sequence[str] | None = None,
    aggregations: Sequence[str] | None = None,
    chunk: int = 100,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Monte Carlo rank uncertainty of an index (see module docstring).

    Returns one row per area: ``code, score, rank, rank_median, rank_p05, rank_p95,
    p_top_decile`` sorted by baseline rank. ``frame.attrs`` holds ``draws``, ``seconds``
    (wall time of the draws), ``n_top`` (floor(N/10)) and ``n_uncertain_top_decile`` (areas
    with 0 < p_top_decile < 1).
    """
    if draws < 1:
        raise DataError(f"draws must be at least 1; got {draws}")
    tl = _check_choices(transforms, TRANSFORMS, "transforms")
    al = _check_choices(aggregations, AGGREGATIONS, "aggregations")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    tw, lw = weight_draws(plan, draws=draws, jitter=weight_jitter, rng=rng)
    t_idx = rng.integers(0, len(tl), size=draws) if tl else None
    a_idx = rng.integers(0, len(al), size=draws) if al else None
    ranks = draw_ranks(plan, tw, lw, t_idx=t_idx, a_idx=a_idx, transforms=tl, aggregations=al, chunk=chunk,
                       progress=progress)
    assert ranks is not None
    n_top = plan.n // 10
    p_top = (ranks <= n_top).mean(axis=0)
    q = np.percentile(ranks, [5, 50, 95], axis=0)
    seconds = time.perf_counter() - start
    base, _ = evaluate(plan, plan.transformed())
    out = pd.DataFrame({"code": plan.codes, "score": base[:, 0], "rank": rank_scores(base[:, 0]),
                        "rank_median": q[1], "rank_p05": q[0], "rank_p95": q[2], "p_top_decile": p_top})
    out = out.sort_values(["rank", "code"]).reset_index(drop=True)
    out.attrs.update(draws=draws, weight_jitter=weight_jitter, seed=seed, transforms=tl, aggregations=al,
                     seconds=seconds, n_top=n_top,
                     n_uncertain_top_decile=int(((p_top > 0) & (p_top < 1)).sum()),
                     notes=list(plan.notes), sources=list(plan.sources))
    return out


def sobol_indices(
    plan: Plan,
    *,
    base: int = 256,
    weight_jitter: float = 0.2,
    seed: int = 1,
    transforms: Sequence[str] | None = None,
    aggregations: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """First- and total-order Sobol indices of the mean absolute rank shift (see module docstring).

    Inputs: each weight's factor :math:`u \\in [1 - J, 1 + J]` (named ``weight:<name>``), and when
    given, the transform and aggregation choices (``transform``, ``aggregation``; a uniform
    variable on [0, k) whose integer part picks the choice). ``base`` (a power of 2) Saltelli
    base samples need ``base x (k + 2)`` model runs. Returns ``input, S1, S1_conf, ST, ST_conf``.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if base < 2 or base & (base - 1):
        raise DataError(f"the Sobol base sample size must be a power of 2 (e.g. 256); got {base}")
    if not 0 < weight_jitter < 1:
        raise DataError(f"weight jitter must be in (0, 1) for Sobol indices; got {weight_jitter}")
    tl = _check_choices(transforms, TRANSFORMS, "transforms")
    al = _check_choices(aggregations, AGGREGATIONS, "aggregations")
    top = plan.spec.top
    nested = [c for d in plan.spec.domain for c in d.component]
    names = [f"weight:{t.name}" for t in top] + [f"weight:{c.name}" for c in nested]
    bounds = [[1 - weight_jitter, 1 + weight_jitter]] * len(names)
    if len(tl) > 1:
        names.append("transform")
        bounds.append([0, len(tl)])
    if len(al) > 1:
        names.append("aggregation")
        bounds.append([0, len(al)])
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    x = sobol_sample.sample(problem, base, calc_second_order=False, seed=seed)
    d = x.shape[0]
    top_u = x[:, : len(top)].T
    leaf_u = np.ones((len(plan.leaves), d))
    for j, c in enumerate(nested):
        leaf_u[plan.leaf_index(c.name)] = x[:, len(top) + j]
    tw, lw = _apply_factors(plan, top_u, leaf_u)
    col = len(top) + len(nested)
    t_idx = a_idx = None
    if len(tl) > 1:
        t_idx = np.minimum(x[:, col].astype(int), len(tl) - 1)
        col += 1
    if len(al) > 1:
        a_idx = np.minimum(x[:, col].astype(int), len(al) - 1)
    base_score, _ = evaluate(plan, plan.transformed())
    base_rank = ordinal_ranks(base_score)[:, 0].astype(float)
    y = np.empty(d)

    def shift(scores: np.ndarray, cols: np.ndarray) -> None:
        y[cols] = np.abs(ordinal_ranks(scores) - base_rank[:, None]).mean(axis=0)

    draw_ranks(plan, tw, lw, t_idx=t_idx, a_idx=a_idx, transforms=tl if len(tl) > 1 else tl[:1],
               aggregations=al if len(al) > 1 else al[:1], progress=progress, reduce=shift)
    res = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed)
    out = pd.DataFrame({"input": names, "S1": res["S1"], "S1_conf": res["S1_conf"],
                        "ST": res["ST"], "ST_conf": res["ST_conf"]})
    out.attrs.update(runs=d, output="mean absolute rank shift from the baseline over all areas",
                     mean_output=float(y.mean()))
    return out.sort_values("ST", ascending=False).reset_index(drop=True)


def sensitivity_chart(frame: pd.DataFrame, path: str, *, title: str = "") -> None:
    """Rank uncertainty plot: baseline rank against the 5-95% rank interval and median, by rank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = frame.sort_values("rank")
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    ax.fill_between(f["rank"], f["rank_p05"], f["rank_p95"], color="#9ecae1", step="mid", label="5-95% of draws")
    ax.plot(f["rank"], f["rank_median"], color="#08519c", lw=0.8, label="median rank")
    n_top = frame.attrs.get("n_top", len(frame) // 10)
    ax.axhline(n_top, color="#a50f15", lw=0.8, ls="--", label=f"top decile (rank {n_top:,})")
    ax.axvline(n_top, color="#a50f15", lw=0.8, ls="--")
    ax.set_xlabel("baseline rank (1 = most need)")
    ax.set_ylabel("rank in the draws")
    ax.set_title(title or f"Rank uncertainty over {frame.attrs.get('draws', '?')} draws")
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

