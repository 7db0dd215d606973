"""What the web benchmarks share: ``nlens serve`` on a free loopback port, and its memory.

The server is the ``nlens`` beside the Python running the benchmark (so ``PYTHONPATH`` picks
the code under test); memory is read from ``/proc`` (Linux), as resident (``VmRSS``) and peak
(``VmHWM``) megabytes of the server process and of its children (the upload workers).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["children", "peak_mb", "rss_mb", "serve", "stop"]


def _status_mb(pid: int, field: str) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kib = next((int(line.split()[1]) for line in text.splitlines() if line.startswith(field + ":")), None)
    return None if kib is None else kib / 1024


def rss_mb(pid: int) -> float:
    """Resident memory of one process now, MB (0 once it has gone)."""
    return _status_mb(pid, "VmRSS") or 0.0


def peak_mb(pid: int) -> float | None:
    """Peak resident memory of one process so far, MB; None where ``/proc`` does not say."""
    return _status_mb(pid, "VmHWM")


def children(pid: int) -> list[int]:
    """Direct child processes (the upload workers)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def serve(db: Path, *extra: str, env: dict[str, str] | None = None, until: str = "ready", workers: int = 0,
          timeout: float = 900.0) -> tuple[subprocess.Popen, str, float]:
    """``nlens serve --db DB EXTRA...`` on a free port: the process, its base URL and the seconds it took.

    Returns once ``/api/health`` has ``until`` true (``"ready"``: every first page from memory;
    ``"geometry_ready"``: the map layers; a server without ``ready`` is taken at its
    ``geometry_ready``) and at least ``workers`` upload workers run.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nlens = Path(sys.executable).with_name("nlens")
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(nlens), "serve", "--db", str(db), "--port", str(port), *extra],
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"nlens serve exited with code {proc.returncode}")
        try:
            body = httpx.get(base + "/api/health", timeout=5).json()
            if body.get(until, body.get("geometry_ready")) and len(children(proc.pid)) >= workers:
                return proc, base, time.perf_counter() - t0
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server was not ready within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server (SIGTERM, then SIGKILL after 20 s)."""
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
