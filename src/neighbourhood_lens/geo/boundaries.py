"""Boundaries: LSOA polygons from the warehouse, and areas dissolved from them.

Polygons are stored in the warehouse as WKB in WGS84 (EPSG:4326), as in the ONS
generalised boundary files. Areas above the LSOA (wards, LADs, regions, custom
neighbourhoods) are dissolved from their LSOAs using the best-fit hierarchy, so they nest
exactly; they are therefore best-fit approximations of the official ward and LAD
boundaries, not the official polygons themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import JoinError, examples
from neighbourhood_lens.geo.geography import level as get_level
from neighbourhood_lens.warehouse import require_tables

if TYPE_CHECKING:
    import duckdb
    import geopandas as gpd

__all__ = ["lsoa_boundaries", "area_boundaries", "BRITISH_NATIONAL_GRID"]

#: Projected CRS for areas, lengths and distances in England.
BRITISH_NATIONAL_GRID = 27700


def lsoa_boundaries(
    con: duckdb.DuckDBPyConnection, vintage: int, *, codes: Iterable[str] | None = None
) -> gpd.GeoDataFrame:
    """LSOA polygons of ``vintage`` (2011 or 2021), England only, EPSG:4326.

    Columns: ``lsoa11_code`` (or ``lsoa21_code``), ``geometry``. With ``codes``, only those
    LSOAs; codes without a boundary raise :class:`JoinError`.
    """
    import geopandas as gpd
    import pandas as pd

    yy = str(vintage)[2:]
    table, key = f"boundaries_lsoa{yy}", f"lsoa{yy}_code"
    require_tables(con, [table])
    if codes is None:
        frame = con.execute(
            f"SELECT {key}, geometry FROM {table} WHERE {key} LIKE 'E%' ORDER BY {key}"
        ).df()
    else:
        wanted = pd.DataFrame({key: pd.Index(codes).unique()})
        con.register("_wanted", wanted)
        frame = con.execute(
            f"SELECT w.{key}, b.geometry FROM _wanted w LEFT JOIN {table} b USING ({key}) "
            f"ORDER BY w.{key}"
        ).df()
        con.unregister("_wanted")
        missing = frame.loc[frame["geometry"].isna(), key]
        if len(missing):
            raise JoinError(f"{len(missing)} LSOA(s) have no boundary in {table}: {examples(missing)}")
    geom = gpd.GeoSeries.from_wkb(frame["geometry"].map(bytes), crs=4326)
    return gpd.GeoDataFrame({key: frame[key].to_numpy()}, geometry=geom, crs=4326)


def area_boundaries(
    con: duckdb.DuckDBPyConnection, level_name: str, *, codes: Iterable[str] | None = None
) -> gpd.GeoDataFrame:
    """Polygons for areas of a hierarchy level (``ward17``, ``lad24`` ...), dissolved from
    their LSOAs. Columns: ``code``, ``geometry`` (EPSG:4326)."""
    lv = get_level(level_name)
    gdf = lsoa_boundaries(con, lv.lsoa_vintage)
    if lv.kind == "lsoa":
        out = gdf.rename(columns={lv.lsoa_code: "code"})
    else:
        h = con.execute(f"SELECT {lv.lsoa_code}, {lv.code} AS code FROM {lv.table}").df()
        if codes is not None:
            wanted = set(codes)
            unknown = wanted - set(h["code"])
            if unknown:
                raise JoinError(f"{len(unknown)} {level_name} code(s) unknown: {examples(sorted(unknown))}")
            h = h[isin(h["code"], wanted)]
        gdf = gdf.merge(h, on=lv.lsoa_code, how="inner")
        out = gdf[["code", "geometry"]].dissolve(by="code", as_index=False)
    if codes is not None:
        out = out[isin(out["code"], set(codes))]
    return out.reset_index(drop=True)
