"""Designs side by side, on the footing of the funding audit (``nlens funding reach``).

A design's money is put on LSOAs exactly as the audit puts a grant on them: each chosen
area's amount is split over its LSOAs pro rata to population, in whole pence by the largest
remainder method (:func:`.funding.split_pence`), and carried to the LSOAs of the reach index
(``imd2019``: LSOA 2011; ``imd2025``: LSOA 2021) with the ONS LSOA 2011 <-> 2021 lookup when the
unit is on the other vintage. The measures are then those of :mod:`.funding`:

* money and people by national IMD decile of the LSOAs (:func:`.funding.reach_table`);
* the share of the money reaching decile-1 LSOAs and the left-behind neighbourhoods (the
  225 wards of 2019 for ``imd2019``; the 1,262 LSOAs of 2023 for ``imd2025``), by the
  ``group`` of :func:`.funding.index_areas`;
* the share of the left-behind neighbourhoods covered (at least one of their LSOAs inside a
  chosen area) and the share of decile-1 residents covered (living in an LSOA inside a chosen
  area);
* the concentration index of the money over LSOAs ranked by deprivation
  (:func:`.funding.concentration_index`, negative = towards the more deprived).

Baseline (:func:`la_baseline`): the same budget spread across local authorities per head in
proportion to their IMD average score, the population-weighted mean of their LSOAs' scores
(MHCLG's "average score"), then to LSOAs per head:

.. math:: a_\\ell = B \\frac{P_\\ell \\bar s_\\ell}{\\sum_m P_m \\bar s_m}, \\qquad
          a_j = a_\\ell \\frac{p_j}{P_\\ell} \\quad (j \\in \\ell)

the area-level allocation that reaches every neighbourhood thinly; its shares do not depend
on :math:`B`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.funding.reach import (
    INDEXES,
    concentration_index,
    group_table,
    index_areas,
    reach_table,
    split_pence,
)
from neighbourhood_lens.geo.units import Unit, resolve_unit, unit_lsoas

from ..errors import DataError

if TYPE_CHECKING:
    import duckdb

__all__ = ["COMPARE_COLUMNS", "ReachContext", "reach_context", "to_index_lsoas", "reach_measures", "la_baseline",
           "compare_table"]

COMPARE_COLUMNS = ["design", "unit", "method", "money_rule", "areas", "people", "money", "money_share_decile1",
                   "money_share_left_behind", "left_behind_covered_share", "decile1_residents_covered_share",
                   "concentration_index", "people_x_need"]


class ReachContext:
    """The LSOAs of a reach index with decile, group and ward, computed once and reused."""

    def __init__(self, con: duckdb.DuckDBPyConnection, index: str) -> None:
        from neighbourhood_lens.deprivation.left_behind import left_behind

        if index not in INDEXES:
            raise DataError(f"unknown reach index {index!r}; allowed: {', '.join(INDEXES)}")
        self.index = index
        _, self.vintage, lb_vintage = INDEXES[index]
        self.areas = index_areas(con, index)
        lb = left_behind(con, vintage=lb_vintage)
        self.left_behind = pd.Index(lb["code"])
        if lb_vintage == 2019:
            h = con.execute("SELECT lsoa11_code AS lsoa_code, ward17_code AS lb_code FROM hierarchy_lsoa11").df()
            self.lb_of_lsoa = h.set_index("lsoa_code")["lb_code"]
            self.lb_label = f"{len(lb):,} left-behind wards (2019)"
        else:
            self.lb_of_lsoa = pd.Series(self.areas["lsoa_code"].to_numpy(), index=self.areas["lsoa_code"])
            self.lb_label = f"{len(lb):,} left-behind LSOAs (2023)"


def reach_context(con: duckdb.DuckDBPyConnection, index: str) -> ReachContext:
    """A :class:`ReachContext` for ``index`` (``imd2019`` or ``imd2025``)."""
    return ReachContext(con, index)


def to_index_lsoas(
    con: duckdb.DuckDBPyConnection, unit: Unit | str, selection: pd.DataFrame, *, vintage: int
) -> tuple[pd.DataFrame, pd.Index]:
    """Put a selection's ``amount`` on LSOAs of ``vintage``: ``lsoa_code, amount_gbp``, and the
    LSOAs of that vintage inside the chosen areas (covered)."""
    u = resolve_unit(con, unit) if isinstance(unit, str) else unit
    lsoas = unit_lsoas(con, u)
    key = u.lsoa_code
    inside = lsoas[isin(lsoas["code"], selection["code"])]
    w = pd.DataFrame({"code": inside["code"].to_numpy(), "lsoa_code": inside[key].to_numpy(),
                      "weight": inside["population"].to_numpy(float)})
    if u.lsoa_vintage != vintage:
        src, dst = key, f"lsoa{str(vintage)[2:]}_code"
        lk = con.execute(
            f"SELECT DISTINCT l.{src} AS lsoa_code, l.{dst} AS target, h.population AS tp FROM "
            f"lookup_lsoa11_lsoa21_lad22 l JOIN hierarchy_lsoa{str(vintage)[2:]} h USING ({dst})").df()
        lk["share"] = lk["tp"] / lk.groupby("lsoa_code")["tp"].transform("sum")
        w = w.merge(lk, on="lsoa_code", how="inner")
        w = w.assign(weight=w["weight"] * w["share"]).groupby(["code", "target"], as_index=False)["weight"].sum()
        w = w.rename(columns={"target": "lsoa_code"})
    covered = pd.Index(w["lsoa_code"].unique())
    pence = np.round(selection["amount"].to_numpy(float) * 100).astype(np.int64)
    totals = pd.DataFrame({"code": selection["code"].to_numpy(), "pence": pence})
    totals = totals[totals["pence"] > 0]
    if totals.empty:
        return pd.DataFrame({"lsoa_code": pd.Series([], dtype=object), "amount_gbp": pd.Series([], dtype=float)}), \
            covered
    split = split_pence(totals, w)
    alloc = split.groupby("lsoa_code", as_index=False)["pence"].sum()
    alloc["amount_gbp"] = alloc.pop("pence") / 100
    return alloc, covered


def reach_measures(
    ctx: ReachContext, allocations: pd.DataFrame, covered: pd.Index
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The measures of the module docstring for LSOA ``allocations`` (``lsoa_code, amount_gbp``)
    and the ``covered`` LSOAs; returns a dict and the decile table of :func:`.funding.reach_table`."""
    areas = ctx.areas
    deciles = reach_table(allocations, areas)
    amount = areas["lsoa_code"].map(allocations.set_index("lsoa_code")["amount_gbp"]).fillna(0.0).to_numpy(float)
    merged = areas.assign(amount=amount)
    total = float(amount.sum())
    groups = group_table(merged, by="group", total=total).set_index("group")
    lb_share = float(groups["share_of_amount"].get("left-behind", 0.0)) if total > 0 else float("nan")
    is_cov = isin(areas["lsoa_code"], covered).to_numpy()
    d1 = (areas["imd_decile"] == 1).to_numpy()
    pop = areas["population"].to_numpy(float)
    lb_hit = pd.Index(ctx.lb_of_lsoa.reindex(areas.loc[is_cov, "lsoa_code"]).dropna().unique())
    out = {
        "money": round(total, 2),
        "money_share_decile1": float(deciles["share_of_amount"].iloc[0]) if total > 0 else float("nan"),
        "money_share_left_behind": lb_share,
        "left_behind_covered_share": float(isin(ctx.left_behind, lb_hit).mean()),
        "left_behind_covered": int(isin(ctx.left_behind, lb_hit).sum()),
        "left_behind_label": ctx.lb_label,
        "decile1_residents_covered_share": float(pop[d1 & is_cov].sum() / pop[d1].sum()),
        "concentration_index": concentration_index(amount, pop, areas["imd_rank"].to_numpy())
        if total > 0 else float("nan"),
        "reach_index": ctx.index,
    }
    return out, deciles


