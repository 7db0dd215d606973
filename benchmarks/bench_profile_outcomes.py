"""The Outcomes section of area profiles: what it adds to building the profile store, and per profile.

Builds the profile store with and without the outcome tables (median of ``--repeat`` runs; the
outcome tables are precomputed once per level, vectorised), then times ``area_profile`` for
``--profiles`` random LSOA, ward and LAD codes answered from memory. Prints seconds and the ratio.

Run: ``.venv/bin/python benchmarks/bench_profile_outcomes.py --db PATH [--repeat 3] [--profiles 300]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import time


def main() -> None:
    from neighbourhood_lens.outputs.profile_outcomes import outcome_tables
    from neighbourhood_lens.outputs.profiles import area_profile, load_store
    from neighbourhood_lens.warehouse import connect

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profiles", type=int, default=300)
    args = ap.parse_args()
    con = connect(args.db, read_only=True)
    base, extra = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        store = load_store(con, neighbours=True, outcomes=False)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.outcomes = outcome_tables(con, store.frames)
        extra.append(time.perf_counter() - t)
    b, e = statistics.median(base), statistics.median(extra)
    print(f"profile store without outcomes: {b:.2f} s; outcome tables: {e:.2f} s (+{e / b:.0%})")
    rng = random.Random(1)
    codes = [c for lv in ("lsoa21", "ward17", "ward24", "lad24") for c in rng.sample(list(store.frames[lv].index),
                                                                                     args.profiles // 4)]
    t = time.perf_counter()
    for code in codes:
        area_profile(None, code, store=store)
    per = (time.perf_counter() - t) / len(codes)
    print(f"area_profile with the Outcomes section: {1000 * per:.2f} ms per profile ({len(codes)} profiles)")


if __name__ == "__main__":
    main()
