"""Publisher layouts that are not one row per area: reshape them to the warehouse's long tables.

Most official files need only their headers renamed (:mod:`.normalise`). Two outcome tables
arrive in another shape:

* **Insolvency Service, ward table** (2022 release, one CSV): wide, ``ward_code, ward_name,
  insolvency_type`` then one column per calendar year (``2012`` ... ``2022``), types
  ``Bankruptcy``, ``DRO``, ``IVA``, ``Total``. :func:`insolvencies_long` melts it to
  ``year, ward21_code, ward21_name, type, count`` (``type`` lower case), the mirror's layout.
* **DESNZ sub-regional fuel poverty** (one workbook per data year): sheet ``Table 3`` with the
  header in row 3 (``LSOA Code, LSOA Name, LA Code, LA Name, Region``, the number of households,
  the number of fuel-poor households, ``Proportion of households fuel poor (%)``); the 2011
  workbook has sheet ``LSOA``, LSOA 2001 codes and the share as a fraction. The wording of the
  two count headers changes from year to year. :func:`fuel_poverty_year` turns one workbook into
  ``year, measure, lsoa_vintage, lsoa_code, households, fuel_poor_households, fuel_poor_share``.
  The data year comes from the sources file (``year = 2019`` on each part), and decides the
  measure (LIHC to 2018, LILEE from 2019) and the LSOA vintage (2001 codes for 2011, 2011 codes
  for 2012-2020, 2021 codes from 2021), as DESNZ documents them. ``fuel_poor_share`` is
  ``fuel_poor_households / households`` (0-1), recomputed from the counts rather than read
  from the rounded published percentage.

:func:`reshape` applies the right one when a table is in the publisher's shape and leaves a
table already in the long layout (the mirror's) alone.

References
----------
Insolvency Service, *Individual insolvencies by location, age and gender, England and Wales,
2022*, table "Individual Insolvency Statistics by Ward, England and Wales, 2012 to 2022".
DESNZ, *Sub-regional fuel poverty statistics*, methodology and documentation (measure change
from LIHC to LILEE with the 2019 data).
"""

from __future__ import annotations

import re

import pyarrow as pa

from neighbourhood_lens.errors import DataError, examples

__all__ = ["reshape", "insolvencies_long", "fuel_poverty_year", "fuel_measure", "fuel_vintage"]


def fuel_measure(year: int) -> str:
    """The fuel poverty measure of a data year: LIHC to 2018, LILEE from 2019.

    >>> fuel_measure(2018), fuel_measure(2019)
    ('LIHC', 'LILEE')
    """
    return "LIHC" if year <= 2018 else "LILEE"


def fuel_vintage(year: int) -> str:
    """The LSOA vintage of a fuel poverty data year.

    >>> fuel_vintage(2011), fuel_vintage(2020), fuel_vintage(2021)
    ('lsoa01', 'lsoa11', 'lsoa21')
    """
    return "lsoa01" if year <= 2011 else "lsoa11" if year <= 2020 else "lsoa21"


def _low(name: str) -> str:
    return re.sub(r"\s+", " ", str(name).strip().lower())


