"""The Outcomes section of an area profile: the area against equally deprived places and England.

For each annual outcome series (:data:`..evaluation.outcome_panel.SERIES`) the latest year is
put on the LSOAs of both vintages once, when the profile store is built
(:func:`outcome_tables`), and summed to every geography level, so a profile only looks rows
up. Each figure is a ratio of sums over the area's LSOAs (e.g. fuel-poor households over
households), never a mean of LSOA rates.

**Equally deprived places** are the areas of the same kind and vintage (e.g. wards 2017, LSOAs
2021, local authorities 2024) in the same national IMD decile as the area: IoD2025 deciles for
2021-based levels, IoD2019 for 2011-based ones (for wards 2017, the ward IMD of the 2019
left-behind definition). Their figure is the ratio of their summed numerators to their summed
denominators, the area itself included. **England** is the same ratio over every English LSOA.
Regions (9 areas) have no decile: only England is given. A custom area is compared with the
wards of its decile (it is ranked as if it were a ward, :func:`.profiles.custom_area_profile`).

Notes
-----
The years are the latest of each series: fuel poverty 2022 (LILEE measure; modelled),
insolvencies 2022, children in low-income families 2021/22 (provisional), households on
Universal Credit 2022 (mean of the 12 months) and Census 2021 household deprivation. Figures on
LSOA 2011 come from 2021-based data carried back by :func:`neighbourhood_lens.outcomes.outcome_values`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, NeighbourhoodLensError

if TYPE_CHECKING:
    import duckdb

__all__ = ["PROFILE_YEARS", "profile_sources", "outcome_tables", "outcomes_section", "custom_outcomes_section",
           "outcomes_html"]

#: The series, year and measure each profile shows (the latest of each series).
PROFILE_YEARS: dict[str, tuple[int, str | None]] = {
    "fuel_poverty": (2022, "lilee"), "insolvency": (2022, None), "child_low_income": (2022, None),
    "uc_households": (2022, None), "household_deprivation": (2021, "one_or_more"),
}
_NOTES = {
    "fuel_poverty": "modelled (DESNZ); LILEE measure, not comparable with years before 2019",
    "child_low_income": "financial year 2021/22, provisional",
    "uc_households": "mean of the 12 monthly counts of 2022",
    "household_deprivation": "Census 2021; deprived in at least one of four dimensions",
    "insolvency": "calendar year; per 10,000 residents (Census 2021 or mid-2019)",
}
_PLURAL = {"lsoa21": "LSOAs (2021 boundaries)", "ward24": "wards (2024 boundaries)",
           "lad24": "local authorities (2024)", "lsoa11": "LSOAs (2011 boundaries)",
           "msoa11": "MSOAs (2011 boundaries)", "ward17": "wards (2017 boundaries)",
           "lad19": "local authorities (2019)"}
_LEVELS = {2021: ("lsoa21", "ward24", "lad24", "region24"),
           2011: ("lsoa11", "msoa11", "ward17", "lad19", "region19")}


def profile_sources() -> list[str]:
    """The warehouse datasets the Outcomes section reads (for provenance records)."""
    from neighbourhood_lens.evaluation.outcome_panel import SERIES

    return list(dict.fromkeys(t for o in PROFILE_YEARS for t in SERIES[o].sources))


def _lsoa_counts(con: duckdb.DuckDBPyConnection, vintage: int, memo: dict) -> tuple[pd.DataFrame, list[str]]:
    """``code, outcome, numerator, denominator`` for the profile year of every series."""
    from neighbourhood_lens.evaluation.outcome_panel import outcome_lsoa_counts

    frames, notes = [], []
    for outcome, (year, measure) in PROFILE_YEARS.items():
        try:
            c = outcome_lsoa_counts(con, outcome, vintage=vintage, years=[year], measure=measure, memo=memo)
        except NeighbourhoodLensError as exc:
            notes.append(f"{outcome}: not available ({exc})")
            continue
        frames.append(c.assign(outcome=outcome)[["code", "outcome", "numerator", "denominator"]])
    if not frames:
        return pd.DataFrame(columns=["code", "outcome", "numerator", "denominator"]), notes
    return pd.concat(frames, ignore_index=True), notes


def outcome_tables(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame], *,
                   vintages: tuple[int, ...] = (2021, 2011)) -> dict[str, Any]:
    """Per-level outcome tables for the profile store (see the module docstring), for the levels
    of the LSOA ``vintages`` (2021: LSOA 2021, ward 2024, LAD 2024, region; 2011: the 2011-based ones).

    ``frames`` are the profile store's frames (indexed by code; the LSOA frames carry the
    codes of their parent levels; every level has ``imd_decile``). Returns ``{"areas": {level:
    frame}, "deciles": {level: frame}, "england": {vintage: frame}, "lsoas": {vintage: frame},
    "notes": [...]}``; each frame has ``outcome, numerator, denominator`` columns. A warehouse
    without the outcome tables gives empty tables and a note, never an error.
    """
    out: dict[str, Any] = {"areas": {}, "deciles": {}, "england": {}, "lsoas": {}, "notes": []}
    memo: dict = {}
    unknown = sorted(set(vintages) - set(_LEVELS))
    if unknown:
        raise DataError(f"unknown LSOA vintage(s) {unknown}; valid: 2021, 2011")
    for vintage, levels in _LEVELS.items():
        if vintage not in vintages:
            continue
        lsoa_level = levels[0]
        counts, notes = _lsoa_counts(con, vintage, memo)
        out["notes"] += [n for n in notes if n not in out["notes"]]
        lsoas = frames[lsoa_level]
        at = lsoas.index.get_indexer(counts["code"])  # each row's LSOA (one hash lookup; -1: not English)
        counts, at = counts[at >= 0], at[at >= 0]
        gap = counts[["numerator", "denominator"]].isna().any(axis=1)
        for outcome, n in counts.loc[gap, "outcome"].value_counts().items():
            out["notes"].append(f"{outcome}: {n} LSOA {vintage} without a value are left out of the sums")
        counts, at = counts[~gap], at[~gap.to_numpy()]
        out["lsoas"][vintage] = counts.set_index(["code", "outcome"])[["numerator", "denominator"]]
        out["england"][vintage] = counts.groupby("outcome")[["numerator", "denominator"]].sum()
        for lv in levels:
            if lv == lsoa_level:
                area = counts.rename(columns={"code": "area"})
            else:
                area = counts.assign(area=lsoas[f"{lv}_code"].to_numpy()[at])
            sums = area.groupby(["area", "outcome"], sort=True)[["numerator", "denominator"]].sum()
            out["areas"][lv] = sums
            decile = frames[lv]["imd_decile"] if "imd_decile" in frames[lv] else None
            if decile is None or lv.startswith("region"):
                continue
            d = sums.reset_index()
            d["decile"] = d["area"].map(decile).to_numpy()
            g = d.dropna(subset=["decile"]).groupby(["decile", "outcome"])
            dec = g[["numerator", "denominator"]].sum()
            dec["n_areas"] = g.size()
            out["deciles"][lv] = dec
    return out


def _ratio(num: float, den: float, scale: float) -> float | None:
    return float(scale * num / den) if den and den > 0 and not math.isnan(num) and not math.isnan(den) else None


def _num(x: float) -> float | None:
    """A JSON-safe float (NaN becomes None: Starlette's JSON refuses NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


def _text(value: float | None, scale: float) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}%" if scale == 1 else f"{value:,.1f}"


