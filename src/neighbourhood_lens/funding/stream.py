"""Funding reach of a large 360Giving CSV: one DuckDB read, then Arrow and NumPy.

:func:`locate_csv` gives :func:`.reach.reach` what :func:`.grants.read_grants` followed by
:func:`.reach.locate_grants` give, for a 360Giving CSV file on disk, without building a
pandas frame of every grant. DuckDB reads the file once (``read_csv``, strict, in parallel)
into an Arrow table of the seven columns used and a 64-bit hash of each identifier; every
check and the location are then decided once per *distinct* value of a column
(``dictionary_encode``: a few thousand amounts, dates or codes for a million rows) and mapped
back to the rows by the encoding's indices; duplicate identifiers are found by sorting the
hashes (equal hashes are confirmed on the text); the sums per code are NumPy (``add.at`` of
whole pence as int64). The LSOAs and weights of the codes come from one DuckDB query as
positions, not text (:func:`.locate._code_areas`, on a cursor of its own while the rows are
checked), and the pence are split over them with the arithmetic of :func:`.locate.split_pence`.
pandas sees only one row per code and the rows that are rejected or unlocated.

Same rows, same outputs, same messages
    Every row of the file is counted and ends located, unlocated or rejected, as before. The
    fast path only *clears* rows that are certainly good: an amount of plain digits (``1250``,
    ``99.5``) up to :data:`.grants.MAX_AMOUNT_GBP`, currency empty or ``GBP`` in any case, an
    identifier that is not empty and not repeated, an award date empty or one that
    :func:`.grants.validate_grants` parses, and, for the location, a code whose area is in the
    warehouse. Every other row (a suspect) goes through the very function of the pandas path,
    :func:`.grants.validate_grants`, which decides and words its fate; a suspect that passes joins
    the cleared rows. A valid row whose code is not located gets its reason from the first step of
    :func:`.reach.locate_grants` (:func:`.locate._reasons`: no code, malformed, outside England, an
    unsupported type); with none of those, its well-formed code was looked up and not found, and it
    is unknown, in the pandas path's words (:func:`.locate._unknown`). Text is stripped of the characters
    Python's ``str.strip`` removes (:data:`_WHITESPACE`, with ``pyarrow.compute.utf8_trim``).
When it applies
    A ``.csv`` path in the 360Giving form, in UTF-8, without a postcode lookup. Anything else,
    and any file DuckDB cannot read as a strict CSV (ragged rows, bad bytes, a bad header),
    returns ``None`` and the caller takes the pandas path, whose messages say what is wrong.
"""

from __future__ import annotations

import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from neighbourhood_lens.errors import DataError, examples
from neighbourhood_lens.warehouse import require_tables, sql_text

from .grants import (
    _360G_COLUMNS,
    GRANT_COLUMNS,
    MAX_AMOUNT_GBP,
    _key,
    _parse_dates,
    _standardise,
    csv_header,
    validate_grants,
)
from .locate import (
    _DECLARED,
    _GLA,
    _LONDON,
    _PREFIX_KIND,
    INDEXES,
    Located,
    _area_names,
    _code_areas,
    _reasons,
    _split_rows,
    _strings,
    _unknown,
    _unlocated,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["Streamed", "locate_csv"]

#: Every character ``str.strip()`` removes (``str.isspace``), for ``utf8_trim``; a test checks the list.
_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
               "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
#: The columns read, in the internal names of :data:`.grants.GRANT_COLUMNS`.
_READ = ("identifier", "amount", "currency", "award_date", "postcode", "geo_code", "geo_code_type")
#: The kinds of code the fast path locates (an index into this tuple stands for the kind).
_KINDS = tuple(sorted(set(_PREFIX_KIND.values())))
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


def _strip(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``str.strip()`` of each value (``utf8_trim`` with :data:`_WHITESPACE`)."""
    return pc.utf8_trim(values, characters=_WHITESPACE)


def _distinct(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a column, stripped, and each row's position among them
    (``dictionary_encode``: one hash pass; the chunks share one dictionary)."""
    enc = pc.dictionary_encode(column)
    if enc.num_chunks == 0:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int32)
    idx = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks])
    return _strip(enc.chunk(enc.num_chunks - 1).dictionary), idx


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _full_match(values: pa.Array, pattern: str) -> np.ndarray:
    return _mask(pc.match_substring_regex(values, f"^(?:{pattern})$"))


