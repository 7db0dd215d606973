"""Evaluation stage 4: charts and a self-contained HTML report.

The report shows, in order: what was estimated and the outcome's caveats (for the IMD: a
relative measure whose indicators change between editions), every treated area counted in or
out and why, the effects table, the event-study chart (pre-period coefficients are the
parallel-trends check), treated vs comparator trends, the balance table and a map of treated,
halo and comparator areas. Charts are PNGs embedded as data URIs, so the file stands alone.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError

if TYPE_CHECKING:
    import duckdb

    from .run import Evaluation

__all__ = ["plot_event_study", "plot_trends", "interpret", "write_report"]

_ROLE_COLOURS = {"treated": "#d7301f", "halo": "#fdae6b", "comparator": "#3182bd"}


def _events(effects: pd.DataFrame) -> pd.DataFrame:
    ev = effects[effects["effect"].str.startswith("event_")].copy()
    ev["k"] = ev["effect"].str.removeprefix("event_").astype(int)
    return ev.sort_values("k")


def _save(fig, path: str | Path | None) -> bytes:  # noqa: ANN001
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data


def plot_event_study(effects: pd.DataFrame, path: str | Path | None = None, *, title: str = "",
                     ylabel: str = "effect") -> bytes:
    """Event-study chart (estimate and CI by event time; the reference period drawn at 0).
    Writes ``path`` (PNG) if given; returns the PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if path is not None and Path(path).suffix.lower() != ".png":
        raise DataError(f"--plot {path}: use a .png file name")
    ev = _events(effects)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.axhline(0, color="#555555", lw=0.8)
    ax.axvline(-0.5, color="#999999", lw=0.8, ls="--")
    pre = ev["k"] < 0
    for mask, colour, label in ((pre, "#737373", "pre-period (parallel-trends check)"),
                                (~pre, "#d7301f", "post-period effect")):
        e = ev[mask]
        ax.errorbar(e["k"], e["estimate"], yerr=[e["estimate"] - e["ci_low"], e["ci_high"] - e["estimate"]],
                    fmt="o", color=colour, capsize=3, label=label)
    ref = sorted(set(range(int(ev["k"].min()) if len(ev) else -1, 0)) - set(ev["k"]))
    if ref:
        ax.plot([ref[-1]], [0], marker="D", color="black", ls="none", label="reference (last pre-period year)")
    ax.set_xlabel("years since start (event time)")
    ax.set_ylabel("\n".join(textwrap.wrap(ylabel, 45)), fontsize=8)
    ax.set_title(title or "Event study: treated minus matched comparators")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_trends(trends: pd.DataFrame, path: str | Path | None = None, *, ylabel: str = "outcome") -> bytes:
    """Mean outcome by year of treated (and halo) areas and their weighted matched comparators."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for group, g in trends.groupby("group", sort=True):
        dashed = group.endswith("comparators")
        colour = _ROLE_COLOURS["halo" if group.startswith("halo") else "treated"]
        ax.plot(g["year"], g["value"], marker="o", ls="--" if dashed else "-", color=colour, label=group)
    ax.set_xlabel("year")
    ax.set_ylabel("\n".join(textwrap.wrap(ylabel, 45)), fontsize=8)
    ax.set_title("Treated vs matched comparators")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def interpret(effects: pd.DataFrame, *, outcome: str, higher_is_worse: bool | None = None,
              relative: bool = True) -> str:
    """One plain-English sentence on the ATT and its interval (descriptive, not causal, wording
    for designations such as 'left behind'). ``relative=False`` for outcomes that are counts
    or rates (the annual series) rather than the IMD's relative measures."""
    att = effects[effects["effect"] == "att"].iloc[0]
    sig = not (att["ci_low"] <= 0 <= att["ci_high"])
    direction = "rose" if att["estimate"] > 0 else "fell"
    text = (f"Relative to their matched comparators, the treated areas' {outcome} {direction} by "
            f"{abs(att['estimate']):.4g} on average after the start (95% CI {att['ci_low']:.4g} to "
            f"{att['ci_high']:.4g}; {int(att['n_treated'])} treated areas, {int(att['n_comparators'])} comparators). ")
    if not sig:
        text += "The interval includes zero: no difference from similar places can be distinguished. "
    elif higher_is_worse is not None:
        worse = (att["estimate"] > 0) == higher_is_worse
        if relative:
            text += ("They fell further behind similar places on this relative measure " if worse else
                     "They gained on similar places on this relative measure ")
            text += "(a change relative to comparable areas, not an absolute improvement or decline). "
        else:
            text += ("The outcome worsened more than in similar places " if worse else
                     "The outcome improved more (or worsened less) than in similar places ")
            text += "(a difference in change, descriptive unless the start is a real intervention). "
    mde = effects[effects["effect"] == "mde"]
    if len(mde):
        text += f"The design could detect an effect of about {mde['estimate'].iloc[0]:.3g} (5% test, 80% power)."
    return text


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _map(con: duckdb.DuckDBPyConnection, unit: str, roles: pd.DataFrame) -> bytes | None:
    from neighbourhood_lens.geo.boundaries import area_boundaries
    from neighbourhood_lens.geo.geography import LEVELS
    from neighbourhood_lens.geo.maps import choropleth

    if unit not in LEVELS:
        return None
    gdf = area_boundaries(con, unit, codes=roles["code"]).merge(roles[["code", "role"]], on="code")
    gdf["role"] = pd.Categorical(gdf["role"], categories=[r for r in _ROLE_COLOURS if r in set(gdf["role"])])
    import tempfile

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir) / "map.png"
        choropleth(gdf, "role", title="Treated, halo and matched comparator areas", path=tmp, categorical=True,
                   colours=_ROLE_COLOURS, legend_title="role",
                   source_note="ONS boundaries, OGL v3; contains OS data © Crown copyright")
        return tmp.read_bytes()


