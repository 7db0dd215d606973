"""One evaluation from treated areas and a panel: match, estimate, halo, placebo, MDE.

:func:`evaluate` runs the stages of :mod:`.panel`, :mod:`.match` and :mod:`.did` in the order
a user works and returns an :class:`Evaluation` holding every table the report and the CLI
show. Placebo inference follows Abadie, Diamond and Hainmueller (2010): the whole design is
re-run on random sets of untreated areas with the same profile (for each treated area, one of
its ``placebo_candidates`` nearest untreated areas, drawn at random, with the same start), and
the permutation p-value is

.. math:: p = \\frac{1 + \\#\\{r : |\\hat\\beta_r| \\ge |\\hat\\beta|\\}}{1 + R}.

References
----------
Abadie, A., Diamond, A. and Hainmueller, J. (2010), Synthetic control methods for comparative
case studies, *JASA* 105(490), 493-505 (placebo/permutation inference). Bertrand, M., Duflo,
E. and Mullainathan, S. (2004), How much should we trust differences-in-differences
estimates?, *QJE* 119(1), 249-275.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin

from ..errors import DataError, VintageError, examples
from .did import (
    EFFECT_COLUMNS,
    PanelRows,
    att_estimate,
    event_study,
    fit_did,
    min_detectable_effect,
    naive_did,
    stack_panel,
)
from .match import MatchCache, Matching, describe_exclusions, match

if TYPE_CHECKING:
    import duckdb

__all__ = ["Evaluation", "evaluate", "evaluate_in_warehouse", "halo_ring", "roles_table", "trends_table",
           "check_treated_unit", "area_covariates"]

ROLE_CODES = {"treated": 1, "halo": 2, "comparator": 3}


@dataclass
class Evaluation:
    """Everything one evaluation produced (see :func:`evaluate`)."""

    effects: pd.DataFrame
    matching: Matching
    halo_matching: Matching | None
    trends: pd.DataFrame
    roles: pd.DataFrame
    placebo: np.ndarray
    notes: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)


def halo_ring(adjacency: pd.DataFrame, treated: Sequence[str]) -> pd.DataFrame:
    """Untreated neighbours of treated areas: ``code, start`` (the earliest start among the
    treated areas each one touches). ``adjacency`` has pairs ``a, b``; ``treated`` has
    ``code, start``.

    >>> adj = pd.DataFrame({"a": ["x", "x", "y"], "b": ["y", "z", "w"]})
    >>> halo_ring(adj, pd.DataFrame({"code": ["x"], "start": [2020]}))
      code  start
    0    y   2020
    1    z   2020
    """
    start = treated.set_index("code")["start"]
    both = pd.concat([adjacency.rename(columns={"a": "t", "b": "n"}), adjacency.rename(columns={"b": "t", "a": "n"})])
    both = both[isin(both["t"], start.index) & ~isin(both["n"], start.index)]
    both = both.assign(start=both["t"].map(start))
    return both.groupby("n", as_index=False)["start"].min().rename(columns={"n": "code"}).sort_values("code"
                                                                                                   ).reset_index(drop=True)


def trends_table(panel: pd.DataFrame, pairs: pd.DataFrame, *, role: str = "treated") -> pd.DataFrame:
    """Mean outcome by year of the matched treated areas and of their weighted comparators.

    Returns ``year, group, value, n_areas`` with groups ``<role>`` and ``<role> comparators``.
    """
    if pairs.empty:
        return pd.DataFrame(columns=["year", "group", "value", "n_areas"])
    t = pd.DataFrame({"code": pairs["treated"].unique(), "w": 1.0})
    c = pairs.groupby("comparator", as_index=False)["weight"].sum().rename(columns={"comparator": "code",
                                                                                   "weight": "w"})
    out = []
    for name, members in ((role, t), (f"{role} comparators", c)):
        m = members.merge(panel, on="code")
        m["wv"] = m["w"] * m["value"]
        g = m.groupby("year").agg(wv=("wv", "sum"), w=("w", "sum"), n_areas=("code", "nunique")).reset_index()
        out.append(pd.DataFrame({"year": g["year"], "group": name, "value": g["wv"] / g["w"], "n_areas": g["n_areas"]}))
    return pd.concat(out, ignore_index=True)


def roles_table(matching: Matching, halo: pd.DataFrame | None, halo_matching: Matching | None) -> pd.DataFrame:
    """One row per area with a role: ``code, role, role_code, start, status, weight``
    (treated > halo > comparator when an area has several; weight = summed matching weight)."""
    st = matching.status
    rows = [pd.DataFrame({"code": st["code"], "role": "treated", "start": st["start"], "status": st["status"],
                          "weight": 1.0})]
    if halo is not None:
        rows.append(pd.DataFrame({"code": halo["code"], "role": "halo", "start": halo["start"], "status": "ring",
                                  "weight": 1.0}))
    for m in (matching, halo_matching):
        if m is not None and len(m.pairs):
            c = m.pairs.groupby("comparator", as_index=False).agg(weight=("weight", "sum"), start=("start", "min"))
            rows.append(pd.DataFrame({"code": c["comparator"], "role": "comparator", "start": c["start"],
                                      "status": "matched", "weight": c["weight"]}))
    out = pd.concat(rows, ignore_index=True)
    out["role_code"] = out["role"].map(ROLE_CODES)
    out = out.sort_values(["role_code", "code"]).drop_duplicates("code").reset_index(drop=True)
    return out[["code", "role", "role_code", "start", "status", "weight"]]


def _placebo(panel: pd.DataFrame, matched: pd.DataFrame, *, exclude: set[str], k: int, caliper: float,
             covariates: pd.DataFrame | None, exact: Sequence[str], min_pre: int, n: int, candidates: int,
             seed: int, progress: Callable[[str, int, int], None] | None) -> np.ndarray:
    """ATT point estimates of ``n`` placebo designs (see module docstring).

    Each draw is the whole design re-run: matching (:func:`.match.match`) and the stacked DiD
    point estimate. What depends on the panel alone (pre-period features per start year, the
    panel's rows by area) is computed once and shared by every draw (:class:`.match.MatchCache`,
    :class:`.did.PanelRows`), and the estimate is :func:`.did.att_estimate`, the same least
    squares as :func:`.did.fit_did` without its standard errors, so the draws, and the p-value,
    are those of re-running :func:`evaluate` from scratch for each, for a given ``seed``.
    """
    if n <= 0 or matched.empty:
        return np.array([])
    rng = np.random.default_rng(seed)
    cache = MatchCache()
    rows = PanelRows(panel)
    cand = match(panel, matched, exclude=exclude, k=candidates, caliper=np.inf, covariates=covariates,
                 exact=exact, min_pre=min_pre, cache=cache).pairs
    groups = cand.groupby("treated", sort=True)
    firsts = groups.indices
    out = np.full(n, np.nan)
    for r in range(n):
        pick = np.array([rng.choice(ix) for ix in firsts.values()])
        fake = (cand.iloc[pick][["comparator", "start"]].rename(columns={"comparator": "code"})
                .drop_duplicates("code").reset_index(drop=True))
        m = match(panel, fake, exclude=exclude, k=k, caliper=caliper, covariates=covariates, exact=exact,
                  min_pre=min_pre, cache=cache)
        if len(m.pairs):
            out[r] = att_estimate(rows, m.pairs)
        if progress is not None:
            progress("placebo", r + 1, n)
    return out[np.isfinite(out)]


def evaluate(
    panel: pd.DataFrame,
    treated: pd.DataFrame,
    *,
    adjacency: pd.DataFrame | None = None,
    halo: bool = False,
    k: int = 5,
    caliper: float = 0.5,
    covariates: pd.DataFrame | None = None,
    exact: Sequence[str] = (),
    min_pre: int = 2,
    n_placebo: int = 99,
    placebo_candidates: int = 10,
    naive: bool = True,
    alpha: float = 0.05,
    seed: int = 20240601,
    strict: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> Evaluation:
    """Matched difference-in-differences of ``treated`` (``code, start``) on ``panel`` (``code, year, value``).

    ``adjacency`` (pairs ``a, b`` of the panel's unit, e.g. :func:`..units.unit_adjacency`)
    defines the halo ring, which is always excluded from the comparator pool and, with
    ``halo=True``, evaluated as well. Treated codes missing from the panel are an error; treated
    areas that cannot be matched (start outside the panel, too few pre-periods, no comparator
    within the caliper) are left out and counted in ``matching.status`` and ``notes`` (an error
    with ``strict=True``, or when none is left).

    Returns an :class:`Evaluation` whose ``effects`` has :data:`.did.EFFECT_COLUMNS` and rows
    ``att``, ``event_k`` for each event time, ``halo`` (if asked), ``naive`` (treated against
    every untreated area, unmatched), ``placebo`` (mean placebo ATT, its 2.5-97.5% range, and
    the permutation p-value of the ATT) and ``mde`` (minimum detectable effect, 5%/80%).
    """
    notes: list[str] = list(panel.attrs.get("notes", []))
    missing = treated.loc[~isin(treated["code"], panel["code"].unique().tolist()), "code"]
    if len(missing):
        rows = [f"row {i + 2} ({c})" for i, c in missing.items()]
        raise VintageError(
            f"treated: {len(missing)} of {len(treated)} code(s) have no outcome in the panel: {examples(rows)}. "
            f"The panel has codes like {examples(panel['code'].drop_duplicates().head(3))}; are the treated codes "
            "of the same unit (e.g. LSOA 2011 vs 2021, ward 2017 vs 2024)?"
        )
    ring = halo_ring(adjacency, treated) if adjacency is not None else pd.DataFrame(columns=["code", "start"])
    ring = ring[isin(ring["code"], panel["code"].unique().tolist())].reset_index(drop=True)
    exclude = set(ring["code"])
    if adjacency is None:
        notes.append("no adjacency given: the halo ring is not excluded from the comparator pool")
    opts = dict(k=k, caliper=caliper, covariates=covariates, exact=exact, min_pre=min_pre)
    m = match(panel, treated, exclude=exclude, **opts)
    lost = describe_exclusions(m.status)
    notes += lost
    if strict and lost:
        raise DataError("treated areas could not all be used (strict): " + "; ".join(lost))
    if not (m.status["status"] == "matched").any():
        context = [n for n in panel.attrs.get("notes", []) if "relative measure" not in n]
        raise DataError("no treated area could be matched: " + "; ".join(lost + context))
    stacked = stack_panel(panel, m.pairs)
    att = fit_did(stacked, alpha=alpha)
    rows = [att]
    es = event_study(stacked, alpha=alpha)
    rows += es.to_dict("records")
    hm = None
    if halo:
        if ring.empty:
            notes.append("--halo: the treated areas have no untreated neighbours in the panel")
        else:
            hm = match(panel, ring, exclude=exclude | set(treated["code"]), **opts)
            notes += [s.replace("treated area", "halo area") for s in describe_exclusions(hm.status)]
            if len(hm.pairs):
                rows.append(fit_did(stack_panel(panel, hm.pairs), alpha=alpha, name="halo"))
    if naive:
        rows.append(naive_did(panel, m.status.loc[m.status["status"] == "matched", ["code", "start"]],
                              exclude=exclude, alpha=alpha))
    matched = m.status.loc[m.status["status"] == "matched", ["code", "start"]].reset_index(drop=True)
    draws = _placebo(panel, matched, exclude=exclude | set(treated["code"]), n=n_placebo,
                     candidates=placebo_candidates, seed=seed, progress=progress, **opts)
    if len(draws):
        p_perm = (1 + np.sum(np.abs(draws) >= abs(att["estimate"]))) / (1 + len(draws))
        rows.append({"effect": "placebo", "estimate": float(draws.mean()),
                     "ci_low": float(np.quantile(draws, alpha / 2)),
                     "ci_high": float(np.quantile(draws, 1 - alpha / 2)),
                     "p_value": float(p_perm), "n_treated": len(matched), "n_comparators": len(draws)})
    rows.append({"effect": "mde", "estimate": min_detectable_effect(att["se"], alpha=alpha), "ci_low": np.nan,
                 "ci_high": np.nan, "p_value": np.nan, "n_treated": att["n_treated"],
                 "n_comparators": att["n_comparators"]})
    effects = pd.DataFrame(rows)[EFFECT_COLUMNS]
    trends = trends_table(panel, m.pairs)
    if hm is not None and len(hm.pairs):
        trends = pd.concat([trends, trends_table(panel, hm.pairs, role="halo")], ignore_index=True)
    params = {"k": k, "caliper": caliper, "min_pre": min_pre, "exact": list(exact), "n_placebo": n_placebo,
              "placebo_candidates": placebo_candidates, "alpha": alpha, "seed": seed, "halo": halo,
              "covariates": [c for c in (covariates.columns if covariates is not None else []) if c != "code"]}
    return Evaluation(effects=effects, matching=m, halo_matching=hm, trends=trends,
                      roles=roles_table(m, ring if adjacency is not None else None, hm), placebo=draws,
                      notes=notes, parameters=params)


def check_treated_unit(con: duckdb.DuckDBPyConnection, treated: pd.DataFrame, unit: str) -> None:
    """Treated codes must be areas of ``unit``; otherwise say which rows and which unit they are of."""
    from neighbourhood_lens.geo.units import unit_areas

    known = set(unit_areas(con, unit)["code"].tolist())
    bad = treated.loc[[c not in known for c in treated["code"]], "code"]
    if bad.empty:
        return
    from .panel import detect_unit

    try:
        other = detect_unit(con, bad.tolist(), what="treated")
        where = f"they are {other} codes"
    except DataError:
        where = "they are not codes of any unit the warehouse knows"
    rows = [f"row {i + 2} ({c})" for i, c in bad.items()]
    raise VintageError(f"treated: {len(bad)} code(s) are not areas of the panel's unit {unit}; {where}: "
                       f"{examples(rows)}. Give treated areas and outcome at the same unit (--unit).")


def area_covariates(con: duckdb.DuckDBPyConnection, unit: str, names: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Covariates for matching from the warehouse: ``population`` (log, numeric) and ``region``
    (exact). Returns the frame (``code`` + columns) and the names to match exactly."""
    from neighbourhood_lens.geo.units import unit_areas

    allowed = ("population", "region")
    bad = [n for n in names if n not in allowed]
    if bad:
        raise DataError(f"--match-on: unknown covariate(s) {examples(bad)}; valid: {', '.join(allowed)}")
    areas = unit_areas(con, unit)
    out = pd.DataFrame({"code": areas["code"]})
    if "population" in names:
        out["log_population"] = np.log(areas["population"].clip(lower=1).to_numpy(float))
    if "region" in names:
        out["region"] = areas["region_code"].fillna("none").to_numpy()
    return out, (["region"] if "region" in names else [])


def evaluate_in_warehouse(
    con: duckdb.DuckDBPyConnection,
    treated: pd.DataFrame,
    *,
    panel: pd.DataFrame | None = None,
    outcome: str | None = None,
    years: Sequence[int] | None = None,
    unit: str | None = None,
    match_on: Sequence[str] = (),
    measure: str | None = None,
    **options: object,
) -> tuple[Evaluation, str, str]:
    """:func:`evaluate` with the unit, halo ring, covariates and (for ``outcome='imd:...'`` or an
    annual series of :data:`.outcome_panel.SERIES`, e.g. ``'insolvency'``) the panel taken from
    the warehouse. Give exactly one of ``panel`` (validated ``code, year, value``) and
    ``outcome``; ``measure`` picks a series' measure (``lihc``/``lilee``/``mixed`` for fuel
    poverty, ``one_or_more``/``two_or_more`` for household deprivation). A two-point series
    (household deprivation, 2011 and 2021) is matched on its one pre-period level
    (``min_pre`` is lowered to 1, with a note). Returns the evaluation, the unit name and the
    outcome label.
    """
    from neighbourhood_lens.geo.units import unit_adjacency

    from .outcome_panel import is_series, outcome_panel
    from .panel import detect_unit, imd_panel

    if (panel is None) == (outcome is None):
        raise DataError("give exactly one of --panel P.csv and --outcome imd:DOMAIN")
    if panel is not None:
        unit = unit or detect_unit(con, panel["code"].unique().tolist(), what="panel")
        label = "outcome (panel value)"
    else:
        unit = unit or detect_unit(con, treated["code"].tolist(), what="treated")
        if str(outcome).strip().lower().startswith("imd:"):
            if measure is not None:
                raise DataError("--measure is for the annual series; give an IMD measure as imd:DOMAIN:MEASURE")
            panel = imd_panel(con, unit, outcome=str(outcome), years=years)
        else:
            panel = outcome_panel(con, unit, outcome=str(outcome), years=years, measure=measure)
            if panel["year"].nunique() == 2 and int(options.get("min_pre", 2)) > 1:  # type: ignore[call-overload]
                options["min_pre"] = 1
                panel.attrs["notes"].append("a two-point series: comparators are matched on the one pre-period "
                                            "level (no pre-trend), min_pre = 1")
        label = panel.attrs["outcome"]
    check_treated_unit(con, treated, unit)
    covariates, exact = area_covariates(con, unit, match_on) if match_on else (None, [])
    ev = evaluate(panel, treated, adjacency=unit_adjacency(con, unit), covariates=covariates, exact=exact,
                  **options)  # type: ignore[arg-type]
    ev.parameters.update({"unit": unit, "outcome": outcome or "panel", "years": list(years) if years else None,
                          "match_on": list(match_on)})
    if outcome is not None and is_series(outcome):
        ev.parameters["measure"] = panel.attrs.get("measure")
        built = panel.attrs["years"]
        ev.parameters["years_built"] = built.loc[built["status"] == "built", "year"].tolist()
        ev.parameters["years_not_built"] = dict(zip(built.loc[built["status"] != "built", "year"].tolist(),
                                                    built.loc[built["status"] != "built", "reason"], strict=True))
    return ev, unit, label
