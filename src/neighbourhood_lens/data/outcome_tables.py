"""Build-time checks and derived tables for the outcome statistics (issue 18).

The outcome datasets (``fuel_poverty_lsoa``, ``insolvencies_ward``, the DWP MSOA series, the
Census tables) pass the generic checks of :mod:`.validate` and :func:`.derive.check_vintages`.
Two things need more:

* **Long tables with a vintage per row.** ``fuel_poverty_lsoa`` holds LSOA 2001 codes for data
  year 2011, 2011 codes for 2012-2020 and 2021 codes from 2021, named by ``lsoa_vintage``.
  :func:`check_outcome_tables` checks every year against the reference codes of its own
  vintage (an LSOA 2021 code in a 2011-vintage year is a :class:`VintageError`), that each year
  has one vintage and one measure, that categories are the known ones and that counts are
  non-negative with numerators no larger than denominators.
* **Wards of December 2021 (WD21).** The insolvency table is by WD21 ward, and the mirror holds
  no LSOA -> WD21 lookup. :func:`derive_ward21_bestfit` places every English LSOA (2011 and
  2021) in the WD21 ward that contains an interior point of the LSOA polygon
  (``shapely.point_on_surface``, always inside the polygon, unlike the centroid), the same
  idea as the ONS best-fit method, which assigns a small area to the larger one holding its
  population-weighted centroid. Points that fall in no ward (generalised coastlines) take the
  nearest ward. A ward that receives no LSOA point (a ward smaller than an LSOA) is placed in the
  LSOA that holds the ward's own interior point, so none of its counts is lost. The result is
  ``bestfit_lsoa11_ward21`` and ``bestfit_lsoa21_ward21`` (``lsoa<yy>_code, ward21_code,
  method``), with one ``join_report`` row per step.

Notes
-----
When online, the official ONS best-fit lookup (LSOA to Ward, December 2021, England and Wales,
on the Open Geography Portal) should replace these tables; its address is not in
``official-sources.md``, so it has no registry entry yet (see docs/outcomes.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neighbourhood_lens.errors import DataError, VintageError, examples
from neighbourhood_lens.warehouse import table_names

if TYPE_CHECKING:
    import duckdb

__all__ = ["check_outcome_tables", "derive_ward21_bestfit", "bestfit_note", "BESTFIT_INPUTS", "BESTFIT_STEP",
           "BESTFIT_METHODS", "FUEL_VINTAGE_REFERENCE"]

#: Reference code sets of each LSOA vintage named in ``fuel_poverty_lsoa.lsoa_vintage``.
FUEL_VINTAGE_REFERENCE = {
    "lsoa01": ("lookup_lsoa01_lsoa11", "lsoa01_code"),
    "lsoa11": ("lookup_lsoa11_lad19", "lsoa11_code"),
    "lsoa21": ("lookup_lsoa21_ward24_lad24", "lsoa21_code"),
}
#: How an LSOA was placed in a WD21 ward.
BESTFIT_METHODS = {
    "interior_point": "the LSOA's interior point lies in the ward",
    "nearest": "the LSOA's interior point lies in no ward; nearest ward taken",
    "ward_interior_point": "the ward holds no LSOA point; the LSOA holding the ward's interior point",
}
_CATEGORIES = {
    "fuel_poverty_lsoa": {"measure": ("LIHC", "LILEE"), "lsoa_vintage": tuple(FUEL_VINTAGE_REFERENCE)},
    "insolvencies_ward": {"type": ("bankruptcy", "dro", "iva", "total")},
    "children_low_income_msoa11": {"status": ("p", "r")},
    "uc_households_msoa11": {"status": ("p", "r")},
}
_COUNTS = {
    "fuel_poverty_lsoa": ("households", "fuel_poor_households"),
    "insolvencies_ward": ("insolvencies",),
    "children_low_income_msoa11": ("children_relative_low_income",),
    "uc_households_msoa11": ("households_on_uc",),
    "census2011_household_deprivation_lsoa11": ("households_total",),
    "census2021_disability_lsoa21": ("residents_total", "residents_disabled"),
    "census2021_overcrowding_lsoa21": ("households_total",),
    "census2021_tenure_lsoa21": ("households_total",),
}


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return table_names(con)


def check_outcome_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Check the loaded outcome tables beyond the generic checks (see the module docstring).

    Raises :class:`DataError` (or :class:`VintageError`) naming the table, column and examples;
    returns warnings (English codes unknown to their vintage, kept and counted).
    """
    from neighbourhood_lens.data.derive import _note, join_check

    tables = _tables(con)
    out: list[str] = []
    for table, cats in _CATEGORIES.items():
        if table not in tables:
            continue
        for col, allowed in cats.items():
            bad = con.execute(
                f'SELECT list(DISTINCT "{col}"::VARCHAR), count(*) FROM "{table}" '
                f'WHERE "{col}" IS NOT NULL AND "{col}"::VARCHAR NOT IN ({", ".join(repr(a) for a in allowed)})'
            ).fetchall()[0]
            if bad[1]:
                raise DataError(f"{table}: column {col!r} has {bad[1]} row(s) with unknown value(s) "
                                f"{examples(sorted(bad[0]))}; allowed: {', '.join(allowed)}")
    for table, cols in _COUNTS.items():
        if table not in tables:
            continue
        for col in cols:
            neg = con.execute(f'SELECT count(*) FROM "{table}" WHERE "{col}" < 0').fetchall()[0][0]
            if neg:
                raise DataError(f"{table}: {neg} row(s) have a negative {col}; counts cannot be negative")
    if "uc_households_msoa11" in tables:
        bad = con.execute("SELECT list(DISTINCT month)[1:5], count(*) FROM uc_households_msoa11 "
                          "WHERE NOT regexp_full_match(month, '(19|20)[0-9]{2}-(0[1-9]|1[0-2])')").fetchall()[0]
        if bad[1]:
            raise DataError(f"uc_households_msoa11: {bad[1]} row(s) have a month not in YYYY-MM form: "
                            f"{examples(bad[0])}")
    if "fuel_poverty_lsoa" in tables:
        out += _check_fuel_poverty(con, tables, join_check, _note)
    return out


