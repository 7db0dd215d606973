"""Benchmark: ``outcomes compare`` (all outcomes, three groups, 1,000 bootstrap draws) against
one DuckDB aggregation of the same numerators, in the same run.

Target (issue 18): the comparison (group sums, 1,000 area-bootstrap draws of every outcome for
every group, gaps, verdicts) takes at most 10x a single DuckDB ``GROUP BY`` that sums the same
LSOA numerators and denominators by group and outcome (point estimates only, no intervals).
Loading the outcomes onto the vintage (apportioning, vintage bridges) is timed and printed
separately: it is the same work whichever way the sums are then taken.

    .venv/bin/python benchmarks/bench_outcomes.py [--db nlens.duckdb] [--vintage 2019|2023] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from neighbourhood_lens.outcomes.catalogue import parse_outcomes
from neighbourhood_lens.outcomes.compare import compare_groups, outcome_matrix
from neighbourhood_lens.outcomes.groups import resolve_groups
from neighbourhood_lens.warehouse import connect


def duckdb_aggregation(m, groups) -> tuple[float, pd.DataFrame]:  # noqa: ANN001
    """One GROUP BY over the long table of the same numerators; returns (seconds, result)."""
    k = len(m.outcomes)
    long = pd.DataFrame({
        "lsoa_code": np.repeat(m.codes, k), "outcome": np.tile([o.id for o in m.outcomes], len(m.codes)),
        "numerator": m.numerators.ravel(), "denominator": m.denominators.ravel()})
    members = pd.concat([g.members.set_axis(["lsoa_code", "cluster"], axis=1).assign(grp=n)
                         for n, g in groups.items()], ignore_index=True)
    con = duckdb.connect()
    con.register("vals", long)
    con.register("members", members)
    sql = ("SELECT grp, outcome, sum(numerator) / sum(denominator) AS value, count(DISTINCT cluster) AS n_areas "
           "FROM members JOIN vals USING (lsoa_code) GROUP BY grp, outcome")
    con.execute(sql).fetchall()  # warm-up (registration, plan)
    t = time.perf_counter()
    res = con.execute(sql).df()
    sec = time.perf_counter() - t
    con.close()
    return sec, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--vintage", type=int, default=2019, choices=(2019, 2023))
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    con = connect(args.db)
    outcomes = parse_outcomes("all")
    t = time.perf_counter()
    m = outcome_matrix(con, outcomes, vintage=args.vintage, cache={})
    load = time.perf_counter() - t
    t = time.perf_counter()
    groups = resolve_groups(con, None, vintage=args.vintage)
    t_groups = time.perf_counter() - t
    ours, base = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        table = compare_groups(m, groups, draws=args.draws, seed=1)
        ours.append(time.perf_counter() - t)
        sec, res = duckdb_aggregation(m, groups)
        base.append(sec)
    # the two agree on the point estimates
    check = res.assign(value=res["value"] * res["outcome"].map({o.id: o.scale for o in outcomes}))
    merged = table.merge(check, left_on=["group", "outcome"], right_on=["grp", "outcome"], suffixes=("", "_db"))
    assert np.allclose(merged["value"], merged["value_db"], equal_nan=True), "point estimates differ"
    ours_s, base_s = statistics.median(ours), statistics.median(base)
    print(f"vintage {args.vintage}: {len(outcomes)} outcomes x {len(groups)} groups "
          f"({', '.join(f'{n} {g.n_areas:,} areas' for n, g in groups.items())}), {args.draws:,} draws")
    print(f"load outcomes onto LSOA {2011 if args.vintage == 2019 else 2021}: {load:.2f} s; groups: {t_groups:.2f} s")
    print(f"compare (sums + {args.draws:,} bootstrap draws + gaps): {ours_s:.3f} s (median of {args.repeat})")
    print(f"DuckDB GROUP BY of the same numerators (point estimates): {base_s:.3f} s (median of {args.repeat})")
    print(f"ratio: {ours_s / base_s:.1f}x (target <= 10x)")


if __name__ == "__main__":
    main()
