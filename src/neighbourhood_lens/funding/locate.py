"""Locating grants on LSOAs: the code's geography, its areas, and the pro-rata split in whole pence.

See :mod:`.reach` (module docstring) for the rules: *Location* and *Splitting*. This is the
pandas path, for every input form; :mod:`.stream` reads a large 360Giving CSV in DuckDB, hands
the rows it does not clear to :func:`.grants.validate_grants`, and words the reasons of those it
cannot locate with this module's first step (:func:`_reasons`, :func:`_unknown`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, SchemaError, examples, first_line
from neighbourhood_lens.funding.grants import GrantsInput
from neighbourhood_lens.geo.geography import GSS_CODE
from neighbourhood_lens.warehouse import has_table, require_tables, sql_text

if TYPE_CHECKING:
    import duckdb

__all__ = ["INDEXES", "Located", "code_kind", "type_overridden", "read_postcode_lookup", "locate_grants",
           "split_pence"]

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


def type_overridden(declared: pd.Series, kind: pd.Series) -> pd.Series:
    """Rows whose declared ``Geographic Code Type`` (stripped, upper case) disagrees with the kind
    of their code (:func:`code_kind`); only codes of a supported kind count.

    >>> type_overridden(pd.Series(["MSOA", "LSOA", ""]), pd.Series(["lsoa", "lsoa", "lsoa"])).tolist()
    [True, False, False]
    """
    supported = list(set(_PREFIX_KIND.values()))
    return (declared != "") & (declared.map(_DECLARED).fillna("?") != kind) & isin(kind, supported)


def read_postcode_lookup(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """An ONS Postcode Directory (ONSPD) extract as ``postcode, lsoa11_code, lsoa21_code``.

    Accepts the ONSPD column names (``pcds``/``pcd``/``pcd2``, ``lsoa11``/``lsoa11cd``,
    ``lsoa21``/``lsoa21cd``); at least one LSOA column must be present. Postcodes are compared
    upper-case without spaces. Read with DuckDB, so the full 2.7 million-row ONSPD is fine.
    """
    where = "postcode lookup"
    if isinstance(source, pd.DataFrame):
        raw = source.astype(str)
    else:
        import duckdb

        path = Path(source)
        if not path.exists():
            raise DataError(f"postcode lookup {path} does not exist")
        if path.suffix.lower() == ".zip":  # ONS publishes the ONSPD as a zip with the CSV under Data/
            raise DataError(f"postcode lookup {path}: a ZIP archive; unzip it and give the CSV inside "
                            "(the ONSPD keeps it under Data/)")
        try:
            raw = duckdb.sql(f"SELECT * FROM read_csv({sql_text(path.as_posix())}, all_varchar=true)").df()
        except duckdb.Error as exc:  # not a CSV DuckDB can read (binary, empty, a compression it lacks)
            raise DataError(f"postcode lookup {path}: not a readable CSV ({first_line(str(exc), 160)})") from None
        where = f"postcode lookup {path}"
    cols = {c.lower(): c for c in raw.columns}
    pc = next((cols[c] for c in ("pcds", "pcd", "pcd2", "postcode") if c in cols), None)
    l11 = next((cols[c] for c in ("lsoa11", "lsoa11cd", "lsoa11_code") if c in cols), None)
    l21 = next((cols[c] for c in ("lsoa21", "lsoa21cd", "lsoa21_code") if c in cols), None)
    if pc is None or (l11 is None and l21 is None):
        raise SchemaError(
            f"{where}: expected ONSPD columns 'pcds' and 'lsoa11' and/or 'lsoa21'; "
            f"found {examples([str(c)[:40] for c in raw.columns], limit=10)}"
        )
    out = pd.DataFrame({"postcode": raw[pc].str.upper().str.replace(r"\s+", "", regex=True)})
    out["lsoa11_code"] = raw[l11].fillna("") if l11 else ""
    out["lsoa21_code"] = raw[l21].fillna("") if l21 else ""
    return out.drop_duplicates("postcode").reset_index(drop=True)


def _strings(values: pd.Series | pd.Index | np.ndarray) -> pa.Array:
    """Text values as an Arrow string array (missing values as nulls; no copy of pandas' Arrow text)."""
    if isinstance(values, np.ndarray):
        values = pd.Series(values, dtype=object)
    out = pa.array(values, type=pa.string(), from_pandas=True)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _groups(values: pd.Series) -> np.ndarray | pd.Series:
    """The group number pandas gives each text value (its rank among the distinct values, sorted),
    found by ``dictionary_encode`` (one Arrow hash pass) and a sort of the few distinct values; the
    values themselves where some are missing. Grouping by these integers is grouping by the text,
    step for step: pandas sums a group in row order, with compensation, or by ``np.add.reduceat``
    when the numbers are sorted, and which it does depends on the numbers, which are the same."""
    enc = pc.dictionary_encode(_strings(values))
    if enc.null_count:
        return values
    rank = np.empty(len(enc.dictionary), dtype=np.intp)
    rank[pc.sort_indices(enc.dictionary).to_numpy()] = np.arange(len(enc.dictionary))
    return rank[enc.indices.to_numpy(zero_copy_only=False)]


@dataclass
class CodeAreas:
    """The areas of some codes on the LSOAs of one vintage, as arrays (:func:`_code_areas`).

    ``codes`` (sorted, distinct) and, per code, ``route`` (its position in ``routes``; -1 where
    the code is not in the warehouse, see :attr:`found`) and ``population``. Per resolver row, sorted by code and
    LSOA: ``code_at`` (position in ``codes``), ``lsoa_at`` (position in ``lsoas``, the
    vintage's LSOA codes in order) and ``weight``.
    """

    codes: pa.Array
    route: np.ndarray
    population: np.ndarray
    routes: list[str]
    lsoas: pa.Array
    code_at: np.ndarray
    lsoa_at: np.ndarray
    weight: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """Per code: whether it is in the warehouse (it has a route)."""
        return self.route >= 0

    def frame(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """The resolver rows (all, or those at ``rows``) as ``code, lsoa_code, weight, route, code_population``."""
        code_at = self.code_at if rows is None else self.code_at[rows]
        lsoa_at = self.lsoa_at if rows is None else self.lsoa_at[rows]
        routes = pa.array(self.routes, pa.string())
        return pd.DataFrame({
            "code": pd.Series(self.codes.take(pa.array(code_at)), dtype="str"),
            "lsoa_code": pd.Series(self.lsoas.take(pa.array(lsoa_at)), dtype="str"),
            "weight": self.weight if rows is None else self.weight[rows],
            "route": pd.Series(routes.take(pa.array(self.route[code_at])), dtype="str"),
            "code_population": self.population[code_at],
        })


def _routes(vintage: int) -> list[str]:
    """Every ``route`` a code can take to the LSOAs of ``vintage``: a level of its own hierarchy,
    or one of the other vintage's, converted."""
    other = 2021 if vintage == 2011 else 2011
    own = [name for name, _ in _LEVELS[vintage]] + ["country"]
    return own + [f"{name} (converted LSOA {other}->{vintage})" for name, _ in _LEVELS[other]] + [
        f"country (converted LSOA {other}->{vintage})"]


def _code_areas(con: duckdb.DuckDBPyConnection, codes: pd.Series | np.ndarray, vintage: int) -> CodeAreas:
    """The LSOAs of ``vintage`` each code covers, with its weights and route, in one DuckDB query.

    A code found in the hierarchy of ``vintage`` (at any level, or England, E92000001) has its
    LSOAs, each weighted by its share of the code's population (equal shares where the code's
    population is 0), and its level as the route. A code found only in the other vintage's
    hierarchy has those LSOAs converted with ``lookup_lsoa11_lsoa21_lad22``: each source LSOA's
    share is divided among its targets by their population (equally where that is 0), and the
    products are summed per target, in source-LSOA order; the route says it was converted
    (``lad19 (converted LSOA 2011->2021)``). A code's population is that of the area in the
    vintage where it was found. Populations are whole numbers, so the sums behind each share are
    exact. Rows are sorted by code and LSOA: the order in which :func:`split_pence` breaks ties.
    """
    other = 2021 if vintage == 2011 else 2011
    yy, oy = str(vintage)[2:], str(other)[2:]
    routes = _routes(vintage)
    n_own = len(_LEVELS[vintage]) + 1

    def members(year: int, offset: int) -> str:
        y = str(year)[2:]
        cols = [col for _, col in _LEVELS[year]] + ["'E92000001'"]
        li = "li, " if year == vintage else ""
        return " UNION ALL ".join(f"SELECT {offset + k} AS route, {col} AS code, lsoa{y}_code AS lsoa, {li}population "
                                  f"FROM {'h' if year == vintage else f'hierarchy_lsoa{y}'}"
                                  for k, col in enumerate(cols))

    def share(value: str, total: str, n: str) -> str:
        return f"CASE WHEN {total} > 0 THEN {value} / {total} ELSE 1.0 / {n} END"

    sql = f"""
        WITH h AS (SELECT *, (row_number() OVER (ORDER BY lsoa{yy}_code) - 1)::INTEGER AS li FROM hierarchy_lsoa{yy}),
        own AS (SELECT w.i, m.route, m.li, m.population FROM ({members(vintage, 0)}) m JOIN _area_codes w USING (code)),
        own_t AS (SELECT i, sum(population) AS total, count(*) AS n FROM own GROUP BY i),
        theirs AS (SELECT w.i, m.route, m.lsoa, m.population
                   FROM ({members(other, n_own)}) m JOIN (SELECT * FROM _area_codes ANTI JOIN own_t USING (i)) w
                   USING (code)),
        theirs_t AS (SELECT i, sum(population) AS total, count(*) AS n FROM theirs GROUP BY i),
        conv AS (SELECT DISTINCT l.lsoa{oy}_code AS lsoa, h.li, h.population AS tp
                 FROM lookup_lsoa11_lsoa21_lad22 l JOIN h USING (lsoa{yy}_code)
                 WHERE l.lsoa{oy}_code IN (SELECT lsoa FROM theirs)),
        conv_t AS (SELECT lsoa, sum(tp) AS total, count(*) AS n FROM conv GROUP BY lsoa)
        SELECT o.i, o.li, {share('o.population', 't.total', 't.n')} AS weight, o.route, t.total AS population
        FROM own o JOIN own_t t USING (i)
        UNION ALL
        SELECT th.i, c.li, sum(({share('th.population', 'tt.total', 'tt.n')}) * ({share('c.tp', 'ct.total', 'ct.n')})
                              ORDER BY th.lsoa),
               th.route, any_value(tt.total)
        FROM theirs th JOIN theirs_t tt USING (i) JOIN conv c USING (lsoa) JOIN conv_t ct USING (lsoa)
        GROUP BY th.i, c.li, th.route
        ORDER BY 1, 2, 4
    """
    wanted = pc.unique(_strings(pd.Series(codes, dtype="str")))
    wanted = wanted.take(pc.sort_indices(wanted))  # UTF-8 bytes sort as code points do, so as Python sorts
    cur = con.cursor()  # a cursor of its own: registering needs no pending result on the connection
    try:
        cur.register("_area_codes", pa.table({"code": wanted, "i": pa.array(np.arange(len(wanted), dtype=np.int32))}))
        rows = cur.sql(sql).fetchnumpy()
        lsoas = cur.sql(f"SELECT lsoa{yy}_code FROM hierarchy_lsoa{yy} ORDER BY 1").to_arrow_table().column(0)
    finally:
        cur.close()
    code_at = np.asarray(rows["i"], dtype=np.int64)
    first = np.flatnonzero(np.r_[True, code_at[1:] != code_at[:-1]]) if len(code_at) else np.zeros(0, dtype=np.int64)
    route = np.full(len(wanted), -1, dtype=np.int64)
    route[code_at[first]] = np.asarray(rows["route"], dtype=np.int64)[first]
    population = np.full(len(wanted), np.nan)
    population[code_at[first]] = np.asarray(rows["population"], dtype=float)[first]
    return CodeAreas(codes=wanted, route=route, population=population, routes=routes,
                     lsoas=lsoas.combine_chunks(), code_at=code_at, lsoa_at=np.asarray(rows["li"], dtype=np.int64),
                     weight=np.asarray(rows["weight"], dtype=float))


def _resolver(con: duckdb.DuckDBPyConnection, codes: pd.Series, vintage: int) -> pd.DataFrame:
    """``code, lsoa_code, weight, route, code_population`` for every code that can be located
    (:func:`_code_areas`: the rules, and the order of the rows)."""
    return _code_areas(con, codes, vintage).frame()


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
    if not totals["code"].is_unique or weights["code"].hasnans or totals["code"].hasnans:
        return _split_merged(totals, weights)
    # An inner many-to-one join that keeps the order of ``weights``, with each row's code as its
    # position in ``totals`` (an Arrow hash lookup), so the groups below are integers, not text.
    at = pc.fill_null(pc.index_in(_strings(weights["code"]), value_set=_strings(totals["code"])), -1).to_numpy()
    keep = at >= 0
    code = weights["code"][keep].reset_index(drop=True)
    key = np.asarray(_groups(code))  # pandas' group numbers for the codes (see _groups)
    pence = _split_rows(totals["pence"].to_numpy(np.int64), at[keep], weights["weight"].to_numpy(float)[keep], key)
    return pd.DataFrame({"code": code,
                         "lsoa_code": weights["lsoa_code"][keep].reset_index(drop=True), "pence": pence})


def _split_rows(totals: np.ndarray, total_at: np.ndarray, weight: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The whole pence of each row of :func:`split_pence`, from arrays: ``totals`` (int64 pence),
    each row's total (``total_at``, a position in ``totals``), ``weight`` and group ``key`` (equal
    for the rows of one total, non-negative integers). Groups are summed in row order, so the same
    rows in the same order give the same pence, however the groups are numbered. Raises if the
    pence of a total do not add up to it."""
    total = totals[total_at]
    w = weight / pd.Series(weight).groupby(key).transform("sum").to_numpy(float)
    exact = total.astype(float) * w
    base = np.floor(exact)
    short = total - pd.Series(base).groupby(key).transform("sum").to_numpy(np.int64)
    order = _rank_down(exact - base, key)
    pence = base.astype(np.int64) + (order <= short).astype(np.int64)
    check = np.zeros(len(totals), dtype=np.int64)
    np.add.at(check, total_at, pence)
    if not np.array_equal(check, totals):
        raise DataError("internal error: a pro-rata split did not conserve the amount to the penny")
    return pence


def _rank_down(values: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Rank of each value within its group, largest first, ties in row order: pandas'
    ``groupby(key).rank(method="first", ascending=False)``, by two stable sorts (values, then groups)."""
    if np.isnan(values).any():
        return pd.Series(values).groupby(key).rank(method="first", ascending=False).to_numpy()
    order = np.argsort(-values, kind="stable")
    groups = key[order]
    if groups.dtype.kind in "iu" and len(groups) and 0 <= groups.min() and groups.max() < 2**16:
        # NumPy sorts 16-bit integers by radix (stable, one pass), others by timsort
        groups = groups.astype(np.uint16)
    order = order[np.argsort(groups, kind="stable")]
    counts = np.bincount(key)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(values))
    rank[order] = np.arange(1, len(values) + 1) - starts[key[order]]
    return rank


def _split_merged(totals: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """:func:`split_pence` by a pandas merge: for repeated or missing codes (a repeated total
    raises pandas' ``MergeError``)."""
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
            found = cur.sql("SELECT code, any_value(name) AS name FROM areas JOIN _name_codes USING (code) "
                            "GROUP BY code").to_arrow_table().to_pandas()
        finally:
            cur.close()
        names = pd.concat([found.set_index("code")["name"], names[~isin(names.index, found["code"])]])
    return names


def _reasons(grants: pd.DataFrame, postcodes: str | Path | pd.DataFrame | None,
             vintage: int) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series]:
    """The first step of :func:`locate_grants`, before any area is looked up: a copy of ``grants``
    with each row's ``geo_code`` (stripped, upper case), ``kind``, ``via`` and ``code`` (GLA as
    London; the postcode's LSOA where a lookup gives one), the reason each row cannot be located
    that needs no area (empty where it may be), the declared code types and whether each is overridden."""
    g = grants.copy()
    g["geo_code"] = g["geo_code"].astype(str).str.strip().str.upper()
    g["kind"] = code_kind(g["geo_code"])
    declared = g["geo_code_type"].astype(str).str.strip().str.upper()
    overridden = type_overridden(declared, g["kind"])
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
        reason[no_code & (pc != "") & ~isin(g.index, hit[hit].index)] = "postcode not found in the postcode lookup"
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
    return g, reason, declared, overridden


def _unknown(rows: pd.DataFrame) -> pd.Series:
    """The reason for rows whose well-formed ``code`` is in neither vintage's geography."""
    return ("unknown " + rows["kind"] + " code '" + rows["code"] + "': not in the 2011 or 2021 "
            "geography (a code of another vintage?)")


def _unlocated(g: pd.DataFrame, reason: pd.Series, rows: pd.Series) -> pd.DataFrame:
    """The unlocated grants of :class:`Located` (``rows`` of ``g``), each with its reason."""
    un = g.loc[rows, ["row", "identifier", "amount_gbp", "geo_code", "geo_code_type", "postcode"]].copy()
    un["reason"] = reason[rows].to_numpy()
    return un


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
    g, reason, declared, overridden = _reasons(grants.grants if isinstance(grants, GrantsInput) else grants,
                                               postcodes, vintage)
    candidate = (reason == "") & (g["code"] != "")
    resolver = _resolver(con, g.loc[candidate, "code"], vintage)
    route = resolver.drop_duplicates("code").set_index("code")["route"]
    g["route"] = g["code"].map(route)
    missing = candidate & g["route"].isna()
    reason[missing] = _unknown(g.loc[missing])
    located = reason == ""
    lg = g.loc[located, ["row", "identifier", "amount_gbp", "programme", "code", "kind", "via", "route"]]
    un = _unlocated(g, reason, ~located)
    lg = lg.assign(pence=np.round(lg["amount_gbp"].to_numpy(float) * 100).astype(np.int64))
    totals = lg.groupby("code", as_index=False).agg(pence=("pence", "sum"), n_grants=("pence", "size"))
    used = resolver[isin(resolver["code"], totals["code"]).to_numpy()]
    split = split_pence(totals[["code", "pence"]], used)
    alloc = split.groupby("lsoa_code", as_index=False)["pence"].sum()
    alloc["amount_gbp"] = alloc.pop("pence") / 100
    pops = used.drop_duplicates("code").set_index("code")
    names = _area_names(con, totals["code"]) if len(totals) else pd.Series(dtype=object)
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
