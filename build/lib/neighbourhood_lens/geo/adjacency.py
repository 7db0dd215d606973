"""Contiguity of LSOAs: queen adjacency from the boundaries, with islands handled explicitly.

Two LSOAs are **queen neighbours** when their polygons share at least one point (an edge
or a corner), the rule of PySAL's ``libpysal.weights.Queen``. It is computed with a
Shapely STRtree ``intersects`` query, so the cost is O(n log n) in compiled code.

Some places have no land neighbour inside their local authority: islands and detached
parts (Isles of Scilly, Isle of Wight, Canvey Island, Walney, Hayling Island, Holy Island)
or pieces of a LAD separated by an estuary. :func:`connect_within_groups` finds, for every
group (LAD), the connected components of its contiguity graph and joins each smaller
component to the nearest polygon of the rest of the group, iterating until the group is
connected. These links are kept apart as ``kind = 'nearest'`` so that users can tell a
bridge from a shared boundary; a LAD whose only LSOA is an island (Isles of Scilly in 2011)
stays a single vertex.

The result is cached in the warehouse as ``adjacency_lsoa11`` / ``adjacency_lsoa21``
(columns ``a, b, kind`` with ``a < b``), built once by :func:`ensure_adjacency`.

References
----------
Rey, S. J. and Anselin, L. (2007). PySAL: A Python Library of Spatial Analytical Methods.
*The Review of Regional Studies* 37(1), 5-27 (queen contiguity).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import WarehouseError

if TYPE_CHECKING:
    import duckdb
    import geopandas as gpd

__all__ = [
    "queen_adjacency",
    "connect_within_groups",
    "adjacency_for_vintage",
    "load_adjacency",
    "ensure_adjacency",
    "neighbours",
]


def queen_adjacency(gdf: gpd.GeoDataFrame, *, key: str) -> pd.DataFrame:
    """Queen-contiguity pairs ``a < b`` (by ``key``) of the polygons in ``gdf``.

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame({"id": ["A", "B", "C", "D"]},
    ...     geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 1, 3, 2), box(5, 5, 6, 6)])
    >>> queen_adjacency(g, key="id")
       a  b
    0  A  B
    1  B  C
    """
    import shapely

    geoms = gdf.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    codes = gdf[key].to_numpy()
    a, b = codes[left[keep]], codes[right[keep]]
    lo, hi = np.where(a < b, a, b), np.where(a < b, b, a)
    out = pd.DataFrame({"a": lo, "b": hi}).drop_duplicates()
    return out.sort_values(["a", "b"]).reset_index(drop=True)


def _components(codes: np.ndarray, pairs: pd.DataFrame) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = pd.Index(codes)
    i, j = index.get_indexer(pairs["a"]), index.get_indexer(pairs["b"])
    ok = (i >= 0) & (j >= 0)
    n = len(codes)
    graph = coo_matrix((np.ones(ok.sum()), (i[ok], j[ok])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def connect_within_groups(
    gdf: gpd.GeoDataFrame, pairs: pd.DataFrame, *, key: str, groups: pd.Series
) -> pd.DataFrame:
    """Add ``nearest`` links so each group's contiguity subgraph is connected.

    ``groups`` gives each row of ``gdf`` its group (e.g. LAD code). Returns ``pairs`` with a
    ``kind`` column (``'queen'``) plus the bridging links (``'nearest'``): for every group,
    each connected component other than the largest is joined, by the shortest distance
    between polygons (in EPSG:27700 metres), to a polygon of the group outside it; this is
    repeated until the group is connected.

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame({"id": ["A", "B", "C"]},
    ...     geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(4, 0, 5, 1)], crs=27700)
    >>> connect_within_groups(g, queen_adjacency(g, key="id"), key="id",
    ...                       groups=pd.Series(["L", "L", "L"]))
       a  b     kind
    0  A  B    queen
    1  B  C  nearest
    """
    import shapely

    codes = gdf[key].to_numpy()
    group = np.asarray(groups)
    proj = gdf.geometry if gdf.crs is None or gdf.crs.to_epsg() == 27700 else gdf.geometry.to_crs(27700)
    geoms = proj.to_numpy()
    index = pd.Index(codes)
    same = group[index.get_indexer(pairs["a"])] == group[index.get_indexer(pairs["b"])]
    links = pairs.assign(kind="queen")
    within = pairs[same]
    new: list[tuple[str, str]] = []
    while True:
        comp = _components(codes, pd.concat([within, pd.DataFrame(new, columns=["a", "b"])]))
        frame = pd.DataFrame({"group": group, "comp": comp})
        sizes = frame.groupby(["group", "comp"]).size().rename("n").reset_index()
        per_group = sizes.groupby("group")["comp"].transform("size")
        split = sizes[per_group > 1]
        if split.empty:
            break
        # For each split group, bridge every component but the largest to its nearest outsider.
        largest = split.sort_values(["group", "n", "comp"], ascending=[True, False, True]).drop_duplicates("group")
        todo = split.merge(largest[["group", "comp"]], on=["group", "comp"], how="left", indicator=True)
        todo = todo[todo["_merge"] == "left_only"]
        for g, c in todo[["group", "comp"]].itertuples(index=False):
            inside = np.flatnonzero((group == g) & (comp == c))
            outside = np.flatnonzero((group == g) & (comp != c))
            tree = shapely.STRtree(geoms[outside])
            (src, dst), dist = tree.query_nearest(geoms[inside], return_distance=True, all_matches=False)
            best = int(np.argmin(dist))
            u, v = codes[inside[src[best]]], codes[outside[dst[best]]]
            new.append((min(u, v), max(u, v)))
    if new:
        extra = pd.DataFrame(new, columns=["a", "b"]).drop_duplicates().assign(kind="nearest")
        links = pd.concat([links, extra], ignore_index=True)
    return links.sort_values(["a", "b"]).reset_index(drop=True)


def adjacency_for_vintage(con: duckdb.DuckDBPyConnection, vintage: int) -> pd.DataFrame:
    """Compute queen adjacency of English LSOAs of ``vintage`` with LAD-internal island links.

    LADs are LAD 2019 for LSOA 2011 and LAD 2024 for LSOA 2021 (from the hierarchy).
    """
    from neighbourhood_lens.geo.boundaries import lsoa_boundaries
    from neighbourhood_lens.geo.geography import hierarchy

    yy = str(vintage)[2:]
    key = f"lsoa{yy}_code"
    lad = "lad19_code" if vintage == 2011 else "lad24_code"
    gdf = lsoa_boundaries(con, vintage)
    h = hierarchy(con, vintage)[[key, lad]]
    gdf = gdf.merge(h, on=key, how="inner")
    pairs = queen_adjacency(gdf, key=key)
    return connect_within_groups(gdf, pairs, key=key, groups=gdf[lad])


def load_adjacency(con: duckdb.DuckDBPyConnection, vintage: int) -> pd.DataFrame:
    """The cached adjacency (``a, b, kind``) of LSOAs of ``vintage`` from the warehouse."""
    from neighbourhood_lens.warehouse import has_table

    table = f"adjacency_lsoa{str(vintage)[2:]}"
    if not has_table(con, table):
        raise WarehouseError(
            f"the warehouse has no {table} yet; build it once with `nlens data adjacency` "
            "(or neighbourhood_lens.geo.adjacency.ensure_adjacency(db, vintage))"
        )
    return con.execute(f"SELECT a, b, kind FROM {table} ORDER BY a, b").df()


def ensure_adjacency(db: str | os.PathLike[str] | None, vintage: int, *, rebuild: bool = False) -> int:
    """Compute and store ``adjacency_lsoa11``/``adjacency_lsoa21`` unless already cached.

    Opens the warehouse read-write, so no other process may hold it open. Returns the
    number of links stored (or already present).
    """
    from neighbourhood_lens.warehouse import connect, has_table

    table = f"adjacency_lsoa{str(vintage)[2:]}"
    con = connect(db, read_only=False)
    try:
        if has_table(con, table) and not rebuild:
            return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        links = adjacency_for_vintage(con, vintage)
        con.register("_links", links)
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT a, b, kind FROM _links")
        con.unregister("_links")
        _record(con, table, vintage, len(links))
        return len(links)
    finally:
        con.close()


def _record(con: duckdb.DuckDBPyConnection, table: str, vintage: int, n: int) -> None:
    """A provenance row for the derived table, naming the boundary file it came from."""
    from datetime import UTC, datetime

    from neighbourhood_lens import __version__
    from neighbourhood_lens.warehouse import has_table

    if not has_table(con, "provenance"):
        return
    src = f"boundaries_lsoa{str(vintage)[2:]}"
    rows = con.execute("SELECT source, sha256 FROM provenance WHERE dataset_id = ?", [src]).fetchall()
    row = rows[0] if rows else None
    source, sha = (f"derived from {src} ({row[0]})", row[1]) if row else (f"derived from {src}", None)
    con.execute(
        "INSERT OR REPLACE INTO provenance VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [table, f"Queen contiguity of LSOAs ({vintage}) with island links", "neighbourhood-lens",
         "derived", str(vintage), f"lsoa{str(vintage)[2:]}", source, sha, n, n, datetime.now(UTC),
         __version__, "kind='nearest' rows bridge islands and detached parts within a LAD"],
    )


def neighbours(links: pd.DataFrame) -> pd.DataFrame:
    """Both directions of each link: ``code, neighbour, kind`` (for joins).

    >>> neighbours(pd.DataFrame({"a": ["A"], "b": ["B"], "kind": ["queen"]}))
      code neighbour   kind
    0    A         B  queen
    1    B         A  queen
    """
    fwd = links.rename(columns={"a": "code", "b": "neighbour"})
    back = links.rename(columns={"b": "code", "a": "neighbour"})
    return pd.concat([fwd, back[fwd.columns]], ignore_index=True)
