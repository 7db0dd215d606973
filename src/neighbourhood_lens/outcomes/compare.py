"""Compare outcomes across groups of areas, with area (cluster) bootstrap confidence intervals.

For a group :math:`g` of areas :math:`a` (wards or LSOAs) and an outcome with LSOA numerators
:math:`n_i` and denominators :math:`d_i` (:mod:`.values`), the group's value is the ratio of sums

.. math:: \\hat\\theta_g = s \\frac{\\sum_{a \\in g} N_a}{\\sum_{a \\in g} D_a}, \\qquad
          N_a = \\sum_{i \\in a} n_i, \\; D_a = \\sum_{i \\in a} d_i

(for scores :math:`n_i = P_i v_i, d_i = P_i`: the population-weighted mean). The 95% interval is
the percentile interval of an **area bootstrap**: each draw resamples the group's areas with
replacement (multinomial weights :math:`w_{ba}`, :math:`\\sum_a w_{ba} = |g|`) and recomputes
:math:`\\theta_b = s \\sum_a w_{ba} N_a / \\sum_a w_{ba} D_a`. All draws of all outcomes are one
matrix product :math:`W N` (draws x areas times areas x outcomes), in chunks of draws to bound
memory. Gaps :math:`\\hat\\theta_g - \\hat\\theta_c` against a comparator :math:`c` take their
interval from the differences of independent draws of the two groups.

A plain verdict per outcome and comparator reads the gap's interval with the outcome's direction:
*worse* when the interval excludes 0 on the bad side, *better* on the good side, else *no clear
difference*.

Notes
-----
LSOAs without a value for an outcome count in neither sum; ``coverage_share`` is the share of
the group's residents whose LSOAs have a value. The bootstrap treats areas as independent and
ignores the uncertainty of modelled estimates (fuel poverty) and of the IoD indicators
themselves, so the intervals are about which areas happen to be in the group, not about
measurement error. Comparators overlapping the group (left-behind areas are part of England)
make the England gap's interval slightly conservative.

References
----------
Davison, A. C. and Hinkley, D. V. (1997), *Bootstrap Methods and their Application*, section
3.8 (multi-stage / cluster resampling). Local Trust (2024), *A neighbourhood lens*, on the
comparison with "other equally deprived neighbourhoods".
"""

from __future__ import annotations

import warnings as warnings_module
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.geo.geography import hierarchy
from neighbourhood_lens.outcomes.catalogue import Outcome, parse_outcomes
from neighbourhood_lens.outcomes.groups import LSOA_VINTAGE, Group, groups_datasets, resolve_groups
from neighbourhood_lens.outcomes.values import check_year, default_year, outcome_datasets, outcome_values

if TYPE_CHECKING:
    import duckdb

__all__ = ["COLUMNS", "EXTRA_COLUMNS", "OutcomeMatrix", "outcome_matrix", "compare_groups", "compare_outcomes",
           "bootstrap_ratio", "verdict", "verdict_lines", "count_verdicts"]

#: The comparison table's columns (shares 0-1), in order.
COLUMNS = ["outcome", "year", "group", "n_areas", "population", "value", "ci_low", "ci_high",
           "gap_vs_other_deprived", "gap_vs_england", "ratio_vs_england"]
#: Columns after :data:`COLUMNS`: gap intervals, verdicts, coverage, and what the value is.
EXTRA_COLUMNS = ["gap_vs_other_deprived_ci_low", "gap_vs_other_deprived_ci_high", "gap_vs_england_ci_low",
                 "gap_vs_england_ci_high", "verdict_vs_other_deprived", "verdict_vs_england", "coverage_share",
                 "unit", "higher_is_worse", "lsoa_sd", "label"]
_CHUNK = 100


@dataclass
class OutcomeMatrix:
    """Every outcome's LSOA numerators and denominators on one LSOA vintage, side by side.

    ``numerators`` and ``denominators`` are LSOAs x outcomes (0 where an LSOA has no value,
    with ``has_value`` False); rows follow ``codes``; ``population`` are the LSOAs' residents.
    """

    codes: np.ndarray
    outcomes: list[Outcome]
    years: list[int]
    numerators: np.ndarray
    denominators: np.ndarray
    has_value: np.ndarray
    population: np.ndarray
    region: np.ndarray
    datasets: list[str]
    notes: dict[str, list[str]]
    lsoa_sd: np.ndarray


