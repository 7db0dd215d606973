"""The optimal design: an exact mixed-integer program solved by HiGHS (``highspy``).

Model
-----
One binary :math:`x_i` per eligible area :math:`i` (1 = chosen), with population :math:`p_i`,
need weight :math:`w_i = 1 - \\bar r_i` (see :mod:`.need`) and cost
:math:`c_i = F + h\\,p_i` (``per_area_fixed``, ``per_head``):

.. math::

    \\max_x \\; \\sum_i p_i w_i x_i
    \\quad \\text{s.t.} \\quad
    \\sum_i c_i x_i \\le B, \\qquad
    \\sum_{i \\in \\ell} x_i \\le K_{\\text{LAD}} \\;\\; \\forall \\ell, \\qquad
    \\sum_{i \\in g} x_i \\le K_{\\text{region}} \\;\\; \\forall g, \\qquad
    \\sum_i x_i \\le K, \\qquad x_i \\in \\{0, 1\\}

The objective is **people x need**: residents reached, each counted by the need weight of
their area. It is a multi-dimensional knapsack problem (NP-hard), solved by branch and bound
in HiGHS; the solver reports the best bound, so the relative gap
:math:`(\\text{bound} - \\text{objective}) / \\text{objective}` is a certificate of how far the
design could be from the optimum (0 = proven optimal). The solver stops once the gap is at
most ``mip_gap`` (``select.mip_gap``, default :data:`DEFAULT_MIP_GAP` = 1e-4, i.e. within
0.01% of the optimum); ``mip_gap = 0`` asks for proven optimality.

Notes
-----
The model is written without redundant rows, all of them ``<=`` rows (no equalities, so each
cap row with a limit of 1 is a set-packing clique HiGHS can use directly):

* an area that alone costs more than :math:`B` is fixed at 0 (it is not a column);
* a cap row whose group cannot exceed its limit anyway is left out: a group with at most
  :math:`K` areas, or a region whose local authorities, each capped at :math:`K_{\\text{LAD}}`,
  cannot together exceed :math:`K_{\\text{region}}`;
* the count row is left out when the caps, or the budget (the :math:`K` cheapest areas
  already cost more than :math:`B`), cannot let more than :math:`K` areas in; the budget row
  when every area together fits.

The budget row is divided by :math:`B` so every coefficient is below 1 (better conditioned).
The greedy rule of :mod:`.select` is evaluated on the same eligible areas, budget and caps;
its walk is always feasible for the MILP, so it is given to HiGHS as the starting solution
(the incumbent from the first node, so the branch and bound only has to close the gap) and
the optimal objective is never below it. HiGHS's output is switched off
(``output_flag = false``) and file descriptors 1 and 2 are redirected around the solve, so
nothing of it reaches the terminal.

References
----------
Huangfu, Q. and Hall, J. A. J. (2018), "Parallelizing the dual revised simplex method",
*Mathematical Programming Computation* 10(1), 119-142 (HiGHS).
Kellerer, H., Pferschy, U. and Pisinger, D. (2004), *Knapsack Problems*, Springer, ch. 9
(multidimensional knapsack).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["DEFAULT_MIP_GAP", "solve_optimal", "objective", "model_rows"]

#: Relative gap at which the solver stops by default (``select.mip_gap``): within 0.01% of the optimum.
DEFAULT_MIP_GAP = 1e-4


@contextmanager
def _quiet_fds() -> Iterator[None]:
    """Send C-level writes to file descriptors 1 and 2 to /dev/null for the duration.

    HiGHS prints its banner and some diagnostics (``HighsMipSolverData::...``) from C++ even
    with its output switched off; Python's own ``sys.stdout``/``sys.stderr`` are flushed first.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError):
            pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = []
    try:
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
            except OSError:  # descriptor closed (a daemon): nothing to silence
                continue
            os.dup2(devnull, fd)
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def objective(population: np.ndarray, need_weight: np.ndarray, chosen: np.ndarray) -> float:
    """People x need of a set of chosen areas: :math:`\\sum_i p_i w_i x_i`.

    >>> objective(np.array([100.0, 200.0]), np.array([0.5, 0.25]), np.array([True, True]))
    100.0
    """
    return float((np.asarray(population, float) * np.asarray(need_weight, float))[np.asarray(chosen, bool)].sum())


