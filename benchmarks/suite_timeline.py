"""Where the test suite's time goes, worker by worker: a pytest plugin and its report.

The suite's target (issue 20) is wall time on 2 cores, and a worker can lose time without using
the CPU (a lock, a sleep, a server shutting down) or sit idle at the end. This plugin records, for
every test in every pytest-xdist worker, its start and end (wall clock) and the CPU time the
worker's process used meanwhile (``resource.getrusage``: user + system, its own threads and the
children it waited for), one JSON line per test in ``DIR/timeline-<worker>.jsonl``:

    rm -rf /tmp/timeline && NLENS_TIMELINE=/tmp/timeline PYTHONPATH=benchmarks \\
        .venv/bin/python -m pytest -q -p suite_timeline
    .venv/bin/python benchmarks/suite_timeline.py /tmp/timeline

The report prints, per worker, its time from session start to finish, the time inside tests and
their CPU time, its units in the order it ran them (a unit's module or chapter, when it took over
1.5 s), and the tests that waited longest (wall minus CPU). The CPU of other processes a test
drives (Chromium in the browser tests, a server in a subprocess) is not the worker's: it shows
as waiting. Without ``NLENS_TIMELINE`` the plugin records nothing.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

_OUT: list = []


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _write(record: dict) -> None:
    folder = os.environ.get("NLENS_TIMELINE")
    if not folder:
        return
    if not _OUT:
        Path(folder).mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _OUT.append(open(Path(folder) / f"timeline-{worker}.jsonl", "a", encoding="utf-8"))  # noqa: SIM115
    _OUT[0].write(json.dumps(record) + "\n")
    _OUT[0].flush()


def pytest_sessionstart(session) -> None:
    _write({"event": "start", "t": time.time(), "cpu": _cpu()})


def pytest_sessionfinish(session) -> None:
    _write({"event": "finish", "t": time.time(), "cpu": _cpu()})


try:
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        t0, c0 = time.time(), _cpu()
        yield
        _write({"event": "test", "id": item.nodeid, "t0": t0, "t1": time.time(), "cpu": _cpu() - c0})
except ImportError:  # the report below needs no pytest
    pass


def _unit(nodeid: str) -> str:
    return nodeid.split("[")[-1].rstrip("]") if "test_cli_tour.py" in nodeid else nodeid.split("::")[0]


def report(folder: Path) -> str:
    """The per-worker summary of the timeline files in ``folder``."""
    lines = []
    for path in sorted(folder.glob("timeline-*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        start = next(r for r in rows if r["event"] == "start")
        finish = next((r for r in rows if r["event"] == "finish"), None)
        tests = [r for r in rows if r["event"] == "test"]
        if not tests:
            continue
        end = finish["t"] if finish else tests[-1]["t1"]
        inside = sum(r["t1"] - r["t0"] for r in tests)
        cpu = sum(r["cpu"] for r in tests)
        lines.append(f"{path.stem}: {end - start['t']:.1f} s from session start to finish; {inside:.1f} s in "
                     f"tests, {cpu:.1f} s of CPU in them; first test after {tests[0]['t0'] - start['t']:.1f} s")
        units: list[list] = []
        for r in tests:
            name = _unit(r["id"])
            if not units or units[-1][0] != name:
                units.append([name, r["t0"], r["t1"], 0.0])
            units[-1][2], units[-1][3] = r["t1"], units[-1][3] + r["cpu"]
        lines.append("  units: " + " | ".join(
            f"{n.split('/')[-1]} {a - start['t']:.0f}-{b - start['t']:.0f} s (CPU {c:.0f} s)"
            for n, a, b, c in units if b - a > 1.5))
        waits = Counter()
        for r in tests:
            waits[r["id"]] = (r["t1"] - r["t0"]) - r["cpu"]
        lines.append("  waited longest (wall - CPU): " + "; ".join(
            f"{k} {v:.2f} s" for k, v in waits.most_common(5)))
    return "\n".join(lines) if lines else f"no timeline files in {folder}"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: suite_timeline.py DIR")
    print(report(Path(sys.argv[1])))
