"""Hostile and ordinary uploads against a running ``nlens serve``: status, time and server memory.

Starts ``nlens serve`` on 127.0.0.1 (a free port) in a subprocess, waits until its map
geometry is ready, then posts each case to ``/api/funding/upload`` and prints one table row
per case: HTTP status, wall time, and the resident memory (RSS, from ``/proc``) of the server
process and of its upload workers before and after. The cases are those of issue 14:

* ``csv_1m_empty_columns``: a 1 MB CSV whose header is 1,000,000 empty columns;
* ``xlsx_cell_in_XFD``: a ~2 KB workbook, a valid 360Giving header and one grant, plus one
  cell at XFD3000 (declared dimension A1:XFD3000);
* ``json_nested_100k``: a JSON package whose ``grants`` value is nested 100,000 arrays deep;
* ``5 x csv_2000_rows (concurrent)``: five ordinary SYNTHETIC 360Giving files of 2,000 rows
  each, posted at the same time (each row gives that upload's status and time).

Run: ``.venv/bin/python benchmarks/bench_web_uploads.py --db nlens.duckdb`` (the server runs with
``--no-web-cache``, so the warehouse is never written)
"""

from __future__ import annotations

import argparse
import io
import subprocess
import threading
import time
from pathlib import Path

import httpx
from _server import children, rss_mb, serve


def start_server(db: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """``nlens serve --no-web-cache`` on a free port, once its map geometry and two upload workers are up."""
    proc, base, _ = serve(db, "--no-web-cache", *extra, until="geometry_ready", workers=2)
    return proc, base


def hostile_files() -> dict[str, tuple[str, bytes]]:
    """The three hostile cases of issue 14: name -> (file name, bytes)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Identifier", "Amount Awarded", "Award Date", "Beneficiary Location:0:Geographic Code"])
    sheet.append(["360G-SYNTHETIC-1", 1000, "2021-04-01", "E01000001"])
    sheet["XFD3000"] = "x"
    buf = io.BytesIO()
    book.save(buf)
    depth = 100_000
    return {
        "csv_1m_empty_columns": ("wide.csv", b"," * 999_999 + b"\n1\n"),
        "xlsx_cell_in_XFD": ("xfd.xlsx", buf.getvalue()),
        "json_nested_100k": ("deep.json", b'{"grants": ' + b"[" * depth + b"]" * depth + b"}"),
    }


def ordinary_file(db: Path, n: int = 2000, seed: int = 1) -> bytes:
    """A SYNTHETIC 360Giving CSV of ``n`` rows."""
    from neighbourhood_lens.funding.reach import synthetic_grants
    from neighbourhood_lens.warehouse import connect

    con = connect(db)
    try:
        return synthetic_grants(con, n, seed=seed).to_csv(index=False).encode()
    finally:
        con.close()


def post(base: str, name: str, data: bytes) -> tuple[int, float, str]:
    start = time.perf_counter()
    r = httpx.post(base + "/api/funding/upload", files={"file": (name, data)}, data={"index": "imd2019"},
                   timeout=300)
    elapsed = time.perf_counter() - start
    body = r.json()
    detail = body.get("detail") or "; ".join(body.get("errors") or []) or (
        f"ok: {body['summary']['rows_in']} rows, {body['summary']['located']} located" if body.get("ok") else "")
    return r.status_code, elapsed, detail


def memory(proc: subprocess.Popen) -> tuple[float, float]:
    """(server RSS, sum of worker RSS), MB."""
    return rss_mb(proc.pid), sum(rss_mb(c) for c in children(proc.pid))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    ordinary = ordinary_file(args.db)
    proc, base = start_server(args.db)
    try:
        print("| case | size | status | time | server RSS before → after | workers RSS before → after | "
              "message |\n|---|---|---|---|---|---|---|")
        for case, (name, data) in hostile_files().items():
            s0, w0 = memory(proc)
            status, elapsed, detail = post(base, name, data)
            s1, w1 = memory(proc)
            print(f"| {case} | {len(data) / 1e3:,.1f} kB | {status} | {elapsed:.2f} s | {s0:.0f} → {s1:.0f} MB | "
                  f"{w0:.0f} → {w1:.0f} MB | {detail[:110]} |")
        s0, w0 = memory(proc)
        results: list[tuple[int, float, str]] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            out = post(base, f"grants_{i}.csv", ordinary)
            with lock:
                results.append(out)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        s1, w1 = memory(proc)
        for status, elapsed, detail in sorted(results, key=lambda r: r[1]):
            print(f"| csv_2000_rows (5 concurrent) | {len(ordinary) / 1e3:,.1f} kB | {status} | {elapsed:.2f} s | "
                  f"{s0:.0f} → {s1:.0f} MB | {w0:.0f} → {w1:.0f} MB | {detail[:110]} |")
        r = httpx.get(base + "/api/health", timeout=5)
        print(f"\nafterwards /api/health: {r.status_code}; server RSS {rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == "__main__":
    main()