def _take(values: pa.Array | pa.ChunkedArray, at: np.ndarray) -> pa.Array:
    """``values.take(at)`` for sorted positions ``at``, chunk by chunk: a chunked array's own ``take``
    first joins every chunk into one (a copy of a million identifiers to pick a few thousand)."""
    if isinstance(values, pa.Array):
        return values.take(pa.array(at, pa.int64()))
    bounds = np.cumsum([0] + [len(c) for c in values.chunks])
    which = np.searchsorted(bounds, at, side="right") - 1
    cuts = np.searchsorted(which, np.arange(values.num_chunks + 1))
    parts = [values.chunk(k).take(pa.array(at[cuts[k]:cuts[k + 1]] - bounds[k], pa.int64()))
             for k in range(values.num_chunks) if cuts[k + 1] > cuts[k]]
    return pa.concat_arrays(parts) if parts else pa.array([], values.type)


def _texts(values: pa.Array) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)


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
    text = {c: (f'coalesce("{source[c].replace(chr(34), chr(34) * 2)}", \'\')' if c in source else "''")
            for c in _READ}
    select = ", ".join(f"{sql} AS {c}" for c, sql in text.items())
    cols = "{" + ", ".join(f"{sql_text(c)}: 'VARCHAR'" for c in columns) + "}"
    cur = con.cursor()
    try:
        # One pass over the file, in its order (row i of the table is spreadsheet row i + 2, the header
        # being row 1), NULL read as "", with a hash of each identifier for the duplicate check.
        read = (f"SELECT {select}, hash({text['identifier']}) AS id_hash FROM read_csv({sql_text(path.as_posix())}, "
                f"header = true, columns = {cols}, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
                "strict_mode = true, null_padding = false)")
        try:
            table = cur.sql(read).to_arrow_table()
        except duckdb.Error:
            return None
        n = table.num_rows
        if n == 0:
            return None
        by_name = dict(zip(table.column_names, table.columns, strict=True))
        del table  # each column is let go once it is encoded
        return _locate(cur, by_name, n, path, form=form, titles=titles, index=index, vintage=vintage)
    finally:
        cur.close()


def _duplicated(cur: duckdb.DuckDBPyConnection, ids: pa.Array | pa.ChunkedArray, hashes: np.ndarray,
                changed: np.ndarray) -> np.ndarray:
    """Rows whose (stripped) identifier occurs more than once: the rows of a repeated hash (one sort
    of the hashes; the identifiers ``strip`` changed are hashed again by DuckDB), confirmed on the text."""
    if changed.any():
        cur.register("_rehash", pa.table({"v": ids.filter(pa.array(changed))}))
        try:
            hashes = hashes.copy()
            hashes[changed] = cur.sql("SELECT hash(v) AS h FROM _rehash").fetchnumpy()["h"]
        finally:
            cur.unregister("_rehash")
    ordered = np.sort(hashes)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    out = np.zeros(len(hashes), dtype=bool)
    if len(repeated):
        maybe = np.flatnonzero(pd.Index(repeated).get_indexer(hashes) >= 0)  # a hash lookup
        text = pd.Series(_texts(_take(ids, maybe)))
        out[maybe[text.duplicated(keep=False).to_numpy()]] = True
    return out


def _unstripped(ids: pa.ChunkedArray) -> np.ndarray:
    """Rows whose text ``str.strip()`` changes: candidates from the first and last byte of each value
    (ASCII whitespace, or any byte of a multi-byte character), confirmed with ``utf8_trim``."""
    ws = np.zeros(256, dtype=bool)
    ws[[ord(c) for c in _WHITESPACE if ord(c) < 128]] = True
    ws[128:] = True
    parts = []
    for chunk in ids.chunks:
        _, offsets, data = chunk.buffers()
        off = np.frombuffer(offsets, dtype=np.int32)[chunk.offset: chunk.offset + len(chunk) + 1]
        body = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, dtype=np.uint8)
        filled = off[1:] > off[:-1]
        first = body[np.where(filled, off[:-1], 0)]
        last = body[np.where(filled, off[1:] - 1, 0)]
        parts.append(filled & (ws[first] | ws[last]))
    maybe = np.flatnonzero(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.intp)
    out = np.zeros(len(ids), dtype=bool)
    if len(maybe):
        some = _take(ids, maybe)
        out[maybe[_mask(pc.not_equal(some, _strip(some)))]] = True
    return out


