"""Benchmark: the optimal programme design (exact MILP, HiGHS) at ward 2017 and at LSOA 2021 level.

Two designs, each solved with the default ``select.mip_gap`` (1e-4) and, for reference, to
proven optimality (``mip_gap = 0``), and reported against the greedy rank-then-cap rule on the
same rules, whose whole design is timed in the same run (target at LSOA 2021: a proven gap
<= 1e-4 in <= 5 s of solver time, and a whole design <= 2x the greedy design):

``ward17``
    ``examples/programmes/budget_optimal.toml``: IMD 2019 x CNI 2019 mean rank ratio, wards of
    at least 3,000 people, £500m at £1m + £100 a head, at most 1 ward per LAD and 40 per region.
``lsoa21``
    every one of the 33,755 LSOAs 2021 eligible (33,755 binaries): IMD 2025 x CNI 2023 mean rank
    ratio, £500m at £250,000 + £100 a head, at most 5 LSOAs per LAD and 150 per region.

    .venv/bin/python benchmarks/bench_programmes.py [--db WAREHOUSE] [--time-limit 600]

Without ``--db`` (or ``NLENS_DB``) a warehouse is built from ``../shared/data`` in a temp dir.
Prints one line per design and gap: binaries, constraints, solve seconds (HiGHS only),
whole-design seconds, objective, bound, gap and the greedy objective; then the ratio of the
whole design to the greedy design measured just before it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from neighbourhood_lens.programmes import design, load_spec, parse_spec
from neighbourhood_lens.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]

LSOA21 = {
    "name": "LSOA 2021 optimal", "unit": "lsoa21",
    "need": {"indicators": ["imd2025", "cni2023"], "combine": "rank_mean"},
    "budget": {"total": 500_000_000, "per_area_fixed": 250_000, "per_head": 100},
    "select": {"method": "optimal", "per_lad": 5, "per_region": 150},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("NLENS_DB"))
    parser.add_argument("--time-limit", type=float, default=600.0, help="HiGHS time limit per design (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            from neighbourhood_lens.data.build import build_warehouse

            db = Path(tmp) / "w.duckdb"
            build_warehouse(db, mirror=ROOT.parent / "shared" / "data")
        con = connect(db)
        ward = load_spec(ROOT / "examples" / "programmes" / "budget_optimal.toml")
        lsoa = parse_spec({**LSOA21, "select": {**LSOA21["select"], "time_limit": args.time_limit}})
        ward = ward.model_copy(update={"select": ward.select.model_copy(update={"time_limit": args.time_limit})})
        for label, spec in (("ward17", ward), ("lsoa21", lsoa)):
            greedy = spec.model_copy(update={"select": spec.select.model_copy(update={"method": "greedy"})})
            key = "mip_gap" if "mip_gap" in type(spec.select).model_fields else "mip_rel_gap"  # older versions
            for gap in dict.fromkeys((getattr(spec.select, key), 0.0)):
                t = time.perf_counter()
                design(con, greedy)
                greedy_total = time.perf_counter() - t
                exact = spec.model_copy(update={"select": spec.select.model_copy(update={key: gap})})
                t = time.perf_counter()
                d = design(con, exact)
                total = time.perf_counter() - t
                s = d.summary
                print(f"{label} (mip_gap {gap:g}): {s['n_binaries']:,} binaries, {s['n_constraints']:,} constraints; "
                      f"HiGHS solve {s['solve_seconds']:.2f} s ({s.get('proof', '-')}; {s['message']}); objective "
                      f"{s['objective']:,.0f}, bound {s['bound']:,.0f}, gap {s['mip_gap']:.2e}; {s['areas']:,} areas, "
                      f"{s['people']:,.0f} people, £{s['money']:,.0f}; greedy {s['greedy_objective']:,.0f} "
                      f"({s['greedy_areas']:,} areas), optimal {s['improvement_share']:+.2%}; whole design "
                      f"{total:.1f} s against greedy {greedy_total:.1f} s: {total / greedy_total:.1f}x", flush=True)

if __name__ == "__main__":
    main()
