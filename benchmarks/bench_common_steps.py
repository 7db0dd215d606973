"""Benchmark: the small steps that most commands repeat, per call.

Usage: .venv/bin/python benchmarks/bench_common_steps.py [--db WAREHOUSE] [--repeat 20]

Each of these runs once or more in nearly every ``nlens`` command, web page and test, so a few
milliseconds each add up (the single-process cProfile of the test suite, whose command is in
``docs/performance.md``, counted 138 calls of ``left_behind_scores`` and 1,067 of
``require_tables``):

``require_tables``
    the check that an analysis's tables are in the warehouse (three names);
``hierarchy(2011)`` / ``hierarchy(2021)``
    the LSOA hierarchy of a vintage, as a DataFrame;
``left_behind_scores(2019)`` / ``left_behind_scores(2023)``
    every ward (2019) or LSOA (2023) with its IMD and CNI positions and the flags;
``unit_areas(ward24)``
    one row per ward 2024 with its population, LSOA count and lead LSOA's LAD and region (every
    analysis by unit starts from it or from ``unit_lsoas``);
``convert`` (IMD 2019, 2011 -> 2021)
    the IMD 2019 scores and ranks of every LSOA 2011 carried to LSOA 2021 by the ONS lookup,
    weighted by population (each trajectory, outcome panel and web cache does several);
``resolve_place`` (a code, a name)
    the area that an ``--lad``, ``--area`` or ``trajectory CODE`` names (every command that takes
    an area starts with it; the checksum column shows the place found).

Prints the best and the median time per call over ``--repeat`` calls after one warm-up call, and
a checksum of each frame, so that two versions of the code can be compared on the same warehouse
(``PYTHONPATH=OTHER/src``).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

import pandas as pd

from neighbourhood_lens.deprivation.left_behind import left_behind_scores
from neighbourhood_lens.geo.geography import hierarchy
from neighbourhood_lens.geo.places import resolve_place
from neighbourhood_lens.geo.units import unit_areas
from neighbourhood_lens.geo.vintages import convert, lookup
from neighbourhood_lens.warehouse import connect, require_tables


def _digest(result: object) -> str:
    if not isinstance(result, pd.DataFrame):
        return str(result) if result is not None else "-"  # a Place: its name, code, type and vintage
    digest = hashlib.sha256(pd.util.hash_pandas_object(result, index=False).to_numpy().tobytes())
    return f"sha256 {digest.hexdigest()[:12]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="warehouse (default: NLENS_DB or ./nlens.duckdb)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    con = connect(args.db)
    lk = lookup(con, source=2011, target=2021)
    pop = hierarchy(con, 2011).set_index("lsoa11_code")["population"]
    imd = con.execute("SELECT lsoa11_code AS code, imd_score, imd_rank FROM imd2019_lsoa11").df()
    steps = {
        "require_tables (3 names)": lambda: require_tables(con, ["imd2019_lsoa11", "cni2019_ward17",
                                                                "hierarchy_lsoa11"]),
        "hierarchy(2011)": lambda: hierarchy(con, 2011),
        "hierarchy(2021)": lambda: hierarchy(con, 2021),
        "left_behind_scores(2019)": lambda: left_behind_scores(con, vintage=2019),
        "left_behind_scores(2023)": lambda: left_behind_scores(con, vintage=2023),
        "unit_areas(ward24)": lambda: unit_areas(con, "ward24"),
        "convert (IMD 2019, 11->21)": lambda: convert(imd, lookup=lk, values=["imd_score", "imd_rank"],
                                                      population=pop),
        "resolve_place (code)": lambda: resolve_place(con, "e05011963"),
        "resolve_place (name)": lambda: resolve_place(con, "newcastle upon tyne"),
    }
    for name, fn in steps.items():
        result = fn()
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        print(f"{name:26s} best {min(times) * 1000:7.2f} ms, median {statistics.median(times) * 1000:7.2f} ms "
              f"per call ({_digest(result)})")


if __name__ == "__main__":
    main()
