"""Inequality of neighbourhood scores: Theil T and L, decomposed between and within areas; Gini.

Each LSOA's score (IMD or a domain score; higher score = more deprived) is taken to apply
to each of its residents, so every measure is **population weighted**: LSOA *i* with
population :math:`w_i` and score :math:`x_i` counts as :math:`w_i` people with score
:math:`x_i`. With :math:`W = \\sum_i w_i` and :math:`\\mu = \\sum_i w_i x_i / W`:

.. math::

    T = \\frac{1}{W} \\sum_i w_i \\frac{x_i}{\\mu} \\ln \\frac{x_i}{\\mu}
    \\qquad (\\text{Theil T, } GE(1))

    L = \\frac{1}{W} \\sum_i w_i \\ln \\frac{\\mu}{x_i}
    \\qquad (\\text{Theil L, mean log deviation, } GE(0))

For a partition into groups *g* (wards, LADs, regions) with population share
:math:`p_g = W_g / W`, mean :math:`\\mu_g` and score share :math:`s_g = p_g \\mu_g / \\mu`,
both decompose exactly (Shorrocks 1980):

.. math::

    T = \\underbrace{\\sum_g s_g \\ln \\frac{\\mu_g}{\\mu}}_{\\text{between}}
      + \\underbrace{\\sum_g s_g T_g}_{\\text{within}}
    \\qquad
    L = \\underbrace{\\sum_g p_g \\ln \\frac{\\mu}{\\mu_g}}_{\\text{between}}
      + \\underbrace{\\sum_g p_g L_g}_{\\text{within}}

The population-weighted Gini coefficient (relative mean difference over all pairs of people):

.. math::

    G = \\frac{\\sum_i \\sum_j w_i w_j |x_i - x_j|}{2 W^2 \\mu}

Notes
-----
* Both Theil measures take logarithms, so every score must be strictly positive. IMD and
  income/employment/education/... scores are; the IoD health, crime (and, in some editions,
  other) domain scores are z-score-like and can be negative: such input raises
  :class:`~neighbourhood_lens.errors.DataError` rather than being shifted or dropped.
* Decomposition at nested levels (LSOA within ward within LAD within region): each level's
  between/within split is exact on its own; when the levels nest, the between component grows
  from coarse to fine levels and the differences are the nested contributions (region, LAD
  within region, ward within LAD, LSOA within ward). A group of a finer level that spans
  several groups of the next level (e.g. a best-fit ward split across two LADs) is treated as
  one part per coarser group, with a warning giving the count (:func:`nest_levels`).
* PySAL's ``inequality.theil.Theil``/``TheilD`` implement the unweighted T (every
  observation weight 1); the weighted T here equals PySAL's on the data expanded by the
  integer weights, which the tests check. PySAL has no Theil L.
* Gini: values are sorted once; ties contribute nothing whatever their order, so the result
  does not depend on tie-breaking. For equal weights it equals PySAL's ``Gini``.

References
----------
Theil, H. (1967). *Economics and Information Theory*. Amsterdam: North-Holland, ch. 4.
Shorrocks, A. F. (1980). The class of additively decomposable inequality measures.
*Econometrica* 48(3), 613-625.
Cowell, F. A. (2011). *Measuring Inequality*, 3rd ed. Oxford University Press, ch. 3 and
Technical Appendix A.5 (decomposition of the generalised entropy class).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, examples
from neighbourhood_lens.warehouse import require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "INDICES",
    "lsoa_scores",
    "MEASURES",
    "DECOMPOSITION_COLUMNS",
    "theil_t",
    "theil_l",
    "gini",
    "theil_by_group",
    "decompose",
    "nest_levels",
    "decompose_levels",
    "nested_contributions",
    "check_levels",
    "decompose_index",
]

MEASURES = ("theil_t", "theil_l")
#: Index id -> (warehouse table, LSOA vintage). Earlier editions (2004-2010) are on LSOA 2001,
#: which has no hierarchy; convert them first (see :mod:`.periphery`).
INDICES: dict[str, tuple[str, int]] = {
    "imd2015": ("imd2015_lsoa11", 2011),
    "imd2019": ("imd2019_lsoa11", 2011),
    "imd2025": ("imd2025_lsoa21", 2021),
}
DECOMPOSITION_COLUMNS = ["level", "measure", "total", "between", "within", "between_share"]


def _arrays(values: np.ndarray | pd.Series, weights: np.ndarray | pd.Series | None) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.shape != w.shape:
        raise DataError(f"values and weights differ in length: {x.shape[0]} vs {w.shape[0]}")
    if x.size == 0:
        raise DataError("no values to measure: the input is empty")
    bad = np.isnan(x) | np.isnan(w)
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} value(s) or weight(s) are missing (positions {examples(np.flatnonzero(bad))}); "
            "fill or remove them before measuring inequality"
        )
    if (w < 0).any() or w.sum() <= 0:
        raise DataError("weights must be non-negative with a positive total (populations)")
    nonpos = x <= 0
    if nonpos.any():
        raise DataError(
            f"Theil and Gini measures need strictly positive values (they take logs / shares); "
            f"{int(nonpos.sum())} value(s) are <= 0, e.g. {examples(x[nonpos])}. IoD health and crime "
            "domain scores are z-scores that can be negative: use ranks-based summaries or another domain"
        )
    return x, w


def theil_t(values: np.ndarray | pd.Series, weights: np.ndarray | pd.Series | None = None) -> float:
    """Population-weighted Theil T (GE(1)) of ``values``; 0 = perfect equality.

    >>> round(theil_t([1.0, 3.0]), 6)  # 0.25 ln 0.5 + 0.75 ln 1.5
    0.130812
    >>> theil_t([2.0, 2.0, 2.0])
    0.0
    """
    x, w = _arrays(values, weights)
    mu = np.average(x, weights=w)
    r = x / mu
    return float(np.average(r * np.log(r), weights=w)) + 0.0


def theil_l(values: np.ndarray | pd.Series, weights: np.ndarray | pd.Series | None = None) -> float:
    """Population-weighted Theil L (mean log deviation, GE(0)) of ``values``.

    >>> round(theil_l([1.0, 4.0]), 6)  # ln 2.5 - (ln 1 + ln 4) / 2
    0.223144
    """
    x, w = _arrays(values, weights)
    mu = np.average(x, weights=w)
    return float(np.average(np.log(mu / x), weights=w)) + 0.0


def gini(values: np.ndarray | pd.Series, weights: np.ndarray | pd.Series | None = None) -> float:
    """Population-weighted Gini coefficient of ``values`` (0 = equality, ->1 = concentration).

    .. math:: G = \\frac{\\sum_i w_i x_i (2 C_i - w_i - W)}{W \\sum_i w_i x_i}

    with values sorted ascending and :math:`C_i` the cumulative weight up to and including *i*.

    >>> gini([1.0, 3.0])  # |1 - 3| * 2 / (2 * 2**2 * 2)
    0.25
    >>> gini([1.0, 3.0], [3, 1]) == gini([1.0, 1.0, 1.0, 3.0])
    True
    """
    x, w = _arrays(values, weights)
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    c = np.cumsum(w)
    total = c[-1]
    return float(np.sum(w * x * (2 * c - w - total)) / (total * np.sum(w * x)))


def theil_by_group(frame: pd.DataFrame, *, value: str, weight: str, by: str | list[str]) -> pd.DataFrame:
    """Inequality among the LSOAs inside each group: one row per group.

    Columns: the ``by`` keys, ``population`` (sum of ``weight``), ``n_lsoas``, ``mean``
    (population-weighted), ``theil_t``, ``theil_l`` and ``gini`` of the group's members.

    >>> f = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [1.0, 3.0, 2.0, 2.0], "w": [1, 1, 1, 1]})
    >>> theil_by_group(f, value="x", weight="w", by="g").round(4)
       g  population  n_lsoas  mean  theil_t  theil_l  gini
    0  a         2.0        2   2.0   0.1308   0.1438  0.25
    1  b         2.0        2   2.0   0.0000   0.0000  0.00
    """
    keys = [by] if isinstance(by, str) else list(by)
    x, w = _arrays(frame[value], frame[weight])
    no_group = frame[keys].isna().any(axis=1).to_numpy()
    if no_group.any():
        raise DataError(
            f"{int(no_group.sum())} row(s) have no {'/'.join(keys)} code (rows {examples(frame.index[no_group])}); "
            "every LSOA must belong to a group, or the decomposition would silently leave it out"
        )
    work = frame[keys].copy()
    work["_w"], work["_wx"] = w, w * x
    sums = work.groupby(keys, sort=True)[["_w", "_wx"]].transform("sum")
    mu_g = sums["_wx"].to_numpy() / sums["_w"].to_numpy()
    r = x / mu_g
    work["_t"] = w * r * np.log(r)
    work["_l"] = w * np.log(1 / r)
    # Gini per group: sort by group then value, cumulative weight within group.
    work["_x"] = x
    srt = work.sort_values([*keys, "_x"], kind="stable")
    c = srt.groupby(keys, sort=False)["_w"].cumsum().to_numpy()
    tot = srt.groupby(keys, sort=False)["_w"].transform("sum").to_numpy()
    srt["_g"] = srt["_w"].to_numpy() * srt["_x"].to_numpy() * (2 * c - srt["_w"].to_numpy() - tot)
    out = srt.groupby(keys, sort=True).agg(
        population=("_w", "sum"), n_lsoas=("_w", "size"), _wx=("_wx", "sum"), _t=("_t", "sum"),
        _l=("_l", "sum"), _g=("_g", "sum"),
    )
    out["mean"] = out["_wx"] / out["population"]
    out["theil_t"] = out["_t"] / out["population"] + 0.0
    out["theil_l"] = out["_l"] / out["population"] + 0.0
    out["gini"] = out["_g"] / (out["population"] * out["_wx"]) + 0.0
    return out.reset_index()[[*keys, "population", "n_lsoas", "mean", "theil_t", "theil_l", "gini"]]


def decompose(frame: pd.DataFrame, *, value: str, weight: str, by: str) -> pd.DataFrame:
    """Exact between/within decomposition of Theil T and L for the partition ``by``.

    Returns two rows (``measure`` = ``theil_t``, ``theil_l``) with ``total``, ``between``,
    ``within`` (= total - between, computed as the weighted sum of group indices) and
    ``between_share`` (0-1). See the module docstring for the formulas.

    Two equal-sized groups, everyone within a group alike, one group twice as deprived:

    >>> f = pd.DataFrame({"g": ["a", "b"], "x": [1.0, 2.0], "w": [5.0, 5.0]})
    >>> decompose(f, value="x", weight="w", by="g").round(6)
       measure     total   between  within  between_share
    0  theil_t  0.056633  0.056633     0.0            1.0
    1  theil_l  0.058892  0.058892     0.0            1.0
    """
    x, w = _arrays(frame[value], frame[weight])
    groups = theil_by_group(frame, value=value, weight=weight, by=by)
    total_w, mu = w.sum(), np.average(x, weights=w)
    p = groups["population"].to_numpy() / total_w
    mu_g = groups["mean"].to_numpy()
    s = p * mu_g / mu
    rows = []
    for measure, between, within in (
        ("theil_t", np.sum(s * np.log(mu_g / mu)), np.sum(s * groups["theil_t"].to_numpy())),
        ("theil_l", np.sum(p * np.log(mu / mu_g)), np.sum(p * groups["theil_l"].to_numpy())),
    ):
        total = between + within
        rows.append((measure, total, between + 0.0, within + 0.0, between / total if total > 0 else np.nan))
    return pd.DataFrame(rows, columns=["measure", "total", "between", "within", "between_share"])


def nest_levels(frame: pd.DataFrame, levels: Sequence[str], *, on_split: str = "warn") -> pd.DataFrame:
    """Check that each level's codes nest in the next (coarser) level; handle splits explicitly.

    ``levels`` are code columns from finest to coarsest (``ward17_code, lad19_code,
    region19_code``). A code of one level found under several codes of the next is *split*.
    ``on_split='error'`` raises :class:`DataError` naming the count and examples;
    ``'warn'`` (default) warns likewise and returns a copy of ``frame`` in which each split
    code is replaced by one part per coarser code (``CODE|PARENT``), so the levels nest.

    >>> f = pd.DataFrame({"w": ["W1", "W1", "W2"], "l": ["L1", "L2", "L2"]})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     nest_levels(f, ["w", "l"])["w"].tolist()
    ['W1|L1', 'W1|L2', 'W2']
    """
    if on_split not in ("warn", "error"):
        raise DataError(f"on_split must be 'warn' or 'error', not {on_split!r}")
    out = frame.copy()
    blank = out[list(levels)].isna()
    if blank.any().any():
        counts = ", ".join(f"{c}: {int(n)}" for c, n in blank.sum().items() if n)
        raise DataError(f"rows without a code at some level ({counts}); nesting needs every level's code")
    for fine, coarse in zip(levels[:-1], levels[1:], strict=False):
        parents = out.groupby(fine)[coarse].nunique()
        split = parents[parents > 1].index
        if split.empty:
            continue
        msg = (f"{len(split)} {fine} area(s) span more than one {coarse} area, so {fine} does not nest "
               f"in {coarse}: {examples(sorted(split))}")
        if on_split == "error":
            raise DataError(msg + ". Use a nesting hierarchy (e.g. ward17,lad19,region19) or on_split='warn'")
        warnings.warn(msg + "; each is treated as one part per " + coarse, UserWarning, stacklevel=2)
        mask = isin(out[fine], split)
        out.loc[mask, fine] = out.loc[mask, fine].astype(str) + "|" + out.loc[mask, coarse].astype(str)
    return out


def decompose_levels(
    frame: pd.DataFrame, *, value: str, weight: str, levels: Sequence[str], names: Sequence[str] | None = None,
    on_split: str = "warn",
) -> pd.DataFrame:
    """Decompose Theil T and L at each of ``levels`` (finest to coarsest code columns).

    Returns :data:`DECOMPOSITION_COLUMNS`, one row per level and measure, in the order given;
    ``level`` is taken from ``names`` (default: the column names). Levels are nested first
    with :func:`nest_levels`.

    >>> f = pd.DataFrame({"ward": ["w1", "w1", "w2", "w2"], "lad": ["L", "L", "L", "L"],
    ...                   "x": [1.0, 1.0, 2.0, 2.0], "w": [1, 1, 1, 1]})
    >>> d = decompose_levels(f, value="x", weight="w", levels=["ward", "lad"])
    >>> d[["level", "measure", "between_share"]]
      level  measure  between_share
    0  ward  theil_t            1.0
    1  ward  theil_l            1.0
    2   lad  theil_t            0.0
    3   lad  theil_l            0.0
    """
    names = list(names or levels)
    if len(names) != len(levels):
        raise DataError(f"{len(levels)} levels but {len(names)} names")
    nested = nest_levels(frame, list(levels), on_split=on_split)
    parts = [decompose(nested, value=value, weight=weight, by=lv).assign(level=name)
             for lv, name in zip(levels, names, strict=True)]
    return pd.concat(parts, ignore_index=True)[DECOMPOSITION_COLUMNS]


def nested_contributions(table: pd.DataFrame, *, finest: str = "lsoa") -> pd.DataFrame:
    """Turn a :func:`decompose_levels` table (finest to coarsest) into nested shares.

    For levels ``ward, lad, region`` the components are: between regions; between LADs within
    regions; between wards within LADs; between ``finest`` units within wards. Each row has
    ``measure, component, value, share`` (share of the total, 0-1); shares sum to 1.

    >>> t = pd.DataFrame({"level": ["ward", "lad"], "measure": ["theil_t"] * 2, "total": [1.0, 1.0],
    ...                   "between": [0.7, 0.4], "within": [0.3, 0.6], "between_share": [0.7, 0.4]})
    >>> nested_contributions(t)[["component", "share"]]
                      component  share
    0               between lad    0.4
    1   between ward within lad    0.3
    2  between lsoa within ward    0.3
    """
    rows = []
    for measure, t in table.groupby("measure", sort=False):
        lv, btw, total = t["level"].tolist(), t["between"].to_numpy(), float(t["total"].iloc[0])
        rows.append((measure, f"between {lv[-1]}", btw[-1]))
        for k in range(len(lv) - 2, -1, -1):
            rows.append((measure, f"between {lv[k]} within {lv[k + 1]}", btw[k] - btw[k + 1]))
        rows.append((measure, f"between {finest} within {lv[0]}", total - btw[0]))
    return pd.DataFrame(rows, columns=["measure", "component", "value"]).assign(
        share=lambda d: d["value"] / d["measure"].map(table.groupby("measure")["total"].first())
    )


def _check_index(index: str) -> None:
    if index not in INDICES:
        hint = (" (that edition is on LSOA 2001 codes, which have no ward/LAD hierarchy here)"
                if index in ("imd2004", "imd2007", "imd2010") else "")
        raise DataError(f"unknown index {index!r}{hint}; valid indices: {', '.join(INDICES)}")


def lsoa_scores(con: duckdb.DuckDBPyConnection, *, index: str = "imd2019", domain: str = "imd") -> pd.DataFrame:
    """The LSOA hierarchy of ``index``'s vintage with the domain's ``score``, ``rank``, ``decile``.

    ``index`` is one of :data:`INDICES`; ``domain`` an IoD domain (``imd``, ``income``,
    ``employment``, ...). Higher score = more deprived; rank 1 = most deprived; decile 1 = most
    deprived 10% nationally (published values). ``population`` is the project default for the
    vintage (mid-2019 for LSOA 2011, Census 2021 for LSOA 2021). Every LSOA of the hierarchy must
    have a score: a missing one raises :class:`DataError` with the count and examples.
    """
    from neighbourhood_lens.geo.geography import hierarchy

    _check_index(index)
    table, vintage = INDICES[index]
    require_tables(con, [table])
    key = f"lsoa{str(vintage)[2:]}_code"
    cols = set(con.execute(f"DESCRIBE {table}").df()["column_name"])
    if f"{domain}_score" not in cols:
        have = sorted(c[: -len("_score")] for c in cols if c.endswith("_score"))
        known = f"{domain}_rank" in cols
        raise DataError(
            f"{index} has no {domain!r} score" + (" (only its ranks and deciles are loaded)" if known else "")
            + f"; domains with scores in {table}: {', '.join(have)}"
        )
    extra = [f"{domain}_{c}" for c in ("rank", "decile") if f"{domain}_{c}" in cols]
    scores = con.execute(f"SELECT {key}, {domain}_score AS score"
                         + "".join(f", {c} AS {c.split('_')[-1]}" for c in extra) + f" FROM {table}").df()
    h = hierarchy(con, vintage)
    out = h.merge(scores, on=key, how="left", validate="one_to_one")
    missing = out["score"].isna()
    if missing.any():
        raise DataError(f"{int(missing.sum())} LSOA(s) of the {vintage} hierarchy have no {index} {domain} score: "
                        f"{examples(out.loc[missing, key])}")
    return out


_KIND_ORDER = {"lsoa": 0, "msoa": 1, "ward": 2, "lad": 3, "region": 4}


def check_levels(index: str, levels: Sequence[str]) -> list:
    """Validate level names for ``index``: known, of the index's LSOA vintage, finest to coarsest.

    Returns the :class:`~neighbourhood_lens.geo.geography.Level` objects.

    >>> [lv.code for lv in check_levels("imd2019", ["ward17", "lad19", "region19"])]
    ['ward17_code', 'lad19_code', 'region19_code']
    """
    from neighbourhood_lens.geo.geography import level as get_level

    _check_index(index)
    if not levels:
        raise DataError("no levels given; e.g. --levels ward17,lad19,region19")
    vintage = INDICES[index][1]
    lvs = [get_level(name) for name in levels]
    wrong = [lv.name for lv in lvs if lv.lsoa_vintage != vintage]
    if wrong:
        same = [n for n, lv in _levels_of(vintage).items() if lv.kind != "lsoa"]
        raise DataError(f"level(s) {', '.join(wrong)} are not on the LSOA {vintage} geography of {index}; "
                        f"use {', '.join(same)}")
    ranks = [_KIND_ORDER[lv.kind] for lv in lvs]
    if ranks != sorted(ranks) or len(set(ranks)) != len(ranks):
        raise DataError(f"levels must run from finest to coarsest without repeats (e.g. ward17,lad19,region19); "
                        f"got {','.join(levels)}")
    return lvs


def _levels_of(vintage: int) -> dict:
    from neighbourhood_lens.geo.geography import LEVELS

    return {n: lv for n, lv in LEVELS.items() if lv.lsoa_vintage == vintage}


def decompose_index(
    con: duckdb.DuckDBPyConnection, *, index: str = "imd2019", domain: str = "imd",
    levels: Sequence[str] = ("ward17", "lad19", "region19"), on_split: str = "warn",
) -> pd.DataFrame:
    """The decomposition table (:data:`DECOMPOSITION_COLUMNS`) of an index's LSOA scores.

    Weights: the project's default population for the index's LSOA vintage. Levels are
    checked with :func:`check_levels` and nested with :func:`nest_levels`.
    """
    lvs = check_levels(index, levels)
    frame = lsoa_scores(con, index=index, domain=domain)
    return decompose_levels(frame, value="score", weight="population", levels=[lv.code for lv in lvs],
                            names=[lv.name for lv in lvs], on_split=on_split)
