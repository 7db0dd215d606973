"""Benchmark: our neighbourhoods against PySAL spopt's MaxPHeuristic, side by side, plus a national run.

Run: ``.venv/bin/python benchmarks/bench_neighbourhoods.py [--db W.duckdb] [--region "North East"]``
(without ``--db`` a warehouse is built from ../shared/data into a temporary directory).

Both methods get the same LSOAs (LSOA 2011, one region), the same standardised variables
(normal scores of the seven IoD2019 domain ranks), the same population (mid-2019) and the
same graph: queen contiguity restricted to links inside a LAD, plus the island links of
:mod:`neighbourhood_lens.geo.adjacency`. spopt's max-p uses a population floor of 5,000 (the
reference configuration of the issue) and has no maximum; both are checked against the
same constraints (max 10,000, min 3,000, contiguity, one LAD) by ``check_neighbourhoods``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from neighbourhood_lens.geo.adjacency import ensure_adjacency, load_adjacency
from neighbourhood_lens.neighbourhoods import build as nb
from neighbourhood_lens.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]
MAX, MIN, FLOOR = 10_000, 3_000, 5_000


def _warehouse(db: str | None) -> Path:
    if db:
        return Path(db)
    from neighbourhood_lens.data.build import build_warehouse

    path = Path(tempfile.mkdtemp()) / "bench.duckdb"
    build_warehouse(path, mirror=ROOT.parent / "shared" / "data")
    return path


def _quality(con, assignment: pd.DataFrame, links: pd.DataFrame, variables: list[str]) -> dict[str, object]:
    checks = nb.check_neighbourhoods(assignment, links, key="lsoa11_code", lad="lad19_code",
                                     max_population=MAX, min_population=MIN)
    pops = assignment.groupby("neighbourhood_code")["population"].sum()
    report = nb.homogeneity_report(con, assignment, vintage=2011, variables=variables).set_index("unit")
    errors = checks[checks["severity"] == "error"]
    return {
        "regions": len(pops), "median_pop": round(float(pops.median())), "max_pop": round(float(pops.max())),
        "over_max": int((errors["check"] == "over_max").sum()),
        "not_contiguous": int((errors["check"] == "not_contiguous").sum()),
        "several_lads": int((errors["check"] == "several_lads").sum()),
        "under_min": int((checks["check"] == "under_min").sum()),
        "within_share_imd": round(float(report.loc["neighbourhoods", "within_share_imd"]), 4),
        "within_share_variables": round(float(report.loc["neighbourhoods", "within_share_variables"]), 4),
        "pocket_preservation": round(float(report.loc["neighbourhoods", "pocket_preservation"]), 4),
        "wards_within_share_imd": round(float(report.loc["ward17", "within_share_imd"]), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db")
    parser.add_argument("--region", default="North East")
    parser.add_argument("--skip-spopt", action="store_true")
    args = parser.parse_args()
    path = _warehouse(args.db)
    for vintage in (2011, 2021):
        ensure_adjacency(path, vintage)
    con = connect(path)

    # National runs (ours only).
    for vintage in (2011, 2021):
        t0 = time.perf_counter()
        national = nb.build_neighbourhoods(con, vintage=vintage)
        seconds = time.perf_counter() - t0
        key, lad = national.columns[0], national.columns[3]
        checks = nb.check_neighbourhoods(national, load_adjacency(con, vintage), key=key, lad=lad,
                                         max_population=MAX, min_population=MIN)
        pops = national.groupby("neighbourhood_code")["population"].sum()
        report = nb.homogeneity_report(con, national, vintage=vintage)
        print(f"\n== England, LSOA {vintage}: {len(national):,} LSOAs -> {len(pops):,} neighbourhoods in "
              f"{seconds:.2f} s; population median {pops.median():,.0f}, max {pops.max():,.0f}; "
              f"violations {int((checks['severity'] == 'error').sum())}; "
              f"below minimum {int((checks['check'] == 'under_min').sum())}")
        print(report.to_string(index=False))

    # Side by side on one region.
    lads = con.execute("SELECT DISTINCT lad19_code FROM hierarchy_lsoa11 WHERE region19_name = ? ORDER BY 1",
                       [args.region]).df()["lad19_code"].tolist()
    variables = list(nb.DEFAULT_VARIABLES[2011])
    lsoas, _ = nb.lsoa_inputs(con, vintage=2011, lads=lads)
    links = load_adjacency(con, 2011)
    t0 = time.perf_counter()
    ours = nb.build_neighbourhoods(con, vintage=2011, lads=lads, links=links)
    t_ours = time.perf_counter() - t0
    rows = {"ours (SKATER, max 10,000)": {"seconds": round(t_ours, 3), **_quality(con, ours, links, variables)}}
    if not args.skip_spopt:
        import geopandas as gpd
        from libpysal.weights import W
        from spopt.region import MaxPHeuristic

        index = pd.Index(lsoas["lsoa11_code"])
        a, b = index.get_indexer(links["a"]), index.get_indexer(links["b"])
        ok = (a >= 0) & (b >= 0)
        a, b = a[ok], b[ok]
        lad_arr = lsoas["lad19_code"].to_numpy()
        same = lad_arr[a] == lad_arr[b]
        a, b = a[same], b[same]
        neighbours: dict[int, list[int]] = {i: [] for i in range(len(index))}
        for u, v in zip(a.tolist(), b.tolist(), strict=True):
            neighbours[u].append(v)
            neighbours[v].append(u)
        w = W(neighbours, silence_warnings=True)
        gdf = gpd.GeoDataFrame(lsoas.reset_index(drop=True))
        np.random.seed(0)
        t0 = time.perf_counter()
        model = MaxPHeuristic(gdf, w, variables, "population", FLOOR, top_n=2)
        model.solve()
        t_spopt = time.perf_counter() - t0
        theirs = lsoas[["lsoa11_code", "lad19_code", "population"]].assign(
            neighbourhood_code=np.asarray(model.labels_).astype(str))
        rows[f"spopt MaxPHeuristic (floor {FLOOR:,})"] = {"seconds": round(t_spopt, 3),
                                                          **_quality(con, theirs, links, variables)}
    table = pd.DataFrame(rows).T
    print(f"\n== {args.region}: {len(lsoas):,} LSOAs (2011), {len(lads)} LADs")
    print(table.to_string())
    if len(rows) == 2:
        print(f"\ntime ratio spopt / ours: {table['seconds'].iloc[1] / table['seconds'].iloc[0]:,.0f}x (target >= 10x)")


if __name__ == "__main__":
    main()
