"""A single self-contained HTML report on one local authority (works offline).

The report holds: the LAD's profile (IoD2025 and IoD2019 positions, CNI, left-behind counts,
outcomes against equally deprived authorities and England, :mod:`.profile_outcomes`),
a map of its LSOAs coloured by IMD 2025 decile (PNG embedded as base64), its most deprived
LSOAs, its left-behind LSOAs (2023) and wards (2019), the spread of its LSOAs over the
national deciles and the population-weighted Gini coefficient of their IMD scores
(:func:`.inequality.gini`), and the 2004-2025 trajectory of its IMD percentile
(:mod:`.trajectories`). No external file, font or script is referenced.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError
from neighbourhood_lens.outputs.profile_outcomes import outcomes_html
from neighbourhood_lens.outputs.profiles import ProfileStore, area_profile, load_store
from neighbourhood_lens.warehouse import require_tables, scalar

if TYPE_CHECKING:
    import duckdb

__all__ = ["lad_report", "write_lad_report", "trajectory_svg"]

_SOURCE = ("Source: MHCLG English Indices of Deprivation 2004-2025; OCSI/Local Trust Community Needs Index 2019 "
           "and 2023; ONS boundaries, lookups and population estimates, OGL v3; contains OS data © Crown copyright.")
_CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:1000px;margin:1rem auto;padding:0 1rem;color:#1d1d1d}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border-bottom:1px solid #ddd;padding:.25rem .5rem;
text-align:left}th{background:#f0f3f6}.note{color:#555;font-size:.9em}img{max-width:100%}h1 small{color:#666}"""


def trajectory_svg(frame: pd.DataFrame, *, width: int = 560, height: int = 220) -> str:
    """An inline SVG line chart of ``percentile`` (0-1; 0 = most deprived) by ``edition``.

    >>> svg = trajectory_svg(pd.DataFrame({"edition": [2004, 2025], "percentile": [0.1, 0.3]}))
    >>> svg.startswith("<svg") and svg.count("<circle") == 2 and 'viewBox="0 0 560 220"' in svg
    True
    """
    if frame.empty:
        return ""
    left, right, top, bottom = 50, 20, 15, 35
    years = frame["edition"].astype(int).tolist()
    y0, y1 = min(years), max(years)
    span = max(y1 - y0, 1)

    def x(year: int) -> float:
        return left + (year - y0) / span * (width - left - right)

    def y(p: float) -> float:
        return top + p * (height - top - bottom)

    # viewBox + width 100%: the chart scales down to a phone's width instead of being clipped
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px;height:auto" role="img" aria-label="IMD percentile by edition">']
    for p in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(p) + 4:.1f}" font-size="11" text-anchor="end">{p:.0%}</text>')
    pts = [(x(e), y(float(p))) for e, p in zip(years, frame["percentile"], strict=True)]
    parts.append('<polyline fill="none" stroke="#b2182b" stroke-width="2" points="'
                 + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
    for (a, b), e, p in zip(pts, years, frame["percentile"], strict=True):
        parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="#b2182b"><title>{e}: {float(p):.1%}'
                     f'</title></circle><text x="{a:.1f}" y="{height - bottom + 16}" font-size="11" '
                     f'text-anchor="middle">{e}</text>')
    parts.append(f'<text x="{left}" y="{height - 2}" font-size="10" fill="#555">percentile of England '
                 '(0% = most deprived; population-weighted mean of LSOA percentiles)</text></svg>')
    return "".join(parts)


