"""Private helpers of the warehouse build: audit tables, vintage checks, derived tables.

Everything here runs as SQL inside DuckDB; no Python loops over rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from neighbourhood_lens.data.sources import IOD_DOMAINS, Dataset
from neighbourhood_lens.errors import VintageError, examples
from neighbourhood_lens.warehouse import table_names

if TYPE_CHECKING:
    import duckdb

#: geography -> (reference table, code column) giving the set of valid codes of that vintage.
_REFERENCE = {
    "lsoa01": ("lookup_lsoa01_lsoa11", "lsoa01_code"),
    "lsoa11": ("lookup_lsoa11_lad19", "lsoa11_code"),
    "lsoa21": ("lookup_lsoa21_ward24_lad24", "lsoa21_code"),
    "ward17": ("lookup_lsoa11_ward17", "ward17_code"),
    "lad19": ("lookup_lsoa11_lad19", "lad19_code"),
    "lad24": ("lookup_lsoa21_ward24_lad24", "lad24_code"),
    "msoa11": ("lookup_lsoa11_msoa11", "msoa11_code"),
    "ward21": ("boundaries_ward21", "ward21_code"),
}
#: geography -> other vintages its codes are easily confused with.
_CONFUSABLE = {
    "lsoa11": ("lsoa21", "lsoa01"),
    "lsoa21": ("lsoa11",),
    "lsoa01": ("lsoa11",),
    "lad19": ("lad24",),
    "lad24": ("lad19",),
}


def create_audit_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE OR REPLACE TABLE provenance (
            dataset_id VARCHAR PRIMARY KEY, title VARCHAR, publisher VARCHAR, licence VARCHAR,
            vintage VARCHAR, geography VARCHAR, source VARCHAR, sha256 VARCHAR,
            rows_read BIGINT, rows_loaded BIGINT, loaded_at TIMESTAMP WITH TIME ZONE,
            tool_version VARCHAR, notes VARCHAR DEFAULT '')
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE join_report (
            step VARCHAR, left_table VARCHAR, right_table VARCHAR, left_rows BIGINT,
            matched BIGINT, unmatched BIGINT, unmatched_examples VARCHAR)
        """
    )


def record_provenance(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    *,
    source: str,
    sha256: str,
    rows_read: int,
    rows_loaded: int,
    tool_version: str,
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO provenance VALUES (?,?,?,?,?,?,?,?,?,?,?,?, '')",
        [ds.id, ds.title, ds.publisher, ds.licence, ds.vintage, ds.geography, source, sha256,
         rows_read, rows_loaded, datetime.now(UTC), tool_version],
    )


def _note(con: duckdb.DuckDBPyConnection, dataset_id: str, note: str) -> None:
    con.execute(
        "UPDATE provenance SET notes = CASE WHEN notes = '' THEN ? ELSE notes || '; ' || ? END "
        "WHERE dataset_id = ? AND position(? IN coalesce(notes, '')) = 0",
        [note, note, dataset_id, note],
    )


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return table_names(con)


def join_check(
    con: duckdb.DuckDBPyConnection,
    step: str,
    *,
    left: str,
    left_key: str,
    right: str,
    right_key: str,
    left_filter: str = "TRUE",
) -> tuple[int, list[str]]:
    """Record how many distinct ``left_key`` values of ``left`` have no match in ``right``.

    Returns ``(unmatched count, first unmatched codes)`` and writes a ``join_report`` row.
    """
    rows = con.execute(
        f"""
        WITH l AS (SELECT DISTINCT "{left_key}" AS k FROM "{left}" WHERE {left_filter}),
             r AS (SELECT DISTINCT "{right_key}" AS k, TRUE AS hit FROM "{right}"),
             j AS (SELECT l.k, coalesce(r.hit, FALSE) AS hit FROM l LEFT JOIN r USING (k))
        SELECT count(*), count(*) FILTER (WHERE hit),
               (list(k ORDER BY k) FILTER (WHERE NOT hit))[1:5], count(*) FILTER (WHERE NOT hit)
        FROM j
        """
    ).fetchall()[0]
    n, matched, ex, unmatched = rows[0], rows[1], rows[2] or [], rows[3]
    con.execute(
        "INSERT INTO join_report VALUES (?,?,?,?,?,?,?)",
        [step, left, right, n, matched, unmatched, ", ".join(ex)],
    )
    return unmatched, ex