def insolvencies_long(table: pa.Table, *, where: str) -> pa.Table:
    """The Insolvency Service's wide ward table as ``year, ward21_code, ward21_name, type, count``."""
    import pandas as pd

    frame = table.to_pandas()
    cols = {_low(c): c for c in frame.columns}
    need = ("ward_code", "ward_name", "insolvency_type")
    missing = [c for c in need if c not in cols]
    if missing:
        raise DataError(f"{where}: the insolvency ward table needs columns {', '.join(need)}; missing "
                        f"{', '.join(missing)} (found {examples(list(frame.columns))})")
    years = [c for c in frame.columns if re.fullmatch(r"\d{4}", str(c).strip())]
    if not years:
        raise DataError(f"{where}: no year columns (2012, 2013, ...) in the insolvency ward table")
    long = frame.melt(id_vars=[cols[c] for c in need], value_vars=years, var_name="year", value_name="count")
    counts = pd.to_numeric(long["count"], errors="coerce")
    bad = long["count"].notna() & counts.isna()
    if bad.any():
        raise DataError(f"{where}: {int(bad.sum())} insolvency count(s) are not numbers, e.g. "
                        f"{examples(long.loc[bad, 'count'].astype(str).tolist())}")
    out = pd.DataFrame({
        "year": long["year"].astype(str).str.strip().astype("int64"),
        "ward21_code": long[cols["ward_code"]].astype("string").str.strip(),
        "ward21_name": long[cols["ward_name"]].astype("string"),
        "type": long[cols["insolvency_type"]].astype("string").str.strip().str.lower(),
        "count": counts.astype("Int64"),
    }).sort_values(["year", "ward21_code", "type"], kind="stable")
    return pa.Table.from_pandas(out, preserve_index=False)


def _pick(cols: list[str], *, want: tuple[str, ...], avoid: tuple[str, ...], what: str, where: str) -> str:
    hits = [c for c in cols if all(w in _low(c) for w in want) and not any(a in _low(c) for a in avoid)]
    if len(hits) != 1:
        raise DataError(f"{where}: cannot tell which column is {what} (candidates {examples(hits) or 'none'}; "
                        f"headers {examples(cols, limit=10)})")
    return hits[0]


def fuel_poverty_year(table: pa.Table, *, year: int, where: str) -> pa.Table:
    """One DESNZ fuel poverty workbook (its LSOA sheet) as the long table's rows for ``year``."""
    import pandas as pd

    frame = table.to_pandas()
    cols = [str(c) for c in frame.columns]
    frame.columns = cols
    code = _pick(cols, want=("lsoa", "code"), avoid=(), what="the LSOA code", where=where)
    fuel = ("fuel poor", "fuel poverty")
    households = _pick(cols, want=("households",), avoid=(*fuel, "proportion", "%"), what="the households",
                       where=where)
    poor = [c for c in cols if any(f in _low(c) for f in fuel) and "proportion" not in _low(c) and "%" not in c]
    if len(poor) != 1:
        raise DataError(f"{where}: cannot tell which column is the fuel-poor households (candidates "
                        f"{examples(poor) or 'none'})")
    frame = frame[frame[code].notna() & frame[code].astype(str).str.match(r"^[EW]\d{8}$")]  # footnotes, totals
    n = pd.to_numeric(frame[households], errors="coerce")
    fp = pd.to_numeric(frame[poor[0]], errors="coerce")
    if n.isna().any() or fp.isna().any():
        raise DataError(f"{where}: {int(n.isna().sum() + fp.isna().sum())} household count(s) are not numbers")
    out = pd.DataFrame({
        "year": year, "measure": fuel_measure(year), "lsoa_vintage": fuel_vintage(year),
        "lsoa_code": frame[code].astype("string").str.strip(),
        "households": n.round().astype("int64"), "fuel_poor_households": fp.round().astype("int64"),
    })
    out["fuel_poor_share"] = out["fuel_poor_households"] / out["households"]
    return pa.Table.from_pandas(out.reset_index(drop=True), preserve_index=False)


def reshape(table: pa.Table, dataset_id: str, *, year: int | None = None, where: str = "") -> pa.Table:
    """Reshape ``table`` from its publisher's layout to the warehouse's, where the layout needs it."""
    names = {_low(c) for c in table.column_names}
    if dataset_id == "insolvencies_ward" and "insolvency_type" in names:
        return insolvencies_long(table, where=where)
    if dataset_id == "fuel_poverty_lsoa" and "lsoa_vintage" not in names:
        if year is None:
            raise DataError(f"{where}: a DESNZ fuel poverty workbook covers one data year; say which with "
                            "`year = YYYY` on its part in the sources file")
        return fuel_poverty_year(table, year=year, where=where)
    return table