def _nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Whether every group of ``inner`` lies inside one group of ``outer``."""
    pairs = np.unique(np.column_stack([inner, outer]), axis=0)
    return len(pairs) == len(np.unique(inner))


def model_rows(
    cost: np.ndarray,
    *,
    budget: float,
    caps: Sequence[tuple[np.ndarray, int, str]] = (),
    count: int | None = None,
) -> tuple[list[tuple[np.ndarray, float]], dict[str, int]]:
    """The rows of the model that can bind, as ``(member indices, limit)`` of ``sum x <= limit``,
    after the budget row (see the module Notes for what is left out), and the number of rows
    dropped as redundant by kind. ``cost`` holds only the areas that fit the budget alone.

    >>> lad = np.array([0, 0, 1]); region = np.array([0, 0, 0])
    >>> rows, dropped = model_rows(np.ones(3), budget=10.0, caps=[(lad, 1, "lad_code"), (region, 2, "region_code")])
    >>> [(r.tolist(), k) for r, k in rows], dropped
    ([([0, 1], 1.0)], {'cap': 2, 'count': 0, 'budget': 1})
    """
    n = len(cost)
    rows: list[tuple[np.ndarray, float]] = []
    dropped = {"cap": 0, "count": 0, "budget": 0}
    most = n  # most areas any feasible design can hold, from the caps
    for j, (groups, limit, _) in enumerate(caps):
        k = int(groups.max()) + 1 if n else 0
        size = np.bincount(groups, minlength=k)
        room = size.astype(float)
        for jj, (inner, inner_limit, _) in enumerate(caps):
            if jj != j and n and _nested(inner, groups):
                inner_room = np.minimum(np.bincount(inner, minlength=int(inner.max()) + 1), inner_limit)
                outer_of = np.zeros(len(inner_room), dtype=np.int64)
                outer_of[inner] = groups
                room = np.minimum(room, np.bincount(outer_of, weights=inner_room, minlength=k))
        most = min(most, int(np.minimum(room, limit).sum()))
        order = np.argsort(groups, kind="stable")
        members = np.split(order, np.cumsum(size)[:-1]) if n else []
        for g in range(k):
            if room[g] > limit:
                rows.append((members[g], float(limit)))
            else:
                dropped["cap"] += 1
    affordable = int(np.searchsorted(np.cumsum(np.sort(cost)), budget * (1 + 1e-9), side="right"))
    if count is not None:
        if count < min(most, affordable):
            rows.append((np.arange(n), float(count)))
        else:
            dropped["count"] += 1
    if float(np.sum(cost)) <= budget * (1 + 1e-9):
        dropped["budget"] += 1
    return rows, dropped


def _matrix(n: int, budget_coef: np.ndarray | None, rows: Sequence[tuple[np.ndarray, float]],
            budget_limit: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise sparse matrix (``start, index, value``) and row upper bounds: the budget row
    first (when ``budget_coef`` is given), then the ``rows``."""
    er, ec, ev, upper = [], [], [], []
    if budget_coef is not None:
        er.append(np.zeros(n, dtype=np.int64))
        ec.append(np.arange(n))
        ev.append(budget_coef)
        upper.append(budget_limit + 1e-9)
    for r, (members, limit) in enumerate(rows, start=len(upper)):
        er.append(np.full(len(members), r, dtype=np.int64))
        ec.append(np.asarray(members, dtype=np.int64))
        ev.append(np.ones(len(members)))
        upper.append(limit)
    rr = np.concatenate(er) if er else np.zeros(0, np.int64)
    cc = np.concatenate(ec) if ec else np.zeros(0, np.int64)
    vv = np.concatenate(ev) if ev else np.zeros(0)
    order = np.lexsort((rr, cc))
    start = np.concatenate([[0], np.cumsum(np.bincount(cc, minlength=n))]).astype(np.int32)
    return start, rr[order].astype(np.int32), vv[order], np.asarray(upper, float)


