"""Self-contained HTML report of a design, a map of the chosen areas and the compare chart.

The report states the rules (the spec as TOML-like key = value lines), the eligibility counts,
who is chosen (areas, people, money), the solver's facts for an optimal design against the
greedy rule, and the reach table in the form of ``nlens funding reach`` (money and people by
IMD decile, left-behind coverage). Charts are PNG embedded as base64, so the file travels alone.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from neighbourhood_lens._isin import isin

from ..errors import DataError
from .design import missed_areas

if TYPE_CHECKING:
    import duckdb

    from .design import Design

__all__ = ["render_design_html", "write_design_report", "design_map", "compare_chart"]

_CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border-bottom:1px solid #ddd;"
        "padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
        ".note{color:#8a4b00}code{background:#f4f4f4;padding:1px 3px}")


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None, limit: int | None = None) -> str:
    formats = formats or {}
    f = frame if limit is None else frame.head(limit)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in f.columns)
    body = []
    for row in f.itertuples(index=False):
        cells = []
        for c, v in zip(f.columns, row, strict=True):
            if isinstance(v, float) and math.isnan(v):
                text = ""
            elif c in formats and v is not None:
                text = format(v, formats[c])
            else:
                text = str(v)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>… and {len(frame) - limit:,} more rows (see the CSV).</p>" if limit and len(frame) > limit else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _decile_chart(deciles: pd.DataFrame) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    pop = deciles["population"] / deciles["population"].sum()
    x = deciles["decile"].to_numpy()
    ax.bar(x - 0.2, deciles["share_of_amount"].fillna(0), width=0.4, label="share of money", color="#1b9e77")
    ax.bar(x + 0.2, pop, width=0.4, label="share of population", color="#bbbbbb")
    ax.set_xticks(x)
    ax.set_xlabel("IMD decile of the LSOA (1 = most deprived 10%)")
    ax.set_ylabel("share")
    ax.legend(frameon=False)
    return _png(fig)


def _spec_lines(d: Design) -> str:
    data = d.spec.model_dump(exclude_none=True)
    lines = []
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {vv!r}" for kk, vv in v.items()]
        else:
            lines.append(f"{k} = {v!r}")
    return "<pre>" + html.escape("\n".join(lines)) + "</pre>"


def render_design_html(d: Design, *, map_png: Path | None = None) -> str:
    """The HTML report of a design (see the module docstring)."""
    s = d.summary
    money = f"£{s['money']:,.0f}" + (f" of £{s['budget']:,.0f}" if s.get("budget") else " (no budget)")
    facts = [f"<b>{s['areas']:,}</b> areas chosen of {s['eligible']:,} eligible ({s['areas_in_unit']:,} {s['unit']})",
             f"<b>{s['people']:,.0f}</b> people", money,
             f"people × need (Σ population × need weight): <b>{s['people_x_need']:,.0f}</b>"]
    if s["method"] == "optimal":
        facts.append(f"optimal objective <b>{s['objective']:,.0f}</b> (bound {s['bound']:,.0f}, gap "
                     f"{s['mip_gap']:.4%}, {s['solve_seconds']:.2f} s, {s['n_binaries']:,} binaries); the greedy rule "
                     f"on the same rules reaches {s['greedy_objective']:,.0f} with {s['greedy_areas']:,} areas: "
                     f"<b>{s['improvement']:+,.0f}</b> ({s['improvement_share']:+.2%})")
    reach = [f"share of money reaching IMD decile-1 LSOAs: <b>{s['money_share_decile1']:.1%}</b>",
             f"share of money reaching the {html.escape(s['left_behind_label'])}: "
             f"<b>{s['money_share_left_behind']:.1%}</b>",
             f"left-behind covered: <b>{s['left_behind_covered']:,}</b> ({s['left_behind_covered_share']:.1%})",
             f"decile-1 residents covered: <b>{s['decile1_residents_covered_share']:.1%}</b>",
             f"concentration index: {s['concentration_index']:+.3f} (negative = towards the more deprived)"]
    if not s["money"]:
        reach = reach[2:4]
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in d.notes)
    img = ""
    if map_png is not None and map_png.exists():
        img = f'<img alt="map" style="max-width:100%" src="data:image/png;base64,' \
              f'{base64.b64encode(map_png.read_bytes()).decode()}">'
    chart = _decile_chart(d.deciles) if s["money"] else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(d.spec.name)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(d.spec.name)}</h1>"
        f"<p>{html.escape(d.spec.description)}</p><h2>Summary</h2><ul>{''.join(f'<li>{f}</li>' for f in facts)}</ul>"
        f"{notes}<h2>Rules</h2>{_spec_lines(d)}<h2>Eligibility</h2>"
        "<p>removes_alone: areas the rule would remove on its own; first_reason: areas for which it is the first "
        "rule that fails.</p>"
        f"{_table(d.eligibility, {'removes_alone': ',d', 'first_reason': ',d'})}"
        f"<h2>Reach ({html.escape(s['reach_index'])}, as <code>nlens funding reach</code>)</h2>"
        f"<ul>{''.join(f'<li>{r}</li>' for r in reach)}</ul>"
        f"{_table(d.deciles, {'amount': ',.0f', 'population': ',.0f', 'amount_per_capita': ',.2f', 'share_of_amount': '.1%'})}"  # noqa: E501
        f"{chart}{img}<h2>Highest-need areas not chosen</h2>"
        f"{_table(missed_areas(d), {'population': ',.0f', 'need_weight': '.4f'})}<h2>Chosen areas</h2>"
        f"{_table(d.selection, {'population': ',.0f', 'need_weight': '.4f', 'amount': ',.0f'}, limit=500)}"
        "<p>Sources: MHCLG English Indices of Deprivation (OGL v3); OCSI Community Needs Index (research use); "
        "ONS lookups and populations (OGL v3).</p></body></html>"
    )


def write_design_report(d: Design, path: str | Path, *, map_png: Path | None = None) -> Path:
    """Write :func:`render_design_html` to ``path`` (``.html``)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise DataError(f"--report {path}: use a .html file")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_design_html(d, map_png=map_png), encoding="utf-8")
    return path


