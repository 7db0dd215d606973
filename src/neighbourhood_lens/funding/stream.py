"""Funding reach of a large 360Giving CSV, read, checked and located in DuckDB.

:func:`locate_csv` gives :func:`.reach.reach` what :func:`.grants.read_grants` followed by
:func:`.reach.locate_grants` give, for a 360Giving CSV file on disk, without building a
pandas frame of every grant: DuckDB reads the file (``read_csv``, in parallel, streaming),
keeps the columns used, and the checks, the location and the sums per code are SQL; pandas
only sees the small results (one row per code, and the rows that are rejected or unlocated).

Same rows, same outputs, same messages
    Every row of the file is counted and ends located, unlocated or rejected, as before. The
    SQL only *clears* rows that are certainly good: an amount of plain digits (``1250``,
    ``99.5``) up to :data:`.grants.MAX_AMOUNT_GBP`, currency empty or ``GBP``, an identifier
    that is not empty and not repeated, an award date empty or a valid ``YYYY-MM-DD``, and,
    for the location, a code whose area is in the warehouse. Every other row (a suspect) goes
    through the very functions of the pandas path, :func:`.grants.validate_grants` and
    :func:`.reach.locate_grants`, which decide and word its fate; a suspect that passes joins
    the cleared rows. Text is stripped of the characters Python's ``str.strip`` removes.
When it applies
    A ``.csv`` path in the 360Giving form, in UTF-8, without a postcode lookup. Anything else,
    and any file DuckDB cannot read as a strict CSV (ragged rows, bad bytes, a bad header),
    returns ``None`` and the caller takes the pandas path, whose messages say what is wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError, examples
from neighbourhood_lens.warehouse import require_tables

from .grants import _360G_COLUMNS, GRANT_COLUMNS, MAX_AMOUNT_GBP, _key, _standardise, csv_header, validate_grants
from .locate import (
    _DECLARED,
    _GLA,
    _LONDON,
    _PREFIX_KIND,
    INDEXES,
    Located,
    _area_names,
    _resolver,
    code_kind,
    locate_grants,
    split_pence,
    type_overridden,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["Streamed", "locate_csv"]

#: Every character ``str.strip()`` removes (``str.isspace``), for DuckDB's ``trim``; a test checks the list.
_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
               "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
#: The kind of a code from its prefix, for the plain codes (upper-case E + 8 digits) the SQL locates.
_KIND = ("CASE WHEN regexp_full_match(geo_code, 'E[0-9]{8}') THEN CASE "
         + " ".join(f"WHEN starts_with(geo_code, '{p}') THEN '{k}'" for p, k in _PREFIX_KIND.items()) + " END END")
#: Every row check of :func:`.grants.validate_grants` but the duplicate identifier, for the rows it
#: certainly passes: a plain amount of digits, currency empty or GBP, an identifier, a valid ISO date or none.
_OK0 = ("(regexp_full_match(amount, '[0-9]+(\\.[0-9]+)?') AND TRY_CAST(amount AS DOUBLE) <= "
        f"{MAX_AMOUNT_GBP!r} AND upper(currency) IN ('', 'GBP') AND identifier <> '' AND "
        "(award_date = '' OR (regexp_full_match(award_date, '[0-9]{4}-[0-9]{2}-[0-9]{2}') AND "
        "award_date BETWEEN '1678-01-01' AND '2262-04-10' AND TRY_CAST(award_date AS DATE) IS NOT NULL)))")
#: The longest header line read (a header of 1,000 long titles is far shorter).
_MAX_HEADER_BYTES = 4_000_000


@dataclass
class Streamed:
    """What :func:`locate_csv` found: the counts and frames :func:`.reach.reach` reports."""

    rows_in: int
    rejected: pd.DataFrame
    notes: list[str]
    source: str
    located: Any  # a :class:`.reach.Located` whose ``grants`` frame is empty (the facts below count them)
    facts: dict[str, Any]


def _stripped(column: str) -> str:
    """SQL for ``str.strip()`` of a text column (NULL as ``""``): ``trim`` with the whitespace set
    (slow) only where the first or last character is whitespace."""
    ws = ", ".join(str(ord(c)) for c in _WHITESPACE)
    x = f'"{column}"'
    return (f"CASE WHEN unicode({x}) IN ({ws}) OR unicode(right({x}, 1)) IN ({ws}) THEN trim({x}, {_q(_WHITESPACE)}) "
            f"ELSE coalesce({x}, '') END")


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _header(path: Path) -> list[str] | None:
    """The header's titles, padded with ``""`` to the first line's width; ``None`` if it is not usable."""
    with path.open("rb") as fh:
        first = fh.readline(_MAX_HEADER_BYTES)
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    if not first.strip():
        return None
    try:
        header = csv_header(first, path.name)
    except DataError:
        return None
    return header + [""] * (first.count(b",") + 1 - len(header))


def locate_csv(con: duckdb.DuckDBPyConnection, path: str | Path, *, index: str) -> Streamed | None:
    """Read, check and locate the 360Giving CSV at ``path`` on the LSOAs of ``index`` (see the module
    docstring); ``None`` when the file is not one this path reads (the caller then reads it with pandas)."""
    import duckdb

    require_tables(con, ["hierarchy_lsoa11", "hierarchy_lsoa21", "lookup_lsoa11_lsoa21_lad22"])
    vintage = INDEXES[index][1]
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".txt", "") or not path.is_file():
        return None
    if not con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]:
        return None  # row numbers need the file's order
    names = _header(path)
    if names is None:
        return None
    titles = [n for n in names if n]
    try:
        _, form = _standardise(pd.DataFrame(columns=titles), path.name)
    except DataError:
        return None
    if form != "360giving":
        return None
    columns = [n or f"__blank_{i}" for i, n in enumerate(names)]
    keys = {_key(c): c for c in titles}
    source = {new: keys[k] for k, new in _360G_COLUMNS.items() if k in keys}
    select = ", ".join(
        f"{_stripped(source[c])} AS {c}" if c in source else f"'' AS {c}"
        for c in ("identifier", "amount", "currency", "award_date", "postcode", "geo_code", "geo_code_type")
    )
    cols = "{" + ", ".join(f"{_q(c)}: 'VARCHAR'" for c in columns) + "}"
    cur = con.cursor()
    try:
        # One pass over the file: ROW_NUMBER() OVER () streams in the file's order (+ 1 = the spreadsheet
        # row, the header being row 1); a plain code (E + 8 digits, any case) is put in upper case and given
        # its kind; ok0 = every row check but the duplicate identifier one.
        read = (f"SELECT row_number() OVER () + 1 AS row, {select} FROM read_csv({_q(path.as_posix())}, "
                f"header = true, columns = {cols}, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
                "strict_mode = true, null_padding = false)")
        upper = ("CASE WHEN regexp_full_match(geo_code, '[Ee][0-9]{8}') THEN upper(geo_code) ELSE geo_code END "
                 "AS geo_code")
        try:
            cur.execute(f"CREATE TEMP TABLE _grants AS SELECT *, {_KIND} AS kind, {_OK0} AS ok0 FROM "
                        f"(SELECT * REPLACE ({upper}) FROM ({read}))")
        except duckdb.Error:
            return None
        return _locate(cur, path, form=form, titles=titles, index=index, vintage=vintage)
    finally:
        cur.execute("DROP VIEW IF EXISTS _valid")
        for table in ("_grants", "_dups"):
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.close()


def _locate(cur: duckdb.DuckDBPyConnection, path: Path, *, form: str, titles: list[str], index: str,
            vintage: int) -> Streamed | None:
    rows_in = int(cur.execute("SELECT count(*) FROM _grants").fetchall()[0][0])
    if rows_in == 0:
        return None
    # Rows the SQL clears; every other row is decided by validate_grants, as on the pandas path.
    cur.execute("CREATE TEMP TABLE _dups AS SELECT identifier FROM _grants WHERE identifier <> '' GROUP BY 1 "
                "HAVING count(*) > 1")
    clean = "(ok0 AND identifier NOT IN (SELECT identifier FROM _dups))"
    suspect = cur.execute(f"SELECT * EXCLUDE (kind, ok0) FROM _grants WHERE NOT {clean} ORDER BY row").df()
    suspect = suspect.assign(title="", recipient_org_id="", programme="", period="")  # not reported
    ok, rejected = validate_grants(suspect[["row", *[c for c in GRANT_COLUMNS[1:] if c != "amount_gbp"], "amount"]],
                                   form=form)
    keep = ["row", "identifier", "amount_gbp", "geo_code", "geo_code_type", "postcode"]
    cur.register("_ok", ok[keep])
    # The areas of every plain code in the file (a superset of the valid rows' codes), GLA as London.
    as_code = f"CASE WHEN geo_code = '{_GLA}' THEN '{_LONDON}' ELSE geo_code END"
    codes = cur.execute(f"SELECT DISTINCT {as_code} AS code FROM _grants WHERE kind IS NOT NULL").df()["code"]
    resolver = _resolver(cur, codes, vintage)
    cur.register("_routes", resolver.drop_duplicates("code")[["code", "route"]])
    # Every valid row with its location, as a view: each pass below streams over the file's table.
    cur.execute(
        f"CREATE OR REPLACE TEMP VIEW _valid AS SELECT v.*, {as_code} AS code, r.route FROM (SELECT row, identifier, "
        "CAST(amount AS DOUBLE) AS amount_gbp, geo_code, geo_code_type, postcode, kind FROM _grants WHERE "
        f"{clean} UNION ALL SELECT {', '.join(keep)}, {_KIND} AS kind FROM _ok) v LEFT JOIN _routes r "
        f"ON r.code = {as_code.replace('geo_code', 'v.geo_code')} AND v.kind IS NOT NULL")
    # The rows not located here are located, or not, by the pandas path, which gives the reasons.
    rest = cur.execute(f"SELECT {', '.join(keep)} FROM _valid WHERE route IS NULL ORDER BY row").df()
    frame = rest.assign(**{c: "" for c in GRANT_COLUMNS if c not in rest})[GRANT_COLUMNS]
    un_loc = locate_grants(cur, frame, index=index) if len(frame) else None
    if un_loc is not None and len(un_loc.grants):
        raise DataError("internal error: the DuckDB and pandas locations disagree on "
                        f"{len(un_loc.grants)} grant(s), e.g. row {int(un_loc.grants['row'].iloc[0])}")
    unlocated = un_loc.unlocated if un_loc is not None else pd.DataFrame(
        columns=["row", "identifier", "amount_gbp", "geo_code", "geo_code_type", "postcode", "reason"])
    values = ", ".join(f"({_q(k)}, {_q(v)})" for k, v in _DECLARED.items())
    groups = cur.execute(
        f"WITH d(declared, dkind) AS (VALUES {values}) "
        "SELECT code, route, sum(CAST(round_even(amount_gbp * 100, 0) AS BIGINT)) AS pence, count(*) AS n_grants, "
        "arg_min(kind, row) AS kind, fsum(amount_gbp) AS amount, "
        "bool_or(starts_with(identifier, '360G-SYNTHETIC-')) AS synthetic, "
        "list(row ORDER BY row) FILTER (WHERE over) AS over_rows, "
        "list(geo_code || ' declared ' || declared ORDER BY row) FILTER (WHERE over) AS over_examples "
        "FROM (SELECT *, (route IS NOT NULL AND declared <> '' AND coalesce(dkind, '?') <> kind) AS over FROM "
        "(SELECT *, upper(geo_code_type) AS declared FROM _valid) LEFT JOIN d USING (declared)) "
        "GROUP BY code, route").df()
    synthetic = bool(groups["synthetic"].any())
    totals = groups[groups["route"].notna()].sort_values("code").reset_index(drop=True)
    totals["pence"] = totals["pence"].astype(np.int64)
    n_located, pence_in = int(totals["n_grants"].sum()), int(totals["pence"].sum())
    amount = math.fsum(totals["amount"].to_numpy(float))
    routes = totals["route"].astype("string").str.contains("converted", na=False).astype(bool)
    converted = int(totals.loc[routes, "n_grants"].sum())
    n_over, examples_over = _overrides(totals, rest)
    cur.unregister("_ok")
    cur.unregister("_routes")
    used = resolver[resolver["code"].isin(set(totals["code"]))]
    split = split_pence(totals[["code", "pence"]], used)
    alloc = split.groupby("lsoa_code", as_index=False)["pence"].sum()
    alloc["amount_gbp"] = alloc.pop("pence") / 100
    pops = used.drop_duplicates("code").set_index("code")
    names = _area_names(cur, totals["code"])
    by_code = pd.DataFrame({"code": totals["code"], "n_grants": totals["n_grants"],
                            "amount_gbp": totals["pence"] / 100, "kind": totals["kind"],
                            "route": totals["code"].map(pops["route"]),
                            "population": totals["code"].map(pops["code_population"]),
                            "name": totals["code"].map(names)})
    located = Located(grants=pd.DataFrame(columns=["row", "identifier", "amount_gbp", "programme", "code", "kind",
                                                   "via", "route"]),
                      unlocated=unlocated.reset_index(drop=True), allocations=alloc, by_code=by_code,
                      resolver=used.reset_index(drop=True), type_overrides=n_over, override_examples=examples_over)
    notes = []
    extra = [c for c in titles if re.match(r"(beneficiary location|recipient org):[1-9]", _key(c))]
    if extra:
        notes.append(f"only the first (:0:) beneficiary location and recipient are used; ignored columns: "
                     f"{examples(extra)}")
    facts = {"located": n_located, "located_amount_gbp": round(amount, 2), "converted": converted,
             "by_postcode": 0, "synthetic": synthetic, "pence_in": pence_in}
    return Streamed(rows_in=rows_in, rejected=rejected, notes=notes, source=path.name, located=located, facts=facts)


def _overrides(totals: pd.DataFrame, rest: pd.DataFrame) -> tuple[int, list[str]]:
    """Rows whose ``Geographic Code Type`` disagrees with the code's prefix: count and the first five
    (``<code> declared <type>``), among the rows located in SQL (listed per code in ``totals``) and,
    with :func:`.locate.type_overridden`, the ``rest`` (the rows handed to the pandas path)."""
    lists = totals.dropna(subset=["over_rows"])
    sql = pd.DataFrame({"row": [r for rows in lists["over_rows"] for r in rows],
                        "example": [e for ex in lists["over_examples"] for e in ex]})
    g = rest["geo_code"].astype(str).str.strip().str.upper()
    declared = rest["geo_code_type"].astype(str).str.strip().str.upper()
    hit = type_overridden(declared, code_kind(g))
    more = pd.DataFrame({"row": rest["row"][hit], "example": (g + " declared " + declared)[hit]})
    both = pd.concat([sql, more], ignore_index=True).sort_values("row", kind="stable")
    return len(both), both["example"].head(5).tolist()
