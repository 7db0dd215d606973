"""Benchmark: building a preset index against reading its columns, and Monte Carlo rank uncertainty.

Usage: .venv/bin/python benchmarks/bench_indices.py [--db WAREHOUSE] [--draws 1000] [--repeat 3]

Build: for each preset (IMD 2019 and 2025, CNI 2019 and 2023), the best of ``--repeat`` runs of
:func:`build_index` against the reference measured in the same run, reading the preset's
component columns from DuckDB into pandas (``SELECT code, <columns> FROM <table>``), and their
ratio (target: <= 3x); then one whole ``nlens index build --preset imd2019 --out FILE`` in a
fresh process (imports included).

Sensitivity (target: seconds, < 30 s):
Times ``sensitivity`` for the IMD 2025 preset (33,755 LSOAs 2021) and IMD 2019 (32,844 LSOAs
2011) at +-20% weight jitter, and the left-behind stability of the 2019 ward list. Prints best
and worst wall time of the draws (data reading excluded: ``prepare`` is timed separately) and
the peak size of the rank matrix.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neighbourhood_lens.indices import build_index, prepare, preset
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
    for name in ("imd2019", "imd2025", "cni2019", "cni2023"):
        spec = preset(name)
        leaves = spec.leaves()
        table = leaves[0].table
        code = {"lsoa11": "lsoa11_code", "lsoa21": "lsoa21_code", "ward17": "ward17_code"}.get(spec.unit, "code")
        cols = ", ".join(f'CAST("{c.column}" AS DOUBLE) AS "{c.name}"' for c in leaves)
        sql = f'SELECT CAST("{code}" AS VARCHAR) AS code, {cols} FROM "{table}"'
        build_index(con, spec)  # warm: imports and the warehouse's caches
        reads, builds = [], []
        for _ in range(args.repeat):  # interleaved, so both see the same load
            t = time.perf_counter()
            con.execute(sql).df()
            reads.append(time.perf_counter() - t)
            t = time.perf_counter()
            frame = build_index(con, spec)
            builds.append(time.perf_counter() - t)
        ratio = min(builds) / min(reads)
        print(f"{name} build: {len(frame):,} areas, {len(leaves)} components: build "
              f"{min(builds):.3f}-{max(builds):.3f} s, reading the columns {min(reads):.3f}-{max(reads):.3f} s; "
              f"ratio (best) {ratio:.1f}x "
              f"(target <= 3x: {'PASS' if ratio <= 3 else 'FAIL'})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        import neighbourhood_lens

        src = str(Path(neighbourhood_lens.__file__).resolve().parents[1])  # the package this run imports
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        run = "import sys; from neighbourhood_lens.cli import main; sys.argv[0] = 'nlens'; main()"
        cmd = [sys.executable, "-c", run, "index", "build", "--preset", "imd2019",
               "--out", str(Path(tmp) / "imd2019.csv")] + (["--db", args.db] if args.db else [])
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        print(f"nlens index build --preset imd2019 --out FILE (fresh process, imports included): "
              f"{time.perf_counter() - t:.1f} s", flush=True)
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
