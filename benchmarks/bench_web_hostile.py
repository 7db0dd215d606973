"""Hostile requests against a running ``nlens serve``: response, time, peak memory and /api/health p95.

Copies the warehouse to a temporary directory, starts ``nlens serve`` on 127.0.0.1 (a free
port) with the ``nlens`` of the Python running this script, waits until ``/api/health`` says
it is ready, then runs each case while a probe thread asks ``/api/health`` every 50 ms. One
table row per case: the HTTP status and message, the wall time, the peak resident memory
(sampled every 20 ms from ``/proc``) of the server process and of its upload workers, and
the p50 / p95 / max latency of ``/api/health`` while the case ran (target p95 < 200 ms).
Cases (issue 21):

* ``xlsx_bomb_whitespace``: a valid 360Giving workbook (~1 MB) whose ``sheet1.xml`` is padded
  with whitespace to unpack to 1 GB;
* ``xlsx_bomb_one_cell``: the same with one cell of 1 GB of text;
* ``json_240mb_custom_area``: 240 MB of JSON (a list of LSOA codes) posted to
  ``/api/custom-area`` twice: with its ``Content-Length``, and streamed in chunks without one;
* ``custom_5000_codes x2``: two ``POST /custom`` of 5,000 LSOA 2021 codes (50 kB) at once.

Run: ``.venv/bin/python benchmarks/bench_web_hostile.py --db nlens.duckdb`` (``--cases`` picks some;
``PYTHONPATH=/other/src`` measures other code).
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import httpx
from _server import children, rss_mb, serve

GB = 1_000_000_000


def bomb(*, one_cell: bool) -> bytes:
    """A 360Giving workbook whose sheet unpacks to about 1 GB (whitespace padding, or one huge cell)."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Identifier", "Amount Awarded", "Award Date", "Beneficiary Location:0:Geographic Code"])
    book.active.append(["360G-SYNTHETIC-1", 1000, "2021-04-01", "E01000001"])
    buf = io.BytesIO()
    book.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item, data)
                continue
            head, tail = data.split(b"</sheetData>")
            if one_cell:
                head += b'<row r="3"><c r="A3" t="inlineStr"><is><t>'
                tail = b"</t></is></c></row></sheetData>" + tail
                filler = b"a" * (1 << 20)
            else:
                tail = b"</sheetData>" + tail
                filler = b" " * (1 << 20)
            info = zipfile.ZipInfo(item.filename, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(info, "w", force_zip64=True) as f:
                f.write(head)
                for _ in range(GB >> 20):
                    f.write(filler)
                f.write(tail)
    return out.getvalue()


def json_chunks(total: int):
    """About ``total`` bytes of ``{"codes": ["E01000001", ...]}``, in 1 MB pieces."""
    piece = b'"E01000001",' * ((1 << 20) // 12)
    yield b'{"codes": ['
    sent = 0
    while sent < total:
        yield piece
        sent += len(piece)
    yield b'"E01000001"]}'


class Watch:
    """Probe /api/health every 50 ms and sample the server's memory every 20 ms while a case runs."""

    def __init__(self, base: str, pid: int) -> None:
        self.base, self.pid, self.stop = base, pid, threading.Event()
        self.latency: list[float] = []
        self.peak_server = self.peak_workers = 0.0
        self.threads = [threading.Thread(target=self._probe), threading.Thread(target=self._memory)]

    def __enter__(self) -> Watch:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def _probe(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                try:
                    client.get(self.base + "/api/health")
                except httpx.HTTPError:
                    pass
                self.latency.append(time.perf_counter() - t0)
                self.stop.wait(0.05)

    def _memory(self) -> None:
        while not self.stop.is_set():
            self.peak_server = max(self.peak_server, rss_mb(self.pid))
            self.peak_workers = max(self.peak_workers, max((rss_mb(c) for c in children(self.pid)), default=0.0))
            self.stop.wait(0.02)

    def summary(self) -> str:
        lat = sorted(self.latency) or [float("nan")]

        def q(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

        return f"{q(0.5):.0f} / {q(0.95):.0f} / {lat[-1] * 1000:.0f} ms (n={len(self.latency)})"


def detail(r: httpx.Response) -> str:
    try:
        body = r.json()
        text = body.get("detail") or "; ".join(body.get("errors") or []) or ("ok" if body.get("ok", True) else "")
    except ValueError:
        import re

        found = re.search(r'class="error"[^>]*>(.*?)<', r.text, re.S) or re.search(r"<h1>(.*?)</h1>", r.text, re.S)
        text = found.group(1).strip() if found else r.text[:80]
    return " ".join(str(text).split())[:120]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="warehouse to copy (never written)")
    parser.add_argument("--cases", default="bomb_ws,bomb_cell,json,custom", help="comma-separated subset")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    with tempfile.TemporaryDirectory(prefix="nlens-hostile-") as tmp:
        db = Path(tmp) / "nlens.duckdb"
        shutil.copy(args.db, db)
        proc, base, _ = serve(db, workers=2)
        from neighbourhood_lens.warehouse import connect

        con = connect(db)
        codes = con.execute("SELECT lsoa21_code FROM hierarchy_lsoa21 ORDER BY 1 LIMIT 5000").df()["lsoa21_code"]
        con.close()
        rows = []
        try:
            with Watch(base, proc.pid) as idle:
                time.sleep(3)
            rows.append(("(idle, no request)", "-", "-", "-", f"{idle.peak_server:.0f} MB", idle.summary()))
            for case, one_cell in (("bomb_ws", False), ("bomb_cell", True)):
                if case not in cases:
                    continue
                data = bomb(one_cell=one_cell)
                with Watch(base, proc.pid) as w:
                    t0 = time.perf_counter()
                    r = httpx.post(base + "/api/funding/upload", files={"file": ("bomb.xlsx", data)},
                                   data={"index": "imd2025"}, timeout=600)
                    took = time.perf_counter() - t0
                rows.append((f"xlsx zip bomb ({'one 1 GB cell' if one_cell else 'whitespace to 1 GB'}), "
                             f"{len(data) / 1e6:.2f} MB", r.status_code, detail(r), f"{took:.2f} s",
                             f"{w.peak_server:.0f} MB (worker {w.peak_workers:.0f} MB)", w.summary()))
            if "json" in cases:
                size = 240_000_000
                body = b"".join(json_chunks(size))
                for how in ("Content-Length", "chunked"):
                    with Watch(base, proc.pid) as w:
                        t0 = time.perf_counter()
                        content = body if how == "Content-Length" else json_chunks(size)
                        try:
                            r = httpx.post(base + "/api/custom-area", content=content, timeout=600,
                                           headers={"content-type": "application/json"})
                            status, text = r.status_code, detail(r)
                        except httpx.HTTPError as exc:  # the server may close the connection after its 413
                            status, text = "closed", type(exc).__name__
                        took = time.perf_counter() - t0
                    rows.append((f"POST /api/custom-area, {len(body) / 1e6:.0f} MB JSON ({how})", status, text,
                                 f"{took:.2f} s", f"{w.peak_server:.0f} MB", w.summary()))
                del body
            if "custom" in cases:
                form = {"codes": "\n".join(codes), "name": "5,000 codes"}
                results: list[tuple[object, float, str]] = []

                def one() -> None:
                    t0 = time.perf_counter()
                    r = httpx.post(base + "/custom", data=form, timeout=600)
                    results.append((r.status_code, time.perf_counter() - t0,
                                    "profile page" if r.status_code == 200 and "Its LSOAs" in r.text else detail(r)))

                with Watch(base, proc.pid) as w:
                    threads = [threading.Thread(target=one) for _ in range(2)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                rows.append((f"POST /custom, 5,000 LSOA codes ({len(form['codes']) / 1e3:.0f} kB), two at once",
                             " + ".join(str(s) for s, _, _ in results), results[0][2],
                             " / ".join(f"{t:.2f} s" for _, t, _ in sorted(results, key=lambda x: x[1])),
                             f"{w.peak_server:.0f} MB", w.summary()))
            alive = httpx.get(base + "/api/health", timeout=10).status_code
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("| case | status | response | time | server peak RSS | /api/health p50 / p95 / max |")
        print("|---|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(str(x) for x in row) + " |")
        print(f"\n/api/health afterwards: {alive}")


if __name__ == "__main__":
    main()