def outcome_matrix(
    con: duckdb.DuckDBPyConnection, outcomes: list[Outcome], *, vintage: int, year: int | None = None,
    cache: dict | None = None,
) -> OutcomeMatrix:
    """Load ``outcomes`` for a left-behind ``vintage`` (2019 -> LSOA 2011, 2023 -> LSOA 2021).

    ``year`` (one for all) must be held by every outcome; ``None`` takes each outcome's
    :func:`.values.default_year`.
    """
    lv = LSOA_VINTAGE[vintage]
    if year is not None:
        lacking = [o.id for o in outcomes if year not in o.years]
        if lacking:
            if len(outcomes) == 1:
                check_year(outcomes[0], year)
            raise DataError(f"{len(lacking)} outcome(s) have no year {year}: {', '.join(lacking)}. Leave out --year "
                            "to take each outcome's default year, or choose outcomes that hold it.")
    cache = {} if cache is None else cache
    h = hierarchy(con, lv)
    key = f"lsoa{str(lv)[2:]}_code"
    region = h[f"region{'19' if lv == 2011 else '24'}_name"].to_numpy(dtype=object)
    n_l, k = len(h), len(outcomes)
    num, den, have = np.zeros((n_l, k)), np.zeros((n_l, k)), np.zeros((n_l, k), dtype=bool)
    years, notes, datasets, sds = [], {}, [], np.zeros(k)
    for j, o in enumerate(outcomes):
        y = year if year is not None else default_year(o, vintage)
        f = outcome_values(con, o, year=y, lsoa_vintage=lv, cache=cache)
        if not np.array_equal(f[key].to_numpy(dtype=object), h[key].to_numpy(dtype=object)):
            f = f.set_index(key).reindex(h[key]).reset_index()
        ok = f["value"].notna().to_numpy()
        num[ok, j] = f["numerator"].to_numpy(dtype=float)[ok]
        den[ok, j] = f["denominator"].to_numpy(dtype=float)[ok]
        have[:, j] = ok
        v, w = f["value"].to_numpy(dtype=float)[ok], den[ok, j]
        mean = np.average(v, weights=w) if w.sum() > 0 else np.nan
        sds[j] = np.sqrt(np.average((v - mean) ** 2, weights=w)) if w.sum() > 0 else np.nan
        years.append(y)
        notes[o.id] = [n for n in f.attrs.get("notes", []) if n]
        datasets += f.attrs["datasets"]
    return OutcomeMatrix(h[key].to_numpy(dtype=object), list(outcomes), years, num, den, have,
                         h["population"].to_numpy(dtype=float), region, list(dict.fromkeys(datasets)), notes, sds)


