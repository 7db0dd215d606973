"""Evaluation stage 2: comparators matched on the pre-period outcome level and trend.

For each treated area :math:`i` with start year :math:`g` the matching features are computed
from the panel years before :math:`g` (the pre-period :math:`\\mathcal{P}_g`):

.. math::

    \\text{level}_i = \\bar y_i = \\frac{1}{|\\mathcal{P}_g|} \\sum_{t \\in \\mathcal{P}_g} y_{it}, \\qquad
    \\text{trend}_i = \\frac{\\sum_{t \\in \\mathcal{P}_g} (t - \\bar t)(y_{it} - \\bar y_i)}
                          {\\sum_{t \\in \\mathcal{P}_g} (t - \\bar t)^2}

(the pre-period mean and the least-squares slope per year; the mean is less sensitive than
the last value to noise in one year, which would otherwise select comparators on their
transitory shocks and create a regression-to-the-mean dip), plus optional numeric
covariates (population, IMD decile ...). Every feature is divided by its standard deviation in
the comparator pool, and the ``k`` nearest pool areas in Euclidean distance are taken **with
replacement** (an area may serve several treated areas), keeping only those within the
``caliper`` (a distance in pool standard deviations). Categorical covariates (region,
rural-urban class) are matched exactly: the search runs within each category. Each treated
area's comparators get weight :math:`1 / m_i` (:math:`m_i` = comparators found), so the
weighted comparator mean estimates the treated areas' counterfactual (an ATT design).

The pool is every area of the panel that is not treated and not in the excluded set (the
halo ring of treated areas' neighbours): spill-overs would bias the comparison.

Balance is the standardised mean difference of each feature,

.. math:: d = \\frac{\\bar x_T - \\bar x_C}{\\sqrt{(s_T^2 + s_{C0}^2)/2}}

before matching (:math:`C` = the whole pool) and after (:math:`C` = the weighted matched
comparators), always over the pre-matching standard deviations :math:`s_T, s_{C0}` so the two
columns are comparable; :math:`|d| < 0.1` is the usual mark of good balance.

References
----------
Stuart, E. A. (2010), Matching methods for causal inference: a review and a look forward,
*Statistical Science* 25(1), 1-21. Austin, P. C. (2011), An introduction to propensity score
methods..., *Multivariate Behavioral Research* 46(3), 399-424 (SMD and the 0.1 threshold).
Abadie, A. and Imbens, G. W. (2006), Large sample properties of matching estimators for
average treatment effects, *Econometrica* 74(1), 235-267 (k-nearest-neighbour matching with
replacement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin

from ..errors import DataError, examples

__all__ = ["REASONS", "Matching", "MatchCache", "pre_features", "match", "balance_table", "describe_exclusions"]

#: Reasons a treated area is left out, in the order they are checked.
REASONS = {
    "start_outside": "start year outside the panel years",
    "few_pre": "too few pre-period years",
    "missing_pre": "outcome missing in a pre-period year",
    "missing_post": "no outcome in any post-period year",
    "no_comparator": "no comparator within the caliper",
}


@dataclass
class Matching:
    """What :func:`match` found.

    ``pairs``: ``treated, comparator, start, distance, weight`` (one row per match).
    ``status``: every treated area, ``code, start, status`` (``matched`` or ``excluded``),
    ``reason``, ``n_comparators``. ``balance``: see :func:`balance_table`. ``features``:
    the standardised features of treated and pool areas per cohort.
    """

    pairs: pd.DataFrame
    status: pd.DataFrame
    balance: pd.DataFrame
    features: pd.DataFrame = field(repr=False)


@dataclass
class MatchCache:
    """What :func:`match` derives from the panel alone, kept to share across many calls on the
    same panel, covariates and ``min_pre`` (the placebo draws): the panel's codes and years and,
    per start year, the features frame, its codes and which of them have a post-period outcome.
    Results are identical with or without it."""

    codes: set[str] | None = None
    years: np.ndarray | None = None
    cohorts: dict[int, tuple[pd.DataFrame, np.ndarray, np.ndarray]] = field(default_factory=dict)


def pre_features(panel: pd.DataFrame, *, start: int, min_pre: int = 2) -> pd.DataFrame:
    """Level (pre-period mean) and trend (least-squares slope per year) of every area.

    Pre-period = the panel years before ``start``. Areas missing a value in a pre-period year
    get NaN features. Returns ``code, level, trend``.

    >>> p = pd.DataFrame({"code": ["a"] * 3, "year": [2010, 2015, 2020], "value": [1.0, 2.0, 9.0]})
    >>> pre_features(p, start=2020)
      code  level  trend
    0    a    1.5    0.2
    """
    years = np.array(sorted(y for y in panel["year"].unique() if y < start))
    if len(years) < min_pre:
        raise DataError(f"start {start}: {len(years)} pre-period year(s) in the panel, at least {min_pre} needed")
    wide = panel[isin(panel["year"], years)].pivot(index="code", columns="year", values="value")
    wide = wide.reindex(columns=years)
    y = wide.to_numpy(dtype=float)
    t = years.astype(float) - years.mean()
    trend = ((y - np.nanmean(y, axis=1, keepdims=True)) * t).sum(axis=1) / (t**2).sum() if len(years) > 1 else 0.0
    trend = np.where(np.isnan(y).any(axis=1), np.nan, trend)
    return pd.DataFrame({"code": wide.index.to_numpy(), "level": y.mean(axis=1), "trend": trend})


def _smd(xt: np.ndarray, xc: np.ndarray, wc: np.ndarray | None, sd_t: float, sd_c: float) -> float:
    denom = np.sqrt((sd_t**2 + sd_c**2) / 2)
    mc = np.average(xc, weights=wc) if len(xc) else np.nan
    return float((xt.mean() - mc) / denom) if denom > 0 else 0.0


def balance_table(features: pd.DataFrame, pairs: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Standardised mean differences before and after matching (see module docstring).

    ``features`` has ``code, start, role`` (``treated``/``pool``) and the raw ``names``.
    Returns ``feature, mean_treated, mean_pool, mean_matched, smd_before, smd_after``.
    """
    rows = []
    t = features[features["role"] == "treated"]
    t = t[isin(t["code"], pairs["treated"]).to_numpy()]
    c = features[features["role"] == "pool"]
    w = pairs.groupby(["start", "comparator"], as_index=False)["weight"].sum()
    m = w.merge(c, left_on=["start", "comparator"], right_on=["start", "code"], how="left")
    c_pool = c[isin(c["start"], t["start"].unique())]
    for name in names:
        xt, xc, xm = (t[name].to_numpy(float), c_pool[name].to_numpy(float), m[name].to_numpy(float))
        sd_t, sd_c = (float(np.std(xt, ddof=1)) if len(xt) > 1 else 0.0), float(np.std(xc, ddof=1))
        rows.append({
            "feature": name, "mean_treated": xt.mean() if len(xt) else np.nan, "mean_pool": xc.mean(),
            "mean_matched": np.average(xm, weights=m["weight"]) if len(xm) else np.nan,
            "smd_before": _smd(xt, xc, None, sd_t, sd_c) if len(xt) else np.nan,
            "smd_after": _smd(xt, xm, m["weight"].to_numpy(float), sd_t, sd_c) if len(xt) else np.nan,
        })
    return pd.DataFrame(rows)


