"""Centre and periphery: where the most deprived neighbourhoods are, and how that moved.

Every LSOA is classified two ways:

Rural-urban
    the ONS/Defra Rural-Urban Classification, broad class ``Urban``/``Rural``
    (``ruc2011_lsoa11`` for LSOA 2011; ``ruc2021_lsoa21`` for LSOA 2021).
Distance from the centre of its local authority
    The **centre** of a LAD (2019 boundaries) is the peak of its residential density: take
    the LSOA with the highest population density (residents per km², area measured in
    British National Grid, EPSG:27700); among the LAD's LSOAs whose centroids lie within
    ``radius_km`` (default 3 km) of that LSOA's centroid, take the ``n_densest`` (default 5)
    densest; the centre is their population-weighted centroid. Restricting to the radius
    keeps the centre inside one town in a polycentric LAD; averaging five LSOAs stops a
    single tower block from defining it. Each LSOA's ``distance_km`` is from its polygon
    centroid to its LAD's centre, and ``band`` groups distances with ``bands_km`` (default
    2 and 5: ``0-2 km`` centre, ``2-5 km`` inner, ``5+ km`` outer/periphery);
    ``distance_quantile`` is the LSOA's percentile rank of distance within its LAD (0-1).

The same LAD 2019 centres are used for every edition so that a change reflects where
deprivation is, not where the centres were drawn. LSOA 2021 neighbourhoods take the LAD 2019
of their 2011 best-fit parent (``lookup_lsoa11_lsoa21_lad22``).

Editions: ``imd2004`` (on LSOA 2001; converted to LSOA 2011 with :func:`.vintages.convert`:
unchanged and split LSOAs copy the 2001 score, merged and irregular ones take the
equally-weighted mean; an LSOA 2011 is in the 2004 most deprived decile when its converted
score is at or above the lowest 2004 decile-1 score, so the national threshold is the
published one; LSOA 2011 codes missing from the lookup are left out with a warning giving
their count), ``imd2019`` (LSOA 2011) and ``imd2025`` (LSOA 2021). "Most deprived decile" =
published national decile 1 (decile 1 = most deprived 10%).

Notes
-----
* LAD 2019 is a coarse stand-in for "town or city": large or polycentric LADs (Dorset,
  Cornwall, Wiltshire) have one centre, at their densest town, so places in other towns count
  as outer. Built-up-area boundaries would refine this; they are not in the warehouse.
* Residential density is a proxy for the centre; in a few cities the commercial core houses
  few people and the density peak is an inner-city estate next to it.
* Populations: mid-2019 estimates on LSOA 2011 (used for both 2004 and 2019 so that the two
  are comparable; there are no 2004 LSOA populations in the warehouse) and Census 2021 on
  LSOA 2021. Shares of LSOAs are reported beside shares of people.

References
----------
ONS (2016), *2011 Rural-Urban Classification of Lower Layer Super Output Areas in England and
Wales*; ONS (2024), *2021 Rural-Urban Classification*.
Clark, C. (1951). Urban population densities. *Journal of the Royal Statistical Society A*
114(4), 490-496 (density peaks at the centre).
Local Trust (2024), *A neighbourhood lens* ("decentralisation of deprivation").
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import CoverageNote, DataError, JoinError, examples
from neighbourhood_lens.warehouse import require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "EDITIONS",
    "LOCATION_COLUMNS",
    "lsoa_geometry_facts",
    "lad_centres",
    "classify_distance",
    "deprivation_location",
    "edition_lsoas",
    "decentralisation",
]

#: Edition -> (IMD table, LSOA vintage of the analysis).
EDITIONS: dict[str, tuple[str, int]] = {
    "imd2004": ("imd2004_lsoa01", 2011),
    "imd2019": ("imd2019_lsoa11", 2011),
    "imd2025": ("imd2025_lsoa21", 2021),
}
LOCATION_COLUMNS = ["edition", "band", "ruc_broad", "lsoas", "population", "deprived_lsoas",
                    "deprived_population", "deprived_share", "population_share", "lsoa_share", "ratio"]


def lsoa_geometry_facts(con: duckdb.DuckDBPyConnection, vintage: int) -> pd.DataFrame:
    """Per English LSOA of ``vintage``: ``code``, centroid ``x``, ``y`` (EPSG:27700 metres), ``area_km2``."""
    from neighbourhood_lens.geo.boundaries import BRITISH_NATIONAL_GRID, lsoa_boundaries

    gdf = lsoa_boundaries(con, vintage).to_crs(BRITISH_NATIONAL_GRID)
    cent = gdf.geometry.centroid
    return pd.DataFrame({"code": gdf.iloc[:, 0].to_numpy(), "x": cent.x.to_numpy(), "y": cent.y.to_numpy(),
                         "area_km2": gdf.geometry.area.to_numpy() / 1e6})


def lad_centres(frame: pd.DataFrame, *, n_densest: int = 5, radius_km: float = 3.0) -> pd.DataFrame:
    """Centre of each LAD: population-weighted centroid of its densest LSOAs near the density peak.

    ``frame`` has ``code, lad_code, x, y, area_km2, population`` (BNG metres). Returns
    ``lad_code, centre_x, centre_y, peak_code`` (the densest LSOA). See the module docstring.

    >>> f = pd.DataFrame({"code": list("abcd"), "lad_code": ["L"] * 4, "x": [0.0, 1000.0, 0.0, 50000.0],
    ...     "y": [0.0, 0.0, 1000.0, 0.0], "area_km2": [0.1, 0.2, 1.0, 0.05], "population": [1000.0] * 4})
    >>> lad_centres(f, n_densest=2, radius_km=3.0)
      lad_code  centre_x  centre_y peak_code
    0        L   50000.0       0.0         d
    >>> lad_centres(f.iloc[:3], n_densest=2, radius_km=3.0)
      lad_code  centre_x  centre_y peak_code
    0        L     500.0       0.0         a
    """
    if n_densest < 1 or radius_km <= 0:
        raise DataError(f"n_densest must be >= 1 and radius_km > 0; got {n_densest}, {radius_km}")
    work = frame[["code", "lad_code", "x", "y", "population"]].copy()
    work["density"] = frame["population"] / frame["area_km2"]
    work = work.sort_values(["lad_code", "density", "code"], ascending=[True, False, True])
    peak = work.drop_duplicates("lad_code").set_index("lad_code")
    px, py = work["lad_code"].map(peak["x"]), work["lad_code"].map(peak["y"])
    near = work[np.hypot(work["x"] - px, work["y"] - py) <= radius_km * 1000]
    top = near.groupby("lad_code", sort=False).head(n_densest)
    wx = (top["x"] * top["population"]).groupby(top["lad_code"]).sum()
    wy = (top["y"] * top["population"]).groupby(top["lad_code"]).sum()
    w = top.groupby("lad_code")["population"].sum()
    out = pd.DataFrame({"centre_x": wx / w, "centre_y": wy / w}).join(peak["code"].rename("peak_code"))
    return out.reset_index().rename(columns={"index": "lad_code"})


def _band_labels(bands_km: Sequence[float]) -> list[str]:
    edges = [0.0, *bands_km]
    labels = [f"{edges[i]:g}-{edges[i + 1]:g} km" for i in range(len(edges) - 1)]
    return [*labels, f"{edges[-1]:g}+ km"]


def classify_distance(
    frame: pd.DataFrame, centres: pd.DataFrame, *, bands_km: Sequence[float] = (2.0, 5.0)
) -> pd.DataFrame:
    """Add ``distance_km``, ``band`` (ordered categorical) and ``distance_quantile`` to ``frame``.

    ``frame`` has ``lad_code, x, y``; ``centres`` comes from :func:`lad_centres`. Every LAD of
    ``frame`` must have a centre. Bands are ``[0, b1), [b1, b2), ..., [bn, inf)`` km.

    >>> f = pd.DataFrame({"lad_code": ["L", "L"], "x": [0.0, 3000.0], "y": [4000.0, 4000.0]})
    >>> c = pd.DataFrame({"lad_code": ["L"], "centre_x": [0.0], "centre_y": [0.0]})
    >>> classify_distance(f, c)[["distance_km", "band", "distance_quantile"]]
       distance_km    band  distance_quantile
    0          4.0  2-5 km                0.5
    1          5.0   5+ km                1.0
    """
    b = list(bands_km)
    if not b or any(v <= 0 for v in b) or sorted(b) != b or len(set(b)) != len(b):
        raise DataError(f"bands_km must be increasing positive distances, e.g. 2,5; got {b}")
    c = centres.set_index("lad_code")
    missing = ~isin(frame["lad_code"], c.index)
    if missing.any():
        raise JoinError(f"{int(missing.sum())} LSOA(s) have a LAD without a centre: "
                        f"{examples(frame.loc[missing, 'lad_code'].unique())}")
    out = frame.copy()
    dx = out["x"] - out["lad_code"].map(c["centre_x"])
    dy = out["y"] - out["lad_code"].map(c["centre_y"])
    out["distance_km"] = np.hypot(dx, dy) / 1000
    labels = _band_labels(b)
    idx = np.searchsorted(np.asarray(b, dtype=float), out["distance_km"].to_numpy(), side="right")
    out["band"] = pd.Categorical.from_codes(idx, categories=labels, ordered=True)
    out["distance_quantile"] = out.groupby("lad_code")["distance_km"].rank(pct=True, method="max")
    return out


def deprivation_location(frame: pd.DataFrame, *, by: Sequence[str] = ("band", "ruc_broad")) -> pd.DataFrame:
    """Where the deprived live: per cell of ``by``, counts and shares of deprived LSOAs and people.

    ``frame`` has the ``by`` columns, ``population`` and a boolean ``deprived``. Columns:
    ``by``..., ``lsoas, population, deprived_lsoas, deprived_population, deprived_share``
    (share of all deprived residents living in the cell, 0-1), ``population_share`` (share of
    all residents, 0-1; the baseline), ``lsoa_share`` (share of deprived LSOAs, 0-1) and
    ``ratio`` = deprived_share / population_share (> 1: over-represented).

    >>> f = pd.DataFrame({"band": ["c", "c", "o", "o"], "population": [1.0, 1.0, 1.0, 1.0],
    ...                   "deprived": [True, False, False, False]})
    >>> deprivation_location(f, by=["band"])[["band", "deprived_share", "population_share", "ratio"]]
      band  deprived_share  population_share  ratio
    0    c             1.0               0.5    2.0
    1    o             0.0               0.5    0.0
    """
    keys = list(by)
    work = frame[keys].copy()
    work["lsoas"] = 1
    work["population"] = frame["population"].to_numpy(dtype=float)
    dep = frame["deprived"].to_numpy(dtype=bool)
    work["deprived_lsoas"] = dep.astype(int)
    work["deprived_population"] = np.where(dep, work["population"], 0.0)
    out = work.groupby(keys, observed=False, as_index=False).sum()
    out["deprived_share"] = out["deprived_population"] / out["deprived_population"].sum()
    out["population_share"] = out["population"] / out["population"].sum()
    out["lsoa_share"] = out["deprived_lsoas"] / out["deprived_lsoas"].sum()
    out["ratio"] = out["deprived_share"] / out["population_share"]
    return out


def _lsoa11_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    from neighbourhood_lens.geo.geography import hierarchy

    require_tables(con, ["ruc2011_lsoa11"])
    h = hierarchy(con, 2011).rename(columns={"lsoa11_code": "code", "lsoa11_name": "name",
                                             "lad19_code": "lad_code", "lad19_name": "lad_name"})
    ruc = con.execute("SELECT lsoa11_code AS code, ruc11_broad AS ruc_broad FROM ruc2011_lsoa11").df()
    return h[["code", "name", "lad_code", "lad_name", "population"]].merge(ruc, on="code", how="left")


def edition_lsoas(
    con: duckdb.DuckDBPyConnection, edition: str, *, geometry: dict[int, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """LSOAs of an edition with ``code, name, lad_code, lad_name, population, ruc_broad, x, y,
    area_km2, score, deprived`` (``deprived`` = national decile 1; LAD = LAD 2019).

    ``geometry`` caches :func:`lsoa_geometry_facts` by vintage between calls.
    """
    from neighbourhood_lens.geo import vintages

    if edition not in EDITIONS:
        raise DataError(f"unknown edition {edition!r}; valid editions: {', '.join(EDITIONS)}")
    table, vintage = EDITIONS[edition]
    require_tables(con, [table])
    geometry = {} if geometry is None else geometry
    if vintage not in geometry:
        geometry[vintage] = lsoa_geometry_facts(con, vintage)
    base = _lsoa11_frame(con)
    if edition == "imd2019":
        imd = con.execute("SELECT lsoa11_code AS code, imd_score AS score, imd_decile FROM imd2019_lsoa11").df()
        frame = base.merge(imd, on="code", how="left")
        frame["deprived"] = frame["imd_decile"].eq(1)
    elif edition == "imd2004":
        imd = con.execute("SELECT lsoa01_code AS code, imd_score, imd_decile FROM imd2004_lsoa01").df()
        threshold = float(imd.loc[imd["imd_decile"] == 1, "imd_score"].min())
        conv = vintages.convert(imd, lookup=vintages.lookup(con, source=2001, target=2011), values="imd_score")
        frame = base.merge(conv[["code", "imd_score"]].rename(columns={"imd_score": "score"}), on="code", how="left")
        frame["deprived"] = frame["score"] >= threshold
        miss = frame["score"].isna()
        if miss.any():
            warnings.warn(
                f"{int(miss.sum())} LSOA 2011 code(s) have no LSOA 2001 parent in lookup_lsoa01_lsoa11 and are "
                f"left out of {edition}: {examples(frame.loc[miss, 'code'])}", CoverageNote, stacklevel=2)
            frame = frame[~miss].reset_index(drop=True)
    else:
        from neighbourhood_lens.geo.geography import hierarchy

        require_tables(con, ["ruc2021_lsoa21"])
        h = hierarchy(con, 2021).rename(columns={"lsoa21_code": "code", "lsoa21_name": "name"})
        lk = vintages.lookup(con, source=2021, target=2011).sort_values(["source_code", "target_code"])
        parent = lk.drop_duplicates("source_code").set_index("source_code")["target_code"]
        lad = base.set_index("code")[["lad_code", "lad_name"]]
        h["lad_code"] = h["code"].map(parent).map(lad["lad_code"])
        h["lad_name"] = h["code"].map(parent).map(lad["lad_name"])
        ruc = con.execute("SELECT lsoa21_code AS code, ruc21_broad AS ruc_broad FROM ruc2021_lsoa21").df()
        imd = con.execute("SELECT lsoa21_code AS code, imd_score AS score, imd_decile FROM imd2025_lsoa21").df()
        frame = (h[["code", "name", "lad_code", "lad_name", "population"]].merge(ruc, on="code", how="left")
                 .merge(imd, on="code", how="left"))
        frame["deprived"] = frame["imd_decile"].eq(1)
    for col, what in (("score", f"{edition} score"), ("ruc_broad", "rural-urban class"), ("lad_code", "LAD 2019")):
        miss = frame[col].isna()
        if miss.any():
            raise JoinError(f"{int(miss.sum())} LSOA(s) have no {what} for {edition}: "
                            f"{examples(frame.loc[miss, 'code'])}")
    geo = geometry[vintage]
    frame = frame.merge(geo, on="code", how="left")
    miss = frame["x"].isna()
    if miss.any():
        raise JoinError(f"{int(miss.sum())} LSOA(s) have no boundary: {examples(frame.loc[miss, 'code'])}")
    return frame.drop(columns=[c for c in ("imd_decile",) if c in frame])


def decentralisation(
    con: duckdb.DuckDBPyConnection,
    *,
    editions: Sequence[str] = ("imd2004", "imd2019", "imd2025"),
    bands_km: Sequence[float] = (2.0, 5.0),
    n_densest: int = 5,
    radius_km: float = 3.0,
    lad: str | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Where the most deprived decile lives, by distance band x urban/rural, for each edition.

    Returns ``(table, lsoas)``: ``table`` has :data:`LOCATION_COLUMNS` (one row per edition,
    band and broad rural-urban class); ``lsoas`` maps each edition to its classified LSOA
    frame (for maps). ``lad`` (code or name) restricts both to one LAD after the national
    classification (deciles stay national).
    """
    from neighbourhood_lens.deprivation.pockets import filter_lad

    geometry: dict[int, pd.DataFrame] = {}
    base = edition_lsoas(con, "imd2019", geometry=geometry)
    centres = lad_centres(base, n_densest=n_densest, radius_km=radius_km)
    tables, frames = [], {}
    for ed in editions:
        frame = base if ed == "imd2019" else edition_lsoas(con, ed, geometry=geometry)
        frame = filter_lad(classify_distance(frame, centres, bands_km=bands_km), lad)
        frames[ed] = frame
        tables.append(deprivation_location(frame).assign(edition=ed))
    return pd.concat(tables, ignore_index=True)[LOCATION_COLUMNS], frames