def _solve(value: np.ndarray, matrix: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], *, integer: bool,
           time_limit: float, mip_gap: float, start: np.ndarray | None = None) -> dict[str, Any]:
    """One HiGHS run (maximise ``value @ x``, ``0 <= x <= 1``, ``A x <= upper``), silenced."""
    import highspy

    n = len(value)
    a_start, a_index, a_value, upper = matrix
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(upper)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = value
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.ones(n)
    lp.row_lower_, lp.row_upper_ = np.full(len(upper), -highspy.kHighsInf), upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, len(upper)
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a_start, a_index, a_value
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    with _quiet_fds():
        h = highspy.Highs()
        for option, setting in (("output_flag", False), ("log_to_console", False), ("time_limit", float(time_limit)),
                                ("mip_rel_gap", float(mip_gap)), ("random_seed", 0), ("threads", 1)):
            h.setOptionValue(option, setting)
        if not integer:  # the primal simplex solves this LP (few rows, many columns) fastest
            h.setOptionValue("simplex_strategy", 4)
        h.passModel(lp)
        if start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = np.asarray(start, float).tolist()
            sol.value_valid = True
            h.setSolution(sol)
        t0 = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - t0
        status = h.getModelStatus()
        info = h.getInfo()
        solution = h.getSolution()
        found = bool(info.primal_solution_status)
        out = {"x": np.asarray(solution.col_value, float) if found else None,
               "dual": np.asarray(solution.col_dual, float) if not integer and found else None,
               "optimal": status == highspy.HighsModelStatus.kOptimal, "message": h.modelStatusToString(status),
               "objective": float(info.objective_function_value), "seconds": seconds,
               "bound": float(info.mip_dual_bound) if integer else float(info.objective_function_value),
               "gap": float(info.mip_gap) if integer else 0.0}
    return out


#: Areas left free in the core problem (beyond the LP's fractional ones), nearest the LP's margin.
CORE_SIZE = 1500


