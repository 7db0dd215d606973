"""Static choropleth maps (PNG or SVG) with a legend, a title and a source note.

One generic function, :func:`choropleth`, used by every command that takes ``--map``: it
draws the polygons of a GeoDataFrame coloured by one column, either as a continuous scale
with a colour bar or as categories with a legend, in British National Grid (EPSG:27700) so
that England is not stretched. Matplotlib and GeoPandas are imported inside the function
so ``import neighbourhood_lens`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DataError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["MAP_SUFFIXES", "DEFAULT_SOURCE_NOTE", "choropleth"]

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
    ax.set_title(title, fontsize=13, loc="left", wrap=True)
    fig.text(0.01, 0.01, source_note, fontsize=7.5, color="#444444", ha="left", va="bottom", wrap=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
