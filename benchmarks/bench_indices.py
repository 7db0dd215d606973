"""Benchmark: Monte Carlo rank uncertainty, 1,000 draws over 33,755 LSOAs (target: seconds, < 30 s).

Usage: .venv/bin/python benchmarks/bench_indices.py [--db WAREHOUSE] [--draws 1000] [--repeat 3]

Times ``sensitivity`` for the IMD 2025 preset (33,755 LSOAs 2021) and IMD 2019 (32,844 LSOAs
2011) at +-20% weight jitter, and the left-behind stability of the 2019 ward list. Prints best
and worst wall time of the draws (data reading excluded: ``prepare`` is timed separately) and
the peak size of the rank matrix.
"""

from __future__ import annotations

import argparse
import time

from neighbourhood_lens.indices import prepare, preset
from neighbourhood_lens.indices.sensitivity import sensitivity
from neighbourhood_lens.indices.stability import left_behind_stability
from neighbourhood_lens.warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="warehouse (default: NLENS_DB or the user data dir)")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    con = connect(args.db)
    worst_all = 0.0
    for name in ("imd2025", "imd2019"):
        start = time.perf_counter()
        plan = prepare(con, preset(name))
        read = time.perf_counter() - start
        times = []
        for _ in range(args.repeat):
            frame = sensitivity(plan, draws=args.draws, weight_jitter=0.2, seed=1)
            times.append(frame.attrs["seconds"])
        worst_all = max(worst_all, max(times))
        mb = plan.n * args.draws * 2 / 1e6
        print(f"{name}: {args.draws} draws x {plan.n:,} areas: best {min(times):.2f} s, worst {max(times):.2f} s "
              f"(read {read:.2f} s; rank matrix {mb:.0f} MB uint16); "
              f"{frame.attrs['n_uncertain_top_decile']:,} areas with 0 < p_top_decile < 1")
    times = []
    for _ in range(args.repeat):
        out = left_behind_stability(con, draws=args.draws, weight_jitter=0.2, seed=1)
        times.append(out.attrs["seconds"])
    a = out.attrs
    print(f"left-behind stability (CNI jittered): {args.draws} draws: best {min(times):.2f} s, "
          f"worst {max(times):.2f} s; baseline {a['n_baseline']} wards, {a['n_baseline_uncertain']} uncertain, "
          f"{a['n_enter']} enter in some draws")
    verdict = "PASS" if worst_all < 30 else "FAIL"
    print(f"-> {verdict} (target: 1,000 draws over 33,755 LSOAs in seconds, < 30 s)")


if __name__ == "__main__":
    main()