def _items(tables: dict[str, Any], sums: pd.DataFrame | None, *, vintage: int, comparators: pd.DataFrame | None,
           decile: int | None, kind_label: str) -> list[dict[str, Any]]:
    from neighbourhood_lens.evaluation.outcome_panel import SERIES

    england = tables["england"].get(vintage)
    items = []
    for outcome, (year, measure) in PROFILE_YEARS.items():
        if england is None or outcome not in england.index or sums is None or outcome not in sums.index:
            continue
        s = SERIES[outcome]
        value = _ratio(float(sums.loc[outcome, "numerator"]), float(sums.loc[outcome, "denominator"]), s.scale)
        eng = _ratio(float(england.loc[outcome, "numerator"]), float(england.loc[outcome, "denominator"]), s.scale)
        similar = None
        if comparators is not None and decile is not None and (decile, outcome) in comparators.index:
            row = comparators.loc[(decile, outcome)]
            similar = {"decile": int(decile), "n_areas": int(row["n_areas"]),
                       "value": _ratio(float(row["numerator"]), float(row["denominator"]), s.scale)}
        items.append({
            "id": outcome, "label": s.label, "year": year, "measure": measure, "unit": s.unit_label,
            "higher_is_worse": s.higher_is_worse, "value": value, "numerator": _num(sums.loc[outcome, "numerator"]),
            "denominator": _num(sums.loc[outcome, "denominator"]), "similar": similar, "england": eng,
            "gap_vs_similar": (value - similar["value"]) if value is not None and similar and
            similar["value"] is not None else None,
            "gap_vs_england": (value - eng) if value is not None and eng is not None else None,
            "source": s.source, "note": _NOTES.get(outcome, ""),
            "value_text": _text(value, s.scale), "england_text": _text(eng, s.scale),
            "similar_text": _text(similar["value"], s.scale) if similar else "–",
        })
    return items


