"""Find places by code or name: one resolver for every option that takes an area.

Every area the warehouse knows is a row of its ``areas`` table (built with the hierarchies):
LSOAs 2011 and 2021, MSOAs 2011, wards 2017 and 2024, LADs 2019 and 2024 and regions, each
with ``code, name, type, vintage, lad_code, lad_name``. :func:`search` ranks them against
free text; :func:`resolve_place` turns what a person typed — a code or a name, in any case,
of any vintage — into exactly one area, or fails with the candidates ("did you mean ...")
found by :mod:`difflib`. :func:`resolve_lad` also moves a local authority between the 2019
and 2024 boundaries (same code, same name, or the 2024 LAD that holds all of a 2019 LAD's
population, e.g. Corby → North Northamptonshire).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError

if TYPE_CHECKING:
    import duckdb

__all__ = ["TYPES", "Place", "lsoas_within", "resolve_lad", "resolve_place", "search"]

#: Area types, coarsest last, in the order a name is preferred when several types share it.
TYPES = ("lad", "region", "ward", "msoa", "lsoa")
_TYPE_LABEL = {"lsoa": "LSOA", "msoa": "MSOA", "ward": "ward", "lad": "LAD", "region": "region"}
_MATCH_ORDER = {"code": 0, "name": 1, "prefix": 2, "word": 3, "contains": 4, "similar": 5}


@dataclass(frozen=True)
class Place:
    """One area: ``code``, ``name``, ``type`` (lsoa/msoa/ward/lad/region), ``vintage`` (e.g. "2024")."""

    code: str
    name: str
    type: str
    vintage: str
    lad_code: str | None = None
    lad_name: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.code}, {_TYPE_LABEL.get(self.type, self.type)} {self.vintage})"


def _areas(con: duckdb.DuckDBPyConnection, where: str = "", params: list | None = None) -> pd.DataFrame:
    """The ``areas`` table (the rows of ``where``, an SQL condition with ``params``, if given)."""
    try:
        return con.execute("SELECT code, name, type, CAST(vintage AS VARCHAR) AS vintage, lad_code, lad_name "
                           f"FROM areas {'WHERE ' + where if where else ''}", params or []).df()
    except Exception as exc:  # noqa: BLE001 - duckdb raises CatalogException for a missing table
        raise DataError("the warehouse has no `areas` table; build it with `nlens data build`") from exc


def _candidates(con: duckdb.DuckDBPyConnection, text: str, types: tuple[str, ...]) -> pd.DataFrame:
    """The areas of ``types`` that may have the ASCII ``text`` as their code or whole name, read by
    DuckDB instead of the whole table: every area whose code or name equals it in any case
    (``upper``/``lower`` agree with Python's ``upper``/``casefold`` on ASCII), plus every area whose
    code or name is not plain ASCII (its ``upper``/``casefold`` may differ). :func:`resolve_place`
    then matches them exactly as it matches the whole table."""
    return _areas(con, "type IN (SELECT unnest(?::VARCHAR[])) AND (upper(code) = ? OR lower(name) = ? "
                       "OR NOT regexp_matches(coalesce(name, ''), '^[ -~]*$') OR NOT regexp_matches(code, '^[ -~]*$'))",
                  [list(types), text.upper(), text.lower()])


def _matches(areas: pd.DataFrame, q: str) -> pd.DataFrame:
    """The areas whose code is ``q`` in any case, else those whose name is ``q`` casefolded."""
    hits = areas[areas["code"].str.upper() == q.upper()]
    return hits if not hits.empty else areas[areas["name"].fillna("").str.casefold() == q.casefold()]


def _check_types(types: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if types is None:
        return TYPES
    bad = [t for t in types if t not in TYPES]
    if bad:
        raise DataError(f"unknown area type(s) {bad}; use any of {', '.join(TYPES)}")
    return tuple(types)


def search(con: duckdb.DuckDBPyConnection, text: str, *, types: tuple[str, ...] | list[str] | None = None,
           limit: int | None = 25) -> pd.DataFrame:
    """Areas matching ``text``, best first: ``code, name, type, vintage, lad_code, lad_name, match``.

    ``match`` says how: ``code`` (the code itself), ``name`` (the whole name, any case),
    ``prefix`` (the name starts with it), ``word`` (a word of the name starts with it),
    ``contains`` and ``similar`` (difflib ratio >= 0.75 with the name or one of its words,
    used only when nothing else matched). Ties keep LADs before regions, wards, MSOAs and LSOAs,
    then the newer vintage, then the name. ``limit`` None returns every match.
    """
    query = text.strip()
    if not query:
        raise DataError("search text is empty; give part of a code or name, e.g. Jaywick")
    types = _check_types(types)
    areas = _areas(con)
    areas = areas[isin(areas["type"], types)]
    q = query.casefold()
    names = areas["name"].fillna("").str.casefold()
    match = pd.Series(pd.NA, index=areas.index, dtype="object")
    rules = [
        ("code", areas["code"].str.casefold() == q),
        ("name", names == q),
        ("prefix", names.str.startswith(q)),
        ("word", names.str.contains(r"(?:^|[\s\-&(,/])" + _escape(q), regex=True)),
        ("contains", names.str.contains(q, regex=False) | areas["code"].str.casefold().str.startswith(q)),
    ]
    for label, mask in rules:
        match = match.mask(match.isna() & mask, label)
    if match.isna().all():
        vocabulary = sorted(set(names) | {w for n in names.unique() for w in n.replace("&", " ").split()})
        close = set(difflib.get_close_matches(q, vocabulary, n=10, cutoff=0.75))
        if close:
            hit = isin(names, close) | names.apply(lambda n: bool(close & set(n.replace("&", " ").split())))
            match = match.mask(hit, "similar")
    found = areas.assign(match=match)[match.notna()].copy()
    found["_m"] = found["match"].map(_MATCH_ORDER)
    found["_t"] = found["type"].map({t: i for i, t in enumerate(TYPES)})
    found = found.sort_values(["_m", "_t", "vintage", "name", "code"], ascending=[True, True, False, True, True])
    found = found.drop(columns=["_m", "_t"]).reset_index(drop=True)
    return found if limit is None else found.head(limit)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def _similarity(query: str, name: str) -> float:
    """difflib's ratio of ``query`` with the whole name or with the name's start of the same length."""
    whole = difflib.SequenceMatcher(None, query, name)
    start = difflib.SequenceMatcher(None, query, name[: len(query)])
    return max(whole.ratio(), start.ratio() - 0.01)


def _suggest(areas: pd.DataFrame, text: str) -> str:
    """"; did you mean A (code), B (code)?" from names close to ``text`` (difflib), or ""."""
    q = text.strip().casefold()
    names = areas.drop_duplicates(["code"])
    lower = names["name"].fillna("").str.casefold()
    scores = {n: _similarity(q, n) for n in lower.unique()}
    score = lower.map(scores).where(~lower.str.contains(q, regex=False), 1.0)
    picked = names.assign(_s=score)[score >= 0.75].sort_values(["_s", "name"], ascending=[False, True]).head(5)
    if picked.empty:
        return ""
    listed = ", ".join(f"{n} ({c})" for n, c in zip(picked["name"], picked["code"], strict=True))
    return f"; did you mean {listed}?"


def resolve_place(con: duckdb.DuckDBPyConnection, text: str, *, types: tuple[str, ...] | list[str] | None = None,
                  vintage: str | int | None = None, prefer: str = "latest", option: str = "--area") -> Place:
    """The one area that ``text`` (a code or a whole name, any case) names.

    ``types`` limits the area types (default all); ``vintage`` prefers that vintage when the
    code or name exists in several (else ``prefer`` "latest" or "oldest"; "ask": a name that
    names different areas in several vintages, such as the 2017 and 2024 wards called Ordsall,
    is an error listing each with its code, so the user chooses). A name shared by
    several areas of the preferred type and vintage (two wards called "Abbey") is an error
    listing them with their LADs; an unknown one is an error with close names.
    """
    types = _check_types(types)
    q = text.strip()
    what = "/".join(_TYPE_LABEL[t] for t in types) if len(types) < len(TYPES) else "area"
    hits = _matches(_candidates(con, q, types), q) if q and q.isascii() else pd.DataFrame()
    if hits.empty:  # other text, or no candidate matched: every area (for the suggestions too)
        areas = _areas(con)
        areas = areas[isin(areas["type"], types)]
        hits = _matches(areas, q)
    if hits.empty:
        raise DataError(f"{option} {text!r}: no {what} has that code or name{_suggest(areas, q)} "
                        "(find places with `nlens search TEXT`)")
    hits = hits.assign(_t=hits["type"].map({t: i for i, t in enumerate(types)}))
    hits = hits[hits["_t"] == hits["_t"].min()]
    if vintage is not None and (hits["vintage"] == str(vintage)).any():
        hits = hits[hits["vintage"] == str(vintage)]
    elif prefer == "ask" and hits["code"].nunique() > 1 and hits["vintage"].nunique() > 1:
        hits = hits.sort_values(["vintage", "code"], ascending=[False, True])
        listed = "; ".join(f"{r.code} ({_TYPE_LABEL[r.type]} {r.vintage}" + (f", {r.lad_name})" if r.lad_name else ")")
                           for r in hits.itertuples())
        raise DataError(f"{option} {text!r} names {hits['code'].nunique()} different areas: {listed}. "
                        "Their boundaries differ; give the code of the one you mean")
    else:
        pick = hits["vintage"].max() if prefer == "latest" else hits["vintage"].min()
        hits = hits[hits["vintage"] == pick]
    if hits["code"].nunique() > 1:
        listed = "; ".join(f"{r.code} in {r.lad_name}" if r.lad_name else r.code for r in hits.itertuples())
        raise DataError(f"{option} {text!r}: {hits['code'].nunique()} {_TYPE_LABEL[hits['type'].iloc[0]]}s "
                        f"{hits['vintage'].iloc[0]} have that name ({listed}); give the code instead")
    row = hits.iloc[0]
    return Place(code=row["code"], name=row["name"], type=row["type"], vintage=row["vintage"],
                 lad_code=row["lad_code"], lad_name=row["lad_name"])


def resolve_lad(con: duckdb.DuckDBPyConnection, text: str, *, vintage: str | int | None = None,
                option: str = "--lad") -> Place:
    """The local authority ``text`` names, on ``vintage`` boundaries ("2019" or "2024"; None: as found).

    A code or name of the other vintage is carried across when the same code or name exists,
    or when one LAD of ``vintage`` holds every LSOA of it (through the ONS LSOA 2011 → 2021
    lookup); a LAD that was split or merged otherwise is an error naming the candidates.
    """
    place = resolve_place(con, text, types=("lad",), vintage=vintage, option=option)
    if vintage is None or place.vintage == str(vintage):
        return place
    areas = _areas(con)
    lads = areas[(areas["type"] == "lad") & (areas["vintage"] == str(vintage))]
    same = lads[(lads["code"] == place.code) | (lads["name"].str.casefold() == place.name.casefold())]
    if len(same) == 1:
        row = same.iloc[0]
        return Place(code=row["code"], name=row["name"], type="lad", vintage=str(vintage),
                     lad_code=row["code"], lad_name=row["name"])
    old, new = ("19", "24") if str(vintage) == "2024" else ("24", "19")
    src, dst = ("h11", "h21") if old == "19" else ("h21", "h11")
    rows = con.execute(
        f"SELECT DISTINCT {dst}.lad{new}_code, {dst}.lad{new}_name FROM hierarchy_lsoa11 h11 "
        "JOIN lookup_lsoa11_lsoa21_lad22 l ON l.lsoa11_code = h11.lsoa11_code "
        f"JOIN hierarchy_lsoa21 h21 ON h21.lsoa21_code = l.lsoa21_code WHERE {src}.lad{old}_code = ? ORDER BY 1",
        [place.code],
    ).fetchall()
    if len(rows) == 1:
        code, name = rows[0]
        return Place(code=code, name=name, type="lad", vintage=str(vintage), lad_code=code, lad_name=name)
    listed = ", ".join(f"{n} ({c})" for c, n in rows) or "none"
    raise DataError(f"{option} {text!r}: {place} has no single {vintage} LAD (its LSOAs lie in: {listed}); "
                    f"give a {vintage} LAD")


def lsoas_within(con: duckdb.DuckDBPyConnection, codes: list[str]) -> pd.DataFrame:
    """LSOAs of the same vintage inside wards or MSOAs ``codes`` (best-fit lookups), with their IMD decile.

    Returns ``code, name, vintage, within_code, within_name, imd_decile`` (IoD2019 for 2011
    LSOAs, IoD2025 for 2021 LSOAs; decile 1 = most deprived 10%), most deprived first.
    """
    parts = []
    for table, lsoa, parents, imd in (
        ("hierarchy_lsoa11", "lsoa11", ("ward17", "msoa11"), "imd2019_lsoa11"),
        ("hierarchy_lsoa21", "lsoa21", ("ward24",), "imd2025_lsoa21"),
    ):
        for parent in parents:
            q = (f"SELECT h.{lsoa}_code AS code, h.{lsoa}_name AS name, '{lsoa[-2:]}' AS vintage, "
                 f"h.{parent}_code AS within_code, h.{parent}_name AS within_name, i.imd_decile, i.imd_rank "
                 f"FROM {table} h LEFT JOIN {imd} i ON i.{lsoa}_code = h.{lsoa}_code "
                 f"WHERE h.{parent}_code IN (SELECT unnest(?::VARCHAR[]))")
            try:
                parts.append(con.execute(q, [list(codes)]).df())
            except Exception:  # noqa: BLE001, S112 - a table missing from a partial warehouse
                continue
    parts = [f for f in parts if len(f)]
    if not parts:
        return pd.DataFrame(columns=["code", "name", "vintage", "within_code", "within_name", "imd_decile"])
    out = pd.concat(parts, ignore_index=True)
    out["vintage"] = "20" + out["vintage"]
    out = out.sort_values(["imd_rank", "code"], na_position="last").drop(columns="imd_rank")
    out["imd_decile"] = out["imd_decile"].astype("Int64")
    return out.reset_index(drop=True)
