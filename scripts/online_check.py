"""The online path as a user runs it, against loopback publishers: a transcript with times.

Starts the loopback publishers of ``tests/_publishers.py`` (the mirror's data in each publisher's
real layout, on the official paths), then, in an empty directory with an empty cache, runs::

    nlens data sources --out sources.toml          # the project's own sources file
    (addresses rewritten to the loopback host)
    nlens data fetch --sources sources.toml
    nlens data build --sources sources.toml --file cni2019_ward17=... --file cni2023_lsoa21=...

printing each command, its output and its wall time, then builds the warehouse from the
mirror (``nlens data build --mirror``) and prints the table-by-table comparison.

Run: ``PYTHONPATH=src .venv/bin/python scripts/online_check.py [--mirror ../shared/data] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> float:
    shown = " ".join(c if " " not in c else repr(c) for c in cmd)
    print(f"\n$ {shown}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    seconds = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    print(out.rstrip())
    print(f"[exit {proc.returncode}; {seconds:.1f} s]", flush=True)
    if proc.returncode:
        raise SystemExit(f"{shown} failed")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirror", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--workdir", type=Path, default=None, help="Where to work (default: a new temporary directory).")
    args = ap.parse_args()

    from _compare import compare_warehouses
    from _loopback import Loopback
    from _publishers import rewrite_sources, serve_landing_page_files, serve_publishers, write_cni_files

    base = args.workdir or Path(tempfile.mkdtemp(prefix="nlens-online-"))
    if base.exists() and args.workdir:
        shutil.rmtree(base)
    work, cache, user = base / "empty_dir", base / "cache", base / "user_files"
    work.mkdir(parents=True)
    nlens = [str(Path(sys.executable).parent / "nlens")]
    env = {k: v for k, v in os.environ.items() if k not in ("NLENS_DB", "NLENS_SOURCES", "NLENS_MIRROR")}
    env.update({"NLENS_CACHE": str(cache), "COLUMNS": "160", "PYTHONPATH": str(ROOT / "src")})
    print(f"work directory {work} (empty: {not any(work.iterdir())}); cache {cache} (exists: {cache.exists()})")
    t0 = time.perf_counter()
    with Loopback() as server:
        mirror = args.mirror
        ids = serve_publishers(server, mirror)
        print(f"loopback publishers on {server.url}: {len(ids)} datasets, {len(server.routes)} routes, "
              f"fixtures written in {time.perf_counter() - t0:.1f} s")
        times = {"sources": run([*nlens, "data", "sources", "--out", "sources.toml"], cwd=work, env=env)}
        text = rewrite_sources((work / "sources.toml").read_text(), server.url)
        text = text.replace("rows = 35796", "rows = 35795")  # the mirror's count (see tests/data/test_online.py)
        text += serve_landing_page_files(server, mirror)
        (work / "sources.toml").write_text(text)
        print(f"(rewrote every official host in sources.toml to {server.url}; lookup_lsoa11_lsoa21_lad22 rows = 35795; "
              "added [insolvencies_ward] url and [fuel_poverty_lsoa] parts, files known only by landing pages)")
        times["fetch"] = run([*nlens, "data", "fetch", "--sources", "sources.toml"], cwd=work, env=env)
        cni = write_cni_files(args.mirror, user)
        times["build"] = run([*nlens, "data", "build", "--sources", "sources.toml",
                              "--file", f"cni2019_ward17={cni['cni2019_ward17']}",
                              "--file", f"cni2023_lsoa21={cni['cni2023_lsoa21']}"], cwd=work, env=env)
    reference = base / "mirror.duckdb"
    times["mirror build"] = run([*nlens, "data", "build", "--mirror", str(args.mirror), "--db", str(reference)],
                                cwd=base, env=env)
    import pandas as pd

    report = compare_warehouses(work / "nlens.duckdb", reference)
    report["differing"] = report["differing"].map(lambda d: ", ".join(f"{k}: {v:,}" for k, v in d.items()))
    report["extra_columns"] = report["extra_columns"].map(
        lambda x: "" if not x else f"{len(x.split(', '))}: " + (x if len(x) < 40 else x[:36] + "..."))
    for c in ("rows_online", "rows_reference"):
        report[c] = report[c].map(lambda v: "-" if pd.isna(v) else f"{int(v):,}")
    with pd.option_context("display.width", 200, "display.max_rows", 200, "display.max_colwidth", 60):
        print("\nTable by table: online warehouse vs the mirror build (values compared by key, numbers as DOUBLE)")
        print(report.to_string(index=False))
    same = report[(report["missing_columns"] == "") & (report["rows_online"] == report["rows_reference"])
                  & (report["rows_online"] != "-")]
    print(f"\n{len(same)} of {len(report)} tables: same rows and every column of the mirror build; "
          f"times: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))


if __name__ == "__main__":
    main()
