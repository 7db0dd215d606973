"""Rule-based selection (``top``, ``greedy``, ``two_stage``) and the allocation of the money.

All three rules are one walk (:func:`walk`): the eligible areas are visited from most to least
need (need weight descending, ties by code) and each is taken if every cap it belongs to has
room, the count is not reached and, when a budget applies, its cost fits in what is left.
An area that does not fit is skipped and the walk goes on (a cheaper one further down may
fit). This is the rank-then-cap rule real programmes used; it is sequential by nature, so the
walk is a loop over the (at most ~34,000) eligible areas, on NumPy arrays.

``top``
    the walk without a budget: every eligible area that meets the need rule, or the best
    ``count``, within the caps.
``greedy``
    the walk with the budget: cost of an area = ``per_area_fixed + per_head x population``.
``two_stage``
    the New Deal for Communities rule: first the ``parents_top`` parents (e.g. local
    authorities) most deprived on an official IoD summary measure (:func:`.summaries.summarise`,
    rank 1 = most deprived), then the walk over the units inside them with a cap of
    ``per_parent`` per parent. A unit's parent is the parent of its most populous LSOA.

Allocation (:func:`allocate`): ``cost`` gives each chosen area its cost; ``equal``,
``per_head`` and ``need_weighted`` share the whole total in proportion to 1, population, or
population x need weight, then clip to ``floor``/``ceiling`` by water-filling (areas at a bound
are fixed and the rest of the money is shared again among the others until nothing moves).

References
----------
Department for Communities and Local Government (2010), *The New Deal for Communities
Experience: A final assessment*, vol. 7, chapter 1 (selection of the 39 partnerships).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError
from .spec import Budget

if TYPE_CHECKING:
    import duckdb

    from neighbourhood_lens.geo.units import Unit

__all__ = ["need_order", "cap_groups", "walk", "parents_for_units", "top_parents", "allocate"]


def need_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted from most to least need: need weight descending, ties by code.

    >>> need_order(pd.DataFrame({"code": ["b", "a", "c"], "need_weight": [0.5, 0.5, 0.9]}))["code"].tolist()
    ['c', 'a', 'b']
    """
    return frame.sort_values(["need_weight", "code"], ascending=[False, True], kind="stable").reset_index(drop=True)


def cap_groups(frame: pd.DataFrame, caps: dict[str, int | None]) -> list[tuple[np.ndarray, int, str]]:
    """``(group index per row, limit, column)`` for each cap that is set, e.g. ``{"lad_code": 1}``."""
    out = []
    for col, limit in caps.items():
        if limit is not None:
            codes, _ = pd.factorize(frame[col].fillna("(none)"), sort=True)
            out.append((codes.astype(np.int64), int(limit), col))
    return out


def walk(
    cost: np.ndarray,
    *,
    caps: Sequence[tuple[np.ndarray, int, str]] = (),
    budget: float | None = None,
    count: int | None = None,
) -> np.ndarray:
    """Take rows in order (row 0 = most need) while the caps, ``count`` and ``budget`` allow.

    Returns a boolean mask of the rows taken.

    >>> cost = np.array([5.0, 4.0, 2.0, 1.0])
    >>> walk(cost, budget=7.0).tolist()
    [True, False, True, False]
    >>> lad = np.array([0, 0, 1, 1])
    >>> walk(cost, caps=[(lad, 1, "lad")]).tolist()
    [True, False, True, False]
    """
    n = len(cost)
    taken = np.zeros(n, dtype=bool)
    used = [np.zeros(int(g.max()) + 1 if len(g) else 0, dtype=np.int64) for g, _, _ in caps]
    left = np.inf if budget is None else float(budget)
    k = 0
    limit = n if count is None else count
    groups = [g.tolist() for g, _, _ in caps]
    limits = [lim for _, lim, _ in caps]
    costs = np.asarray(cost, dtype=float).tolist()
    for i in range(n):
        if k >= limit:
            break
        if costs[i] > left + 1e-6:
            continue
        if any(used[j][groups[j][i]] >= limits[j] for j in range(len(caps))):
            continue
        taken[i] = True
        k += 1
        left -= costs[i]
        for j in range(len(caps)):
            used[j][groups[j][i]] += 1
    return taken