def check_vintages(con: duckdb.DuckDBPyConnection, *, info: list[str] | None = None) -> list[str]:
    """Check every loaded table's area codes against the reference set of its vintage.

    Codes that belong to a confusable other vintage (LSOA 2021 in an LSOA 2011 table) raise
    :class:`VintageError`; English codes known to no vintage are a counted warning. Codes
    outside England and Wales in a UK-wide table (Scottish data zones in the MSOA lookup,
    Northern Irish and Scottish districts in the UK boundaries) are expected coverage, not a
    problem: they go to ``info`` (one line per dataset) and the provenance notes.
    """
    from neighbourhood_lens.data.sources import DATASETS

    tables = _tables(con)
    out: list[str] = []
    for ds in DATASETS.values():
        geo = ds.geography
        if ds.id not in tables or geo not in _REFERENCE:
            continue
        ref_table, ref_col = _REFERENCE[geo]
        if ref_table not in tables or ref_table == ds.id:
            continue
        key = f"{geo}_code"
        unmatched, ex = join_check(
            con, f"vintage check {ds.id}", left=ds.id, left_key=key, right=ref_table,
            right_key=ref_col,
        )
        if not unmatched:
            continue
        for other in _CONFUSABLE.get(geo, ()):
            o_table, o_col = _REFERENCE[other]
            if o_table not in tables:
                continue
            bad = con.execute(
                f"""SELECT list(k ORDER BY k), count(*) FROM (
                    SELECT DISTINCT "{key}" AS k FROM "{ds.id}"
                    WHERE k NOT IN (SELECT "{ref_col}" FROM "{ref_table}")
                      AND k IN (SELECT "{o_col}" FROM "{o_table}"))"""
            ).fetchall()[0]
            if bad[1]:
                raise VintageError(
                    f"{ds.id}: {bad[1]} code(s) in column {key!r} are {other} codes, not "
                    f"{geo}: {examples(bad[0])}. The file is of the wrong geography vintage; "
                    f"use the {geo} edition or convert it with the ONS lookup first."
                )
        english = con.execute(
            f"""SELECT count(*), list(k ORDER BY k)[1:5] FROM (SELECT DISTINCT "{key}" AS k FROM "{ds.id}"
                WHERE k LIKE 'E%' AND k NOT IN (SELECT "{ref_col}" FROM "{ref_table}"))"""
        ).fetchall()[0]
        if english[0]:
            msg = (f"{ds.id}: {english[0]} English {key} value(s) are not in {ref_table} (unknown codes): "
                   f"{examples(english[1])}")
            _note(con, ds.id, msg)
            out.append(msg)
        if unmatched > english[0]:
            others = con.execute(
                f"""SELECT list(k ORDER BY k)[1:5] FROM (SELECT DISTINCT "{key}" AS k FROM "{ds.id}"
                    WHERE k NOT LIKE 'E%' AND k NOT IN (SELECT "{ref_col}" FROM "{ref_table}"))"""
            ).fetchall()[0][0]
            msg = (f"{ds.id}: coverage: {unmatched - english[0]:,} {key} value(s) outside {ref_table}'s coverage "
                   f"(other UK nations), kept: {examples(others)}")
            _note(con, ds.id, msg)
            if info is not None:
                info.append(msg)
    return out


#: Gaps the official files are known to have, as (message pattern, the count in the published file).
#: A build that finds at most that many reports a note, not a warning; more is a warning.
#: The counts are those of a build from the mirror of the official files (``../shared/data``):
#: CNI 2019 (OCSI) lists 12 English ward codes that are not in the ONS LSOA 2011 -> ward 2017
#: lookup, and its ward names cover all but 6 of the ward17 codes that lookup uses.
KNOWN_GAPS: tuple[tuple[str, int], ...] = (
    (r"cni2019_ward17: (\d+) English ward17_code value\(s\) are not in lookup_lsoa11_ward17", 12),
    (r"hierarchy_lsoa11: ward17 -> CNI 2019 ward names: (\d+) unmatched", 6),
)


