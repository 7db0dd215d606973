"""Web cold start: the first page of each area type and each map layer switch, timed in Chromium.

Copies the warehouse to a temporary directory (so the run starts from the file as built, with
an empty geometry cache directory), starts ``nlens serve`` on 127.0.0.1 (a free port) with the
``nlens`` of the Python running this script, and waits until the server says it is ready:
``/api/health`` answers ``"ready": true`` (servers without that field: ``"geometry_ready":
true``). Then, in Debian's headless Chromium (Playwright), it times, each once and first:

* the first load (navigation to the ``load`` event) of ``/area/CODE`` for a local authority,
  a region, an MSOA, a ward (2024 and 2017), an LSOA (2021 and 2011);
* Jaywick from search: typing "Jaywick" in the search box on ``/left-behind``, clicking the
  first result, until its profile page has loaded;
* each map layer switch on ``/``: changing Show / Edition until the map marks the new measure
  drawn (``#map[data-ready]``), at the national view (LADs), at zoom 10 (wards) and 13 (LSOAs).

Prints seconds to ready (from the process start), with the server's peak resident memory by
then (``VmHWM`` of the ``nlens serve`` process, Linux), and one line per figure. ``--restarts N``
stops the server and starts it again N times on the same warehouse copy, printing the time to
ready each time (what survives a restart). Run it against other code with ``PYTHONPATH``:

    PYTHONPATH=src .venv/bin/python benchmarks/bench_web_cold.py --db nlens.duckdb
    PYTHONPATH=OLD_CHECKOUT/src .venv/bin/python benchmarks/bench_web_cold.py --db nlens.duckdb
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _server import peak_mb, serve, stop

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = {"LAD E08000021 (Newcastle)": "E08000021", "region E12000001 (North East)": "E12000001",
         "MSOA E02001734": "E02001734", "ward 2024 E05011437": "E05011437", "ward 2017 E05001089": "E05001089",
         "LSOA E01008288 (2011 and 2021)": "E01008288"}
#: (label, URL query of the starting view, select id, value) for the layer switches.
SWITCHES = [(f"national: edition {y}", "", "edition", str(y)) for y in (2019, 2015, 2010, 2007, 2004)] + [
    ("national: Community Needs Index", "", "show", "cni"),
    ("national: left behind 2019 wards", "", "show", "lb2019"),
    ("national: left behind 2023 LSOAs", "", "show", "lb2023"),
    ("wards (z10): edition 2015", "?z=10&lat=54.97&lon=-1.61", "edition", "2015"),
    ("wards (z10): edition 2004", "?z=10&lat=54.97&lon=-1.61", "edition", "2004"),
    ("LSOAs (z13): edition 2015", "?z=13&lat=54.97&lon=-1.61", "edition", "2015"),
    ("LSOAs (z13): edition 2004", "?z=13&lat=54.97&lon=-1.61", "edition", "2004"),
]


def start(db: Path, cache: Path) -> tuple[subprocess.Popen, str, float]:
    """``nlens serve`` on a free port with an empty geometry cache; process, URL, seconds to ready."""
    return serve(db, env={"NLENS_CACHE_DIR": str(cache)})


def _peak(proc: subprocess.Popen) -> str:
    mb = peak_mb(proc.pid)
    return "" if mb is None else f"; server peak RSS {mb:,.0f} MB"


def measure(base: str) -> list[tuple[str, float]]:
    """Each first page and layer switch, seconds."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(base + "/api/health")  # starts the browser's renderer; warms nothing on the server
        for label, code in PAGES.items():
            t0 = time.perf_counter()
            page.goto(f"{base}/area/{code}", wait_until="load")
            out.append((f"first profile page: {label}", time.perf_counter() - t0))
        page.goto(base + "/left-behind", wait_until="load")
        t0 = time.perf_counter()
        page.fill("#search", "Jaywick")
        page.click("#search-results li a >> nth=0")
        page.wait_for_url("**/area/**", wait_until="load")
        out.append((f"Jaywick from search ({page.url.rsplit('/', 1)[-1]})", time.perf_counter() - t0))
        for label, query, select, value in SWITCHES:
            page.goto(base + "/" + query, wait_until="load")
            page.wait_for_selector("#map[data-ready]")
            before = page.get_attribute("#map", "data-ready")
            t0 = time.perf_counter()
            page.select_option("#" + select, value)
            page.wait_for_function("b => { const r = document.getElementById('map').getAttribute('data-ready');"
                                   " return r && r !== b; }", arg=before)
            out.append((f"map switch, {label} ({page.get_attribute('#map', 'data-ready')})", time.perf_counter() - t0))
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="warehouse to copy (never written)")
    parser.add_argument("--restarts", type=int, default=1, help="restarts after the timed run (time to ready)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nlens-cold-") as tmp:
        db = Path(tmp) / "nlens.duckdb"
        shutil.copy(args.db, db)
        proc, base, ready = start(db, Path(tmp) / "cache")
        try:
            print(f"server ready {ready:.1f} s after start (first start on a copy of {args.db}){_peak(proc)}")
            figures = measure(base)
        finally:
            stop(proc)
        for label, seconds in figures:
            print(f"{seconds:7.2f} s  {label}")
        print(f"slowest: {max(s for _, s in figures):.2f} s")
        for i in range(args.restarts):
            proc, base, ready = start(db, Path(tmp) / "cache")
            peak = _peak(proc)
            stop(proc)
            print(f"restart {i + 1}: server ready {ready:.1f} s after start{peak}")


if __name__ == "__main__":
    main()
