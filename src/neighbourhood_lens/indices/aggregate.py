"""Building a composite index: read, treat missing values, transform, aggregate, rank.

The stages follow COINr's verbs (build -> normalise -> aggregate): :func:`prepare` reads and
checks every component and applies winsorising and the missing-value rules, giving a
:class:`Plan`; :func:`evaluate` turns a plan into scores for one or many weight vectors at
once (the Monte Carlo draws of :mod:`.sensitivity` are columns); :func:`build_index` gives the
published table ``code, score, rank, decile`` plus every component's transformed value.

Aggregation of values :math:`x_k` with weights :math:`w_k` (over the components an area has):

.. math::

    \\text{weighted\\_sum} = \\frac{\\sum_k w_k}{\\sum_{k\\,\\text{present}} w_k}
        \\sum_{k\\,\\text{present}} w_k x_k, \\qquad
    \\text{weighted\\_mean} = \\frac{\\sum_{k\\,\\text{present}} w_k x_k}{\\sum_{k\\,\\text{present}} w_k},
    \\qquad
    \\text{geometric\\_mean} = \\exp\\frac{\\sum_{k\\,\\text{present}} w_k \\ln x_k}{\\sum_{k\\,\\text{present}} w_k}.

With every component present the weighted sum is the plain :math:`\\sum_k w_k x_k` (the IoD's
combination of exponentially transformed domains with weights 22.5/22.5/13.5/13.5/9.3/9.3/9.3%).

Notes
-----
Missing values (rule per component, default the spec's ``missing``): ``error`` stops and
names the component, the count and example codes; ``mean`` fills with the mean of the
(winsorised) raw values; ``drop_component`` leaves the component out for that area and
re-weights the others as above; ``drop_area`` leaves the area out of the index. Every rule
that changes something is reported by count in ``frame.attrs["notes"]``. Ranks of the score:
rank 1 = highest score (most need), ties share the lowest rank; deciles are equal-count,
:math:`\\lceil 10 r / N \\rceil` (decile 1 = most need).

References
----------
OECD/JRC (2008), *Handbook on Constructing Composite Indicators*, sections 1.4 (imputation),
1.6-1.7 (weighting and aggregation). MHCLG (2019), *IoD2019 Technical Report*, section 3.8
(domain weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens.geo.geography import equal_count_decile

from ..errors import DataError, examples
from ._data import load_raw
from .spec import Component, Domain, IndexSpec
from .transforms import transform, winsorise

if TYPE_CHECKING:
    import duckdb

__all__ = ["Plan", "prepare", "combine", "evaluate", "rank_scores", "build_index"]


@dataclass
class Plan:
    """A spec with its data read and checked: raw values (areas x components) after winsorising and
    the missing rules, ready for transforming and weighting."""

    spec: IndexSpec
    codes: np.ndarray
    raw: np.ndarray
    leaves: list[Component]
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.codes)

    def leaf_index(self, name: str) -> int:
        return [c.name for c in self.leaves].index(name)

    def leaf_weights(self) -> np.ndarray:
        return np.array([c.weight for c in self.leaves], dtype=float)

    def top_weights(self) -> np.ndarray:
        return np.array([t.weight for t in self.spec.top], dtype=float)

    def transformed(self, override: str | None = None) -> np.ndarray:
        """Each component transformed (areas x components); ``override`` replaces every transform."""
        out = np.empty_like(self.raw)
        for i, c in enumerate(self.leaves):
            out[:, i] = transform(self.raw[:, i], override or c.transform, need=c.need, what=f"component {c.name!r}")
        return out


def prepare(con: duckdb.DuckDBPyConnection, spec: IndexSpec) -> Plan:
    """Read and check the spec's data, winsorise, and apply the missing-value rules."""
    all_codes, raw, notes, sources = load_raw(con, spec)
    leaves = spec.leaves()
    keep = np.ones(len(all_codes), dtype=bool)
    for i, c in enumerate(leaves):
        if c.winsorise is not None:
            raw[:, i], n_clipped = winsorise(raw[:, i], *c.winsorise)
            notes.append(f"component {c.name!r}: {n_clipped} value(s) winsorised at quantiles {list(c.winsorise)}")
        miss = np.isnan(raw[:, i])
        if not miss.any():
            continue
        rule = c.missing or spec.missing
        codes = all_codes[miss]
        if rule == "error":
            raise DataError(
                f"component {c.name!r}: {int(miss.sum())} area(s) have no value: {examples(codes)}. Set missing = "
                "\"mean\", \"drop_component\" or \"drop_area\" (for the component or the whole spec) to proceed"
            )
        if rule == "mean":
            raw[miss, i] = np.nanmean(raw[:, i])
            notes.append(f"component {c.name!r}: {int(miss.sum())} missing value(s) filled with the mean "
                         f"(e.g. {examples(codes, limit=3)})")
        elif rule == "drop_area":
            keep &= ~miss
            notes.append(f"component {c.name!r}: {int(miss.sum())} area(s) without a value left out of the index "
                         f"(e.g. {examples(codes, limit=3)})")
        else:
            notes.append(f"component {c.name!r}: {int(miss.sum())} area(s) without a value scored on their other "
                         f"components (e.g. {examples(codes, limit=3)})")
    if not keep.all():
        raw, all_codes = raw[keep], all_codes[keep]
    codes = all_codes
    empty = np.isnan(raw).all(axis=1)
    if empty.any():
        notes.append(f"{int(empty.sum())} area(s) have no component at all and are left out: "
                     f"{examples(codes[empty], limit=3)}")
        raw, codes = raw[~empty], codes[~empty]
    return Plan(spec=spec, codes=codes, raw=raw, leaves=leaves, notes=notes, sources=sources)