def _table(frame: pd.DataFrame, *, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for col, val in zip(frame.columns, rec, strict=True):
            fmt = formats.get(col)
            text = "" if val is None or val is pd.NA or val != val else (format(val, fmt) if fmt else str(val))
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _map_png(con: duckdb.DuckDBPyConnection, lsoas: pd.DataFrame, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from neighbourhood_lens.geo.boundaries import lsoa_boundaries

    colours = ["#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#d1e5f0", "#92c5de", "#4393c3",
               "#2166ac", "#053061"]
    gdf = lsoa_boundaries(con, 2021)
    gdf = gdf[isin(gdf["lsoa21_code"], lsoas.index)].merge(
        lsoas[["imd_decile", "left_behind"]], left_on="lsoa21_code", right_index=True)
    gdf = gdf.to_crs(27700)
    fig, ax = plt.subplots(figsize=(8, 7), dpi=90)
    gdf.plot(column=gdf["imd_decile"].astype(int) - 1, cmap=ListedColormap(colours), vmin=0, vmax=9, ax=ax,
             edgecolor="white", linewidth=0.3)
    lb = gdf[gdf["left_behind"].fillna(False).astype(bool)]
    if len(lb):
        lb.boundary.plot(ax=ax, color="black", linewidth=1.4)
    handles = [Patch(color=c, label=f"{i + 1}{' (most deprived)' if i == 0 else ''}") for i, c in enumerate(colours)]
    handles.append(Patch(facecolor="none", edgecolor="black", label="left behind (2023)"))
    ax.legend(handles=handles, title="IMD 2025 decile", loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8)
    ax.set_title(title)
    ax.set_axis_off()
    fig.text(0.01, 0.01, "Source: MHCLG IoD2025; OCSI CNI 2023; ONS boundaries, OGL v3; "
             "contains OS data © Crown copyright", fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def lad_report(con: duckdb.DuckDBPyConnection, lad: str, *, store: ProfileStore | None = None) -> str:
    """The HTML text of the report on local authority ``lad`` (a LAD 2024 code)."""
    unknown = DataError(f"{lad!r} is not an English local authority (LAD 2024) code; e.g. E08000021 "
                        "(Newcastle upon Tyne). Find codes with `/api/search` or the `areas` table.")
    if store is None:
        # A wrong code is refused from the hierarchy, without waiting for the whole profile store
        require_tables(con, ["hierarchy_lsoa21"])
        if not scalar(con, "SELECT count(*) FROM hierarchy_lsoa21 WHERE lad24_code = ?", [lad]):
            raise unknown
        # the report lists no neighbours, and its outcomes are those of LAD 2024, built on LSOA 2021
        store = load_store(con, neighbours=False, outcome_vintages=(2021,))
    if lad not in store.frames["lad24"].index:
        raise unknown
    p = area_profile(None, lad, store=store)
    name = html.escape(p["name"])
    l21 = store.frames["lsoa21"]
    mine = l21[l21["lad24_code"] == lad]
    worst = mine.sort_values("imd_rank").head(10).reset_index()[
        ["code", "name", "ward24_name", "imd_rank", "imd_decile", "cni_decile", "left_behind"]]
    lb23 = mine[mine["left_behind"].fillna(False).astype(bool)].reset_index()[
        ["code", "name", "ward24_name", "imd_rank", "cni_rank", "population"]]
    w17 = store.frames["ward17"]
    lb19 = w17[(w17["lad19_code"] == lad) & w17["left_behind"].fillna(False).astype(bool)].reset_index()
    lb19 = lb19.rename(columns={"ward17_code": "code"})[["code", "name", "imd_rank", "cni_rank", "population"]]
    spread = mine.groupby("imd_decile").agg(lsoas=("name", "size"), population=("population", "sum"))
    spread = spread.reindex(range(1, 11), fill_value=0).rename_axis("imd_decile").reset_index()
    ineq = ""
    try:
        from neighbourhood_lens.deprivation.inequality import gini

        g = gini(mine["imd_score"].to_numpy(float), mine["population"].to_numpy(float))
        allg = gini(l21["imd_score"].to_numpy(float), l21["population"].to_numpy(float))
        ineq = (f"<p>Population-weighted Gini coefficient of LSOA IMD 2025 scores: <b>{g:.3f}</b> within {name} "
                f"(England: {allg:.3f}). Scores range from {mine['imd_score'].min():.1f} to "
                f"{mine['imd_score'].max():.1f}.</p>")
    except ImportError:
        pass
    traj = ""
    try:
        from neighbourhood_lens.deprivation.trajectories import trajectory

        t = trajectory(con, lad, by="lad24")
        traj = trajectory_svg(t) + _table(t[["edition", "percentile", "area_rank", "n_areas", "area_decile"]],
                                          formats={"percentile": ".1%"})
    except (ImportError, DataError) as exc:
        traj = f'<p class="note">Trajectory not available: {html.escape(str(exc))}</p>'
    png = _map_png(con, mine, f"{p['name']}: LSOAs by IMD 2025 decile")
    other = p["other_editions"][0]["imd"] if p["other_editions"] else None
    body = [
        f"<h1>{name} <small>{lad}</small></h1>",
        f"<p>{p.get('region_name', '')} · population {p['population']:,.0f} (Census 2021) in {p['n_lsoas']} LSOAs."
        f"</p><p>IMD 2025: rank <b>{p['imd']['rank']}</b> of {p['imd']['n_areas']} local authorities on average "
        f"score (decile {p['imd']['decile']}; rank 1 = most deprived); {p['imd']['decile1_share']:.0%} of its "
        "LSOAs are in England's most deprived 10%."
        + (f" IMD 2019: rank {other['rank']} of {other['n_areas']}." if other else "")
        + f" CNI 2023: rank {p['cni']['rank']} (1 = highest need).</p>",
        f'<h2>Map</h2><img alt="Map of {name} LSOAs by IMD decile" src="data:image/png;base64,{png}">',
        "<h2>Most deprived neighbourhoods (IMD 2025)</h2>",
        _table(worst, formats={"imd_rank": ",d"}),
        f"<h2>Left-behind neighbourhoods</h2><p>{len(lb23)} LSOAs (2023 definition) and {len(lb19)} wards "
        "(2019 definition: the published 225).</p>",
        _table(lb23, formats={"population": ",.0f"}) if len(lb23) else "",
        _table(lb19, formats={"population": ",.0f", "imd_rank": ",d"}) if len(lb19) else "",
        outcomes_html(p["outcomes"]),
        "<h2>Inequality within the authority</h2>", ineq,
        _table(spread, formats={"population": ",.0f"}),
        "<h2>Trajectory 2004-2025</h2>", traj,
        f'<p class="note">{html.escape(_SOURCE)} Made with neighbourhood-lens.</p>',
    ]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name}: neighbourhood report'
            f"</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>")


def write_lad_report(con: duckdb.DuckDBPyConnection, lad: str, path: str | Path, *,
                     store: ProfileStore | None = None) -> Path:
    """Write :func:`lad_report` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lad_report(con, lad, store=store), encoding="utf-8")
    return path

