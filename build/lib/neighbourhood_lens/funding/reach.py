"""Funding reach: where did the money go, and did it reach the places that need it?

Grants (360Giving files or allocation tables, read by :func:`read_grants`) are located on
the LSOAs of the chosen index (:func:`locate_grants`) and summarised by national IMD decile,
region and left-behind group, with a concentration curve and index (:func:`reach`).

Location
    The beneficiary location code decides the geography by its prefix (E01 LSOA, E02 MSOA,
    E05 ward, E06/E07/E08/E09 local authority — UA, NMD, MD, LONB —, E12 region, E92 England,
    E61 the Greater London Authority, located as the London region). A ``Geographic Code Type``
    that disagrees with the prefix is overridden and counted. A code is looked up first in the
    index's own geography (``imd2019``: LSOA 2011, MSOA 2011, ward 2017, LAD 2019, region;
    ``imd2025``: LSOA 2021, ward 2024, LAD 2024, region) and otherwise in the other vintage's,
    then converted LSOA 2011 <-> 2021 with ONS's ``lookup_lsoa11_lsoa21_lad22`` (split pro
    rata to the target LSOAs' population). A grant without a code is located by its recipient
    postcode when an ONS Postcode Directory lookup is supplied.
Splitting
    An area larger than an LSOA is split over its LSOAs pro rata to population (mid-2019 for
    ``imd2019``, Census 2021 for ``imd2025``). Amounts are split in whole pence by the largest
    remainder method, so every area's amount is conserved to the penny.
Accounting
    Every row read ends in exactly one of *located*, *unlocated* (with a reason) or
    *rejected* (with a reason): ``rows_in = located + unlocated + rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError, JoinError, SchemaError, examples
from neighbourhood_lens.funding.grants import GrantsInput, read_grants, synthetic_grants, write_grants
from neighbourhood_lens.geo.geography import GSS_CODE
from neighbourhood_lens.warehouse import has_table, require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "INDEXES", "GrantsInput", "Located", "ReachResult", "read_grants", "synthetic_grants", "write_grants",
    "code_kind",
    "read_postcode_lookup", "locate_grants", "index_areas", "split_pence", "reach_table", "concentration_index",
    "concentration_curve", "group_table", "allocation_vs_need", "reason_summary", "reach",
]

#: Index name -> (IMD table, LSOA vintage, left-behind vintage).
INDEXES: dict[str, tuple[str, int, int]] = {"imd2019": ("imd2019_lsoa11", 2011, 2019),
                                            "imd2025": ("imd2025_lsoa21", 2021, 2023)}

_PREFIX_KIND = {"E01": "lsoa", "E02": "msoa", "E05": "ward", "E06": "lad", "E07": "lad", "E08": "lad",
                "E09": "lad", "E12": "region", "E92": "country", "E61": "gla"}
_UNSUPPORTED = {"E00": "output area", "E04": "parish", "E10": "county", "E11": "metropolitan county",
                "E14": "parliamentary constituency", "E38": "sub-ICB location", "E47": "combined authority",
                "E54": "integrated care board"}
_DECLARED = {"LSOA": "lsoa", "MSOA": "msoa", "WD": "ward", "WARD": "ward", "LAD": "lad", "UA": "lad",
             "NMD": "lad", "MD": "lad", "LONB": "lad", "LA": "lad", "RGN": "region", "REGION": "region",
             "CTRY": "country", "COUNTRY": "country", "GLA": "gla",
             **{p: k for p, k in _PREFIX_KIND.items()}}
_LEVELS = {2011: [("lsoa11", "lsoa11_code"), ("msoa11", "msoa11_code"), ("ward17", "ward17_code"),
                  ("lad19", "lad19_code"), ("region19", "region19_code")],
           2021: [("lsoa21", "lsoa21_code"), ("ward24", "ward24_code"), ("lad24", "lad24_code"),
                  ("region24", "region24_code")]}
_GLA, _LONDON = "E61000001", "E12000007"


def code_kind(codes: pd.Series) -> pd.Series:
    """The geography of each GSS code from its prefix: ``lsoa``, ``msoa``, ``ward``, ``lad``,
    ``region``, ``country``, ``gla``; ``unsupported``, ``outside_england``, ``malformed`` or ``empty``.

    >>> code_kind(pd.Series(["E01000001", "E07000114", "W01000001", "E47000001", "x", ""])).tolist()
    ['lsoa', 'lad', 'outside_england', 'unsupported', 'malformed', 'empty']
    """
    codes = codes.astype(str)
    prefix = codes.str[:3]
    kind = prefix.map(_PREFIX_KIND)
    wellformed = codes.str.match(GSS_CODE.pattern)
    out = np.where(codes == "", "empty", np.where(~wellformed, "malformed", np.where(
        ~codes.str.startswith("E"), "outside_england", np.where(kind.isna(), "unsupported", kind.astype(object))))
    )
    return pd.Series(out, index=codes.index, dtype=object)


def read_postcode_lookup(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """An ONS Postcode Directory (ONSPD) extract as ``postcode, lsoa11_code, lsoa21_code``.

    Accepts the ONSPD column names (``pcds``/``pcd``/``pcd2``, ``lsoa11``/``lsoa11cd``,
    ``lsoa21``/``lsoa21cd``); at least one LSOA column must be present. Postcodes are compared
    upper-case without spaces. Read with DuckDB, so the full 2.7 million-row ONSPD is fine.
    """
    if isinstance(source, pd.DataFrame):
        raw = source.astype(str)
    else:
        import duckdb

        path = Path(source)
        if not path.exists():
            raise DataError(f"postcode lookup {path} does not exist")
        raw = duckdb.sql(f"SELECT * FROM read_csv('{path.as_posix()}', all_varchar=true)").df()
    cols = {c.lower(): c for c in raw.columns}
    pc = next((cols[c] for c in ("pcds", "pcd", "pcd2", "postcode") if c in cols), None)
    l11 = next((cols[c] for c in ("lsoa11", "lsoa11cd", "lsoa11_code") if c in cols), None)
    l21 = next((cols[c] for c in ("lsoa21", "lsoa21cd", "lsoa21_code") if c in cols), None)
    if pc is None or (l11 is None and l21 is None):
        raise SchemaError(
            f"postcode lookup: expected ONSPD columns 'pcds' and 'lsoa11' and/or 'lsoa21'; "
            f"found {examples(list(raw.columns), limit=10)}"
        )
    out = pd.DataFrame({"postcode": raw[pc].str.upper().str.replace(r"\s+", "", regex=True)})
    out["lsoa11_code"] = raw[l11].fillna("") if l11 else ""
    out["lsoa21_code"] = raw[l21].fillna("") if l21 else ""
    return out.drop_duplicates("postcode").reset_index(drop=True)


def _membership(con: duckdb.DuckDBPyConnection, vintage: int, codes: pd.DataFrame) -> pd.DataFrame:
    """``code, lsoa, population, level`` for the wanted codes in the hierarchy of ``vintage``."""
    yy = str(vintage)[2:]
    table, lsoa = f"hierarchy_lsoa{yy}", f"lsoa{yy}_code"
    parts = [f"SELECT '{name}' AS level, {col} AS code, {lsoa} AS lsoa, population FROM {table}"
             for name, col in _LEVELS[vintage]]
    parts.append(f"SELECT 'country' AS level, 'E92000001' AS code, {lsoa} AS lsoa, population FROM {table}")
    cur = con.cursor()  # a cursor of its own: registering needs no pending result on the connection
    try:
        cur.register("_wanted_codes", codes[["code"]])
        return cur.execute(
            f"SELECT m.* FROM ({' UNION ALL '.join(parts)}) m JOIN _wanted_codes w USING (code)"
        ).df()
    finally:
        cur.close()


def _isin(values: pd.Series, allowed: pd.Series) -> np.ndarray:
    """``values.isin(allowed)`` through a hash index (pandas' Arrow-string ``isin`` is slow for
    many allowed values)."""
    index = pd.Index(pd.unique(np.asarray(allowed, dtype=object)))
    return index.get_indexer(np.asarray(values, dtype=object)) >= 0


def _shares(frame: pd.DataFrame, by: str, weight: str) -> np.ndarray:
    """Each row's share of its group's ``weight``; equal shares where a group's total is 0."""
    total = frame.groupby(by)[weight].transform("sum").to_numpy(float)
    size = frame.groupby(by)[weight].transform("size").to_numpy(float)
    w = frame[weight].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, w / total, 1.0 / size)


