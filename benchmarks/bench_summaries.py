"""Benchmark: all summary measures for all LADs, all domains, both editions (target < 2 s).

Usage: .venv/bin/python benchmarks/bench_summaries.py [--db WAREHOUSE] [--repeat 5]
Also times the trajectories of every ward (no target; reported for information).
"""

from __future__ import annotations

import argparse
import time

from neighbourhood_lens.deprivation import summaries as sm
from neighbourhood_lens.deprivation import trajectories as tr
from neighbourhood_lens.warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="warehouse (default: NLENS_DB or the user data dir)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    con = connect(args.db)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        frames = [sm.summarise_all(con, index=i, by=b) for i, b in (("imd2019", "lad19"), ("imd2025", "lad24"))]
        times.append(time.perf_counter() - start)
    rows = sum(len(f) for f in frames)
    best, worst = min(times), max(times)
    verdict = "PASS" if worst < 2 else "FAIL"
    print(f"summaries: {rows} rows (317 LAD19 + 296 LAD24 x 8 domains), best {best:.3f} s, worst {worst:.3f} s "
          f"over {args.repeat} runs -> {verdict} (target < 2 s)")
    start = time.perf_counter()
    wards = tr.trajectories(con, by="ward17")
    print(f"trajectories: {wards['code'].nunique()} wards x 6 editions in {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
