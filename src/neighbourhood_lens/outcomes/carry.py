"""Carry outcome counts across LSOA vintages and down from larger areas, preserving totals.

Counts (fuel-poor households, households, insolvencies) are **apportioned**, never averaged:
a source area's count is shared among the target LSOAs it maps to in proportion to their
population,

.. math::

    c_t = \\sum_{s \\to t} c_s \\frac{P_t}{\\sum_{t' \\leftarrow s} P_{t'}}

so an unchanged or merged LSOA passes its whole count on, a split LSOA shares it by the
population of its parts, and the national total is unchanged. The same formula places an MSOA
count in its LSOAs (shares of the MSOA's children, households or residents) and a ward count
in the LSOAs placed in the ward. Scores are carried by :func:`neighbourhood_lens.geo.vintages.convert`
(population-weighted means) instead.

Notes
-----
The pairs come from the ONS best-fit lookups (:func:`neighbourhood_lens.geo.vintages.lookup`);
for an irregular change (``X``) this shares a source among every target it overlaps by
population, the best possible without output-area detail. A target missing from ``weights``
gets no share (an error names it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import JoinError, examples

__all__ = ["apportion", "shares"]


def apportion(
    frame: pd.DataFrame,
    *,
    pairs: pd.DataFrame,
    weights: pd.Series,
    columns: list[str],
    source: str = "source_code",
    target: str = "target_code",
) -> pd.DataFrame:
    """Share each source row's ``columns`` among its targets in proportion to ``weights``.

    ``frame`` has column ``source`` and the count ``columns``; ``pairs`` maps ``source`` to
    ``target`` (many-to-many); ``weights`` (indexed by target code) are the targets' weights
    (population). A source whose targets all have zero weight shares equally. Sources absent
    from ``pairs`` raise :class:`JoinError`. Returns one row per target reached: ``target``
    and the apportioned ``columns`` (NaN where every source value was missing).

    >>> f = pd.DataFrame({"source_code": ["a", "b"], "n": [10.0, 6.0]})
    >>> p = pd.DataFrame({"source_code": ["a", "a", "b"], "target_code": ["A1", "A2", "B"]})
    >>> apportion(f, pairs=p, weights=pd.Series({"A1": 1.0, "A2": 4.0, "B": 2.0}), columns=["n"])
      target_code    n
    0          A1  2.0
    1          A2  8.0
    2           B  6.0
    """
    unknown = ~isin(frame[source], pairs[source])
    if unknown.any():
        raise JoinError(f"apportion: {int(unknown.sum())} source code(s) are not in the lookup: "
                        f"{examples(frame.loc[unknown, source])}")
    p = pairs if "share" in pairs else shares(pairs, weights, source=source, target=target)
    work = p.merge(frame[[source, *columns]], on=source, how="inner")
    out = pd.DataFrame({target: work[target].to_numpy()})
    for c in columns:
        v = work[c].to_numpy(dtype=float)
        out[c] = v * work["share"].to_numpy()
    return out.groupby(target, sort=True)[columns].sum(min_count=1).reset_index()


def shares(pairs: pd.DataFrame, weights: pd.Series, *, source: str = "source_code",
           target: str = "target_code") -> pd.DataFrame:
    """``pairs`` (deduplicated) with ``share``: each target's weight over the source's targets' total
    (equal shares where they are all zero). Missing weights raise :class:`JoinError`.

    >>> p = pd.DataFrame({"source_code": ["a", "a"], "target_code": ["A1", "A2"]})
    >>> shares(p, pd.Series({"A1": 1.0, "A2": 3.0}))["share"].tolist()
    [0.25, 0.75]
    """
    p = pairs[[source, target]].drop_duplicates().reset_index(drop=True)
    w = weights.reindex(pd.Index(p[target].to_numpy(dtype=object))).to_numpy(dtype=float)
    if np.isnan(w).any():
        miss = p.loc[np.isnan(w), target].unique()
        raise JoinError(f"apportion: no weight (population) for {len(miss)} target area(s): {examples(miss)}")
    codes, uniq = pd.factorize(p[source])
    tot = np.bincount(codes, weights=w)[codes]
    k = np.bincount(codes)[codes].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p["share"] = np.where(tot > 0, w / tot, 1.0 / k)
    return p
