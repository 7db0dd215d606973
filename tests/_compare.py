"""Compare two warehouses table by table (the online build against the mirror build)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["compare_warehouses"]


_KEYS = {"hierarchy_lsoa11": ("lsoa11_code",), "hierarchy_lsoa21": ("lsoa21_code",),
         "areas": ("code", "type", "vintage"), "iod_lsoa": ("index_id", "lsoa_code", "domain")}
_SKIP = {"provenance", "join_report"}


def compare_warehouses(online: Path, reference: Path) -> pd.DataFrame:
    """Table by table: rows, columns (missing, extra) and, column by column, values that differ.

    One row per table of ``reference`` (``adjacency_*`` caches and the audit tables excepted),
    with ``rows_online, rows_reference, missing_columns, extra_columns, differing`` (a dict
    column -> number of keyed rows whose value differs; numbers compared as DOUBLE, so an
    integer and the same float are equal).
    """
    import duckdb

    from neighbourhood_lens.data.sources import DATASETS as REG

    con = duckdb.connect()
    con.execute(f"ATTACH '{online}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{reference}' AS b (READ_ONLY)")

    def tables(db: str) -> dict[str, dict[str, str]]:
        rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                           "WHERE table_catalog = ? ORDER BY ordinal_position", [db]).fetchall()
        out: dict[str, dict[str, str]] = {}
        for t, c, typ in rows:
            out.setdefault(t, {})[c] = typ
        return out

    ta, tb = tables("a"), tables("b")
    report = []
    for t, cols_b in sorted(tb.items()):
        if t in _SKIP or t.startswith("adjacency_"):
            continue
        cols_a = ta.get(t)
        if cols_a is None:
            report.append({"table": t, "rows_online": None, "rows_reference": None, "missing_columns": "(table)",
                           "extra_columns": "", "differing": {}})
            continue
        n_a = con.execute(f'SELECT count(*) FROM a."{t}"').fetchone()[0]
        n_b = con.execute(f'SELECT count(*) FROM b."{t}"').fetchone()[0]
        common = [c for c in cols_b if c in cols_a]
        key = list(REG[t].key) if t in REG else list(_KEYS.get(t, ()))
        differing: dict[str, int] = {}
        if key and all(k in common for k in key):
            def expr(side: str, c: str, types: str) -> str:
                """Numbers as DOUBLE (an integer equals the same float), geometry as bytes, the rest as text."""
                if any(x in types for x in ("INT", "DOUBLE", "FLOAT", "DECIMAL")) and "VARCHAR" not in types:
                    return f'CAST({side}."{c}" AS DOUBLE)'
                return f'{side}."{c}"' if "BLOB" in types or "GEOMETRY" in types else f'CAST({side}."{c}" AS VARCHAR)'
            on = " AND ".join(f'x."{k}" = y."{k}"' for k in key)
            values = [c for c in common if c not in key]
            sel = ", ".join([f'count(*) FILTER (WHERE x."{key[0]}" IS NULL OR y."{key[0]}" IS NULL)'] + [
                f"count(*) FILTER (WHERE {expr('x', c, cols_a[c] + cols_b[c])} IS DISTINCT FROM "
                f"{expr('y', c, cols_a[c] + cols_b[c])})" for c in values])
            row = con.execute(f'SELECT {sel} FROM a."{t}" x FULL OUTER JOIN b."{t}" y ON {on}').fetchone()
            if row[0]:
                differing["(unmatched key)"] = row[0]
            differing.update({c: n for c, n in zip(values, row[1:], strict=True) if n})
        else:
            cols = ", ".join(f'"{c}"' for c in common)
            n = con.execute(f'SELECT count(*) FROM (SELECT {cols} FROM a."{t}" EXCEPT ALL SELECT {cols} FROM b."{t}")'
                            ).fetchone()[0]
            if n:
                differing["(rows)"] = n
        report.append({"table": t, "rows_online": n_a, "rows_reference": n_b,
                       "missing_columns": ", ".join(c for c in cols_b if c not in cols_a),
                       "extra_columns": ", ".join(c for c in cols_a if c not in cols_b), "differing": differing})
    extra_tables = sorted(set(ta) - set(tb) - _SKIP)
    for t in extra_tables:
        report.append({"table": t, "rows_online": None, "rows_reference": None, "missing_columns": "",
                       "extra_columns": "(table only online)", "differing": {}})
    con.close()
    return pd.DataFrame(report)