def _resolver(con: duckdb.DuckDBPyConnection, codes: pd.Series, vintage: int) -> pd.DataFrame:
    """``code, lsoa_code, weight, route, code_population`` for every code that can be located."""
    wanted = pd.DataFrame({"code": pd.Index(codes.unique()).astype(str)})
    own = _membership(con, vintage, wanted)
    own["weight"] = _shares(own, "code", "population")
    own["route"] = own["level"]
    rest = wanted[~_isin(wanted["code"], own["code"])]
    frames = [own]
    pop = own.groupby("code")["population"].sum()
    if len(rest):
        other = 2021 if vintage == 2011 else 2011
        theirs = _membership(con, other, rest)
        if len(theirs):
            pop = pd.concat([pop, theirs.groupby("code")["population"].sum()])
            theirs["weight"] = _shares(theirs, "code", "population")
            src, dst = f"lsoa{str(other)[2:]}_code", f"lsoa{str(vintage)[2:]}_code"
            conv = con.execute(
                f"SELECT DISTINCT l.{src} AS lsoa, l.{dst} AS target, h.population AS target_population "
                f"FROM lookup_lsoa11_lsoa21_lad22 l JOIN hierarchy_lsoa{str(vintage)[2:]} h USING ({dst})"
            ).df()
            conv["w2"] = _shares(conv, "lsoa", "target_population")
            theirs = theirs.merge(conv, on="lsoa", how="inner")
            theirs["weight"] = theirs["weight"] * theirs["w2"]
            theirs["route"] = theirs["level"] + f" (converted LSOA {other}->{vintage})"
            theirs = theirs.groupby(["code", "target", "route"], as_index=False)["weight"].sum()
            frames.append(theirs.rename(columns={"target": "lsoa"}))
    out = pd.concat(frames, ignore_index=True)
    # The population of the area itself, in the vintage where it was found.
    out["code_population"] = out["code"].map(pop).astype(float)
    return out.rename(columns={"lsoa": "lsoa_code"})[["code", "lsoa_code", "weight", "route", "code_population"]]