def la_baseline(con: duckdb.DuckDBPyConnection, ctx: ReachContext, *, total: float) -> tuple[pd.DataFrame, pd.Index]:
    """The built-in LA-level baseline of the module docstring, on the LSOAs of ``ctx``:
    ``lsoa_code, amount_gbp`` (whole pence, summing to ``total``) and the LSOAs covered (all)."""
    a = ctx.areas
    s = a["imd_score"].to_numpy(float)
    p = a["population"].to_numpy(float)
    lad = a.assign(ps=p * s).groupby("lad_code", as_index=False).agg(ps=("ps", "sum"), pop=("population", "sum"))
    lad["average_score"] = lad["ps"] / lad["pop"]
    weight = lad["pop"] * lad["average_score"]
    exact = (total * 100 * weight / weight.sum()).to_numpy(float)
    pence = np.floor(exact).astype(np.int64)
    short = int(round(total * 100)) - int(pence.sum())
    order = np.argsort(-(exact - pence), kind="stable")[:short]
    pence[order] += 1
    totals = pd.DataFrame({"code": lad["lad_code"], "pence": pence})
    w = pd.DataFrame({"code": a["lad_code"], "lsoa_code": a["lsoa_code"], "weight": p})
    split = split_pence(totals, w)
    alloc = split.groupby("lsoa_code", as_index=False)["pence"].sum()
    alloc["amount_gbp"] = alloc.pop("pence") / 100
    return alloc, pd.Index(a["lsoa_code"])