def _check_fuel_poverty(con: duckdb.DuckDBPyConnection, tables: set[str], join_check, note) -> list[str]:  # noqa: ANN001
    t = "fuel_poverty_lsoa"
    mixed = con.execute(f"SELECT year, list(DISTINCT lsoa_vintage), list(DISTINCT measure) FROM {t} GROUP BY year "
                        "HAVING count(DISTINCT lsoa_vintage) > 1 OR count(DISTINCT measure) > 1").fetchall()
    if mixed:
        y = mixed[0]
        raise DataError(f"{t}: data year {y[0]} mixes LSOA vintages {y[1]} or measures {y[2]}; each data year "
                        "comes from one workbook with one vintage and one measure")
    over = con.execute(f"SELECT count(*), list(lsoa_code || ' ' || year)[1:3] FROM {t} "
                       "WHERE fuel_poor_households > households").fetchall()[0]
    if over[0]:
        raise DataError(f"{t}: {over[0]} row(s) have more fuel-poor households than households: "
                        f"{examples(over[1])}")
    out: list[str] = []
    vintages = [r[0] for r in con.execute(f"SELECT DISTINCT lsoa_vintage FROM {t} ORDER BY 1").fetchall()]
    for v in vintages:
        ref, col = FUEL_VINTAGE_REFERENCE[v]
        if ref not in tables:
            continue
        unmatched, _ = join_check(con, f"vintage check {t} ({v} years)", left=t, left_key="lsoa_code",
                                  right=ref, right_key=col, left_filter=f"lsoa_vintage = '{v}'")
        if not unmatched:
            continue
        for other, (o_ref, o_col) in FUEL_VINTAGE_REFERENCE.items():
            if other == v or o_ref not in tables:
                continue
            bad = con.execute(
                f"SELECT list(DISTINCT year), list(DISTINCT lsoa_code)[1:5], count(DISTINCT lsoa_code) FROM {t} "
                f"WHERE lsoa_vintage = '{v}' AND lsoa_code NOT IN (SELECT {col} FROM {ref}) "
                f"AND lsoa_code IN (SELECT {o_col} FROM {o_ref})").fetchall()[0]
            if bad[2]:
                raise VintageError(
                    f"{t}: {bad[2]} code(s) in data year(s) {examples(sorted(bad[0]))} labelled {v} are {other} "
                    f"codes: {examples(bad[1])}. The workbook is of another LSOA vintage than its lsoa_vintage says; "
                    "fix the label or convert the codes with the ONS lookup.")
        msg = f"{t}: {unmatched} English lsoa_code value(s) of {v} years are not in {ref} (unknown codes), kept"
        note(con, t, msg)
        out.append(msg)
    return out


#: The boundaries the ward 2021 best fits are derived from, and the ``join_report`` step (after the
#: table name) that counts the LSOA points in no ward.
BESTFIT_INPUTS = ("boundaries_ward21", "boundaries_lsoa11", "boundaries_lsoa21")
BESTFIT_STEP = "LSOA interior point in WD21 ward"


