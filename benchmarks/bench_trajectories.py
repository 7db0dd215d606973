"""Benchmark: the LSOA percentiles of every IoD edition on one LSOA vintage, and a trajectory table.

Usage: .venv/bin/python benchmarks/bench_trajectories.py [--db WAREHOUSE] [--repeat 3]

``lsoa_percentiles`` (each edition's national rank percentile, carried 2001 -> 2011 -> 2021 by
the ONS lookups) is the step every trajectory starts from: ``nlens trajectory``, the
trajectory of ``nlens report`` and the web cache's nine levels. Prints the best and the worst of
``--repeat`` runs for LSOA 2011 and LSOA 2021, then ``trajectories(by="lad24")`` from the
percentiles already computed (the rest of a trajectory table), and a checksum of the frames, so
that two versions of the code can be compared on the same warehouse (``PYTHONPATH=OTHER/src``).
"""

from __future__ import annotations

import argparse
import hashlib
import time

import pandas as pd

from neighbourhood_lens.deprivation.trajectories import lsoa_percentiles, trajectories
from neighbourhood_lens.warehouse import connect


def _times(fn, repeat: int) -> tuple[list[float], object]:
    out, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t)
    return out, result


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="warehouse (default: NLENS_DB or ./nlens.duckdb)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    con = connect(args.db)
    for vintage in (2011, 2021):
        times, frame = _times(lambda v=vintage: lsoa_percentiles(con, vintage=v), args.repeat)
        print(f"lsoa_percentiles(vintage={vintage}): best {min(times):.3f} s, worst {max(times):.3f} s "
              f"({len(frame):,} rows, sha256 {_digest(frame)})")
    lsoas = lsoa_percentiles(con, vintage=2021)
    times, frame = _times(lambda: trajectories(con, by="lad24", lsoas=lsoas), args.repeat)
    print(f"trajectories(by='lad24', lsoas=...): best {min(times):.3f} s, worst {max(times):.3f} s "
          f"({len(frame):,} rows, sha256 {_digest(frame)})")


if __name__ == "__main__":
    main()
