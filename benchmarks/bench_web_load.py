"""Load test of the area-profile API: p50 and p95 latency at 20 concurrent clients.

Starts ``nlens serve`` on 127.0.0.1 (a free port) in a subprocess, waits for it, then keeps
20 concurrent connections busy requesting random LSOA / ward / LAD profiles
(``GET /api/areas/{code}``). Server and load generator share this machine's 2 cores.

Two load generators:

* ``--generator wrk`` (default when Debian's ``wrk`` is installed): a C load generator, so
  the measurement is of the server rather than of the client; a Lua script picks a random
  code per request and prints p50/p95/p99 from wrk's latency histogram.
* ``--generator python``: 20 client threads with httpx, each making ``--requests``
  requests. Python clients cost the shared 2 cores about as much CPU as the server, so
  these latencies include client-side queueing.

Run: ``.venv/bin/python benchmarks/bench_web_load.py --db PATH [--generator wrk|python]``

``--during-uploads 5`` measures instead the latency of ``GET /api/health`` and
``GET /api/areas/{code}`` (one client, one request after the other) while five clients keep
uploading ordinary SYNTHETIC 2,000-row 360Giving files (each posts again as soon as its
previous upload is answered), so that five uploads are being processed throughout.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from _server import serve
from _server import stop as stop_server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=100, help="requests per client (python generator)")
    parser.add_argument("--seconds", type=int, default=15, help="duration (wrk generator)")
    parser.add_argument("--generator", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--during-uploads", type=int, default=0, metavar="N",
                        help="measure /api/health and /api/areas/{code} while N uploads are processed")
    args = parser.parse_args()
    if args.during_uploads:
        during_uploads(args.db, n_uploads=args.during_uploads, seconds=args.seconds)
        return
    proc, base, seconds = serve(args.db, "--no-web-cache", until="geometry_ready")
    try:
        print(f"server ready (geometry prepared) after {seconds:.1f} s")
        search = httpx.get(base + "/api/left-behind?vintage=2023").json()["items"]
        codes = [i["code"] for i in search] + ["E08000021", "E05001645", "E06000009", "E01000001"]
        if args.generator == "wrk":
            run_wrk(base, codes, clients=args.clients, seconds=args.seconds)
            return
        latencies: list[float] = []
        lock = threading.Lock()

        def client(seed: int) -> None:
            rng = random.Random(seed)
            mine = []
            with httpx.Client(base_url=base, timeout=10) as c:
                for _ in range(args.requests):
                    code = rng.choice(codes)
                    start = time.perf_counter()
                    r = c.get(f"/api/areas/{code}")
                    mine.append(time.perf_counter() - start)
                    assert r.status_code == 200, r.text
            with lock:
                latencies.extend(mine)

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        ms = np.array(latencies) * 1000
        print(f"{len(ms)} requests, {args.clients} concurrent clients, {len(ms) / wall:.0f} req/s")
        print(f"profile API latency: p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
              f"max {ms.max():.1f} ms (target p95 < 50 ms)")
    finally:
        stop_server(proc)


def during_uploads(db: Path, *, n_uploads: int, seconds: int) -> None:
    """p50/p95/max latency of health and profile requests while ``n_uploads`` uploads run all the time."""
    from bench_web_uploads import ordinary_file, start_server

    data = ordinary_file(db)
    proc, base = start_server(db)
    stop = threading.Event()
    done: list[int] = []

    def uploader(i: int) -> None:
        with httpx.Client(base_url=base, timeout=300) as c:
            while not stop.is_set():
                r = c.post("/api/funding/upload", files={"file": (f"grants_{i}.csv", data)}, data={"index": "imd2019"})
                done.append(r.status_code)

    try:
        codes = ["E08000021", "E05001645", "E06000009", "E01000001", "E02001234", "E12000002", "E05011000"]
        threads = [threading.Thread(target=uploader, args=(i,), daemon=True) for i in range(n_uploads)]
        for t in threads:
            t.start()
        time.sleep(3)  # let every upload reach the server
        lat: dict[str, list[float]] = {"/api/health": [], "/api/areas/{code}": []}
        rng = random.Random(1)
        end = time.perf_counter() + seconds
        with httpx.Client(base_url=base, timeout=30) as c:
            while time.perf_counter() < end:
                for key in lat:
                    url = key.replace("{code}", rng.choice(codes))
                    t0 = time.perf_counter()
                    r = c.get(url)
                    lat[key].append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text
                time.sleep(0.02)
        stop.set()
        for t in threads:
            t.join(300)
        print(f"{n_uploads} concurrent uploads of a {len(data) / 1e3:.0f} kB 2,000-row CSV, kept busy for {seconds} s "
              f"({len(done)} uploads answered, statuses {sorted(set(done))})")
        for key, values in lat.items():
            ms = np.array(values) * 1000
            print(f"{key}: {len(ms)} requests, p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
                  f"max {ms.max():.1f} ms (target p95 < 200 ms)")
    finally:
        stop.set()
        proc.terminate()
        proc.wait(20)


_LUA = """
codes = {%s}
local n = 0
setup = function(thread) n = n + 1; thread:set("seed", n) end
init = function(args) math.randomseed(seed * 7919) end
request = function()
  return wrk.format("GET", "/api/areas/" .. codes[math.random(#codes)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%%d errors=%%d non2xx=%%d p50=%%.2f p95=%%.2f p99=%%.2f max=%%.2f\\n",
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def run_wrk(base: str, codes: list[str], *, clients: int, seconds: int) -> None:
    """Closed-loop load with wrk: ``clients`` connections over 2 threads for ``seconds``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_LUA % ", ".join(f'"{c}"' for c in codes))
        script = f.name
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "-s", script, base],
                         capture_output=True, text=True, check=True).stdout
    Path(script).unlink()
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non2xx=(\d+) p50=([\d.]+) p95=([\d.]+) "
                  r"p99=([\d.]+) max=([\d.]+)", out)
    if not m:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    n, errors, non2xx = int(m[1]), int(m[2]), int(m[3])
    print(f"wrk: {n} requests in {seconds} s, {clients} concurrent connections, {n / seconds:.0f} req/s, "
          f"{errors} socket errors, {non2xx} non-2xx")
    print(f"profile API latency: p50 {float(m[4]):.1f} ms, p95 {float(m[5]):.1f} ms, p99 {float(m[6]):.1f} ms, "
          f"max {float(m[7]):.1f} ms (target p95 < 50 ms)")


if __name__ == "__main__":
    main()