def bestfit_note(table: str, n_near: int, first: list[str]) -> str:
    """The note of a best fit whose ``n_near`` LSOA points lie in no ward (``first``: the first five)."""
    more = f", ... ({n_near} in all)" if n_near > len(first) else ""
    return (f"{table}: {n_near} LSOA interior point(s) lie in no WD21 ward; nearest ward taken "
            f"({', '.join(first)}{more})")


def derive_ward21_bestfit(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Build ``bestfit_lsoa11_ward21`` and ``bestfit_lsoa21_ward21`` (see the module docstring).

    Returns warnings; records each step in ``join_report``. Needs ``boundaries_ward21`` and the
    LSOA boundaries of the vintage; absent tables mean the table is not built.
    """
    tables = _tables(con)
    if "boundaries_ward21" not in tables:
        return []
    import numpy as np
    import pandas as pd
    import shapely

    wards = con.execute("SELECT ward21_code, geometry FROM boundaries_ward21 WHERE ward21_code LIKE 'E%' "
                        "ORDER BY ward21_code").df()
    w_geom = shapely.from_wkb(wards["geometry"].map(bytes).to_numpy())
    w_codes = wards["ward21_code"].to_numpy()
    tree = shapely.STRtree(w_geom)
    out: list[str] = []
    for yy in ("11", "21"):
        table = f"boundaries_lsoa{yy}"
        if table not in tables:
            continue
        key = f"lsoa{yy}_code"
        lsoas = con.execute(f"SELECT {key}, geometry FROM {table} WHERE {key} LIKE 'E%' ORDER BY {key}").df()
        l_geom = shapely.from_wkb(lsoas["geometry"].map(bytes).to_numpy())
        l_codes = lsoas[key].to_numpy()
        pts = shapely.point_on_surface(l_geom)
        pi, wi = tree.query(pts, predicate="within")
        # a point on a shared edge can lie in two wards: keep the lowest ward code (they are sorted)
        first = pd.DataFrame({"p": pi, "w": wi}).sort_values(["p", "w"]).drop_duplicates("p")
        ward_of = np.full(len(pts), -1)
        ward_of[first["p"].to_numpy()] = first["w"].to_numpy()
        method = np.where(ward_of >= 0, "interior_point", "nearest")
        missing = np.flatnonzero(ward_of < 0)
        if len(missing):
            npi, nwi = tree.query_nearest(pts[missing], all_matches=False)
            ward_of[missing[npi]] = nwi
        frame = pd.DataFrame({key: l_codes, "ward21_code": w_codes[ward_of], "method": method})
        # wards no LSOA point fell in: the LSOA holding the ward's own interior point
        empty = np.setdiff1d(np.arange(len(w_codes)), ward_of)
        orphans = pd.DataFrame(columns=[key, "ward21_code", "method"])
        if len(empty):
            l_tree = shapely.STRtree(l_geom)
            wpts = shapely.point_on_surface(w_geom[empty])
            opi, oli = l_tree.query(wpts, predicate="within")
            hit = pd.DataFrame({"p": opi, "l": oli}).sort_values(["p", "l"]).drop_duplicates("p")
            lsoa_of = np.full(len(empty), -1)
            lsoa_of[hit["p"].to_numpy()] = hit["l"].to_numpy()
            gone = np.flatnonzero(lsoa_of < 0)
            if len(gone):
                gpi, gli = l_tree.query_nearest(wpts[gone], all_matches=False)
                lsoa_of[gone[gpi]] = gli
            orphans = pd.DataFrame({key: l_codes[lsoa_of], "ward21_code": w_codes[empty],
                                    "method": "ward_interior_point"})
        result = pd.concat([frame, orphans], ignore_index=True).sort_values([key, "ward21_code"])
        con.register("_bestfit", result)
        con.execute(f"CREATE OR REPLACE TABLE bestfit_lsoa{yy}_ward21 AS SELECT * FROM _bestfit")
        con.unregister("_bestfit")
        n_near = int((method == "nearest").sum())
        con.execute("INSERT INTO join_report VALUES (?,?,?,?,?,?,?)", [
            f"bestfit_lsoa{yy}_ward21: {BESTFIT_STEP}", table, "boundaries_ward21",
            len(l_codes), len(l_codes) - n_near, n_near,
            ", ".join(l_codes[method == "nearest"][:5]),
        ])
        con.execute("INSERT INTO join_report VALUES (?,?,?,?,?,?,?)", [
            f"bestfit_lsoa{yy}_ward21: English WD21 wards holding an LSOA point", "boundaries_ward21", table,
            len(w_codes), len(w_codes) - len(empty), len(empty), ", ".join(w_codes[empty][:5]),
        ])
        if n_near:
            out.append(bestfit_note(f"bestfit_lsoa{yy}_ward21", n_near, list(l_codes[method == "nearest"][:5])))
    return out
