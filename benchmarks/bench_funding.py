"""Benchmark: funding reach on 1,000,000 grants against the bare DuckDB query, with peak memory.

Generates a SYNTHETIC 360Giving CSV with :func:`neighbourhood_lens.funding.reach.synthetic_grants`
(mixed LSOA/MSOA/ward/LAD/region codes of both vintages, ~1% bad rows), then runs, each in a
fresh Python process so that its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``)
is its own:

``reference``
    the bare DuckDB query: ``read_csv`` of the same file, join to the IMD's LSOAs, sum the
    amounts by national IMD decile (no validation, no splitting, no other geography);
``reach``
    the whole :func:`neighbourhood_lens.funding.reach.reach` (read, validate, locate with
    pro-rata splits, deciles, groups, regions, curve, need view), as ``nlens funding reach`` runs it.

Prints both times, the ratio (target <= 2x) and both peaks (target <= 600 MB for the reach),
then the stage times of the library in this process (not the figures that count).

    .venv/bin/python benchmarks/bench_funding.py [--n 1000000] [--db WAREHOUSE] [--index imd2019] [--repeat 2]
        [--csv grants.csv]

``--csv PATH`` keeps the generated file at ``PATH`` (and reuses it when it is already there), so
that outputs can be compared between two versions of the code on the very same grants.

Without ``--db`` (or ``NLENS_DB``) a warehouse is built from ``../shared/data`` in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_REFERENCE_SQL = """
SELECT i.imd_decile AS decile, sum(TRY_CAST(g."Amount Awarded" AS DOUBLE)) AS amount, count(*) AS grants
FROM read_csv('{path}', all_varchar=true, header=true) g
JOIN {table} i ON i.lsoa{yy}_code = g."Beneficiary Location:0:Geographic Code"
JOIN hierarchy_lsoa{yy} h ON h.lsoa{yy}_code = i.lsoa{yy}_code
GROUP BY 1 ORDER BY 1
"""


def _worker(kind: str, db: str, path: str, index: str, n: int) -> None:
    """Run one job in this (fresh) process and print a JSON line with its time and peak memory."""
    import resource

    from neighbourhood_lens.funding import reach as funding
    from neighbourhood_lens.warehouse import connect

    con = connect(db)
    table, vintage, _ = funding.INDEXES[index]
    t = time.perf_counter()
    if kind == "generate":
        funding.write_grants(funding.synthetic_grants(con, n, seed=1), path)
        facts: dict = {"mb": Path(path).stat().st_size / 1e6}
    elif kind == "reference":
        out = con.execute(_REFERENCE_SQL.format(path=path, table=table, yy=str(vintage)[2:])).df()
        facts = {"deciles": len(out), "grants": int(out["grants"].sum())}
    elif kind == "stages":
        gi = funding.read_grants(path)
        t1 = time.perf_counter()
        loc = funding.locate_grants(con, gi, index=index)
        facts = {"read": t1 - t, "locate": time.perf_counter() - t1, "rejected": len(gi.rejected),
                 "located": len(loc.grants), "unlocated": len(loc.unlocated)}
    else:
        s = funding.reach(con, path, index=index).summary
        facts = {k: s[k] for k in ("rows_in", "located", "unlocated", "rejected", "balanced", "amount_conserved")}
    seconds = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **facts}))


def _run(kind: str, db: str, path: Path, index: str, n: int = 0) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, __file__, "--worker", kind, "--db", db, "--file", str(path),
                          "--index", index, "--n", str(n)], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _times(runs: list[dict]) -> str:
    return ", ".join(f"{r['seconds']:.2f}" for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", default=os.environ.get("NLENS_DB"))
    parser.add_argument("--index", default="imd2019", choices=["imd2019", "imd2025"])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measured job (best is reported)")
    parser.add_argument("--stages", action="store_true", help="also time the library's stages in this process")
    parser.add_argument("--csv", help="keep the synthetic CSV here (reused if it exists)")
    parser.add_argument("--worker", choices=["generate", "reference", "reach", "stages"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.db, args.file, args.index, args.n)
        return
    # This process stays small (no pandas): on Linux a child's ru_maxrss starts from its parent's
    # size at fork, so the measured jobs and the generator each run in a process of their own.
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            from neighbourhood_lens.data.build import build_warehouse

            db = str(Path(tmp) / "w.duckdb")
            build_warehouse(db, mirror=ROOT.parent / "shared" / "data")
        path = Path(args.csv) if args.csv else Path(tmp) / "grants.csv"
        if path.exists():
            print(f"reusing {path} ({path.stat().st_size / 1e6:.0f} MB; not checked against --n)", flush=True)
        else:
            gen = _run("generate", db, path, args.index, args.n)
            print(f"generated {args.n:,} SYNTHETIC grants ({gen['mb']:.0f} MB) in {gen['seconds']:.1f} s "
                  "(not timed below)", flush=True)
        runs: dict[str, list[dict]] = {"reference": [], "reach": []}
        for _ in range(args.repeat):
            for kind in runs:  # interleaved, so both see the same load
                runs[kind].append(_run(kind, db, path, args.index))
        ref, full = (min(runs[k], key=lambda r: r["seconds"]) for k in ("reference", "reach"))
        print(f"reference (bare DuckDB read_csv -> join IMD -> group by decile): "
              f"{_times(runs['reference'])} s; peak {ref['peak_mb']:.0f} MB")
        print(f"reach() end to end: {_times(runs['reach'])} s; "
              f"peak {max(r['peak_mb'] for r in runs['reach']):.0f} MB; rows in {full['rows_in']:,} = located "
              f"{full['located']:,} + unlocated {full['unlocated']:,} + rejected {full['rejected']:,} "
              f"(balanced={full['balanced']}, conserved={full['amount_conserved']})")
        ratio = full["seconds"] / ref["seconds"]
        peak = max(r["peak_mb"] for r in runs["reach"])
        print(f"ratio reach / reference (best of {args.repeat}): {ratio:.1f}x (target <= 2x: "
              f"{'PASS' if ratio <= 2 else 'FAIL'}); peak RSS {peak:.0f} MB (target <= 600 MB: "
              f"{'PASS' if peak <= 600 else 'FAIL'}); cores available: {os.cpu_count()}", flush=True)
        if args.stages:
            st = _run("stages", db, path, args.index)
            print(f"stages: read + validate {st['read']:.2f} s ({st['rejected']:,} rejected); locate + split "
                  f"{st['locate']:.2f} s ({st['located']:,} located, {st['unlocated']:,} unlocated)")


if __name__ == "__main__":
    main()
