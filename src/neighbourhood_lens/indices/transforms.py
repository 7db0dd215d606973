"""Normalising indicators so that they can be combined: every transform returns *higher = more need*.

Each function takes a 1-D array (one indicator over areas) or a 2-D array (areas x columns,
each column transformed on its own, e.g. one column per Monte Carlo draw). Missing values
(NaN) stay missing and are left out of ranks, means and ranges: ``N`` is the number of
areas with a value in that column.

First the values are *oriented*: ``need = "high"`` keeps them, ``need = "low"`` negates them
(a low value, e.g. rank 1 = most deprived, means more need). Then:

``exponential`` (the IoD transformation)
    Rank the oriented values so that rank :math:`r = 1` is the area with most need, set
    :math:`R = (N - r + 1)/N` and

    .. math:: X = -23 \\ln\\left(1 - R\\,(1 - e^{-100/23})\\right),

    which runs from just above 0 (least need) to exactly 100 (most need).
``rank``
    The normalised rank :math:`R = (N - r + 1)/N` in :math:`(0, 1]` (1 = most need).
``zscore``
    :math:`(v - \\bar v)/s` with the sample standard deviation :math:`s`.
``minmax``
    :math:`(v - \\min v)/(\\max v - \\min v)` in :math:`[0, 1]`.
``none``
    The oriented value itself.

Notes
-----
Ties share the average of the ranks they span ("fractional" ranking, as in the OECD/JRC
Handbook). For the IoD this matters only where a published file has tied domain ranks: the
mirror's IoD2019 File 7 has 2-56 tied ranks per domain, each tie followed by a gap (ranks
*r, r* and no *r + 1*); the average rank *r + 0.5* is then the midpoint of the two true ranks.

References
----------
MHCLG (2019), *The English Indices of Deprivation 2019: Technical Report*, section 3.7 and
Appendix E ("the exponential transformation"); the same formula is used by IoD2025 and by
OCSI's Community Needs Index. Noble, M. et al. (2006), Measuring multiple deprivation at the
small-area level, *Environment and Planning A* 38(1), 169-185.
OECD/JRC (2008), *Handbook on Constructing Composite Indicators*, section 1.5 (normalisation).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import DataError

__all__ = ["orient", "need_rank", "exponential", "transform", "winsorise"]

_EXP_CONST = 1 - np.exp(-100 / 23)


def orient(values: np.ndarray, need: Literal["low", "high"]) -> np.ndarray:
    """Values oriented so that higher = more need (``need="low"`` negates).

    >>> orient(np.array([1.0, 5.0]), "low").tolist()
    [-1.0, -5.0]
    """
    a = np.asarray(values, dtype=float)
    if need not in ("low", "high"):
        raise DataError(f"need must be 'low' or 'high'; got {need!r}")
    return a if need == "high" else -a


def need_rank(oriented: np.ndarray) -> np.ndarray:
    """Rank 1 = most need (highest oriented value), ties averaged, NaN stays NaN; along axis 0.

    The average rank of a run of ties from sorted position :math:`s` to :math:`e` (1-based) is
    :math:`(s + e) / 2`, as ``scipy.stats.rankdata(method="average")``; written in NumPy so that
    building an index does not import ``scipy.stats`` (1-2 s on its own). Whole-number values
    over a range of at most a few times their count (published ranks, counts) are ranked by
    counting (``bincount``, linear time) instead of sorting; both give the same ranks.

    >>> need_rank(np.array([3.0, 9.0, 3.0, np.nan])).tolist()
    [2.5, 1.0, 2.5, nan]
    """
    a = np.asarray(oriented, dtype=float)
    if a.ndim == 1 and not np.isnan(a).any():  # one column with every value: its ranks as they are
        ranks = _counted_ranks(a)
        return _sorted_ranks(a) if ranks is None else ranks
    flat = a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)
    out = np.full(flat.shape, np.nan)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        ok = ~np.isnan(col)
        every = bool(ok.all())
        v = col if every else col[ok]
        ranks = _counted_ranks(v)
        if ranks is None:
            ranks = _sorted_ranks(v)
        if every:
            out[:, j] = ranks
        else:
            out[ok, j] = ranks
    return out.reshape(a.shape)


def _sorted_ranks(v: np.ndarray) -> np.ndarray:
    """Average ranks, 1 = highest ``v``, by sorting (ties get the mean of the positions they span,
    whatever order the sort leaves them in)."""
    order = np.argsort(-v)
    ordered = v[order]
    run_start = np.r_[True, ordered[1:] != ordered[:-1]]
    starts = np.flatnonzero(run_start)
    ends = np.r_[starts[1:], len(v)]
    ranks = np.empty(len(v))
    ranks[order] = ((starts + 1 + ends) / 2.0)[np.cumsum(run_start) - 1]
    return ranks


def _counted_ranks(v: np.ndarray) -> np.ndarray | None:
    """Average ranks, 1 = highest ``v``, by counting, when ``v`` holds whole numbers over a range of
    at most ``4 len(v) + 1024``; otherwise None. The run of value :math:`x` spans positions
    :math:`s + 1 .. e` with :math:`s` the count of values above :math:`x` and :math:`e - s` its own count."""
    if len(v) == 0:
        return np.empty(0)
    hi, lo = v.max(), v.min()
    span = hi - lo
    if not (span <= 4 * len(v) + 1024 and abs(hi) < 2**52 and abs(lo) < 2**52) or not np.array_equal(v, np.floor(v)):
        return None
    key = (hi - v).astype(np.intp)  # 0 = most need
    counts = np.bincount(key, minlength=int(span) + 1)
    ends = np.cumsum(counts)[key]
    return (2 * ends - counts[key] + 1) / 2.0


def _count(a: np.ndarray) -> np.ndarray:
    return np.sum(~np.isnan(a), axis=0)


def exponential(oriented: np.ndarray) -> np.ndarray:
    """The IoD exponential transformation of oriented values (see module docstring).

    Computed in place in the array of ranks (NumPy ``out=``, no temporary arrays), each step the
    same floating-point operation as the formula written out, so the result is the same to the bit.

    >>> exponential(np.array([3.0, 2.0, 1.0])).round(3).tolist()   # 3 = most need
    [100.0, 24.681, 9.177]
    """
    a = np.asarray(oriented, dtype=float)
    n = _count(a)
    x = need_rank(a)  # a new array: rank r
    np.subtract(n, x, out=x)  # N - r
    np.add(x, 1, out=x)  # + 1
    np.divide(x, n, out=x)  # R
    np.multiply(x, _EXP_CONST, out=x)
    np.subtract(1, x, out=x)
    np.log(x, out=x)
    np.multiply(-23, x, out=x)
    return x


def transform(
    values: np.ndarray,
    method: str,
    *,
    need: Literal["low", "high"] = "high",
    what: str = "values",
) -> np.ndarray:
    """Transform ``values`` with ``method`` (see module docstring); result: higher = more need.

    >>> v = np.array([1.0, 2.0, 4.0])                 # ranks: 1 = most deprived
    >>> transform(v, "rank", need="low").round(3).tolist()
    [1.0, 0.667, 0.333]
    >>> transform(v, "minmax", need="low").round(3).tolist()
    [1.0, 0.667, 0.0]
    >>> transform(v, "zscore").round(3).tolist()
    [-0.873, -0.218, 1.091]
    """
    v = orient(values, need)
    if method == "none":
        return v
    if method == "exponential":
        return exponential(v)
    if method == "rank":
        n = _count(v)
        return (n - need_rank(v) + 1) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "zscore":
            mean, sd = np.nanmean(v, axis=0), np.nanstd(v, axis=0, ddof=1)
            _check_spread(sd, what=what, method=method)
            return (v - mean) / sd
        if method == "minmax":
            lo, hi = np.nanmin(v, axis=0), np.nanmax(v, axis=0)
            _check_spread(hi - lo, what=what, method=method)
            return (v - lo) / (hi - lo)
    raise DataError(f"{what}: unknown transform {method!r}; valid transforms: exponential, rank, zscore, minmax, none")


def _check_spread(spread: np.ndarray, *, what: str, method: str) -> None:
    s = np.atleast_1d(spread)
    if (~(s > 0)).any():
        raise DataError(f"{what}: every value is the same, so the {method} transform is undefined; "
                        "drop the component or use transform = \"none\"")


def winsorise(values: np.ndarray, lower: float, upper: float) -> tuple[np.ndarray, int]:
    """Clip values at their ``lower`` and ``upper`` quantiles; returns the values and how many were clipped.

    >>> winsorise(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), 0.0, 0.75)
    (array([1., 2., 3., 4., 4.]), 1)
    """
    a = np.asarray(values, dtype=float)
    lo, hi = np.nanquantile(a, [lower, upper])
    clipped = np.clip(a, lo, hi)
    changed = int(np.sum((clipped != a) & ~np.isnan(a)))
    return clipped, changed
