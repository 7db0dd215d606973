"""The funding reach report: one self-contained HTML page (inline CSS, charts as base64 PNG).

The page works offline and has no external references: no scripts, fonts, stylesheets or
images are fetched. Sections: headline figures, the decile chart, the concentration curve,
a map of amount per head by local authority, left-behind groups and regions, the
allocation-versus-need view (when the file allocates to local authorities), and the
data-quality section (what was located, unlocated and rejected, and why).
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from neighbourhood_lens.funding.reach import ReachResult

__all__ = ["render_reach_html", "SOURCE_NOTE"]

SOURCE_NOTE = ("Source: MHCLG English Indices of Deprivation; ONS population estimates, Census 2021, "
               "lookups and boundaries, OGL v3; contains OS data © Crown copyright. Left-behind: OCSI/Local Trust.")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d1d1f;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em;display:block;overflow-x:auto}
th,td{padding:.3em .7em;border-bottom:1px solid #e3e3e3}
th{background:#f4f4f6;text-align:left}td.num,th.num{text-align:right}
.figs{display:flex;flex-wrap:wrap;gap:1em}.figs figure{margin:0;flex:1 1 480px}img{max-width:100%}
.kpi{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}.kpi div{background:#f4f4f6;border-radius:6px;padding:.7em 1em}
.kpi b{display:block;font-size:1.4em}.banner{background:#fff3cd;border:2px solid #e0a800;padding:.7em 1em;
font-weight:bold;border-radius:6px}.ok{color:#1a7f37}.bad{color:#b42318}.note{color:#555;font-size:.85em}
"""


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _gbp(x: float) -> str:
    return "—" if x != x else f"£{x:,.0f}"


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None, limit: int | None = None) -> str:
    formats = formats or {}
    f = frame.head(limit) if limit else frame
    head = "".join(f'<th class="{"num" if f[c].dtype.kind in "iuf" else ""}">{html.escape(str(c))}</th>'
                   for c in f.columns)
    rows = []
    for rec in f.itertuples(index=False):
        cells = []
        for c, v in zip(f.columns, rec, strict=True):
            num = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            text = ("" if v is None or (num and v != v) else format(v, formats[c]) if c in formats and num
                    else f"{v:,.2f}" if isinstance(v, float | np.floating) else f"{v:,}" if num else str(v))
            cells.append(f'<td class="{"num" if num else ""}">{html.escape(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<p class="note">First {limit:,} of {len(frame):,} rows.</p>' if limit and len(frame) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def _decile_chart(result: ReachResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = result.deciles
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.bar(d["decile"], d["amount_per_capita"], color="#3b6ea5")
    avg = d["amount"].sum() / d["population"].sum()
    ax.axhline(avg, color="#b42318", ls="--", lw=1, label=f"England average £{avg:,.2f}")
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("IMD decile (1 = most deprived 10% of neighbourhoods)")
    ax.set_ylabel("£ per head")
    ax.set_title(f"Amount per head by {result.index.upper()} decile")
    ax.legend(frameon=False, fontsize=8)
    fig.text(0.01, -0.12, SOURCE_NOTE, fontsize=5.5, color="#555", wrap=True)
    return _png(fig)


def _curve_chart(result: ReachResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = result.curve
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="#999", lw=1, label="equal per head")
    ax.plot(c["population_share"], c["amount_share"], color="#3b6ea5", lw=2, label="concentration curve")
    ax.set_xlabel("cumulative share of population,\nneighbourhoods from most to least deprived")
    ax.set_ylabel("cumulative share of amount")
    ax.set_title(f"Concentration index C = {result.concentration_index:+.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _png(fig)


def _map(result: ReachResult) -> str:
    if result.lad_boundaries is None or result.lad_boundaries.empty:
        return '<p class="note">No local authority boundaries in the warehouse: map omitted.</p>'
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = result.lad_boundaries
    geo = gpd.GeoDataFrame({"lad24_code": b["lad24_code"].to_numpy()},
                           geometry=gpd.GeoSeries.from_wkb(b["geometry"].map(bytes), crs=4326))
    geo = geo.merge(result.by_lad, on="lad24_code", how="left").to_crs(27700)
    fig, ax = plt.subplots(figsize=(6, 7))
    geo.plot(column="amount_per_capita", ax=ax, cmap="viridis", legend=True, edgecolor="white", linewidth=0.15,
             missing_kwds={"color": "#ddd", "label": "no data"},
             legend_kwds={"label": "£ per head", "shrink": 0.6})
    ax.set_axis_off()
    ax.set_title("Amount per head by local authority (2024 boundaries)")
    fig.text(0.02, 0.02, SOURCE_NOTE, fontsize=5.5, color="#555", wrap=True)
    return _png(fig)


def _need_chart(need: pd.DataFrame) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    flagged = need["flag"] != ""
    ax.scatter(need["imd_average_score"], need["gbp_per_head"], s=np.sqrt(need["population"]) / 15,
               c=np.where(flagged, "#b42318", "#3b6ea5"), alpha=0.7)
    line = need.sort_values("imd_average_score")
    ax.plot(line["imd_average_score"], line["expected_gbp_per_head"], color="#333", lw=1,
            label="population-weighted fit")
    for rec in need[flagged].itertuples():
        ax.annotate(str(rec.name), (rec.imd_average_score, rec.gbp_per_head), fontsize=6)
    ax.set_xlabel("need: IMD average score (higher = more deprived)")
    ax.set_ylabel("£ per head")
    ax.set_title("Allocation per head against need, by local authority")
    ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def render_reach_html(result: ReachResult, *, title: str = "Funding reach audit") -> str:
    """The report as one HTML string, self-contained (no external URLs; see the module docstring)."""
    from neighbourhood_lens.funding.reach import reason_summary

    s = result.summary
    check = s["located"] + s["unlocated"] + s["rejected"]
    ok = '<span class="ok">✔ nothing lost</span>' if s["balanced"] else '<span class="bad">✘ MISMATCH</span>'
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">File {html.escape(str(s["source"]))} ({html.escape(s["form"])}); index '
             f'{html.escape(result.index)}; made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by neighbourhood-lens.</p>']
    if s.get("synthetic"):
        parts.append('<p class="banner">SYNTHETIC DATA — this file was generated for demonstration; '
                     "the grants are not real.</p>")
    parts.append(
        '<div class="kpi">'
        f'<div>rows in<b>{s["rows_in"]:,}</b></div>'
        f'<div>located<b>{s["located"]:,}</b>{_gbp(s["located_amount_gbp"])}</div>'
        f'<div>unlocated<b>{s["unlocated"]:,}</b>{_gbp(s["unlocated_amount_gbp"])}</div>'
        f'<div>rejected<b>{s["rejected"]:,}</b>{_gbp(s["rejected_amount_gbp"])}</div>'
        f'<div>to most deprived 10%<b>{s["share_most_deprived_10"]:.1%}</b></div>'
        f'<div>to most deprived 30%<b>{s["share_most_deprived_30"]:.1%}</b></div>'
        f'<div>concentration index<b>{s["concentration_index"]:+.3f}</b></div></div>'
        f'<p>{s["rows_in"]:,} rows in = {s["located"]:,} located + {s["unlocated"]:,} unlocated + '
        f'{s["rejected"]:,} rejected ({check:,}) {ok}. Shares below are of the located amount.</p>'
    )
    parts.append("<h2>By deprivation decile</h2>")
    parts.append(f'<div class="figs"><figure>{_decile_chart(result)}</figure>'
                 f"<figure>{_curve_chart(result)}</figure></div>")
    parts.append(_table(result.deciles, {"population": ",.0f", "amount": ",.0f", "amount_per_capita": ",.2f",
                                         "share_of_amount": ".1%"}))
    parts.append(
        '<p class="note">Concentration index: C = 2 cov(y, R) / mean(y), y = amount per head of a neighbourhood, '
        "R its population-weighted fractional rank from most to least deprived (Kakwani, Wagstaff and van "
        "Doorslaer 1997; O'Donnell et al. 2008, ch. 8). C &lt; 0: money concentrated in more deprived areas; "
        "C &gt; 0: in less deprived areas; 0: equal per head.</p>")
    parts.append("<h2>Map</h2>" + _map(result))
    parts.append("<h2>Left-behind neighbourhoods</h2>")
    parts.append(_table(result.by_left_behind_group, {"population": ",.0f", "amount": ",.0f",
                                                      "amount_per_capita": ",.2f", "share_of_amount": ".1%"}))
    parts.append('<p class="note">left-behind: Local Trust/OCSI left-behind areas (IMD most deprived 10% and CNI '
                 "highest-need 10%); other deprived: the other neighbourhoods in IMD deciles 1-3; rest: deciles "
                 "4-10.</p>")
    parts.append("<h2>By region</h2>")
    parts.append(_table(result.by_region, {"population": ",.0f", "amount": ",.0f", "amount_per_capita": ",.2f",
                                           "share_of_amount": ".1%"}))
    if not result.need.empty:
        parts.append("<h2>Allocation against need (local authorities)</h2>")
        parts.append(f"<figure>{_need_chart(result.need)}</figure>")
        gla = result.need["name"].astype(str).str.startswith("Greater London Authority")
        flagged = result.need[(result.need["flag"] != "") | gla]
        parts.append(f"<p>{int((result.need['flag'] != '').sum())} of {len(result.need)} authorities flagged "
                     "(|robust z| ≥ 2.5 from the population-weighted fit of £ per head on IMD average score); "
                     "the GLA, if present, is listed for comparison.</p>")
        parts.append(_table(flagged if len(flagged) else result.need.head(10),
                            {"population": ",.0f", "amount_gbp": ",.0f", "gbp_per_head": ",.2f",
                             "imd_average_score": ".1f", "expected_gbp_per_head": ",.2f", "robust_z": "+.2f",
                             "ratio_to_median": ".2f"}))
    parts.append("<h2>Data quality</h2>")
    parts.append(f'<p>Geographic code type corrected from the code prefix: {s["type_overrides"]:,} rows'
                 + (f' (e.g. {html.escape(", ".join(s["type_override_examples"]))})' if s["type_overrides"] else "")
                 + f'. Located through the LSOA 2011↔2021 lookup (code of the other vintage): {s["converted"]:,}. '
                 f'Located by postcode: {s["by_postcode"]:,}.</p>')
    parts.extend(f"<p>Note: {html.escape(n)}</p>" for n in s.get("notes", []))
    parts.append("<h3>Unlocated, by reason</h3>" + (_table(reason_summary(result.unlocated), {"amount_gbp": ",.0f"})
                                                     if len(result.unlocated) else "<p>None.</p>"))
    parts.append("<h3>Rejected, by reason</h3>" + (_table(reason_summary(result.rejected, amount="amount"),
                                                          {"amount_gbp": ",.0f"})
                                                   if len(result.rejected) else "<p>None.</p>"))
    if len(result.rejected):
        parts.append("<h3>Rejected rows</h3>" + _table(result.rejected, limit=50))
    if len(result.unlocated):
        parts.append("<h3>Unlocated rows</h3>" + _table(result.unlocated, limit=50))
    parts.append(f'<p class="note">{html.escape(SOURCE_NOTE)}</p>')
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
