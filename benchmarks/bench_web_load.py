"""Load test of the area-profile API: p50 and p95 latency at 20 concurrent clients.

Starts ``nlens serve`` on 127.0.0.1 (a free port) in a subprocess, waits for it, then 20
client threads each request random LSOA / ward / LAD profiles (``GET /api/areas/{code}``)
for a fixed number of requests. Server and load generator share this machine's 2 cores.

Run: ``/work/venv/bin/python benchmarks/bench_web_load.py --db PATH [--requests 100]``
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=100, help="requests per client")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nlens = Path(sys.executable).with_name("nlens")
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(nlens), "serve", "--db", str(args.db), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                r = httpx.get(base + "/api/health", timeout=1)
                if r.status_code == 200 and r.json()["geometry_ready"]:
                    break
                time.sleep(0.1)
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("server did not start within 60 s")
        print(f"server ready (geometry prepared) after {time.perf_counter() - t0:.1f} s")
        search = httpx.get(base + "/api/left-behind?vintage=2023").json()["items"]
        codes = [i["code"] for i in search] + ["E08000021", "E05001645", "E06000009", "E01000001"]
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
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