def _locate(cur: duckdb.DuckDBPyConnection, columns: dict[str, pa.ChunkedArray], n: int, path: Path, *, form: str,
            titles: list[str], index: str, vintage: int) -> Streamed:
    """The checks, the location and the sums of the ``n`` rows read (``columns``: the read's
    columns by name, each dropped once encoded), as the module docstring says."""
    ids = columns.pop("identifier")
    changed = _unstripped(ids)
    if changed.any():
        ids = _strip(ids)
    hashes = columns.pop("id_hash").to_numpy()
    post = columns.pop("postcode")  # needed only on the rows handed to the pandas path
    # The other five columns are encoded side by side (Arrow's kernels release the GIL).
    with ThreadPoolExecutor(max_workers=min(5, os.cpu_count() or 1)) as pool:
        encoded = list(pool.map(_distinct, [columns.pop(c) for c in ("amount", "currency", "award_date", "geo_code",
                                                                    "geo_code_type")]))
    (amount_v, amount_i), (currency_v, currency_i), (date_v, date_i), (geo_raw, geo_i), (type_v, type_i) = encoded
    del encoded
    # A plain code (E + 8 digits, any case) is put in upper case and given its kind from the prefix, GLA
    # as London. The areas of the codes (and their names) are read by DuckDB while the rows are checked.
    geo_v = pc.if_else(pa.array(_full_match(geo_raw, "[Ee][0-9]{8}")), pc.utf8_upper(geo_raw), geo_raw)
    geo_t = _texts(geo_v)
    plain_code = _full_match(geo_v, "E[0-9]{8}")
    prefixes = list(_PREFIX_KIND)
    kind_of_prefix = np.array([_KINDS.index(_PREFIX_KIND[p]) for p in prefixes] + [-1], dtype=np.int8)
    at_prefix = pc.fill_null(pc.index_in(pc.utf8_slice_codeunits(geo_v, 0, 3), value_set=pa.array(prefixes)), -1)
    kind = np.where(plain_code, kind_of_prefix[at_prefix.to_numpy(zero_copy_only=False)], -1).astype(np.int8)
    code_t = np.where(geo_t == _GLA, _LONDON, geo_t)
    wanted = kind >= 0
    with ThreadPoolExecutor(max_workers=1) as background:
        lookup = background.submit(_areas_and_names, cur, code_t[wanted], vintage)

        # Every row check of validate_grants, once per distinct value; the rows it clears for certain.
        plain = _full_match(amount_v, "[0-9]+(\\.[0-9]+)?")
        value = np.full(len(amount_v), np.nan)
        value[plain] = pc.cast(amount_v.filter(pa.array(plain)), pa.float64()).to_numpy()
        amount_ok = plain & (value <= MAX_AMOUNT_GBP)
        currency_ok = _mask(pc.is_in(pc.utf8_upper(currency_v), value_set=pa.array(["", "GBP"])))
        dates = pd.Series(_texts(date_v), dtype="str")
        date_ok = ((dates == "") | _parse_dates(dates).notna()).to_numpy()
        clean = amount_ok[amount_i] & currency_ok[currency_i] & date_ok[date_i]
        clean &= pc.binary_length(ids).to_numpy() > 0
        clean &= ~_duplicated(cur, ids, hashes, changed)
        del hashes, changed

        # The suspects are decided by validate_grants, as on the pandas path.
        at = np.flatnonzero(~clean)

        type_t = _texts(type_v)
        suspect = pd.DataFrame({
            "row": at + 2, "identifier": _texts(_take(ids, at)), "title": "",
            "currency": _texts(currency_v)[currency_i[at]], "award_date": _texts(date_v)[date_i[at]],
            "recipient_org_id": "", "postcode": _texts(_strip(_take(post, at))), "geo_code": geo_t[geo_i[at]],
            "geo_code_type": type_t[type_i[at]], "programme": "", "period": "",
            "amount": _texts(amount_v)[amount_i[at]],
        })
        del currency_i, date_i
        ok, rejected = validate_grants(suspect, form=form)
        valid = clean
        amount = value[amount_i]
        passed = ok["row"].to_numpy(np.int64) - 2
        valid[passed] = True
        amount[passed] = ok["amount_gbp"].to_numpy(float)
        del clean, amount_i

        areas, names = lookup.result()

    code_at = pc.fill_null(pc.index_in(pa.array(code_t, pa.string()), value_set=areas.codes), -1).to_numpy().copy()
    code_at[~wanted] = -1
    hit = code_at >= 0
    code_at[hit] = np.where(areas.found[code_at[hit]], code_at[hit], -1)  # -1: not in the warehouse
    row_code = code_at[geo_i]
    located = valid & (row_code >= 0)

    # The valid rows not located here: each gets its reason from the pandas path's first step.
    at = np.flatnonzero(valid & ~located)
    rest = pd.DataFrame({"row": at + 2, "identifier": _texts(_take(ids, at)), "amount_gbp": amount[at],
                         "geo_code": geo_t[geo_i[at]], "geo_code_type": type_t[type_i[at]],
                         "postcode": _texts(_strip(_take(post, at)))})
    synthetic = bool((valid & _mask(pc.starts_with(ids, "360G-SYNTHETIC-"))).any())
    del ids, post
    unlocated, more = _unlocated_rest(rest, areas, vintage)

    # Sums per code of the located rows: whole pence (round half to even) as int64, grants, the first row's kind.
    at = np.flatnonzero(located)
    k = row_code[at]
    located_amounts = amount[at]
    del amount, row_code
    pence_row = np.rint(located_amounts * 100).astype(np.int64)
    n_codes = len(areas.codes)
    pence = np.zeros(n_codes, dtype=np.int64)
    np.add.at(pence, k, pence_row)
    n_grants = np.bincount(k, minlength=n_codes).astype(np.int64)
    first = np.full(n_codes, n, dtype=np.int64)
    np.minimum.at(first, k, at)
    order = np.flatnonzero(n_grants)  # the codes located, in code order (areas.codes is sorted)
    totals = pd.DataFrame({"code": pd.Series(areas.codes.take(pa.array(order)), dtype="str"),
                           "pence": pence[order], "n_grants": n_grants[order],
                           "kind": pd.Series(np.asarray(_KINDS, dtype=object)[kind[geo_i[first[order]]]],
                                             dtype="str"),
                           "route": pd.Series(np.asarray(areas.routes, dtype=object)[areas.route[order]],
                                              dtype="str")})
    n_located, pence_in = int(totals["n_grants"].sum()), int(totals["pence"].sum())
    whole = bool(np.all(located_amounts == np.floor(located_amounts))) and (
        float(np.abs(located_amounts).sum()) < 2.0 ** 52)
    located_amount = float(located_amounts.sum()) if whole else math.fsum(located_amounts.tolist())
    del located_amounts, pence_row, k, at, first
    converted = int(totals.loc[totals["route"].str.contains("converted"), "n_grants"].sum())

    # Geographic Code Type overridden by the code's prefix, among the rows located here and the rest.
    declared = pc.utf8_upper(type_v)
    dkind = pd.Series(_texts(declared), dtype="str").map(_DECLARED).map(
        {k: i for i, k in enumerate(_KINDS)}).fillna(-2).to_numpy(np.int8)
    over = located & (pc.binary_length(declared).to_numpy()[type_i] > 0) & (dkind[type_i] != kind[geo_i])
    over_at = np.flatnonzero(over)
    head = over_at[:5]
    sql = pd.DataFrame({"row": head + 2, "example": geo_t[geo_i[head]] + " declared "
                        + _texts(declared)[type_i[head]]})
    n_over, examples_over = _overrides(len(over_at), sql, more)

    # The split of each code's pence over its LSOAs (split_pence's arithmetic on the rows of the codes
    # located, in the same order), summed per LSOA in LSOA order.
    used = np.flatnonzero(n_grants[areas.code_at] > 0)
    used_code, used_lsoa = areas.code_at[used], areas.lsoa_at[used]
    split = _split_rows(pence, used_code, areas.weight[used], used_code)
    per_lsoa = np.zeros(len(areas.lsoas), dtype=np.int64)
    np.add.at(per_lsoa, used_lsoa, split)
    lsoas = np.flatnonzero(np.bincount(used_lsoa, minlength=len(areas.lsoas)))
    alloc = pd.DataFrame({"lsoa_code": pd.Series(areas.lsoas.take(pa.array(lsoas)), dtype="str"),
                          "amount_gbp": per_lsoa[lsoas] / 100})
    by_code = pd.DataFrame({"code": totals["code"], "n_grants": totals["n_grants"],
                            "amount_gbp": totals["pence"] / 100, "kind": totals["kind"],
                            "route": totals["route"], "population": areas.population[order],
                            "name": _lookup(totals["code"], names)})
    result = Located(grants=pd.DataFrame(columns=["row", "identifier", "amount_gbp", "programme", "code", "kind",
                                                  "via", "route"]),
                     unlocated=unlocated.reset_index(drop=True), allocations=alloc, by_code=by_code,
                     resolver=areas.frame(used), type_overrides=n_over, override_examples=examples_over)
    notes = []
    extra = [c for c in titles if re.match(r"(beneficiary location|recipient org):[1-9]", _key(c))]
    if extra:
        notes.append(f"only the first (:0:) beneficiary location and recipient are used; ignored columns: "
                     f"{examples(extra)}")
    facts = {"located": n_located, "located_amount_gbp": round(located_amount, 2), "converted": converted,
             "by_postcode": 0, "synthetic": synthetic, "pence_in": pence_in}
    return Streamed(rows_in=n, rejected=rejected, notes=notes, source=path.name, located=result, facts=facts)


