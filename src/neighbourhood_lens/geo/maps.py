"""Static choropleth maps (PNG or SVG) with a legend, a title and a source note.

One generic function, :func:`choropleth`, used by every command that takes ``--map``: it
draws the polygons of a GeoDataFrame coloured by one column, either as a continuous scale
with a colour bar or as categories with a legend, in British National Grid (EPSG:27700) so
that England is not stretched. Maps orient the reader: the edition and unit follow the
title, a scale bar (a round number of km, about a fifth of the map's width) sits in the
lower left, and the names of the main places at the map's scale (:func:`place_labels`: the
most populous wards of a local map, LADs of a national one) are printed over their areas.
Matplotlib and GeoPandas are imported inside the function
so ``import neighbourhood_lens`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError

if TYPE_CHECKING:
    import duckdb
    import geopandas as gpd

__all__ = ["MAP_SUFFIXES", "DEFAULT_SOURCE_NOTE", "choropleth", "place_labels", "scale_bar_km"]

MAP_SUFFIXES = (".png", ".svg")
DEFAULT_SOURCE_NOTE = (
    "Source: MHCLG IoD2019; ONS boundaries, OGL v3; contains OS data © Crown copyright"
)
_MISSING_COLOUR = "#d9d9d9"


def choropleth(
    gdf: gpd.GeoDataFrame,
    column: str,
    *,
    title: str,
    source_note: str = DEFAULT_SOURCE_NOTE,
    path: str | Path,
    categorical: bool = False,
    cmap: str | None = None,
    colours: Mapping[str, str] | None = None,
    legend_title: str | None = None,
    outline: gpd.GeoDataFrame | None = None,
    missing_label: str = "no data",
    vmin: float | None = None,
    vmax: float | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 150,
    edition: str | None = None,
    unit: str | None = None,
    labels: gpd.GeoDataFrame | None = None,
) -> Path:
    """Draw ``gdf`` coloured by ``column`` and save it to ``path`` (``.png`` or ``.svg``).

    Parameters
    ----------
    gdf
        Polygons (any CRS; drawn in EPSG:27700) with ``column``.
    column
        The values to colour by. Missing values are drawn in light grey as ``missing_label``.
    title, source_note
        Printed above and below the map. The source note names the data and the licence.
    categorical
        ``True`` for categories (a legend with one patch per category, in the order of a
        pandas ``Categorical`` if the column is one, else sorted); ``False`` for a continuous
        colour bar.
    cmap, colours
        A Matplotlib colour map name (default ``viridis_r`` continuous, ``tab10`` categorical)
        or, for categories, an explicit ``{category: colour}`` mapping.
    legend_title
        Title of the legend or colour bar (default: ``column``).
    outline
        Optional polygons drawn as thin dark outlines on top (e.g. the LAD boundary).
    vmin, vmax, figsize, dpi
        Scale limits, figure size (inches; default 9 wide, height from the map's shape) and PNG
        resolution.
    edition, unit
        Printed under the title, e.g. ``"IoD2019"`` and ``"LSOAs (2011 boundaries)"``.
    labels
        Places to name on the map: ``name`` and ``geometry`` (from :func:`place_labels`); each
        name is printed at a point inside its polygon, with a white halo.

    Returns the path written. Raises :class:`DataError` for an unknown suffix, a missing
    column or an empty frame.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.patches import Patch

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MAP_SUFFIXES:
        raise DataError(f"cannot draw a map to {path}: unknown suffix {suffix!r}; use .png or .svg")
    if column not in gdf:
        raise DataError(f"cannot map column {column!r}: not in the frame (columns: {', '.join(map(str, gdf.columns))})")
    if len(gdf) == 0:
        raise DataError("cannot draw a map of no areas: the frame is empty (check the filter, e.g. --lad)")
    geo = gdf if gdf.crs is None or gdf.crs.to_epsg() == 27700 else gdf.to_crs(27700)
    xmin, ymin, xmax, ymax = geo.total_bounds
    span = max(xmax - xmin, ymax - ymin)
    if len(geo) > 2000:  # national maps: simplify for drawing only (well below line width)
        geo = geo.set_geometry(geo.geometry.simplify(span / 3000))

    if figsize is None:
        figsize = (9.0, min(11.0, max(4.5, 6.5 * (ymax - ymin) / max(xmax - xmin, 1.0) + 1.0)))
    fig, ax = plt.subplots(figsize=figsize)
    values = geo[column]
    missing = values.isna()
    handles = []
    if missing.any():
        geo[missing].plot(ax=ax, color=_MISSING_COLOUR, linewidth=0)
        handles.append(Patch(facecolor=_MISSING_COLOUR, edgecolor="none", label=missing_label))
    edge_colour = "white" if categorical else "#9e9e9e"
    edge = {"edgecolor": edge_colour, "linewidth": 0.2} if len(geo) < 2000 else {"linewidth": 0}
    present = geo[~missing]
    if categorical:
        cats = (list(values.cat.categories) if isinstance(values.dtype, pd.CategoricalDtype)
                else sorted(values.dropna().unique(), key=str))
        palette = plt.get_cmap(cmap or "tab10")
        if palette.N > 20:  # a continuous colour map: spread the categories along it
            steps = [i / max(len(cats) - 1, 1) for i in range(len(cats))]
        else:
            steps = [i % palette.N for i in range(len(cats))]
        cmap_cols = {c: (colours or {}).get(str(c), palette(s)) for c, s in zip(cats, steps, strict=True)}
        for cat in cats:
            part = present[present[column] == cat]
            if len(part):
                part.plot(ax=ax, color=cmap_cols[cat], **edge)
            handles.append(Patch(facecolor=cmap_cols[cat], edgecolor="none", label=f"{cat} ({len(part):,})"))
        if missing.any():  # the "no data" entry goes last
            handles = handles[1:] + handles[:1]
        ax.legend(handles=handles, title=legend_title or column,
                  loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9, title_fontsize=10)
    else:
        present.plot(ax=ax, column=column, cmap=cmap or "viridis_r", vmin=vmin, vmax=vmax, legend=True,
                     legend_kwds={"label": legend_title or column, "shrink": 0.6}, **edge)
        if handles:
            ax.legend(handles=handles, loc="lower left", frameon=False, fontsize=9)
    if outline is not None:
        ol = outline if outline.crs is None or outline.crs.to_epsg() == 27700 else outline.to_crs(27700)
        ol.boundary.plot(ax=ax, color="#222222", linewidth=0.6)
    ax.set_xlim(xmin - span * 0.02, xmax + span * 0.02)
    ax.set_ylim(ymin - span * 0.02, ymax + span * 0.02)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if labels is not None and len(labels):
        import matplotlib.patheffects as pe

        lab = labels if labels.crs is None or labels.crs.to_epsg() == 27700 else labels.to_crs(27700)
        for name, point in zip(lab["name"], lab.geometry.representative_point(), strict=True):
            ax.annotate(str(name), (point.x, point.y), fontsize=7, ha="center", va="center", color="#111111",
                        path_effects=[pe.withStroke(linewidth=2.2, foreground="white")])
    km = scale_bar_km(xmax - xmin)
    x0, y0 = xmin + span * 0.01, ymin - span * 0.005
    ax.plot([x0, x0 + km * 1000], [y0, y0], color="#222222", linewidth=2.5, solid_capstyle="butt")
    ax.annotate(f"{km:g} km", (x0 + km * 500, y0), xytext=(0, 4), textcoords="offset points", ha="center",
                va="bottom", fontsize=8, color="#222222")
    subtitle = ", ".join(p for p in (edition, unit) if p)
    ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=13, loc="left", wrap=True)
    fig.text(0.01, 0.01, source_note, fontsize=7.5, color="#444444", ha="left", va="bottom", wrap=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def scale_bar_km(width_m: float) -> float:
    """The longest round scale-bar length in km (1, 2 or 5 x 10^k) up to a fifth of a map ``width_m`` m wide.

    >>> scale_bar_km(600_000), scale_bar_km(12_000), scale_bar_km(2_000)
    (100.0, 2.0, 0.2)
    """
    import math

    target = max(width_m / 5 / 1000, 1e-3)
    power = 10 ** math.floor(math.log10(target))
    return float(max((m * power for m in (1, 2, 5) if m * power <= target), default=power))


def place_labels(con: duckdb.DuckDBPyConnection, level: str, shown: gpd.GeoDataFrame, *, n: int = 12
                 ) -> gpd.GeoDataFrame:
    """The ``n`` most populous ``level`` areas (``ward17``, ``ward24``, ``lad19``, ``lad24``) under a map.

    ``shown`` is the mapped frame: ``code`` and polygons of LSOAs (2011 or 2021) or of the
    level's own areas. Each label's polygon is the union of the mapped polygons in that area,
    so names sit on what is drawn. Returns ``name, population, geometry`` (empty when the
    codes belong to no level of the hierarchy). Ward/LAD population: ONS mid-2019 (2011-based
    levels) or Census 2021 (2021-based).
    """
    import geopandas as gpd

    table = "hierarchy_lsoa11" if level in ("ward17", "lad19") else "hierarchy_lsoa21"
    lsoa = "lsoa11_code" if table.endswith("11") else "lsoa21_code"
    h = con.execute(f"SELECT {lsoa} AS lsoa, {level}_code AS code, {level}_name AS name, population FROM {table}").df()
    pop = h.groupby(["code", "name"], as_index=False)["population"].sum()
    codes = set(shown["code"])
    if codes & set(h["lsoa"]):
        parent = shown[["code", "geometry"]].merge(h[["lsoa", "code"]].rename(columns={"code": "parent"}),
                                                   left_on="code", right_on="lsoa")
        parent = parent.drop(columns=["code", "lsoa"]).rename(columns={"parent": "code"})
    elif codes & set(pop["code"]):
        parent = shown[["code", "geometry"]]
    else:
        return gpd.GeoDataFrame({"name": [], "population": []}, geometry=[], crs=shown.crs)
    parent = gpd.GeoDataFrame(parent, geometry="geometry", crs=shown.crs)
    top = pop[isin(pop["code"], set(parent["code"]))].nlargest(n, "population")
    shapes = parent[isin(parent["code"], set(top["code"]))].dissolve(by="code", as_index=False)
    return shapes.merge(top, on="code")[["name", "population", "geometry"]]