def is_expected(message: str) -> bool:
    """Whether a build check ``message`` describes what the official files are known to contain.

    Tied ranks are kept as published (the publisher's ranks are the national ones), and the gaps
    in :data:`KNOWN_GAPS` are expected up to their published count.

    >>> is_expected("imd2015_lsoa11: tied ranks, kept as published (imd_rank 20)")
    True
    >>> is_expected("hierarchy_lsoa11: ward17 -> CNI 2019 ward names: 6 unmatched (E05009288)")
    True
    >>> is_expected("hierarchy_lsoa11: ward17 -> CNI 2019 ward names: 60 unmatched (E05009288)")
    False
    """
    import re

    if re.match(r"[a-z0-9_]+: tied ranks, kept as published", message):
        return True
    for pattern, count in KNOWN_GAPS:
        m = re.match(pattern, message)
        if m:
            return int(m.group(1)) <= count
    return False


def check_ranks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Note tied or out-of-range national ranks in the IoD and CNI tables.

    Published IoD ranks run 1..N without ties; a tie usually means the ranks were
    recomputed from rounded scores somewhere upstream, and a rank above N that the file is
    only part of the national table. Both are kept as given, with a provenance note and a
    message, since every national measure here reads ranks as published: ties are a note (the
    official IoD and CNI files have them, see :func:`is_expected`), ranks outside 1..N a warning.
    """
    from neighbourhood_lens.data.sources import DATASETS

    tables = _tables(con)
    out: list[str] = []
    for ds in DATASETS:
        if ds not in tables or not ds.startswith(("imd", "cni")):
            continue
        cols = [r[0] for r in con.execute(f'DESCRIBE "{ds}"').fetchall() if r[0].endswith("_rank")]
        if not cols:
            continue
        exprs = ", ".join(
            f'count("{c}") - count(DISTINCT "{c}"), count(*) FILTER (WHERE "{c}" < 1 OR "{c}" > count_star)'
            .replace("count_star", f'(SELECT count(*) FROM "{ds}")') for c in cols
        )
        row = con.execute(f'SELECT {exprs} FROM "{ds}"').fetchall()[0]
        tied, outside = [], []
        for i, col in enumerate(cols):
            if row[2 * i]:
                tied.append(f"{col} {row[2 * i]}")
            if row[2 * i + 1]:
                outside.append(f"{col} {row[2 * i + 1]}")
        msgs = []
        if tied:
            msgs.append(f"{ds}: tied ranks, kept as published ({', '.join(tied)})")
        if outside:
            msgs.append(f"{ds}: ranks outside 1..N where N = {row_count(con, ds):,} rows ({', '.join(outside)}); "
                        "the file looks like part of the national table, and national measures need all of it")
        for msg in msgs:
            _note(con, ds, msg)
        out += msgs
    return out


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])


def derive_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Build ``hierarchy_lsoa11``, ``hierarchy_lsoa21``, ``areas`` and the ``iod_lsoa`` view."""
    tables = _tables(con)
    out: list[str] = []
    if {"lookup_lsoa11_lad19", "lookup_lsoa11_ward17", "lookup_lad19_region19"} <= tables:
        out += _hierarchy_lsoa11(con, tables)
    if {"lookup_lsoa21_ward24_lad24", "lookup_lad24_region24"} <= tables:
        out += _hierarchy_lsoa21(con, tables)
    _areas(con, _tables(con))
    _iod_view(con, tables)
    return out


def _report_joins(con: duckdb.DuckDBPyConnection, hierarchy: str, checks: list[tuple]) -> list[str]:
    out = []
    for step, left, lkey, right, rkey, flt in checks:
        unmatched, ex = join_check(
            con, step, left=left, left_key=lkey, right=right, right_key=rkey, left_filter=flt
        )
        if unmatched:
            out.append(f"{step}: {unmatched} unmatched ({examples(ex)})")
    return out