def _section(items: list[dict[str, Any]], comparison: str, notes: list[str]) -> dict[str, Any]:
    return {"comparison": comparison, "items": items, "notes": notes,
            "method": "ratio of sums over the area's LSOAs (numerator / denominator), never a mean of LSOA rates"}


def outcomes_section(tables: dict[str, Any] | None, level: str, code: str, *, decile: int | None,
                     kind_label: str, edition: str) -> dict[str, Any]:
    """The Outcomes section of the profile of ``code`` (an area of ``level``)."""
    if not tables or tables["areas"].get(level) is None:
        return _section([], "", ["no outcome statistics in this warehouse; rebuild it with `nlens data build`"])
    vintage = 2021 if level.endswith(("21", "24")) else 2011
    areas = tables["areas"][level]
    try:
        sums = areas.xs(code, level=0)
    except KeyError:
        sums = None
    comp = tables["deciles"].get(level)
    items = _items(tables, sums, vintage=vintage, comparators=comp, decile=decile, kind_label=kind_label)
    if comp is None or decile is None:
        comparison = "England (regions and areas without a decile are compared with England only)"
    else:
        comparison = (f"equally deprived places: the {_PLURAL.get(level, kind_label)} in the same national "
                      f"{edition} IMD decile (decile {decile}), and England")
    notes = list(tables["notes"])
    if sums is None:
        notes.append("no outcome figures for this area")
    return _section(items, comparison, notes)


def custom_outcomes_section(tables: dict[str, Any] | None, codes: list[str] | pd.Index, *, vintage: int,
                            decile: int | None) -> dict[str, Any]:
    """The Outcomes section of a custom area made of LSOAs ``codes``, compared with the wards of its decile."""
    if not tables or tables["lsoas"].get(vintage) is None:
        return _section([], "", ["no outcome statistics in this warehouse; rebuild it with `nlens data build`"])
    lsoas = tables["lsoas"][vintage]
    mine = lsoas[isin(lsoas.index.get_level_values(0), list(codes))]
    sums = mine.groupby(level="outcome").sum()
    ward = "ward24" if vintage == 2021 else "ward17"
    items = _items(tables, sums, vintage=vintage, comparators=tables["deciles"].get(ward), decile=decile,
                   kind_label="ward")
    edition = "IoD2025" if vintage == 2021 else "IoD2019"
    return _section(items, f"equally deprived places: the wards in the same national {edition} IMD decile "
                           f"(decile {decile}; the custom area is ranked as if it were a ward), and England",
                    list(tables["notes"]))


def outcomes_html(section: dict[str, Any]) -> str:
    """The Outcomes section as an HTML table (for the self-contained reports).

    >>> outcomes_html({"comparison": "England", "items": [], "notes": ["none"]})
    '<h2>Outcomes</h2><p class="note">none</p>'
    """
    import html

    parts = ["<h2>Outcomes</h2>"]
    if section["items"]:
        parts.append(f"<p>Compared with {html.escape(section['comparison'])}. Each figure is a ratio of sums over "
                     "the LSOAs (e.g. fuel-poor households over households).</p>")
        head = ("<tr><th>Outcome</th><th>Year</th><th>This area</th><th>Equally deprived places</th><th>England</th>"
                "<th>Source</th></tr>")
        rows = []
        for it in section["items"]:
            cells = [it["label"], str(it["year"]), it["value_text"], it["similar_text"], it["england_text"],
                     f"{it['source']} ({it['note']})" if it["note"] else it["source"]]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        parts.append(f'<table class="outcomes"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>')
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in section["notes"]]
    return "".join(parts)