@dataclass
class Located:
    """Result of :func:`locate_grants`.

    ``grants``: located grants (``row, identifier, amount_gbp, programme, code, kind, via,
    route``). ``unlocated``: ``row, identifier, amount_gbp, geo_code, geo_code_type, postcode,
    reason``. ``allocations``: amount per LSOA of the index's vintage (``lsoa_code,
    amount_gbp``). ``by_code``: amount, grants and population per located code.
    ``resolver``: each located code's LSOAs and weights (population shares).
    """

    grants: pd.DataFrame
    unlocated: pd.DataFrame
    allocations: pd.DataFrame
    by_code: pd.DataFrame
    resolver: pd.DataFrame
    type_overrides: int = 0
    override_examples: list[str] = field(default_factory=list)


def split_pence(totals: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Split each code's whole-pence total over its LSOAs by the largest remainder method.

    ``totals``: ``code, pence`` (int). ``weights``: ``code, lsoa_code, weight`` (summing to 1
    per code). Returns ``code, lsoa_code, pence``; per code the pence sum exactly to the total.
    Each LSOA gets ``floor(p w_i)`` and the pence left over go one each to the largest
    fractional parts (ties: first listed).

    >>> t = pd.DataFrame({"code": ["A"], "pence": [100]})
    >>> w = pd.DataFrame({"code": ["A"] * 3, "lsoa_code": ["x", "y", "z"], "weight": [1 / 3] * 3})
    >>> split_pence(t, w)["pence"].tolist()
    [34, 33, 33]
    """
    m = weights.merge(totals, on="code", how="inner", validate="many_to_one")
    w = m["weight"].to_numpy(float) / m.groupby("code")["weight"].transform("sum").to_numpy(float)
    exact = m["pence"].to_numpy(float) * w
    base = np.floor(exact)
    m["_base"] = base
    m["_frac"] = exact - base
    short = m["pence"].to_numpy(np.int64) - m.groupby("code")["_base"].transform("sum").to_numpy(np.int64)
    order = m.groupby("code")["_frac"].rank(method="first", ascending=False).to_numpy()
    m["pence"] = base.astype(np.int64) + (order <= short).astype(np.int64)
    check = m.groupby("code")["pence"].sum().reindex(totals["code"]).fillna(0).to_numpy(np.int64)
    if not np.array_equal(check, totals["pence"].to_numpy(np.int64)):
        raise DataError("internal error: a pro-rata split did not conserve the amount to the penny")
    return m[["code", "lsoa_code", "pence"]]


def _area_names(con: duckdb.DuckDBPyConnection, codes: pd.Series) -> pd.Series:
    """Name of each code from the warehouse's ``areas`` table (England: E92000001)."""
    names = pd.Series({"E92000001": "England", _LONDON: "London"}, dtype=object)
    if has_table(con, "areas"):
        cur = con.cursor()
        try:
            cur.register("_name_codes", pd.DataFrame({"code": pd.Index(codes.unique()).astype(str)}))
            found = cur.execute("SELECT code, any_value(name) AS name FROM areas JOIN _name_codes USING (code) "
                                "GROUP BY code").df()
        finally:
            cur.close()
        names = pd.concat([found.set_index("code")["name"], names[~names.index.isin(found["code"])]])
    return names


def locate_grants(
    con: duckdb.DuckDBPyConnection,
    grants: GrantsInput | pd.DataFrame,
    *,
    index: str = "imd2019",
    postcodes: str | Path | pd.DataFrame | None = None,
) -> Located:
    """Locate grants on the LSOAs of ``index`` (see the module docstring for the rules).

    ``grants`` is a :class:`GrantsInput` or its ``grants`` frame. ``postcodes``: an ONSPD
    file or frame (:func:`read_postcode_lookup`) used for grants with no location code.
    """
    if index not in INDEXES:
        raise DataError(f"unknown index {index!r}; valid: {', '.join(INDEXES)}")
    _, vintage, _ = INDEXES[index]
    require_tables(con, ["hierarchy_lsoa11", "hierarchy_lsoa21", "lookup_lsoa11_lsoa21_lad22"])
    g = (grants.grants if isinstance(grants, GrantsInput) else grants).copy()
    g["geo_code"] = g["geo_code"].astype(str).str.strip().str.upper()
    g["kind"] = code_kind(g["geo_code"])
    declared = g["geo_code_type"].astype(str).str.strip().str.upper()
    overridden = (declared != "") & (declared.map(_DECLARED).fillna("?") != g["kind"]) & g["kind"].isin(
        list(set(_PREFIX_KIND.values())))
    g["via"] = np.where(g["geo_code"] != "", "code", "")
    g["code"] = g["geo_code"].where(g["geo_code"] != _GLA, _LONDON)
    reason = pd.Series("", index=g.index, dtype=object)
    no_code = g["geo_code"] == ""
    pc = g["postcode"].astype(str)
    has_pc = pc != ""
    pc[has_pc] = pc[has_pc].str.upper().str.replace(r"\s+", "", regex=True)
    if postcodes is not None:
        lookup = read_postcode_lookup(postcodes)
        own, other = ("lsoa11_code", "lsoa21_code") if vintage == 2011 else ("lsoa21_code", "lsoa11_code")
        best = lookup[own].where(lookup[own] != "", lookup[other])
        found = pc[no_code].map(pd.Series(best.to_numpy(), index=lookup["postcode"]))
        hit = found.notna() & (found != "")
        g.loc[hit[hit].index, "code"] = found[hit]
        g.loc[hit[hit].index, "via"] = "postcode"
        g.loc[hit[hit].index, "kind"] = "lsoa"
        reason[no_code & (pc != "") & ~g.index.isin(hit[hit].index)] = "postcode not found in the postcode lookup"
    else:
        reason[no_code & (pc != "")] = ("no Beneficiary Location code; postcode given but no postcode lookup "
                                        "supplied (--postcodes ONSPD.csv)")
    reason[no_code & (pc == "")] = "no location: Beneficiary Location code and Recipient Org postal code both empty"
    # Messages are built on the few rows concerned only, not on every row.
    bad = g.loc[g["kind"] == "malformed", "geo_code"]
    reason[bad.index] = "not a GSS geography code: '" + bad + "'"
    bad = g.loc[g["kind"] == "outside_england", "geo_code"]
    reason[bad.index] = "outside England (" + bad + "): the IMD covers England only"
    bad = g.loc[g["kind"] == "unsupported", "geo_code"].str[:3]
    reason[bad.index] = ("code type " + bad + " (" + bad.map(_UNSUPPORTED).fillna("unknown entity")
                         + ") is not supported; give LSOA, MSOA, ward, local authority or region codes")
    candidate = (reason == "") & (g["code"] != "")
    resolver = _resolver(con, g.loc[candidate, "code"], vintage)
    route = resolver.drop_duplicates("code").set_index("code")["route"]
    g["route"] = g["code"].map(route)
    missing = candidate & g["route"].isna()
    bad = g.loc[missing]
    reason[bad.index] = ("unknown " + bad["kind"] + " code '" + bad["code"] + "': not in the 2011 or 2021 "
                         "geography (a code of another vintage?)")
    located = reason == ""
    lg = g.loc[located, ["row", "identifier", "amount_gbp", "programme", "code", "kind", "via", "route"]]
    un = g.loc[~located, ["row", "identifier", "amount_gbp", "geo_code", "geo_code_type", "postcode"]].copy()
    un["reason"] = reason[~located].to_numpy()
    lg = lg.assign(pence=np.round(lg["amount_gbp"].to_numpy(float) * 100).astype(np.int64))
    totals = lg.groupby("code", as_index=False).agg(pence=("pence", "sum"), n_grants=("pence", "size"))
    used = resolver[_isin(resolver["code"], totals["code"])]
    split = split_pence(totals[["code", "pence"]], used)
    alloc = split.groupby("lsoa_code", as_index=False)["pence"].sum()
    alloc["amount_gbp"] = alloc.pop("pence") / 100
    pops = used.drop_duplicates("code").set_index("code")
    names = _area_names(con, totals["code"])
    by_code = totals.assign(amount_gbp=totals.pop("pence") / 100,
                            kind=totals["code"].map(lg.drop_duplicates("code").set_index("code")["kind"]),
                            route=totals["code"].map(pops["route"]),
                            population=totals["code"].map(pops["code_population"]),
                            name=totals["code"].map(names))
    return Located(
        grants=lg.drop(columns="pence").reset_index(drop=True), unlocated=un.reset_index(drop=True),
        allocations=alloc, by_code=by_code, resolver=used.reset_index(drop=True),
        type_overrides=int(overridden.sum()),
        override_examples=(g.loc[overridden, "geo_code"] + " declared " + declared[overridden]).head(5).tolist(),
    )


def index_areas(con: duckdb.DuckDBPyConnection, index: str = "imd2019") -> pd.DataFrame:
    """Every LSOA of ``index`` with its deprivation and groups.

    Columns: ``lsoa_code, lad_code, lad_name, region_code, region_name, population, imd_score,
    imd_rank, imd_decile`` (national, published; rank 1 = most deprived, decile 1 = most
    deprived 10%), ``group`` (``left-behind``; ``other deprived`` = other LSOAs in IMD deciles
    1-3; ``rest``) and ``lad24_code`` (for maps).
    """
    table, vintage, lb_vintage = INDEXES[index]
    yy = str(vintage)[2:]
    lad, region = ("lad19", "region19") if vintage == 2011 else ("lad24", "region24")
    require_tables(con, [table, f"hierarchy_lsoa{yy}"])
    areas = con.execute(
        f"SELECT h.lsoa{yy}_code AS lsoa_code, h.ward{'17' if vintage == 2011 else '24'}_code AS ward_code, "
        f"h.{lad}_code AS lad_code, h.{lad}_name AS lad_name, h.{region}_code AS region_code, "
        f"h.{region}_name AS region_name, h.population, i.imd_score, i.imd_rank, i.imd_decile "
        f"FROM hierarchy_lsoa{yy} h LEFT JOIN {table} i USING (lsoa{yy}_code) ORDER BY i.imd_rank"
    ).df()
    if areas["imd_rank"].isna().any():
        raise JoinError(f"{int(areas['imd_rank'].isna().sum())} LSOA(s) lack an {index} rank: "
                        f"{examples(areas.loc[areas['imd_rank'].isna(), 'lsoa_code'])}")
    areas["imd_decile"] = areas["imd_decile"].astype(int)
    group = np.where(areas["imd_decile"] <= 3, "other deprived", "rest").astype(object)
    if has_table(con, "cni2019_ward17" if lb_vintage == 2019 else "cni2023_lsoa21"):
        from neighbourhood_lens.deprivation.left_behind import left_behind

        lb = set(left_behind(con, vintage=lb_vintage)["code"])
        key = "ward_code" if lb_vintage == 2019 else "lsoa_code"
        group[areas[key].isin(lb).to_numpy()] = "left-behind"
    areas["group"] = group
    if vintage == 2021:
        areas["lad24_code"] = areas["lad_code"]
    else:
        lad24 = con.execute(
            "SELECT l.lsoa11_code AS lsoa_code, min(h.lad24_code) AS lad24_code FROM lookup_lsoa11_lsoa21_lad22 l "
            "JOIN hierarchy_lsoa21 h USING (lsoa21_code) GROUP BY 1").df()
        areas = areas.merge(lad24, on="lsoa_code", how="left", validate="one_to_one")
    return areas.drop(columns="ward_code")


def group_table(frame: pd.DataFrame, *, by: str, total: float | None = None) -> pd.DataFrame:
    """``amount, population, amount_per_capita, share_of_amount`` per group of LSOAs.

    ``frame`` has ``by``, ``amount`` (GBP) and ``population``. Shares are of ``total``
    (default: the frame's amount), 0-1.

    >>> f = pd.DataFrame({"g": [1, 1, 2], "amount": [10.0, 30.0, 60.0], "population": [2, 2, 6]})
    >>> group_table(f, by="g")
       g  amount  population  amount_per_capita  share_of_amount
    0  1    40.0           4               10.0              0.4
    1  2    60.0           6               10.0              0.6
    """
    out = frame.groupby(by, as_index=False).agg(amount=("amount", "sum"), population=("population", "sum"))
    out["amount"] = out["amount"].round(2)  # whole pence: sums of penny amounts carry float noise
    total = out["amount"].sum() if total is None else total
    with np.errstate(invalid="ignore", divide="ignore"):
        out["amount_per_capita"] = out["amount"] / out["population"]
        out["share_of_amount"] = out["amount"] / total if total else np.nan
    return out


def reach_table(allocations: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Amount, population, amount per head and share of the located amount by national IMD decile.

    ``allocations``: ``lsoa_code, amount_gbp``; ``areas``: :func:`index_areas`. One row per
    decile 1 (most deprived) to 10; population is every LSOA's, funded or not.
    """
    merged = _merge(allocations, areas)
    out = group_table(merged, by="imd_decile").rename(columns={"imd_decile": "decile"})
    out = out.set_index("decile").reindex(range(1, 11), fill_value=0).reset_index()
    return out[["decile", "amount", "population", "amount_per_capita", "share_of_amount"]]


def _merge(allocations: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    unknown = ~allocations["lsoa_code"].isin(areas["lsoa_code"])
    if unknown.any():
        raise JoinError(f"{int(unknown.sum())} allocated LSOA(s) are not in the index: "
                        f"{examples(allocations.loc[unknown, 'lsoa_code'])}")
    amount = allocations.set_index("lsoa_code")["amount_gbp"]
    return areas.assign(amount=areas["lsoa_code"].map(amount).fillna(0.0).to_numpy(float))


def concentration_index(amount: np.ndarray, population: np.ndarray, rank: np.ndarray) -> float:
    """Concentration index of ``amount`` over areas ranked by deprivation, population-weighted.

    .. math::

        C = \\frac{2}{\\mu} \\operatorname{cov}_w(y_i, R_i) = \\frac{2}{A}\\sum_i a_i R_i - 1,
        \\qquad R_i = \\frac{\\sum_{j<i} w_j + w_i / 2}{W}

    with :math:`y_i = a_i / w_i` the amount per head of area :math:`i`, :math:`w_i` its
    population, :math:`A = \\sum a_i`, :math:`W = \\sum w_i`, :math:`\\mu = A / W` and
    :math:`R_i` the fractional rank when areas are ordered **from most deprived** (``rank`` 1)
    to least deprived. The second form follows because the weighted mean of :math:`R` is 1/2.

    Sign: :math:`C < 0` means the money is concentrated in more deprived areas (the
    concentration curve lies above the diagonal); :math:`C > 0` in less deprived areas;
    0 = proportional to population. Bounds: -1 < C < 1. This is the convention of O'Donnell
    et al. with deprivation rank in place of the living-standards rank (poorest first).

    >>> concentration_index(np.array([2.0, 0.0]), np.array([1.0, 1.0]), np.array([1, 2]))
    -0.5
    >>> concentration_index(np.array([1.0, 3.0]), np.array([1.0, 3.0]), np.array([1, 2]))
    0.0

    References
    ----------
    Kakwani, N., Wagstaff, A. and van Doorslaer, E. (1997), "Socioeconomic inequalities in
    health: measurement, computation, and statistical inference", *Journal of Econometrics*
    77(1), 87-103. O'Donnell, O., van Doorslaer, E., Wagstaff, A. and Lindelow, M. (2008),
    *Analyzing Health Equity Using Household Survey Data*, World Bank, chapter 8, eq. 8.5.
    """
    order = np.argsort(np.asarray(rank, dtype=float), kind="stable")
    a = np.asarray(amount, dtype=float)[order]
    w = np.asarray(population, dtype=float)[order]
    total_a, total_w = a.sum(), w.sum()
    if total_a <= 0 or total_w <= 0:
        return float("nan")
    r = (np.cumsum(w) - w / 2) / total_w
    return float(round(2 * (a * r).sum() / total_a - 1, 12))


def concentration_curve(frame: pd.DataFrame, *, points: int = 101) -> pd.DataFrame:
    """The concentration curve: cumulative share of population (areas from most deprived)
    against cumulative share of the amount, at ``points`` evenly spaced population shares.

    ``frame``: ``amount, population, imd_rank``. Columns ``population_share``, ``amount_share``
    (0-1). Above the diagonal = more money than population share in the most deprived areas.
    """
    f = frame.sort_values("imd_rank")
    x = np.concatenate([[0.0], np.cumsum(f["population"].to_numpy(float))])
    y = np.concatenate([[0.0], np.cumsum(f["amount"].to_numpy(float))])
    p = np.linspace(0, 1, points)
    amount_share = np.interp(p, x / x[-1], y / y[-1]) if y[-1] > 0 else np.full(points, np.nan)
    return pd.DataFrame({"population_share": p, "amount_share": amount_share})


def allocation_vs_need(
    located: Located, areas: pd.DataFrame, *, threshold: float = 2.5, min_share: float = 0.9
) -> pd.DataFrame:
    """Per-head allocation of each local authority (or the GLA) against need: the "Thanet vs GLA" view.

    Need = the area's IMD average score, the population-weighted mean of its LSOAs' scores
    (MHCLG's "average score" summary; higher = more deprived). A population-weighted least
    squares line ``gbp_per_head ~ a + b * imd_average_score`` gives the expected allocation;
    each residual is standardised robustly, ``z = (r - median r) / (1.4826 MAD r)``, and
    ``|z| >= threshold`` is flagged ``above``/``below`` need. ``ratio_to_median`` compares
    the area's per-head amount with the median area's. Only codes of kind ``lad`` or ``gla``,
    and only for an allocation table by local authority: those codes must carry at least
    ``min_share`` of the located amount (a 360Giving file where a few grants name a local
    authority is not an allocation by authority). An empty frame otherwise, or if fewer than 3.

    Notes
    -----
    The robust z uses the median absolute deviation scaled by 1.4826 (consistent with the
    standard deviation under normality; Rousseeuw and Croux 1993, *JASA* 88, 1273-1283); the
    fit is weighted so that large authorities are not outweighed by small ones, while the
    flag treats each authority alike.
    """
    bc = located.by_code[located.by_code["kind"].isin(["lad", "gla"])]
    total = located.by_code["amount_gbp"].sum()
    if total <= 0 or bc["amount_gbp"].sum() < min_share * total:
        bc = bc.iloc[:0]
    cols = ["code", "name", "amount_gbp", "population", "gbp_per_head", "imd_average_score", "expected_gbp_per_head",
            "robust_z", "flag", "ratio_to_median"]
    if len(bc) < 3:
        return pd.DataFrame(columns=cols)
    res = located.resolver[located.resolver["code"].isin(bc["code"])]
    res = res.merge(areas[["lsoa_code", "imd_score"]], on="lsoa_code", how="left")
    need = (res["weight"] * res["imd_score"]).groupby(res["code"]).sum() / res.groupby("code")["weight"].sum()
    out = bc[["code", "name", "amount_gbp", "population"]].copy()
    out.loc[bc["kind"].to_numpy() == "gla", "name"] = "Greater London Authority (as London)"
    out["gbp_per_head"] = out["amount_gbp"] / out["population"]
    out["imd_average_score"] = out["code"].map(need).to_numpy(float)
    x = np.column_stack([np.ones(len(out)), out["imd_average_score"].to_numpy(float)])
    sw = np.sqrt(out["population"].to_numpy(float))
    beta, *_ = np.linalg.lstsq(x * sw[:, None], out["gbp_per_head"].to_numpy(float) * sw, rcond=None)
    out["expected_gbp_per_head"] = x @ beta
    r = out["gbp_per_head"] - out["expected_gbp_per_head"]
    mad = 1.4826 * np.median(np.abs(r - np.median(r)))
    out["robust_z"] = (r - np.median(r)) / mad if mad > 0 else 0.0
    out["flag"] = np.where(out["robust_z"] >= threshold, "above", np.where(out["robust_z"] <= -threshold,
                                                                          "below", ""))
    out["ratio_to_median"] = out["gbp_per_head"] / out["gbp_per_head"].median()
    return out[cols].sort_values("robust_z").reset_index(drop=True)


def reason_summary(frame: pd.DataFrame, *, amount: str = "amount_gbp") -> pd.DataFrame:
    """Count and amount of unlocated or rejected rows per reason (first clause of the reason;
    the quoted value removed so like reasons group together)."""
    if frame.empty:
        return pd.DataFrame(columns=["reason", "rows", "amount_gbp", "first_rows"])
    key = (frame["reason"].str.split(";").str[0].str.replace(r"'[^']*'|\([^)]*\)", "", regex=True)
           .str.replace(r"\s+", " ", regex=True).str.replace(r" ([:;,])", r"\1", regex=True).str.strip(" :,"))
    amt = pd.to_numeric(frame[amount], errors="coerce") if amount in frame else pd.Series(np.nan, index=frame.index)
    g = pd.DataFrame({"reason": key, "amount_gbp": amt, "row": frame["row"]}).groupby("reason")
    out = g.agg(rows=("row", "size"), amount_gbp=("amount_gbp", "sum"),
                first_rows=("row", lambda s: ", ".join(map(str, s.head(5)))))
    return out.reset_index().sort_values("rows", ascending=False).reset_index(drop=True)


@dataclass
class ReachResult:
    """Everything :func:`reach` measured; see its docstring for the columns."""

    index: str
    deciles: pd.DataFrame
    summary: dict[str, Any]
    by_region: pd.DataFrame
    by_left_behind_group: pd.DataFrame
    curve: pd.DataFrame
    concentration_index: float
    need: pd.DataFrame
    by_lad: pd.DataFrame
    unlocated: pd.DataFrame
    rejected: pd.DataFrame
    lad_boundaries: pd.DataFrame | None = None


def reach(
    con: duckdb.DuckDBPyConnection,
    source: str | Path | bytes | GrantsInput,
    *,
    index: str = "imd2019",
    filename: str | None = None,
    postcodes: str | Path | pd.DataFrame | None = None,
    encoding: str | None = None,
) -> ReachResult:
    """Read, locate and summarise a grants file against ``index`` (``imd2019`` or ``imd2025``).

    ``deciles``: ``decile, amount, population, amount_per_capita, share_of_amount``
    (decile 1 = most deprived 10% of LSOAs nationally; shares of the located amount, 0-1).
    ``summary``: ``rows_in, located, unlocated, rejected`` counts and ``*_amount_gbp``,
    ``balanced`` (rows_in, counted when the file was read, = located + unlocated + rejected),
    ``amount_conserved`` (the located grants' pence = the pence allocated to LSOAs), ``share_most_deprived_10`` and
    ``_30``, ``concentration_index``, ``type_overrides``, ``converted`` and ``by_postcode``
    counts. ``by_region`` and ``by_left_behind_group`` as :func:`group_table`; ``curve`` from
    :func:`concentration_curve`; ``need`` from :func:`allocation_vs_need`; ``by_lad``: amount
    per LAD 2024 for the map.
    """
    gi = source if isinstance(source, GrantsInput) else read_grants(source, filename=filename, encoding=encoding)
    loc = locate_grants(con, gi, index=index, postcodes=postcodes)
    areas = index_areas(con, index)
    merged = _merge(loc.allocations, areas)
    total = float(merged["amount"].sum())
    deciles = reach_table(loc.allocations, areas)
    groups = group_table(merged, by="group", total=total)
    groups = groups.set_index("group").reindex(["left-behind", "other deprived", "rest"]).dropna(how="all")
    ci = concentration_index(merged["amount"].to_numpy(), merged["population"].to_numpy(),
                             merged["imd_rank"].to_numpy())
    rejected_amt = pd.to_numeric(gi.rejected["amount"].str.replace(r"[£,\s]", "", regex=True), errors="coerce")
    summary: dict[str, Any] = {
        "source": gi.source, "form": gi.form, "index": index, "rows_in": gi.rows_in,
        "located": len(loc.grants), "located_amount_gbp": round(float(loc.grants["amount_gbp"].sum()), 2),
        "unlocated": len(loc.unlocated), "unlocated_amount_gbp": round(float(loc.unlocated["amount_gbp"].sum()), 2),
        "rejected": len(gi.rejected), "rejected_amount_gbp": round(float(rejected_amt.fillna(0).sum()), 2),
        "allocated_amount_gbp": round(total, 2),
        "share_most_deprived_10": float(deciles["share_of_amount"].iloc[:1].sum()),
        "share_most_deprived_30": float(deciles["share_of_amount"].iloc[:3].sum()),
        "concentration_index": ci, "type_overrides": loc.type_overrides,
        "type_override_examples": loc.override_examples,
        "converted": int(loc.grants["route"].str.contains("converted").sum()),
        "by_postcode": int((loc.grants["via"] == "postcode").sum()), "notes": list(gi.notes),
    }
    summary["synthetic"] = bool(gi.grants["identifier"].str.startswith("360G-SYNTHETIC-").any())
    summary["balanced"] = summary["rows_in"] == summary["located"] + summary["unlocated"] + summary["rejected"]
    pence_in = int(np.round(loc.grants["amount_gbp"].to_numpy(float) * 100).sum())
    summary["amount_conserved"] = pence_in == int(np.round(loc.allocations["amount_gbp"].to_numpy(float) * 100).sum())
    by_lad = group_table(merged, by="lad24_code", total=total)
    lad_bounds = None
    if has_table(con, "boundaries_lad24"):
        lad_bounds = con.execute("SELECT lad24_code, lad24_name, geometry FROM boundaries_lad24 "
                                 "WHERE lad24_code LIKE 'E%'").df()
    return ReachResult(
        index=index, deciles=deciles, summary=summary, by_region=group_table(merged, by="region_name", total=total),
        by_left_behind_group=groups.reset_index(), curve=concentration_curve(merged), concentration_index=ci,
        need=allocation_vs_need(loc, areas), by_lad=by_lad, unlocated=loc.unlocated, rejected=gi.rejected,
        lad_boundaries=lad_bounds,
    )