def combine(values: list[np.ndarray], weights: np.ndarray, method: str, *, what: str = "index") -> np.ndarray:
    """Aggregate ``values`` (each areas x draws, or areas x 1) with ``weights`` (items x draws).

    See the module docstring for the formulas; NaN values are left out and the weights re-scaled.

    >>> v = [np.array([[1.0], [4.0]]), np.array([[3.0], [np.nan]])]
    >>> w = np.array([[1.0], [3.0]])
    >>> combine(v, w, "weighted_sum")[:, 0].tolist(), combine(v, w, "weighted_mean")[:, 0].tolist()
    ([10.0, 16.0], [2.5, 4.0])
    >>> combine([np.array([[2.0]]), np.array([[8.0]])], np.array([[1.0], [1.0]]), "geometric_mean")[:, 0].tolist()
    [4.0]
    """
    if method not in ("weighted_sum", "weighted_mean", "geometric_mean"):
        raise DataError(f"{what}: unknown aggregation {method!r}; valid: weighted_sum, weighted_mean, geometric_mean")
    if all(x.shape[1] == 1 for x in values) and method != "geometric_mean":
        mat = np.concatenate(values, axis=1)
        if not np.isnan(mat).any():  # fast path: one matrix product for all draws
            out = mat @ weights
            return out if method == "weighted_sum" else out / weights.sum(axis=0)[None, :]
    acc = None
    present_w = None
    for k, x in enumerate(values):
        w = weights[k][None, :]
        miss = np.isnan(x)
        if method == "geometric_mean":
            if (x[~miss] <= 0).any():
                raise DataError(f"{what}: the geometric mean needs positive values, but item {k + 1} has values <= 0; "
                                "use transform = \"exponential\" or \"rank\" (both > 0), or another method")
            term = np.where(miss, 0.0, np.log(np.where(miss, 1.0, x))) * w
        else:
            term = np.where(miss, 0.0, x) * w
        pw = np.where(miss, 0.0, w)
        acc = term if acc is None else acc + term
        present_w = pw if present_w is None else present_w + pw
    assert acc is not None and present_w is not None
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "weighted_sum":
            total = weights.sum(axis=0)[None, :]
            if np.all(present_w == total):
                return acc
            return np.where(present_w > 0, acc * total / present_w, np.nan)
        out = np.where(present_w > 0, acc / present_w, np.nan)
        return np.exp(out) if method == "geometric_mean" else out


