"""The optimal design: an exact mixed-integer program solved by HiGHS (``scipy.optimize.milp``).

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
their area. It is a multi-dimensional knapsack problem (NP-hard), solved exactly by branch and
bound in HiGHS; the solver reports the best bound, so the relative gap
:math:`(\\text{bound} - \\text{objective}) / \\text{objective}` is a certificate of how far the
design could be from the optimum (0 = proven optimal).

Notes
-----
The budget row is divided by :math:`B` so every coefficient is below 1 (better conditioned).
The greedy rule of :mod:`.select` is evaluated on the same eligible areas, budget and caps,
so the two objectives are directly comparable; the greedy walk is always feasible for the MILP,
so the optimal objective is never below it.

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

__all__ = ["solve_optimal", "objective"]


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence HiGHS's C-level diagnostics on file descriptor 1 (``disp=False`` leaves some)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # pytest capture or a notebook: nothing to silence
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def objective(population: np.ndarray, need_weight: np.ndarray, chosen: np.ndarray) -> float:
    """People x need of a set of chosen areas: :math:`\\sum_i p_i w_i x_i`.

    >>> objective(np.array([100.0, 200.0]), np.array([0.5, 0.25]), np.array([True, True]))
    100.0
    """
    return float((np.asarray(population, float) * np.asarray(need_weight, float))[np.asarray(chosen, bool)].sum())


def solve_optimal(
    population: np.ndarray,
    need_weight: np.ndarray,
    cost: np.ndarray,
    *,
    budget: float,
    caps: Sequence[tuple[np.ndarray, int, str]] = (),
    count: int | None = None,
    time_limit: float = 300.0,
    mip_rel_gap: float = 0.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Solve the model of the module docstring; returns the chosen mask and solver facts:
    ``objective, bound, mip_gap, status, message, solve_seconds, n_binaries, n_constraints``.

    ``caps`` as :func:`.select.cap_groups`. A run stopped by the time limit keeps its best
    design and reports its gap; a run with no design at all is a :class:`DataError`.

    >>> chosen, info = solve_optimal(np.array([10.0, 6.0, 6.0]), np.array([1.0, 1.0, 1.0]),
    ...                              np.array([2.0, 1.0, 1.0]), budget=2.0)
    >>> chosen.tolist(), info["objective"]
    ([False, True, True], 12.0)
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    p = np.asarray(population, float)
    value = p * np.asarray(need_weight, float)
    n = len(value)
    rows = [sparse.csr_matrix(np.asarray(cost, float).reshape(1, -1) / budget)]
    upper = [1.0 + 1e-9]
    for groups, limit, _ in caps:
        k = int(groups.max()) + 1 if n else 0
        rows.append(sparse.csr_matrix((np.ones(n), (groups, np.arange(n))), shape=(k, n)))
        upper += [float(limit)] * k
    if count is not None:
        rows.append(sparse.csr_matrix(np.ones((1, n))))
        upper.append(float(count))
    a = sparse.vstack(rows, format="csr")
    start = time.perf_counter()
    with _quiet_stdout():
        res = milp(
            -value,
            constraints=LinearConstraint(a, -np.inf, np.asarray(upper)),
            integrality=np.ones(n),
            bounds=Bounds(0, 1),
            options={"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap), "disp": False},
        )
    seconds = time.perf_counter() - start
    if res.x is None:
        raise DataError(f"the optimal design found no solution (HiGHS status {res.status}: {res.message}); "
                        f"raise select.time_limit (now {time_limit:g} s) or loosen the rules")
    chosen = res.x > 0.5
    obj = objective(p, np.asarray(need_weight, float), chosen)
    bound = float(-res.mip_dual_bound) if getattr(res, "mip_dual_bound", None) is not None else float("nan")
    gap = float(res.mip_gap) if getattr(res, "mip_gap", None) is not None else float("nan")
    return chosen, {"objective": obj, "bound": bound, "mip_gap": gap, "status": int(res.status),
                    "message": str(res.message), "solve_seconds": round(seconds, 3), "n_binaries": n,
                    "n_constraints": int(a.shape[0])}
