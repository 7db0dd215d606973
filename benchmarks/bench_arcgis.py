"""Benchmark: reading a national boundary layer from an ArcGIS FeatureServer, page by page, as GeoJSON.

A loopback server (``tests/_loopback.py``) serves the mirror's LSOA 2021 boundaries in the ONS
portal's layout (``tests/_publishers.py``: metadata, ``returnCountOnly``, pages of 2,000 features
with ``exceededTransferLimit``). In the same run it times

``transfer``
    the pages alone: every ``query`` request of the layer, its body received and nothing parsed;
``read_layer``
    :func:`neighbourhood_lens.data.arcgis.read_layer` (the same requests, each page parsed, the
    properties and polygons of all pages in one frame), as ``nlens data fetch`` runs it.

Prints the best of ``--repeat`` runs of each and their ratio (the parse's share of a fetch on
loopback, where the network costs nothing).

    .venv/bin/python benchmarks/bench_arcgis.py [--mirror ../shared/data] [--dataset boundaries_lsoa21] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--dataset", default="boundaries_lsoa21",
                        choices=["boundaries_lsoa11", "boundaries_lsoa21", "boundaries_lad24"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd
    import requests
    from _loopback import Loopback
    from _publishers import _arcgis_layer

    from neighbourhood_lens.data.arcgis import read_layer

    frame = pd.read_parquet(Path(args.mirror) / f"{args.dataset}.parquet")
    geometry = frame.pop("geometry")
    path = f"/arcgis/rest/services/{args.dataset}/FeatureServer/0"
    runs: dict[str, list[float]] = {"transfer": [], "read_layer": []}
    with Loopback() as server:
        _arcgis_layer(server, path, frame, cap=2000, page_cap=2000, oid="OBJECTID", geometry=geometry)
        url = server.url + path
        session = requests.Session()
        params = {"where": "1=1", "outFields": "*", "resultRecordCount": 2000, "returnGeometry": "true",
                  "f": "geojson", "orderByFields": "OBJECTID", "outSR": 4326}
        for _ in range(args.repeat):
            t = time.perf_counter()
            pages = [session.get(f"{url}/query", params={**params, "resultOffset": offset}, timeout=60)
                     for offset in range(0, len(frame) + 1, 2000)]
            received = sum(len(p.content) for p in pages)
            runs["transfer"].append(time.perf_counter() - t)
            t = time.perf_counter()
            out = read_layer(url, session=session, geojson=True)
            runs["read_layer"].append(time.perf_counter() - t)
    assert len(out) == len(frame) and received > 0
    best = {k: min(v) for k, v in runs.items()}
    for k, v in runs.items():
        print(f"{k}: {', '.join(f'{s:.2f}' for s in v)} s (best {best[k]:.2f} s)")
    print(f"{args.dataset}: {len(out):,} features; read_layer / transfer (best of {args.repeat}): "
          f"{best['read_layer'] / best['transfer']:.1f}x")


if __name__ == "__main__":
    main()