def parents_for_units(con: duckdb.DuckDBPyConnection, unit: Unit, parent: str) -> pd.DataFrame:
    """``code, parent_code``: the parent (a level of the unit's LSOA vintage) of each area's most
    populous LSOA."""
    from neighbourhood_lens.geo.geography import LEVELS, hierarchy
    from neighbourhood_lens.geo.units import unit_lsoas

    lv = LEVELS[parent]
    if lv.lsoa_vintage != unit.lsoa_vintage:
        same = [n for n, v in LEVELS.items() if v.lsoa_vintage == unit.lsoa_vintage and v.kind != "lsoa"]
        raise DataError(f"select.parent = {parent!r} is on LSOA {lv.lsoa_vintage} boundaries but the unit "
                        f"{unit.name!r} is on LSOA {unit.lsoa_vintage}; allowed parents: {', '.join(same)}")
    h = hierarchy(con, unit.lsoa_vintage)[[unit.lsoa_code, lv.code]]
    m = unit_lsoas(con, unit)[[unit.lsoa_code, "code", "population"]].merge(h, on=unit.lsoa_code, how="left")
    m = m.sort_values(["code", "population", unit.lsoa_code], ascending=[True, False, True]).drop_duplicates("code")
    return m[["code", lv.code]].rename(columns={lv.code: "parent_code"}).reset_index(drop=True)


def top_parents(
    con: duckdb.DuckDBPyConnection, *, parent: str, measure: str, top: int, index: str | None = None
) -> pd.DataFrame:
    """The ``top`` parents most deprived on ``measure`` (rank 1 = most deprived): ``parent_code,
    parent_name, <measure>, parent_rank``, by rank then code."""
    from neighbourhood_lens.deprivation.summaries import summarise
    from neighbourhood_lens.geo.geography import LEVELS

    index = index or ("imd2019" if LEVELS[parent].lsoa_vintage == 2011 else "imd2025")
    s = summarise(con, index=index, by=parent)
    rank_col = f"rank_of_{measure}"
    s = s.sort_values([rank_col, "code"]).head(top)
    out = s[["code", "name", measure, rank_col]].rename(
        columns={"code": "parent_code", "name": "parent_name", rank_col: "parent_rank"})
    out.attrs["index"] = index
    return out.reset_index(drop=True)


def _water_fill(basis: np.ndarray, total: float, floor: float | None, ceiling: float | None) -> np.ndarray:
    n = len(basis)
    lo = np.full(n, 0.0 if floor is None else floor)
    hi = np.full(n, np.inf if ceiling is None else ceiling)
    fixed = np.full(n, np.nan)
    for _ in range(n + 1):
        free = np.isnan(fixed)
        rest = total - np.nansum(fixed)
        b = basis[free]
        share = rest * b / b.sum() if b.sum() > 0 else np.full(b.size, rest / max(b.size, 1))
        amounts = fixed.copy()
        amounts[free] = share
        below, above = free & (amounts < lo - 1e-9), free & (amounts > hi + 1e-9)
        if not below.any() and not above.any():
            return amounts
        fixed[below], fixed[above] = lo[below], hi[above]
        if not np.isnan(fixed).any():
            return fixed
    return amounts


def _whole_pence(amounts: np.ndarray) -> np.ndarray:
    """Round to whole pence keeping the (rounded) total: largest remainder, ties to the first."""
    exact = amounts * 100
    pence = np.floor(exact + 1e-9)
    short = int(round(exact.sum() - pence.sum()))
    if short > 0:
        pence[np.argsort(-(exact - pence), kind="stable")[:short]] += 1
    return pence / 100


def allocate(chosen: pd.DataFrame, budget: Budget | None) -> tuple[np.ndarray, dict[str, float]]:
    """Amount (GBP) for each chosen area and a note: ``allocated``, ``unallocated``.

    ``chosen`` has ``population``, ``need_weight`` and ``cost``. See the module docstring.

    >>> f = pd.DataFrame({"population": [100.0, 300.0], "need_weight": [0.5, 0.5], "cost": [1.0, 1.0]})
    >>> allocate(f, Budget(total=1000, allocation="per_head", ceiling=600))[0].tolist()
    [400.0, 600.0]
    """
    n = len(chosen)
    if budget is None:
        return np.zeros(n), {"allocated": 0.0, "unallocated": 0.0}
    if budget.allocation == "cost" or n == 0:
        amounts = chosen["cost"].to_numpy(dtype=float) if n else np.zeros(0)
    else:
        if budget.floor is not None and budget.floor * n > budget.total + 1e-6:
            raise DataError(f"budget.floor = {budget.floor:,.0f} binds: {n} chosen areas x floor = "
                            f"{budget.floor * n:,.0f} exceeds budget.total = {budget.total:,.0f}; lower the floor, "
                            "raise the total or choose fewer areas (select.count)")
        pop = chosen["population"].to_numpy(dtype=float)
        basis = {"equal": np.ones(n), "per_head": pop,
                 "need_weighted": pop * chosen["need_weight"].to_numpy(dtype=float)}[budget.allocation]
        amounts = _whole_pence(_water_fill(basis, budget.total, budget.floor, budget.ceiling))
    amounts = np.round(amounts, 2)
    allocated = float(amounts.sum())
    return amounts, {"allocated": allocated, "unallocated": round(budget.total - allocated, 2)}
