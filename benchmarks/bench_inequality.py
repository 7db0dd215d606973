"""Benchmark: national Theil decomposition (< 1 s), adjacency and next-door gaps (< 30 s) on 2 cores.

Run: ``.venv/bin/python benchmarks/bench_inequality.py [--db WAREHOUSE]``. Without ``--db``
(or ``NLENS_DB``) a warehouse is built from ``../shared/data`` into a temporary directory first.
The process is pinned to 2 CPU cores where the OS allows it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(label: str, fn, *, target: float | None = None, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    verdict = "" if target is None else ("  OK" if best < target else f"  SLOWER than {target:g} s")
    print(f"{label:<58} {best:7.3f} s (best of {repeat}){verdict}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=os.environ.get("NLENS_DB"))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, cpus)
        print(f"pinned to CPUs {cpus}")
    from neighbourhood_lens.data.build import build_warehouse
    from neighbourhood_lens.deprivation import inequality as iq
    from neighbourhood_lens.deprivation import pockets as pk
    from neighbourhood_lens.geo.adjacency import adjacency_for_vintage, ensure_adjacency
    from neighbourhood_lens.warehouse import connect

    db = args.db
    if db is None:
        db = Path(tempfile.mkdtemp()) / "bench.duckdb"
        mirror = ROOT.parent / "shared" / "data"
        _timed("build warehouse from ../shared/data", lambda: build_warehouse(db, mirror=mirror), repeat=1)
    _timed("adjacency, LSOA 2011, cached in the warehouse (ensure)", lambda: ensure_adjacency(db, 2011), repeat=1)
    con = connect(db)
    _timed("adjacency, LSOA 2011, computed from boundaries (national)", lambda: adjacency_for_vintage(con, 2011),
           target=30, repeat=1)
    scores = _timed("load IMD 2019 LSOA scores + hierarchy", lambda: iq.lsoa_scores(con, index="imd2019"))
    levels = ["ward17_code", "lad19_code", "region19_code"]
    _timed("Theil T+L decomposition, ward/LAD/region (32,844 LSOAs)",
           lambda: iq.decompose_levels(scores, value="score", weight="population", levels=levels), target=1)
    _timed("end to end: decompose_index(imd2019, ward17,lad19,region19)",
           lambda: iq.decompose_index(con, index="imd2019"), target=1)
    _timed("population-weighted Gini", lambda: iq.gini(scores["score"], scores["population"]), target=1)
    areas, links = _timed("next-door inputs: scores + cached adjacency (LSOA)", lambda: pk.area_scores(con))
    _timed("next-door pairs + per-LAD shares (96,598 links)",
           lambda: (pk.next_door_pairs(areas, links), pk.next_door_by_lad(areas, links)), target=30)
    _timed("hidden pockets, LSOA level", lambda: pk.hidden_pockets(areas, links), target=30)
    _timed("ward level: scores + ward adjacency + pockets",
           lambda: pk.hidden_pockets(*pk.area_scores(con, level="ward")), target=30)


if __name__ == "__main__":
    main()
