"""Benchmark: membership tests on codes, pandas' own ``Series.isin`` against ``neighbourhood_lens._isin.isin``.

Usage: .venv/bin/python benchmarks/bench_isin.py [--db WAREHOUSE] [--repeat 5]

The look-ups the analyses make all the time: every LSOA 2021 code (33,755, pandas' Arrow
strings, as read from the warehouse) tested against half of them, given as a Python set, a
list and a Series; and every LSOA 2011 code against the LSOAs of one region (the North West,
a Series). Prints the best of ``--repeat`` runs of each, the same-run ratio, and checks that the
answers are equal.
"""

from __future__ import annotations

import argparse
import time

from neighbourhood_lens._isin import isin
from neighbourhood_lens.warehouse import connect


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="warehouse (default: NLENS_DB or ./nlens.duckdb)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    con = connect(args.db)
    l21 = con.execute("SELECT lsoa21_code FROM hierarchy_lsoa21 ORDER BY 1").df()["lsoa21_code"]
    l11 = con.execute("SELECT lsoa11_code, region19_code FROM hierarchy_lsoa11 ORDER BY 1").df()
    north_west = l11.loc[l11["region19_code"] == "E12000002", "lsoa11_code"]
    cases = {
        "33,755 LSOA21 codes in a set of half of them": (l21, set(l21.iloc[::2])),
        "... in a list of half of them": (l21, list(l21.iloc[::2])),
        "... in a Series of half of them": (l21, l21.iloc[::2]),
        "32,844 LSOA11 codes in the North West's 4,459 (a Series)": (l11["lsoa11_code"], north_west),
    }
    for label, (codes, wanted) in cases.items():
        assert isin(codes, wanted).equals(codes.isin(wanted)), label
        slow = best(lambda c=codes, w=wanted: c.isin(w), args.repeat)
        fast = best(lambda c=codes, w=wanted: isin(c, w), args.repeat)
        print(f"{label}: pandas .isin {slow * 1000:.1f} ms, _isin.isin {fast * 1000:.1f} ms; "
              f"{slow / fast:.0f}x faster (best of {args.repeat})")


if __name__ == "__main__":
    main()