def _hierarchy_lsoa11(con: duckdb.DuckDBPyConnection, tables: set[str]) -> list[str]:
    pop = (
        "LEFT JOIN population2019_lsoa11 p USING (lsoa11_code)"
        if "population2019_lsoa11" in tables
        else "LEFT JOIN (SELECT NULL::VARCHAR AS lsoa11_code, NULL::DOUBLE AS population) p "
        "USING (lsoa11_code)"
    )
    wname = (
        "LEFT JOIN (SELECT ward17_code, ward17_name FROM cni2019_ward17) wn USING (ward17_code)"
        if "cni2019_ward17" in tables
        else "LEFT JOIN (SELECT NULL::VARCHAR AS ward17_code, NULL::VARCHAR AS ward17_name) wn "
        "USING (ward17_code)"
    )
    msoa = (
        "LEFT JOIN (SELECT lsoa11_code, msoa11_code, msoa11_name FROM lookup_lsoa11_msoa11) m "
        "USING (lsoa11_code)"
        if "lookup_lsoa11_msoa11" in tables
        else "LEFT JOIN (SELECT NULL::VARCHAR AS lsoa11_code, NULL::VARCHAR AS msoa11_code, "
        "NULL::VARCHAR AS msoa11_name) m USING (lsoa11_code)"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE hierarchy_lsoa11 AS
        SELECT l.lsoa11_code, l.lsoa11_name, m.msoa11_code, m.msoa11_name,
               w.ward17_code, coalesce(wn.ward17_name, w.ward17_code) AS ward17_name,
               l.lad19_code, l.lad19_name, r.region19_code, r.region19_name,
               p.population
        FROM lookup_lsoa11_lad19 l
        LEFT JOIN lookup_lsoa11_ward17 w USING (lsoa11_code)
        LEFT JOIN lookup_lad19_region19 r USING (lad19_code)
        {msoa} {pop} {wname}
        WHERE l.lsoa11_code LIKE 'E%'
        ORDER BY l.lsoa11_code
        """
    )
    checks = [
        ("hierarchy_lsoa11: LSOA11 -> ward17", "hierarchy_lsoa11", "lsoa11_code",
         "lookup_lsoa11_ward17", "lsoa11_code", "TRUE"),
        ("hierarchy_lsoa11: LAD19 -> region19", "hierarchy_lsoa11", "lad19_code",
         "lookup_lad19_region19", "lad19_code", "TRUE"),
    ]
    if "population2019_lsoa11" in tables:
        checks.append(("hierarchy_lsoa11: LSOA11 -> population mid-2019", "hierarchy_lsoa11",
                       "lsoa11_code", "population2019_lsoa11", "lsoa11_code", "TRUE"))
    if "cni2019_ward17" in tables:
        checks.append(("hierarchy_lsoa11: ward17 -> CNI 2019 ward names", "hierarchy_lsoa11",
                       "ward17_code", "cni2019_ward17", "ward17_code", "TRUE"))
    for iod in ("imd2019_lsoa11", "imd2015_lsoa11"):
        if iod in tables:
            checks.append((f"{iod} -> hierarchy_lsoa11", iod, "lsoa11_code",
                           "hierarchy_lsoa11", "lsoa11_code", "TRUE"))
    return _report_joins(con, "hierarchy_lsoa11", checks)


def _hierarchy_lsoa21(con: duckdb.DuckDBPyConnection, tables: set[str]) -> list[str]:
    pop = (
        "LEFT JOIN census2021_population_lsoa21 p USING (lsoa21_code)"
        if "census2021_population_lsoa21" in tables
        else "LEFT JOIN (SELECT NULL::VARCHAR AS lsoa21_code, NULL::DOUBLE AS population) p "
        "USING (lsoa21_code)"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE hierarchy_lsoa21 AS
        SELECT l.lsoa21_code, l.lsoa21_name, l.ward24_code, l.ward24_name,
               l.lad24_code, l.lad24_name, r.region24_code, r.region24_name, p.population
        FROM lookup_lsoa21_ward24_lad24 l
        LEFT JOIN lookup_lad24_region24 r USING (lad24_code)
        {pop}
        WHERE l.lsoa21_code LIKE 'E%'
        ORDER BY l.lsoa21_code
        """
    )
    checks = [
        ("hierarchy_lsoa21: LAD24 -> region24", "hierarchy_lsoa21", "lad24_code",
         "lookup_lad24_region24", "lad24_code", "TRUE"),
    ]
    if "census2021_population_lsoa21" in tables:
        checks.append(("hierarchy_lsoa21: LSOA21 -> Census 2021 population", "hierarchy_lsoa21",
                       "lsoa21_code", "census2021_population_lsoa21", "lsoa21_code", "TRUE"))
    for ds in ("imd2025_lsoa21", "cni2023_lsoa21"):
        if ds in tables:
            checks.append((f"{ds} -> hierarchy_lsoa21", ds, "lsoa21_code", "hierarchy_lsoa21",
                           "lsoa21_code", "TRUE"))
    return _report_joins(con, "hierarchy_lsoa21", checks)


