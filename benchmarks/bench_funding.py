"""Benchmark: locate and summarise 1,000,000 grants (target: under 20 s on 2 cores).

Generates a SYNTHETIC 360Giving CSV with :func:`neighbourhood_lens.funding.reach.synthetic_grants`
(mixed LSOA/MSOA/ward/LAD/region codes of both vintages, ~1% bad rows), then times reading
and validating, locating (with pro-rata splits) and the full :func:`reach` summary.

    .venv/bin/python benchmarks/bench_funding.py [--n 1000000] [--db WAREHOUSE] [--index imd2019]

Without ``--db`` (or ``NLENS_DB``) a warehouse is built from ``../shared/data`` in a temp dir.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from neighbourhood_lens.funding import reach as funding
from neighbourhood_lens.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", default=os.environ.get("NLENS_DB"))
    parser.add_argument("--index", default="imd2019", choices=list(funding.INDEXES))
    parser.add_argument("--target", type=float, default=20.0, help="seconds allowed for reach()")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            from neighbourhood_lens.data.build import build_warehouse

            db = Path(tmp) / "w.duckdb"
            t = time.perf_counter()
            build_warehouse(db, mirror=ROOT.parent / "shared" / "data")
            print(f"built warehouse in {time.perf_counter() - t:.1f} s")
        con = connect(db)
        path = Path(tmp) / "grants.csv"
        t = time.perf_counter()
        funding.write_grants(funding.synthetic_grants(con, args.n, seed=1), path)
        print(f"generated {args.n:,} SYNTHETIC grants ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t:.1f} s (not timed below)")

        t0 = time.perf_counter()
        gi = funding.read_grants(path)
        t1 = time.perf_counter()
        loc = funding.locate_grants(con, gi, index=args.index)
        t2 = time.perf_counter()
        print(f"read + validate  {t1 - t0:6.2f} s  ({gi.rows_in:,} rows, {len(gi.rejected):,} rejected)")
        print(f"locate + split   {t2 - t1:6.2f} s  ({len(loc.grants):,} located, {len(loc.unlocated):,} unlocated, "
              f"{len(loc.allocations):,} LSOAs funded)")
        t3 = time.perf_counter()
        result = funding.reach(con, path, index=args.index)
        elapsed = time.perf_counter() - t3
        s = result.summary
        print(f"reach() end to end {elapsed:6.2f} s  (read, locate, deciles, groups, regions, curve, need view)")
        print(f"  rows in {s['rows_in']:,} = located {s['located']:,} + unlocated {s['unlocated']:,} + rejected "
              f"{s['rejected']:,}: balanced={s['balanced']}; concentration index {s['concentration_index']:+.4f}")
        print(f"  cores available: {os.cpu_count()}; target < {args.target:.0f} s: "
              f"{'PASS' if elapsed < args.target else 'FAIL'}")


if __name__ == "__main__":
    main()
