"""Benchmark: warehouse build vs plain reading of the inputs, and the left-behind query.

Target (issue 2): the build takes at most 3x the time it takes to just read every input
file with pyarrow; ``left-behind`` runs in under 2 s on a built warehouse.

A third timing separates what the build adds from what storing the data costs at all: the
"storage floor" writes the very same Arrow tables into a new DuckDB file with
``CREATE TABLE ... AS SELECT * FROM arrow`` in one transaction, with no checksums,
normalisation, validation, join reports or derived tables.

A fourth times what most users run after the first build: replacing one dataset of a built
warehouse (``nlens data build --file cni2019_ward17=PATH``, here the mirror's own CNI file), which
keeps every other dataset and the user's tables (:mod:`neighbourhood_lens.data.keep`).

    .venv/bin/python benchmarks/bench_build.py [--mirror ../shared/data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from neighbourhood_lens.data.build import build_warehouse
from neighbourhood_lens.data.sources import DATASETS
from neighbourhood_lens.deprivation.left_behind import left_behind
from neighbourhood_lens.warehouse import connect


def read_all(mirror: Path) -> float:
    t = time.perf_counter()
    for ds in DATASETS:
        pq.read_table(mirror / f"{ds}.parquet")
    return time.perf_counter() - t


def storage_floor(mirror: Path, db: Path) -> float:
    t = time.perf_counter()
    con = duckdb.connect(str(db))
    con.begin()
    for ds in DATASETS:
        con.register("_t", pq.read_table(mirror / f"{ds}.parquet"))
        con.execute(f'CREATE TABLE "{ds}" AS SELECT * FROM _t')
        con.unregister("_t")
    con.commit()
    con.close()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    read_all(args.mirror)  # warm the OS file cache so both timings read from memory
    reads, floors, builds, lb19, lb23, replaced = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        for n in range(args.repeat):
            reads.append(read_all(args.mirror))
            floors.append(storage_floor(args.mirror, Path(tmp) / f"floor{n}.duckdb"))
            t = time.perf_counter()
            build_warehouse(db, mirror=args.mirror)
            builds.append(time.perf_counter() - t)
        for _ in range(args.repeat):
            t = time.perf_counter()
            build_warehouse(db, files={"cni2019_ward17": args.mirror / "cni2019_ward17.parquet"})
            replaced.append(time.perf_counter() - t)
        con = connect(db)
        for _ in range(args.repeat):
            t = time.perf_counter()
            left_behind(con, vintage=2019)
            lb19.append(time.perf_counter() - t)
            t = time.perf_counter()
            left_behind(con, vintage=2023)
            lb23.append(time.perf_counter() - t)
    read_s, build_s = statistics.median(reads), statistics.median(builds)
    floor_s = statistics.median(floors)
    print(f"read every input with pyarrow : {read_s:6.2f} s (median of {args.repeat})")
    print(f"DuckDB storage floor          : {floor_s:6.2f} s ({floor_s / read_s:.1f}x read; no checks at all)")
    print(f"nlens data build              : {build_s:6.2f} s")
    print(f"build / read ratio            : {build_s / read_s:6.2f}  (target <= 3)")
    print(f"replace one dataset (--file)  : {statistics.median(replaced):6.2f} s (median; best {min(replaced):.2f} s)")
    print(f"left-behind --vintage 2019    : {statistics.median(lb19):6.3f} s (target < 2)")
    print(f"left-behind --vintage 2023    : {statistics.median(lb23):6.3f} s (target < 2)")


if __name__ == "__main__":
    main()