def match(
    panel: pd.DataFrame,
    treated: pd.DataFrame,
    *,
    exclude: Sequence[str] = (),
    k: int = 5,
    caliper: float = 0.5,
    covariates: pd.DataFrame | None = None,
    exact: Sequence[str] = (),
    min_pre: int = 2,
    pool: Sequence[str] | None = None,
    cache: MatchCache | None = None,
) -> Matching:
    """Match each treated area (``code, start``) to up to ``k`` pool areas within ``caliper``.

    ``panel`` is a validated panel (:func:`.panel.validate_panel`) that contains every
    treated code. ``exclude`` removes areas from the pool (the halo ring); ``pool``, if given,
    restricts it further. ``covariates`` has ``code`` and numeric columns to match on, plus
    the categorical columns named in ``exact``. Treated areas that cannot be matched are kept
    in ``status`` with their reason (see :data:`REASONS`), never dropped silently. ``cache``
    (a :class:`MatchCache`, filled on first use) shares the panel's features across calls with
    the same ``panel``, ``covariates`` and ``min_pre``.

    >>> p = pd.DataFrame({"code": list("aabbccdd"), "year": [1, 2] * 4,
    ...                   "value": [1.0, 2.0, 1.1, 2.1, 5.0, 9.0, 1.3, 2.2]})
    >>> m = match(p, pd.DataFrame({"code": ["a"], "start": [2]}), k=1, caliper=1.0, min_pre=1)
    >>> m.pairs[["treated", "comparator", "weight"]]
      treated comparator  weight
    0       a          b     1.0
    """
    from scipy.spatial import cKDTree

    if k < 1:
        raise DataError(f"k = {k}: the number of comparators per treated area must be at least 1")
    if not caliper > 0:
        raise DataError(f"caliper = {caliper}: must be a positive distance in pool standard deviations")
    cache = cache if cache is not None else MatchCache()
    if cache.codes is None:
        cache.codes = set(panel["code"].unique().tolist())
        cache.years = np.array(sorted(panel["year"].unique()))
    years = cache.years
    pool_codes = cache.codes - set(treated["code"].tolist()) - set(exclude)
    if pool is not None:
        pool_codes &= set(pool)

    cov = covariates.set_index("code") if covariates is not None else None
    numeric = [c for c in (cov.columns if cov is not None else []) if c not in exact]
    names = ["level", "trend", *numeric]
    status = treated[["code", "start"]].copy()
    status["status"], status["reason"], status["n_comparators"] = "excluded", "", 0
    pairs, feats = [], []
    for start, cohort in treated.groupby("start", sort=True):
        idx = status.index[status["start"] == start]
        pre, post = years[years < start], years[years >= start]
        if len(pre) == 0 or len(post) == 0:
            status.loc[idx, "reason"] = REASONS["start_outside"] + f" ({years.min()}-{years.max()})"
            continue
        if len(pre) < min_pre:
            status.loc[idx, "reason"] = REASONS["few_pre"] + f" ({len(pre)} before {start}, need {min_pre})"
            continue
        if start not in cache.cohorts:
            f = pre_features(panel, start=start, min_pre=min_pre).set_index("code")
            if cov is not None:
                f = f.join(cov, how="left")
            f_codes = f.index.to_numpy(dtype=object)
            cache.cohorts[start] = (f, f_codes, isin(f.index, panel.loc[panel["year"] >= start, "code"].unique()))
        f, f_codes, f_post = cache.cohorts[start]
        tf = f.reindex(cohort["code"])
        no_pre = tf[["level", "trend"]].isna().any(axis=1).to_numpy()
        status.loc[idx[no_pre], "reason"] = REASONS["missing_pre"]
        post_codes = set(f_codes[f_post].tolist())
        no_post = ~isin(cohort["code"], post_codes).to_numpy() & ~no_pre
        status.loc[idx[no_post], "reason"] = REASONS["missing_post"]
        pf = f[isin(f.index, pool_codes) & f_post].dropna(subset=names)
        if len(pf) < 2:
            raise DataError(f"start {start}: only {len(pf)} untreated area(s) outside the halo have complete "
                            "pre-period data; the comparator pool is too small")
        sd = pf[names].std(ddof=1).replace(0, 1.0).to_numpy(float)
        ok = ~no_pre & ~no_post
        if numeric:
            bad_cov = tf[numeric].isna().any(axis=1).to_numpy() & ok
            status.loc[idx[bad_cov], "reason"] = "covariate missing"
            ok &= ~bad_cov
        tcodes = cohort["code"].to_numpy()[ok]
        tX = tf.loc[tcodes, names].to_numpy(float) / sd
        pX = pf[names].to_numpy(float) / sd
        t_strata = tf.loc[tcodes, list(exact)].astype(str).agg("|".join, axis=1) if exact else pd.Series("", tcodes)
        p_strata = pf[list(exact)].astype(str).agg("|".join, axis=1) if exact else pd.Series("", pf.index)
        for stratum in pd.unique(t_strata.to_numpy()):
            ti = np.flatnonzero(t_strata.to_numpy() == stratum)
            pi = np.flatnonzero(p_strata.to_numpy() == stratum)
            if len(pi) == 0:
                continue
            kk = min(k, len(pi))
            dist, nn = cKDTree(pX[pi]).query(tX[ti], k=kk, distance_upper_bound=caliper)
            dist, nn = dist.reshape(len(ti), kk), nn.reshape(len(ti), kk)
            found = np.isfinite(dist)
            rows_t, cols = np.nonzero(found)
            n_found = found.sum(axis=1)
            pairs.append(pd.DataFrame({
                "treated": tcodes[ti][rows_t], "comparator": pf.index.to_numpy()[pi][nn[rows_t, cols]],
                "start": start, "distance": dist[rows_t, cols], "weight": 1.0 / n_found[rows_t],
            }))
        feats.append(pd.concat([
            tf.loc[tcodes, names].assign(role="treated"), pf[names].assign(role="pool")
        ]).rename_axis("code").reset_index().assign(start=start))
    pairs_df = (pd.concat(pairs, ignore_index=True) if pairs else
                pd.DataFrame(columns=["treated", "comparator", "start", "distance", "weight"]))
    counts = pairs_df.groupby("treated").size()
    status["n_comparators"] = status["code"].map(counts).fillna(0).astype(int)
    matched = status["n_comparators"] > 0
    status.loc[matched, ["status", "reason"]] = ["matched", ""]
    unmatched = ~matched & (status["reason"] == "")
    status.loc[unmatched, "reason"] = REASONS["no_comparator"] + f" ({caliper:g} SD)"
    features = (pd.concat(feats, ignore_index=True) if feats else
                pd.DataFrame(columns=["code", *names, "role", "start"]))
    balance = balance_table(features, pairs_df, names) if len(pairs_df) else pd.DataFrame(
        columns=["feature", "mean_treated", "mean_pool", "mean_matched", "smd_before", "smd_after"])
    return Matching(pairs=pairs_df.sort_values(["treated", "distance"]).reset_index(drop=True),
                    status=status.reset_index(drop=True), balance=balance, features=features)


def describe_exclusions(status: pd.DataFrame) -> list[str]:
    """One line per reason: count and the first codes (for reports and CLI warnings)."""
    out = []
    ex = status[status["status"] == "excluded"]
    for reason, g in ex.groupby("reason", sort=True):
        out.append(f"{len(g)} treated area(s) left out, {reason}: {examples(g['code'])}")
    return out