def bootstrap_ratio(
    num: np.ndarray, den: np.ndarray, *, draws: int, rng: np.random.Generator, scale: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Area-bootstrap draws of :math:`s \\sum N / \\sum D` for areas x outcomes arrays ``num``, ``den``.

    Returns draws x outcomes. Each draw resamples the areas with replacement (a multinomial
    count per area), all outcomes at once, ``_CHUNK`` draws at a time.

    >>> rng = np.random.default_rng(0)
    >>> b = bootstrap_ratio(np.array([[1.0], [1.0]]), np.array([[2.0], [2.0]]), draws=5, rng=rng)
    >>> b.ravel().tolist()
    [0.5, 0.5, 0.5, 0.5, 0.5]
    """
    n = num.shape[0]
    out = np.empty((draws, num.shape[1]))
    for start in range(0, draws, _CHUNK):
        b = min(_CHUNK, draws - start)
        picks = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        w = np.bincount(picks.ravel(), minlength=b * n).reshape(b, n).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + b] = (w @ num) / (w @ den)
    return out * scale


def verdict(gap_low: float, gap_high: float, *, higher_is_worse: bool, against: str) -> str:
    """``worse than X`` / ``better than X`` / ``no clear difference from X`` from a gap's interval.

    >>> verdict(0.01, 0.03, higher_is_worse=True, against="England")
    'worse than England'
    >>> verdict(-0.2, 0.1, higher_is_worse=True, against="England")
    'no clear difference from England'
    """
    if np.isnan(gap_low) or np.isnan(gap_high):
        return "no value"
    if gap_low > 0 or gap_high < 0:
        worse = (gap_low > 0) == higher_is_worse
        return f"{'worse' if worse else 'better'} than {against}"
    return f"no clear difference from {against}"


def _group_draws(m: OutcomeMatrix, rows: np.ndarray, clusters: np.ndarray, *, draws: int,
                 rng: np.random.Generator) -> dict:
    scale = np.array([o.scale for o in m.outcomes], dtype=float)
    codes, inv = np.unique(clusters, return_inverse=True)
    c = len(codes)
    n_a = np.column_stack([np.bincount(inv, weights=col, minlength=c) for col in m.numerators[rows].T])
    d_a = np.column_stack([np.bincount(inv, weights=col, minlength=c) for col in m.denominators[rows].T])
    pop = m.population[rows]
    covered = (m.has_value[rows] * pop[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = n_a.sum(axis=0) / d_a.sum(axis=0) * scale
        cov = covered / pop.sum() if pop.sum() else np.zeros(len(scale))
    boot = bootstrap_ratio(n_a, d_a, draws=draws, rng=rng, scale=scale) if c else np.full((draws, len(scale)), np.nan)
    return {"n_areas": c, "population": float(pop.sum()), "value": value, "boot": boot, "coverage": cov}


def compare_groups(
    m: OutcomeMatrix, groups: dict[str, Group], *, draws: int = 1000, seed: int = 1, by_region: bool = False,
) -> pd.DataFrame:
    """The comparison table (:data:`COLUMNS` then :data:`EXTRA_COLUMNS`) for loaded outcomes.

    With ``by_region`` a ``region`` column follows ``group`` and every group is split by the
    region of its LSOAs (gaps against the comparators of the same region). ``attrs["warnings"]``
    lists groups with partial or no coverage of an outcome.
    """
    if draws < 100:
        raise DataError(f"draws must be at least 100 for a 95% interval; got {draws}")
    rng = np.random.default_rng(seed)
    index = pd.Index(m.codes)
    parts: list[tuple[str, str | None, np.ndarray, np.ndarray]] = []
    for name, g in groups.items():
        key = g.members.columns[0]
        rows = index.get_indexer(g.members[key].to_numpy(dtype=object))
        if (rows < 0).any():
            raise DataError(f"group {name!r}: {int((rows < 0).sum())} LSOA(s) are not in the {key[:6]} hierarchy")
        clusters = g.members["cluster"].to_numpy(dtype=object)
        if by_region:
            reg = m.region[rows]
            for r in sorted(set(reg) - {None}):
                sel = reg == r
                parts.append((name, r, rows[sel], clusters[sel]))
        else:
            parts.append((name, None, rows, clusters))
    stats = {(g, r): _group_draws(m, rows, cl, draws=draws, rng=rng) for g, r, rows, cl in parts}
    with warnings_module.catch_warnings():
        warnings_module.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: outcomes a group lacks
        return _table(m, stats, by_region=by_region)


def _table(m: OutcomeMatrix, stats: dict, *, by_region: bool) -> pd.DataFrame:
    warnings: list[str] = []
    frames = []
    for (g, r), s in stats.items():
        od, en = stats.get(("other_deprived", r)), stats.get(("england", r))
        f = pd.DataFrame({"outcome": [o.id for o in m.outcomes], "year": m.years, "group": g})
        if by_region:
            f["region"] = r
        f["n_areas"], f["population"], f["value"] = s["n_areas"], s["population"], s["value"]
        f["ci_low"], f["ci_high"] = np.nanpercentile(s["boot"], [2.5, 97.5], axis=0) if s["n_areas"] else (np.nan,
                                                                                                            np.nan)
        for cname, c in (("other_deprived", od), ("england", en)):
            if c is None or c["n_areas"] == 0 or s["n_areas"] == 0:
                f[f"gap_vs_{cname}"] = np.nan
                f[f"gap_vs_{cname}_ci_low"] = f[f"gap_vs_{cname}_ci_high"] = np.nan
                continue
            f[f"gap_vs_{cname}"] = s["value"] - c["value"]
            diff = s["boot"] - c["boot"]
            f[f"gap_vs_{cname}_ci_low"], f[f"gap_vs_{cname}_ci_high"] = np.nanpercentile(diff, [2.5, 97.5], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            # a ratio only means something for positive quantities (not for z-scores around 0)
            f["ratio_vs_england"] = (np.where((en["value"] > 0) & (s["value"] >= 0), s["value"] / en["value"], np.nan)
                                     if en is not None else np.nan)
        f["coverage_share"] = s["coverage"]
        for cname, label in (("other_deprived", "equally deprived places"), ("england", "England")):
            f[f"verdict_vs_{cname}"] = [
                "" if g == cname else verdict(lo, hi, higher_is_worse=o.higher_is_worse, against=label)
                for o, lo, hi in zip(m.outcomes, f[f"gap_vs_{cname}_ci_low"], f[f"gap_vs_{cname}_ci_high"],
                                     strict=True)]
            if g == cname:
                f[[f"gap_vs_{cname}", f"gap_vs_{cname}_ci_low", f"gap_vs_{cname}_ci_high"]] = np.nan
        f["unit"] = [o.unit_label for o in m.outcomes]
        f["higher_is_worse"] = [o.higher_is_worse for o in m.outcomes]
        f["lsoa_sd"] = m.lsoa_sd
        f["label"] = [o.label for o in m.outcomes]
        where = f"{g}" + (f" in {r}" if r else "")
        for o, cov in zip(m.outcomes, s["coverage"], strict=True):
            if cov == 0:
                warnings.append(f"{o.id}: no value for any area of group {where} (coverage 0%); the row is empty")
            elif cov < 0.995:
                warnings.append(f"{o.id}: covers {cov:.1%} of the residents of group {where}")
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    lead = COLUMNS[:3] + (["region"] if by_region else []) + COLUMNS[3:]
    out = out[lead + EXTRA_COLUMNS]
    out.attrs["warnings"] = warnings
    return out


def compare_outcomes(
    con: duckdb.DuckDBPyConnection,
    *,
    vintage: int,
    outcomes: str | list[str] | None = None,
    year: int | None = None,
    groups: list[str | Group] | None = None,
    by_region: bool = False,
    draws: int = 1000,
    seed: int = 1,
    cache: dict | None = None,
) -> pd.DataFrame:
    """``nlens outcomes compare``: outcomes of left-behind areas against other deprived areas and England.

    ``outcomes``: ids (``"a,b"`` or a list) or ``"all"``/``None``; ``groups``: see
    :func:`.groups.resolve_groups` (``None`` = left_behind, other_deprived, england). Returns the
    table of :func:`compare_groups`; ``attrs`` carries ``datasets`` (every table read),
    ``warnings``, ``notes`` (per outcome: how it was placed on the vintage) and ``groups``
    (name -> description). A group with no value for any requested outcome is an error.
    """
    chosen = parse_outcomes(outcomes)
    resolved = resolve_groups(con, groups, vintage=vintage)
    m = outcome_matrix(con, chosen, vintage=vintage, year=year, cache=cache)
    table = compare_groups(m, resolved, draws=draws, seed=seed, by_region=by_region)
    empty = table.groupby("group")["coverage_share"].max()
    if (empty == 0).any():
        bad = list(empty[empty == 0].index)
        raise DataError(f"group(s) {', '.join(bad)} have no value for any of the outcomes asked for "
                        f"({', '.join(o.id for o in chosen)}); check the group's codes and the outcome's geography")
    lv = LSOA_VINTAGE[vintage]
    table.attrs["datasets"] = list(dict.fromkeys(
        [*groups_datasets(vintage), *m.datasets,
         *[d for o, y in zip(chosen, m.years, strict=True) for d in outcome_datasets(o, year=y, lsoa_vintage=lv)]]))
    table.attrs["notes"] = m.notes
    table.attrs["groups"] = {n: g.description for n, g in resolved.items()}
    return table


def verdict_lines(table: pd.DataFrame, *, group: str = "left_behind") -> list[str]:
    """One plain line per outcome for ``group``: the verdicts against equally deprived places and England.

    >>> t = pd.DataFrame({"outcome": ["x"], "year": [2019], "group": ["left_behind"], "value": [0.2],
    ...     "unit": ["share"], "verdict_vs_other_deprived": ["worse than equally deprived places"],
    ...     "verdict_vs_england": ["worse than England"]})
    >>> verdict_lines(t)
    ['x (2019): worse than equally deprived places; worse than England']
    """
    rows = table[table["group"] == group]
    if "region" in rows:
        rows = rows.assign(outcome=rows["outcome"] + " [" + rows["region"].astype(str) + "]")
    return [f"{r.outcome} ({r.year}): {r.verdict_vs_other_deprived}; {r.verdict_vs_england}"
            for r in rows.itertuples()]


def count_verdicts(table: pd.DataFrame, *, group: str = "left_behind") -> dict[str, int]:
    """How many outcomes ``group`` is worse / better / not clearly different on, against each comparator."""
    rows = table[table["group"] == group]
    out: dict[str, int] = {"outcomes": len(rows)}
    for c in ("other_deprived", "england"):
        v = rows[f"verdict_vs_{c}"].str.split(" ").str[0]
        out.update({f"{k}_vs_{c}": int((v == k).sum()) for k in ("worse", "better")})
        out[f"unclear_vs_{c}"] = int((v == "no").sum())
    return out
