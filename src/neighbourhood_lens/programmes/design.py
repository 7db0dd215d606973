"""Run a programme spec on the warehouse: need -> eligibility -> selection -> money -> reach.

:func:`design` is the one entry point the CLI and the web app call. The result carries the
chosen areas in the output shape (:data:`OUTPUT_COLUMNS`), every area with its need and
eligibility (for "who is missed"), the eligibility counts, the optimisation facts and the
reach of the money on the footing of ``nlens funding reach`` (:mod:`.compare`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.geo.units import resolve_unit, unit_areas

from ..errors import DataError, examples
from .eligibility import apply_eligibility, eligibility_report
from .need import INDICATOR_SOURCES, need_table
from .optimise import objective, solve_optimal
from .select import allocate, cap_groups, need_order, parents_for_units, top_parents, walk
from .spec import ProgrammeSpec

if TYPE_CHECKING:
    import duckdb

__all__ = ["OUTPUT_COLUMNS", "Design", "design", "design_sources", "missed_areas", "store_design"]

#: Columns of a design's output table, one row per chosen area.
OUTPUT_COLUMNS = ["code", "name", "lad_code", "lad_name", "region_name", "population", "need_rank", "need_weight",
                  "amount"]


@dataclass
class Design:
    """A programme run: ``selection`` (:data:`OUTPUT_COLUMNS`), ``areas`` (every area with need,
    cost, ``eligible``, ``reason`` and ``chosen``), ``eligibility`` (rule counts), ``summary``
    (areas, people, money, objective, solver facts, reach measures), ``deciles`` (reach by IMD
    decile) and ``notes`` (what was left out and why)."""

    spec: ProgrammeSpec
    selection: pd.DataFrame
    areas: pd.DataFrame
    eligibility: pd.DataFrame
    summary: dict[str, Any]
    deciles: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def design_sources(spec: ProgrammeSpec) -> list[str]:
    """Dataset ids a design reads (for the provenance sidecar)."""
    ids = [s for ind in spec.need.indicators for s in INDICATOR_SOURCES.get(ind, [])]
    ids += ["lookup_lsoa11_ward17", "lookup_lsoa11_msoa11", "lookup_lsoa11_lad19", "lookup_lad19_region19",
            "population2019_lsoa11", "lookup_lsoa21_ward24_lad24", "lookup_lad24_region24",
            "census2021_population_lsoa21", "lookup_lsoa11_lsoa21_lad22", "imd2019_lsoa11", "imd2025_lsoa21"]
    if spec.eligibility.rural_urban is not None:
        ids += ["ruc2011_lsoa11", "ruc2021_lsoa21"]
    return list(dict.fromkeys(ids))


def _nothing_chosen(spec: ProgrammeSpec, elig: pd.DataFrame, cands: pd.DataFrame) -> DataError:
    rules = eligibility_report(elig)
    if cands.empty:
        binding = rules[(rules["rule"] != "eligible") & (rules["removes_alone"] > 0)]
        detail = "; ".join(f"{r.rule} removes {r.removes_alone:,} alone" for r in binding.itertuples())
        return DataError(f"{spec.name}: no area of {len(elig):,} is eligible, so nothing can be chosen. "
                         f"Rules that bind: {detail or 'none'}. Loosen the [eligibility] or [need] rules.")
    b = spec.budget
    if b is not None:
        cheapest = cands.loc[cands["cost"].idxmin()]
        if cheapest["cost"] > b.total:
            return DataError(
                f"{spec.name}: nothing can be funded: the smallest cost of an eligible area is "
                f"{cheapest['cost']:,.0f} ({cheapest['code']}, population {cheapest['population']:,.0f}; cost = "
                f"per_area_fixed {b.per_area_fixed:,.0f} + per_head {b.per_head:,.2f} x population), above "
                f"budget.total = {b.total:,.0f}. Raise budget.total to at least {cheapest['cost']:,.0f} or lower "
                "the costs.")
    return DataError(f"{spec.name}: the [select] rules allow no area among {len(cands):,} eligible ones "
                     f"(count={spec.select.count}, per_lad={spec.select.per_lad}, "
                     f"per_region={spec.select.per_region}); loosen them.")


def design(
    con: duckdb.DuckDBPyConnection, spec: ProgrammeSpec, *, index: str | None = None, context: Any = None
) -> Design:
    """Run ``spec`` (see :mod:`neighbourhood_lens.programmes`). ``index`` is the reach index
    (default ``imd2019`` for 2011-based units, ``imd2025`` for 2021-based); ``context`` a
    :class:`.compare.ReachContext` of that index to reuse across designs.

    Raises :class:`DataError` when the design can choose nothing, naming the rule that binds.
    """
    from .compare import reach_context, reach_measures, to_index_lsoas

    u = resolve_unit(con, spec.unit)
    notes: list[str] = []
    areas = unit_areas(con, u)
    need = need_table(con, u, spec.need)
    frame = areas.merge(need, on="code", how="left", validate="one_to_one")
    frame["complete"] = frame["complete"].fillna(False).astype(bool)
    frame["meets_need"] = frame["meets_need"].fillna(False).astype(bool)
    miss = need.attrs["missing"]
    if miss["count"]:
        notes.append(f"{miss['count']:,} area(s) lack a need indicator and are not eligible: {miss['examples']}")
    b = spec.budget
    pop = frame["population"].to_numpy(float)
    frame["cost"] = (b.per_area_fixed + b.per_head * pop) if b is not None else 0.0
    frame = apply_eligibility(con, u, frame, spec.eligibility)
    excl = frame.attrs.get("exclude")
    if excl is not None and excl["unknown"]:
        notes.append(f"exclude file {excl['file']}: {excl['unknown']:,} of {excl['codes']:,} code(s) are not "
                     f"known areas and were ignored: {excl['unknown_examples']}")
    cands = need_order(frame[frame["eligible"]])
    sel = spec.select
    caps_spec: dict[str, int | None] = {"lad_code": sel.per_lad, "region_code": sel.per_region}
    info: dict[str, Any] = {}
    if sel.method == "two_stage":
        parents = top_parents(con, parent=str(sel.parent), measure=sel.parent_measure, top=int(sel.parents_top),
                              index=sel.parent_index)
        pu = parents_for_units(con, u, str(sel.parent))
        cands = cands.merge(pu, on="code", how="left")
        cands = need_order(cands[isin(cands["parent_code"], parents["parent_code"])])
        caps_spec["parent_code"] = sel.per_parent
        empty = parents.loc[~isin(parents["parent_code"], cands["parent_code"]), "parent_code"]
        if len(empty):
            notes.append(f"{len(empty)} chosen parent(s) have no eligible unit: {examples(empty.tolist())}")
        info.update(parents=parents["parent_code"].tolist(), parent_index=parents.attrs["index"])
    if cands.empty:
        raise _nothing_chosen(spec, frame, cands)
    caps = cap_groups(cands, caps_spec)
    cost = cands["cost"].to_numpy(float)
    budget = b.total if (b is not None and sel.method != "top") else None
    if budget is not None and cost.min() > budget:
        raise _nothing_chosen(spec, frame, cands)
    chosen = walk(cost, caps=caps, budget=budget, count=sel.count)
    w = cands["need_weight"].to_numpy(float)
    cp = cands["population"].to_numpy(float)
    if sel.method == "optimal":
        assert b is not None
        greedy = chosen
        chosen, solved = solve_optimal(cp, w, cost, budget=b.total, caps=caps, count=sel.count,
                                       time_limit=sel.time_limit, mip_gap=sel.mip_gap, start=greedy)
        g_obj = objective(cp, w, greedy)
        info.update(solved, greedy_objective=g_obj, greedy_areas=int(greedy.sum()),
                    improvement=solved["objective"] - g_obj,
                    improvement_share=(solved["objective"] - g_obj) / g_obj if g_obj > 0 else float("nan"))
    if not chosen.any():
        raise _nothing_chosen(spec, frame, cands)
    picked = cands[chosen].copy()
    if sel.method == "top" and b is not None and b.allocation == "cost" and picked["cost"].sum() > b.total + 1e-6:
        raise DataError(f"{spec.name}: method 'top' chooses {len(picked):,} areas costing "
                        f"{picked['cost'].sum():,.0f}, above budget.total = {b.total:,.0f}: the budget binds. "
                        "Use method 'greedy' or 'optimal', set select.count, or raise the total.")
    picked["amount"], money = allocate(picked, b)
    if money["unallocated"] > 0.005 and b is not None and b.allocation != "cost":
        notes.append(f"£{money['unallocated']:,.2f} of the budget is left unallocated (ceiling binds)")
    picked = picked.sort_values(["need_rank", "code"]).reset_index(drop=True)
    selection = picked[OUTPUT_COLUMNS].copy()
    selection["need_weight"] = selection["need_weight"].round(6)
    all_areas = frame.assign(chosen=isin(frame["code"], picked["code"]))
    wanted = index or (context.index if context is not None else ("imd2019" if u.lsoa_vintage == 2011 else "imd2025"))
    ctx = context if context is not None and context.index == wanted else reach_context(con, wanted)
    alloc, covered = to_index_lsoas(con, u, selection, vintage=ctx.vintage)
    reach, deciles = reach_measures(ctx, alloc, covered)
    summary: dict[str, Any] = {
        "name": spec.name, "unit": u.name, "method": sel.method, "areas_in_unit": len(frame),
        "eligible": int(frame["eligible"].sum()), "areas": len(selection),
        "people": float(selection["population"].sum()), "money": float(selection["amount"].sum()),
        "cost": float(picked["cost"].sum()) if b is not None else 0.0,
        "budget": b.total if b is not None else None,
        "people_x_need": objective(picked["population"].to_numpy(float), picked["need_weight"].to_numpy(float),
                                   np.ones(len(picked), bool)),
        "missing_indicator": miss, "exclude": excl, "n_ranked": need.attrs["n"], **info, **reach,
    }
    return Design(spec=spec, selection=selection, areas=all_areas, eligibility=eligibility_report(frame),
                  summary=summary, deciles=deciles, notes=notes)


def store_design(con: duckdb.DuckDBPyConnection, result: Design, *, name: str) -> str:
    """Save a design's selection as a stored programme (``programme_<name>``, value column ``amount``)."""
    from ..store import save_result

    return save_result(con, result.selection, kind="programme", name=name, unit=result.summary["unit"],
                       value_column="amount", description=result.spec.name,
                       parameters=result.spec.model_dump(mode="json"), sources=design_sources(result.spec))


def missed_areas(result: Design, *, limit: int = 20) -> pd.DataFrame:
    """The highest-need areas that were not chosen, and why: ``code, name, lad_name, population,
    need_rank, need_weight, why``. ``why`` is the eligibility rule that removed the area, else a
    full cap (its LAD or region already holds the cap's number of chosen areas), else ``budget,
    count or objective``."""
    a = result.areas
    out = a[~a["chosen"] & a["need_rank"].notna()].sort_values(["need_rank", "code"]).head(limit)
    why = out["reason"].astype(object).copy()
    chosen = a[a["chosen"]]
    sel = result.spec.select
    rest = why == ""
    for col, cap, label in (("lad_code", sel.per_lad, "per_lad"), ("region_code", sel.per_region, "per_region")):
        if cap is not None:
            held = out[col].map(chosen.groupby(col).size()).fillna(0).astype(int)
            full = rest & (held >= cap)
            why[full] = f"{label} cap full ({cap})"
            rest &= ~full
    why[rest] = "budget, count or objective"
    out = out.assign(why=why, need_weight=out["need_weight"].round(6))
    return out[["code", "name", "lad_name", "population", "need_rank", "need_weight", "why"]].reset_index(drop=True)