def compare_table(
    con: duckdb.DuckDBPyConnection,
    designs: list[Any],
    *,
    labels: list[str] | None = None,
    index: str | None = None,
    baseline_total: float | None = None,
    context: ReachContext | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """One row per design (:class:`.design.Design`) plus the LA-level baseline: :data:`COMPARE_COLUMNS`;
    and the decile table of each, by label.

    ``labels`` name the rows (default: the specs' names). ``index`` defaults to ``imd2019``
    unless every design is on a 2021-based unit (then ``imd2025``). The baseline spends
    ``baseline_total`` (default: the largest budget among the designs; its shares do not
    depend on it). A design without a ``[budget]`` is given that same total shared per head
    among its chosen areas (``money_rule`` says so), so that every row has money to measure.
    ``context`` reuses a :class:`ReachContext` of ``index``.
    """
    from .select import allocate
    from .spec import Budget

    if not designs:
        raise DataError("compare: give at least one programme spec")
    labels = labels or [d.spec.name for d in designs]
    if len(labels) != len(designs):
        raise DataError(f"compare: {len(labels)} labels for {len(designs)} designs")
    vintages = {resolve_unit(con, d.spec.unit).lsoa_vintage for d in designs}
    index = index or ("imd2025" if vintages == {2021} else "imd2019")
    ctx = context if context is not None and context.index == index else reach_context(con, index)
    budgets = [d.spec.budget.total for d in designs if d.spec.budget is not None]
    total = baseline_total if baseline_total is not None else (max(budgets) if budgets else None)
    rows, deciles = [], {}
    for label, d in zip(labels, designs, strict=True):
        sel, rule = d.selection, "design"
        if not d.summary["money"] and total is not None:
            chosen = sel.assign(cost=0.0)
            sel = sel.assign(amount=allocate(chosen, Budget(total=total, allocation="per_head"))[0])
            rule = "notional: per head (no [budget])"
        alloc, covered = to_index_lsoas(con, d.spec.unit, sel, vintage=ctx.vintage)
        m, dec = reach_measures(ctx, alloc, covered)
        rows.append({"design": label, "unit": d.spec.unit, "method": d.spec.select.method, "money_rule": rule,
                     "areas": len(d.selection), "people": float(d.selection["population"].sum()),
                     "people_x_need": d.summary["people_x_need"], **m})
        deciles[label] = dec
    if total is not None:
        alloc, covered = la_baseline(con, ctx, total=total)
        m, dec = reach_measures(ctx, alloc, covered)
        lad = "lad19" if ctx.vintage == 2011 else "lad24"
        rows.append({"design": "baseline_la_per_head", "unit": lad, "method": "baseline",
                     "money_rule": "LAs per head by IMD average score",
                     "areas": int(ctx.areas["lad_code"].nunique()), "people": float(ctx.areas["population"].sum()),
                     "people_x_need": float("nan"), **m})
        deciles["baseline_la_per_head"] = dec
    out = pd.DataFrame(rows)[COMPARE_COLUMNS]
    out.attrs["index"] = index
    out.attrs["left_behind_label"] = ctx.lb_label
    return out, deciles