def _areas_and_names(cur: duckdb.DuckDBPyConnection, codes: np.ndarray, vintage: int) -> tuple[Any, pd.Series]:
    """:func:`.locate._code_areas` of ``codes`` and the names of those found, on a cursor of their own."""
    own = cur.cursor()
    try:
        areas = _code_areas(own, codes, vintage)
        return areas, _area_names(own, pd.Series(areas.codes.filter(pa.array(areas.found)), dtype="str"))
    finally:
        own.close()


def _lookup(codes: pd.Series, values: pd.Series) -> pd.Series:
    """``codes.map(values)`` for a ``values`` Series indexed by unique text codes: an Arrow hash
    lookup of the positions (``index_in``), then a take; ``map`` itself where a code is missing."""
    at = pc.index_in(_strings(codes), value_set=_strings(values.index))
    if at.null_count or not values.index.is_unique:
        return codes.map(values)
    return pd.Series(values.iloc[at.to_numpy()].to_numpy(), index=codes.index)  # dtype inferred, as by map


def _unlocated_rest(rest: pd.DataFrame, areas: Any, vintage: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The valid rows not located here, with the reason of each from the pandas path's own first step
    (:func:`.locate._reasons`), and those whose declared code type is overridden (``row, example``).
    Every well-formed code of the file was looked up (``areas``), so a row the first step leaves
    without a reason has a code that is not in the warehouse."""
    frame = rest.assign(**{c: "" for c in GRANT_COLUMNS if c not in rest})[GRANT_COLUMNS]
    g, reason, declared, overridden = _reasons(frame, None, vintage)
    candidate = (reason == "") & (g["code"] != "")
    found = areas.codes.filter(pa.array(areas.found))
    wrong = candidate.to_numpy() & _mask(pc.is_in(_strings(g["code"]), value_set=found))
    if wrong.any() or ((reason == "") & ~candidate).any():
        row = int(g.loc[wrong | ((reason == "") & ~candidate), "row"].iloc[0])
        raise DataError(f"internal error: the DuckDB and pandas locations disagree on row {row}")
    reason[candidate] = _unknown(g.loc[candidate])
    more = pd.DataFrame({"row": g["row"][overridden], "example": (g["geo_code"] + " declared " + declared)[overridden]})
    return _unlocated(g, reason, pd.Series(True, index=g.index)), more


def _overrides(n_fast: int, fast: pd.DataFrame, more: pd.DataFrame) -> tuple[int, list[str]]:
    """Rows whose ``Geographic Code Type`` disagrees with the code's prefix: count and the first five
    (``<code> declared <type>``), among the ``n_fast`` rows located here (``fast``: the first five of
    them) and the ``more`` of the rest (the rows handed to the pandas path's first step)."""
    both = pd.concat([fast, more], ignore_index=True).sort_values("row", kind="stable")
    return n_fast + len(more), both["example"].head(5).tolist()