def _areas(con: duckdb.DuckDBPyConnection, tables: set[str]) -> None:
    """One row per area: ``code, name, type, vintage, parent_lad_code, parent_lad_name``."""
    parts = []
    if "hierarchy_lsoa11" in tables:
        h = "hierarchy_lsoa11"
        parts += [
            f"SELECT DISTINCT lsoa11_code, lsoa11_name, 'lsoa', '2011', lad19_code, lad19_name FROM {h}",
            f"SELECT DISTINCT msoa11_code, msoa11_name, 'msoa', '2011', lad19_code, lad19_name FROM {h} WHERE msoa11_code IS NOT NULL",  # noqa: E501
            f"SELECT DISTINCT ward17_code, ward17_name, 'ward', '2017', lad19_code, lad19_name FROM {h} WHERE ward17_code IS NOT NULL",  # noqa: E501
            f"SELECT DISTINCT lad19_code, lad19_name, 'lad', '2019', lad19_code, lad19_name FROM {h}",
            f"SELECT DISTINCT region19_code, region19_name, 'region', '2019', NULL, NULL FROM {h} WHERE region19_code IS NOT NULL",  # noqa: E501
        ]
    if "hierarchy_lsoa21" in tables:
        h = "hierarchy_lsoa21"
        parts += [
            f"SELECT DISTINCT lsoa21_code, lsoa21_name, 'lsoa', '2021', lad24_code, lad24_name FROM {h}",
            f"SELECT DISTINCT ward24_code, ward24_name, 'ward', '2024', lad24_code, lad24_name FROM {h}",
            f"SELECT DISTINCT lad24_code, lad24_name, 'lad', '2024', lad24_code, lad24_name FROM {h}",
            f"SELECT DISTINCT region24_code, region24_name, 'region', '2024', NULL, NULL FROM {h} WHERE region24_code IS NOT NULL",  # noqa: E501
        ]
    if not parts:
        return
    # A ward split between two LADs would otherwise appear twice; keep the first by LAD code.
    con.execute(
        "CREATE OR REPLACE TABLE areas AS SELECT code, any_value(name ORDER BY lad_code) AS name, "
        "type, vintage, min(lad_code) AS lad_code, any_value(lad_name ORDER BY lad_code) AS lad_name "
        "FROM (" + " UNION ALL ".join(parts) + ") "
        "AS t(code, name, type, vintage, lad_code, lad_name) "
        "GROUP BY code, type, vintage ORDER BY type, vintage, code"
    )


def _iod_view(con: duckdb.DuckDBPyConnection, tables: set[str]) -> None:
    """Long view ``iod_lsoa(index_id, lsoa_vintage, lsoa_code, domain, score, rank, decile)``."""
    parts = []
    for ds in ("imd2004_lsoa01", "imd2007_lsoa01", "imd2010_lsoa01", "imd2015_lsoa11",
               "imd2019_lsoa11", "imd2025_lsoa21"):
        if ds not in tables:
            continue
        cols = {r[0] for r in con.execute(f"DESCRIBE {ds}").fetchall()}
        index_id, geo = ds.split("_")
        for d in IOD_DOMAINS:
            if f"{d}_rank" not in cols:
                continue
            score = f"{d}_score" if f"{d}_score" in cols else "NULL::DOUBLE"
            decile = f"{d}_decile" if f"{d}_decile" in cols else "NULL::DOUBLE"
            parts.append(
                f"SELECT '{index_id}' AS index_id, '{geo[-2:]}' AS lsoa_vintage, "
                f"{geo}_code AS lsoa_code, '{d}' AS domain, {score} AS score, "
                f"{d}_rank AS rank, {decile} AS decile FROM {ds}"
            )
    if parts:
        con.execute("CREATE OR REPLACE VIEW iod_lsoa AS " + " UNION ALL ".join(parts))