def design_map(con: duckdb.DuckDBPyConnection, d: Design, path: str | Path) -> Path:
    """A choropleth of the chosen areas coloured by amount (or need weight without a budget),
    over LAD outlines, via :func:`.maps.choropleth`."""
    from neighbourhood_lens.geo.boundaries import area_boundaries
    from neighbourhood_lens.geo.maps import choropleth

    from ..warehouse import has_table

    unit = d.summary["unit"]
    if unit.startswith("neighbourhoods:"):
        from neighbourhood_lens.neighbourhoods.build import load_neighbourhoods, neighbourhood_boundaries

        assignment, vintage = load_neighbourhoods(con, unit.removeprefix("neighbourhoods:"))
        sub = assignment[isin(assignment["neighbourhood_code"], d.selection["code"])]
        geo = neighbourhood_boundaries(con, sub, vintage=vintage).rename(columns={"neighbourhood_code": "code"})
    else:
        geo = area_boundaries(con, unit, codes=d.selection["code"])
    column = "amount" if d.summary["money"] else "need_weight"
    gdf = geo.merge(d.selection[["code", column]], on="code", how="inner")
    outline = None
    if has_table(con, "boundaries_lad24"):
        import geopandas as gpd

        lad = con.execute("SELECT lad24_code, geometry FROM boundaries_lad24 WHERE lad24_code LIKE 'E%'").df()
        lad["geometry"] = gpd.GeoSeries.from_wkb(lad["geometry"].apply(bytes))
        outline = gpd.GeoDataFrame(lad, geometry="geometry", crs=4326)
    return choropleth(gdf, column, title=f"{d.spec.name}: {len(d.selection):,} areas", path=path,
                      legend_title="amount (GBP)" if column == "amount" else "need weight", outline=outline,
                      source_note="Source: MHCLG IoD; OCSI CNI; ONS boundaries, OGL v3; contains OS data © Crown "
                                  "copyright")


def compare_chart(table: pd.DataFrame, path: str | Path) -> Path:
    """Bars of the share of money reaching decile-1 LSOAs and the left-behind areas, per design."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise DataError(f"--chart {path}: use .png or .svg")
    t = table[table["money"] > 0]
    y = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(t) + 1.5))
    ax.barh(y - 0.2, t["money_share_decile1"], height=0.4, label="decile-1 LSOAs", color="#1b9e77")
    ax.barh(y + 0.2, t["money_share_left_behind"], height=0.4, label=table.attrs.get("left_behind_label", "left "
                                                                                            "behind"), color="#d95f02")
    ax.set_yticks(y, t["design"])
    ax.invert_yaxis()
    ax.set_xlabel("share of the money")
    ax.legend(frameon=False, loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