def solve_optimal(
    population: np.ndarray,
    need_weight: np.ndarray,
    cost: np.ndarray,
    *,
    budget: float,
    caps: Sequence[tuple[np.ndarray, int, str]] = (),
    count: int | None = None,
    time_limit: float = 300.0,
    mip_gap: float = DEFAULT_MIP_GAP,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Solve the model of the module docstring; returns the chosen mask and solver facts:
    ``objective, bound, mip_gap, mip_gap_requested, status, message, solve_seconds, n_binaries,
    n_constraints, rows_dropped, start_objective, proof``.

    ``caps`` as :func:`.select.cap_groups`. ``start``: a feasible design (boolean mask, e.g.
    the greedy walk) given to HiGHS as its first incumbent. The solver stops at a relative gap
    of ``mip_gap`` (0 = prove optimality). A run stopped by the time limit keeps its best design
    and reports its gap; a run with no design at all is a :class:`DataError`.

    Method (``mip_gap > 0``): the LP relaxation is solved first; its optimum is an upper bound.
    The *core problem* (Balas and Zemel 1980) then keeps the LP's choices far from its margin
    fixed (areas at 1 are taken, at 0 left) and solves the MILP over the fractional areas and
    the :data:`CORE_SIZE` areas of smallest reduced cost, in the budget and cap room left; the
    design found is feasible for the whole model. If its gap to the LP bound is at most
    ``mip_gap``, that is the answer (``proof = "lp bound"``); otherwise, and always for
    ``mip_gap = 0``, the whole MILP is solved from the best design so far (``proof = "branch
    and bound"``).

    >>> chosen, info = solve_optimal(np.array([10.0, 6.0, 6.0]), np.array([1.0, 1.0, 1.0]),
    ...                              np.array([2.0, 1.0, 1.0]), budget=2.0, mip_gap=0)
    >>> chosen.tolist(), info["objective"], info["mip_gap"]
    ([False, True, True], 12.0, 0.0)
    """
    p = np.asarray(population, float)
    w = np.asarray(need_weight, float)
    c = np.asarray(cost, float)
    n_all = len(p)
    cols = np.flatnonzero(c <= budget * (1 + 1e-9))
    value = (p * w)[cols]
    n = len(cols)
    sub_caps = [(np.unique(g[cols], return_inverse=True)[1].astype(np.int64), lim, name) for g, lim, name in caps]
    rows, dropped = model_rows(c[cols], budget=budget, caps=sub_caps, count=count)
    coef = c[cols] / budget if dropped["budget"] == 0 else None
    full = _matrix(n, coef, rows)
    t0 = time.perf_counter()
    best = np.asarray(start, bool)[cols].astype(float) if start is not None else None
    start_obj = float(value @ best) if best is not None else float("nan")
    result: dict[str, Any] | None = None
    if mip_gap > 0 and n > CORE_SIZE:
        lp = _solve(value, full, integer=False, time_limit=time_limit, mip_gap=mip_gap)
        if lp["x"] is not None:
            x_lp, bound = lp["x"], lp["objective"]
            frac = (x_lp > 1e-6) & (x_lp < 1 - 1e-6)
            free = frac.copy()
            free[np.argsort(np.abs(lp["dual"]), kind="stable")[:CORE_SIZE]] = True
            ones = ~free & (x_lp > 0.5)
            core = np.flatnonzero(free)
            used_budget = float(c[cols][ones].sum()) / budget if coef is not None else 0.0
            core_rows = []
            for members, limit in rows:
                inside = members[free[members]]
                room = limit - float(ones[members].sum())
                if len(inside) and room < len(inside):
                    core_rows.append((np.searchsorted(core, inside), room))
            core_matrix = _matrix(len(core), coef[core] if coef is not None else None, core_rows,
                                  budget_limit=1.0 - used_budget)
            left = max(time_limit - (time.perf_counter() - t0), 1.0)
            sub = _solve(value[core], core_matrix, integer=True, time_limit=left, mip_gap=min(mip_gap / 10, 1e-6))
            if sub["x"] is not None:
                x = ones.astype(float)
                x[core] = np.round(sub["x"])
                if best is None or value @ x > value @ best:
                    best = x
                obj = float(value @ best)
                gap = (bound - obj) / abs(obj) if obj else float("inf")
                if gap <= mip_gap:
                    result = {"x": best, "optimal": True, "message": "Optimal (core problem within the LP bound)",
                              "bound": bound, "gap": max(gap, 0.0), "proof": "lp bound"}
    if result is None:
        left = max(time_limit - (time.perf_counter() - t0), 1.0)
        result = _solve(value, full, integer=True, time_limit=left, mip_gap=mip_gap, start=best)
        result["proof"] = "branch and bound"
    seconds = time.perf_counter() - t0
    if result["x"] is None or len(result["x"]) != n:
        raise DataError(f"the optimal design found no solution (HiGHS: {result['message']}); raise select.time_limit "
                        f"(now {time_limit:g} s) or loosen the rules")
    chosen = np.zeros(n_all, dtype=bool)
    chosen[cols[result["x"] > 0.5]] = True
    gap = float(result["gap"])
    gap = 0.0 if (result["optimal"] and abs(gap) < 1e-12) or n == 0 else max(gap, 0.0)
    return chosen, {"objective": objective(p, w, chosen), "bound": float(result["bound"]) if n else 0.0,
                    "mip_gap": gap, "mip_gap_requested": float(mip_gap), "status": 0 if result["optimal"] else 1,
                    "message": result["message"], "proof": result["proof"], "solve_seconds": round(seconds, 3),
                    "n_binaries": n_all, "n_constraints": len(full[3]), "rows_dropped": dropped,
                    "start_objective": start_obj}