def write_report(
    evaluation: Evaluation,
    path: str | Path,
    *,
    title: str,
    outcome: str,
    unit: str,
    con: duckdb.DuckDBPyConnection | None = None,
    higher_is_worse: bool | None = None,
) -> Path:
    """Write the HTML report of an :func:`.run.evaluate` result (see module docstring)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise DataError(f"--report {path}: use a .html file name")
    ev = evaluation
    st = ev.matching.status
    counts = (st.assign(reason=st["reason"].replace("", "-")).groupby(["status", "reason"], as_index=False)
              .size().rename(columns={"size": "treated areas"}))
    from .outcome_panel import is_series

    relative = not is_series(str(ev.parameters.get("outcome", "")))
    lead = html.escape(interpret(ev.effects, outcome=outcome, higher_is_worse=higher_is_worse, relative=relative))
    sections = [f"<h1>{html.escape(title)}</h1>",
                f"<p><b>Outcome:</b> {html.escape(outcome)}. <b>Unit:</b> {html.escape(unit)}.</p>",
                f"<p class='lead'>{lead}</p>",
                "<h2>Notes and caveats</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in ev.notes) + "</ul>",
                "<h2>Treated areas in and out</h2>" + _table(counts)
                + f"<p>{int((st['status'] == 'matched').sum())} of {len(st)} treated areas used.</p>",
                "<h2>Effects</h2>" + _table(ev.effects)
                + "<p>att: stacked difference-in-differences on the matched sample, 95% CI cluster-robust by area. "
                  "event_k: effect k years after the start relative to the last pre-period year. halo: untreated "
                  "neighbours against their own matched comparators. naive: treated against every other area, "
                  "unmatched. placebo: mean ATT of random untreated sets with the same profile (range = middle 95%; "
                  "p_value = permutation p-value of the ATT). mde: minimum detectable effect (5% test, 80% power)."
                  "</p>",
                "<h2>Event study</h2>" + _img(plot_event_study(ev.effects, ylabel=outcome), "event study"),
                "<h2>Trends</h2>" + _img(plot_trends(ev.trends, ylabel=outcome), "trends"),
                "<h2>Balance (standardised mean differences)</h2>" + _table(ev.matching.balance)
                + "<p>|SMD| below 0.1 after matching is the usual mark of good balance.</p>"]
    if ev.halo_matching is not None:
        sections.append("<h3>Halo balance</h3>" + _table(ev.halo_matching.balance))
    if con is not None:
        png = _map(con, unit, ev.roles)
        if png is not None:
            sections.append("<h2>Map</h2>" + _img(png, "map of roles"))
    sections.append("<h2>Parameters</h2>" + _table(pd.DataFrame({"parameter": list(ev.parameters),
                                                                   "value": [str(v) for v in ev.parameters.values()]})))
    style = ("body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse;"
             "margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}"
             ".lead{font-size:1.1em;background:#f7f7f7;padding:.6em}img{max-width:100%}")
    doc = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{style}</style></head><body>{''.join(sections)}</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
    return path