def evaluate(
    plan: Plan,
    leaf_values: np.ndarray,
    *,
    leaf_weights: np.ndarray | None = None,
    top_weights: np.ndarray | None = None,
    method: str | None = None,
    keep_parts: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Scores (areas x draws) from transformed components and weights (items x draws).

    Domains are aggregated with their own method and transformed (their ``transform``) draw by
    draw; the top level uses ``method`` (default: the spec's). With ``keep_parts`` the domain
    values are returned too (name -> areas x draws).
    """
    lw = plan.leaf_weights()[:, None] if leaf_weights is None else leaf_weights
    tw = plan.top_weights()[:, None] if top_weights is None else top_weights
    method = method or plan.spec.aggregate.method
    parts: dict[str, np.ndarray] = {}
    items: list[np.ndarray] = []
    for t in plan.spec.top:
        if isinstance(t, Domain):
            idx = [plan.leaf_index(c.name) for c in t.component]
            inner = combine([leaf_values[:, i][:, None] for i in idx], lw[idx], t.aggregate, what=f"domain {t.name!r}")
            val = transform(inner, t.transform, what=f"domain {t.name!r}") if t.transform != "none" else inner
            items.append(val)
            if keep_parts:
                parts[t.name] = val
        else:
            items.append(leaf_values[:, plan.leaf_index(t.name)][:, None])
    return combine(items, tw, method, what="the top level"), parts


def rank_scores(score: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score; ties share the lowest rank.

    >>> rank_scores(np.array([5.0, 9.0, 5.0, 1.0])).tolist()
    [2, 1, 2, 4]
    """
    return _rank_and_order(score)[0]


def _rank_and_order(score: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`rank_scores` and the order of the areas by rank, ties in their given order (None
    when a score is missing: then pandas ranks, as before, and there is no order).

    One sort of the negated scores gives both: a run of equal scores shares the rank of its first
    position (pandas' ``rank(ascending=False, method="min")``). The sort is NumPy's unstable one
    (introsort, several times faster than the stable sort on floats); the areas of each run of
    ties are then put back in their given order by :func:`_ties_in_given_order`, so the order is
    exactly that of a stable sort.
    """
    s = np.asarray(score, dtype=float)
    if np.isnan(s).any():
        return pd.Series(s).rank(ascending=False, method="min").to_numpy().astype(int), None
    order = np.argsort(-s)
    ordered = s[order]
    run_start = np.r_[True, ordered[1:] != ordered[:-1]] if len(s) else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(run_start)
    run = np.cumsum(run_start) - 1
    if len(starts) < len(s):
        _ties_in_given_order(order, starts, run)
    rank = np.empty(len(s), dtype=int)
    rank[order] = (starts + 1)[run]
    return rank, order


def _ties_in_given_order(order: np.ndarray, starts: np.ndarray, run: np.ndarray) -> None:
    """Sort ``order`` in place within each run of ties (runs beginning at ``starts``; ``run`` the
    run of each sorted position), leaving runs of one as they are: the order a stable sort gives.

    The positions in runs of two or more are sorted by the key ``run * n + order`` (one integer
    sort of those positions only; :math:`n^2` stays far below :math:`2^{63}`).

    >>> order = np.array([4, 2, 0, 3, 1])       # scores 9, 7, 7, 5, 5 at positions 4, 2, 0, 3, 1
    >>> _ties_in_given_order(order, np.array([0, 1, 3]), np.array([0, 1, 1, 2, 2]))
    >>> order.tolist()
    [4, 0, 2, 1, 3]
    """
    n = len(order)
    tied = (np.diff(np.r_[starts, n]) > 1)[run]
    key = run[tied].astype(np.int64) * n + order[tied]
    key.sort()
    order[tied] = key % n


def _codes_ascending(codes: np.ndarray | pd.api.extensions.ExtensionArray) -> bool:
    """Whether ``codes`` are sorted (then a stable order by rank is the order by rank, then code)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(codes) < 2:
        return True
    try:
        arr = pa.array(codes)
        return bool(pc.all(pc.less_equal(arr[:-1], arr[1:])).as_py())
    except (pa.ArrowException, TypeError):
        return bool(pd.Index(codes).is_monotonic_increasing)


def _frame_in_order(columns: dict[str, object], order: np.ndarray) -> pd.DataFrame:
    """``pd.DataFrame(columns)`` with its rows taken in ``order``. The float columns are taken
    straight into one 2-D block, which the frame keeps as it is (no copy to consolidate them); the
    others are inserted at their places."""
    floats = [k for k, v in columns.items() if isinstance(v, np.ndarray) and v.dtype == np.float64]
    block = np.empty((len(floats), len(order)))
    for j, k in enumerate(floats):
        np.take(columns[k], order, out=block[j], mode="clip")  # "clip": no buffer (order is in range)
    out = pd.DataFrame(block.T, columns=floats, copy=False)
    for i, (k, v) in enumerate(columns.items()):  # in column order, so every column before i is in place
        if k not in floats:
            out.insert(i, k, v.take(order) if isinstance(v, pd.api.extensions.ExtensionArray) else np.asarray(v)[order])
    return out


def build_index(source: duckdb.DuckDBPyConnection | Plan, spec: IndexSpec | None = None) -> pd.DataFrame:
    """Build the index: ``code, score, rank, decile`` and each component's (and domain's) transformed value.

    ``source`` is a warehouse connection (then pass ``spec``) or a prepared :class:`Plan`.
    Rows are sorted by rank, then code. ``frame.attrs`` holds ``notes`` (what the missing
    rules and winsorising changed), ``sources`` (warehouse tables read) and ``spec`` (the spec
    as a dict).
    """
    if isinstance(source, Plan):
        plan = source
    else:
        if spec is None:
            raise DataError("build_index: pass the spec (an IndexSpec) with a warehouse connection")
        plan = prepare(source, spec)
    leaf = plan.transformed()
    score, parts = evaluate(plan, leaf, keep_parts=True)
    s = score[:, 0]
    rank, order = _rank_and_order(s)
    columns = {"code": plan.codes, "score": s, "rank": rank, "decile": equal_count_decile(rank, len(rank))}
    for i, c in enumerate(plan.leaves):
        columns[c.name] = leaf[:, i]
    for name, v in parts.items():
        columns[name] = v[:, 0]
    if order is not None and _codes_ascending(plan.codes):  # the plan's codes are sorted (prepare sorts them)
        out = _frame_in_order(columns, order)
    else:
        out = pd.DataFrame(columns).sort_values(["rank", "code"]).reset_index(drop=True)
    out.attrs.update(notes=list(plan.notes), sources=list(plan.sources), spec=plan.spec.model_dump(mode="json"))
    return out
