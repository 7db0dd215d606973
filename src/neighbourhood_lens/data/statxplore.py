"""DWP Stat-Xplore CSV exports: read the export layout, then name areas by code.

Stat-Xplore (https://stat-xplore.dwp.gov.uk/) has no fixed file address: a user builds a table
(*Children in Low Income Families: Relative Low Income* by MSOA and year; *Households on Universal
Credit* by MSOA and month) and exports it as CSV. The export is not a tidy table:

* a title block (``Stat-Xplore``, the table title, ``Counting: ...`` and ``Filters:`` lines),
  absent when the user trimmed it;
* a header row whose first cell is the column dimension (``Year`` or ``Month``), then one column
  per financial year (``2014/15``, ``2021/22 (p)``) or month (``August 2015``, ``December 2022 (r)``,
  ``November 2023 (p)``), each followed by a ``... - Annotations`` column;
* a row naming the geography (``National - Regional - LA - OAs (GB)``);
* one row per area, by **name** (ONS MSOA 2011 names, e.g. ``County Durham 002``; Welsh MSOAs and
  Scottish intermediate zones follow the English ones), ``..`` for nil or negligible;
* ``Unknown`` and ``Total`` rows, then footnotes (disclosure control, symbols, source).

:func:`read_export` turns that into the mirror's long layout, still by name
(``msoa11_name, year, financial_year, status, children_relative_low_income`` or
``msoa11_name, month, status, households_on_uc``): ``status`` is the ``(p)``/``(r)`` mark of the
column (provisional, revised) or null, ``year`` is the financial year ending (2015 for 2014/15),
``month`` is ``YYYY-MM``, and ``..`` is null. :func:`add_msoa11_codes` then maps the names to
``msoa11_code`` with the warehouse's ``lookup_lsoa11_msoa11`` names: every English name must match
(an unmatched name in the ONS ``<LAD> NNN`` form is an error listing them); Welsh MSOAs and Scottish
intermediate zones are left out, counted in a note, as are the ``Unknown`` and ``Total`` rows.
The build does the mapping, where the lookup is loaded (:mod:`.build`); a download is cached by name.

References
----------
DWP, *Children in low income families: local area statistics*,
https://www.gov.uk/government/collections/children-in-low-income-families-local-area-statistics;
DWP, *Universal Credit statistics*, Stat-Xplore dataset "Households on Universal Credit". ONS MSOA
2011 names as in the ONS OA/LSOA/MSOA 2011 lookup (official-sources.md, section 8: all 6,791
English names match exactly).
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

import pyarrow as pa

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, examples

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["STATXPLORE_DATASETS", "is_export", "read_export", "add_msoa11_codes", "needs_codes"]

#: Dataset id -> (column dimension, value column) of the Stat-Xplore series the warehouse holds.
STATXPLORE_DATASETS = {
    "children_low_income_msoa11": ("year", "children_relative_low_income"),
    "uc_households_msoa11": ("month", "households_on_uc"),
}
_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"), start=1)}
_MAX_BYTES = 200 << 20  # an MSOA x month export is about 2 MB; refuse anything absurd before parsing
_NOT_AREAS = ("Unknown", "Total")


def is_export(data: bytes) -> bool:
    """Whether ``data`` looks like a Stat-Xplore CSV export (a title block or ``- Annotations`` columns)."""
    head = data[:20_000].decode("utf-8-sig", errors="replace")
    return head.lstrip().startswith("Stat-Xplore") or " - Annotations" in head


def _label(text: str, dimension: str, where: str) -> tuple[str, str | None, str | None]:
    """A column label -> (period, financial_year or None, status): ``2021/22 (p)`` ->
    ``("2022", "2021/22", "p")``; ``August 2015 (r)`` -> ``("2015-08", None, "r")``."""
    m = re.fullmatch(r"\s*(.*?)\s*(?:\((p|r)\))?\s*", text)
    body, status = (m.group(1), m.group(2)) if m else (text, None)
    if dimension == "year":
        fy = re.fullmatch(r"(\d{4})/(\d{2})", body)
        if fy and (int(fy.group(1)) + 1) % 100 == int(fy.group(2)):
            return str(int(fy.group(1)) + 1), body, status
        raise DataError(f"{where}: column {text!r} is not a financial year like 2014/15 (or 2021/22 (p))")
    mo = re.fullmatch(r"([A-Za-z]+)\s+(\d{4})", body)
    if mo and mo.group(1).lower() in _MONTHS:
        return f"{mo.group(2)}-{_MONTHS[mo.group(1).lower()]:02d}", None, status
    raise DataError(f"{where}: column {text!r} is not a month like August 2015 (or December 2022 (r))")


def read_export(data: bytes, dataset_id: str, *, where: str) -> pa.Table:
    """Read a Stat-Xplore CSV export (see the module docstring) into the long layout, by area name.

    Raises :class:`DataError` naming ``where`` when the header row, a column label or a value does
    not fit (for example an export by another geography, or by quarter instead of month).
    """
    import numpy as np
    import pandas as pd

    dimension, value = STATXPLORE_DATASETS[dataset_id]
    if len(data) > _MAX_BYTES:
        raise DataError(f"{where}: {len(data):,} bytes is far larger than a Stat-Xplore MSOA export; not read")
    text = data.decode("utf-8-sig", errors="strict") if _utf8(data) else data.decode("cp1252")
    rows = list(csv.reader(io.StringIO(text)))
    head = next((i for i, r in enumerate(rows) if len(r) > 1 and any(c.endswith(" - Annotations") for c in r)), None)
    if head is None:
        raise DataError(f"{where}: no Stat-Xplore header row (a row of {dimension}s with ' - Annotations' columns); "
                        "export the table from Stat-Xplore as CSV with the areas in rows")
    header = rows[head]
    if header[0].strip().lower() != dimension:
        raise DataError(f"{where}: the columns are by {header[0]!r}, but {dataset_id} needs them by {dimension.title()}"
                        f" (put {dimension.title()} in the columns of the Stat-Xplore table)")
    cols = [j for j, c in enumerate(header) if j and c.strip() and not c.endswith(" - Annotations")]
    labels = [_label(header[j], dimension, where) for j in cols]
    body = rows[head + 1:]
    if body and not any(c.strip() for c in body[0][1:]):
        body = body[1:]  # the geography label row
    end = next((i for i, r in enumerate(body) if not r or not r[0].strip()), len(body))
    body = body[:end]  # the footnotes follow a blank line
    if "Total" in (r[0] for r in body):
        body = body[:[r[0] for r in body].index("Total") + 1]
    width = max(cols) + 1
    grid = pd.DataFrame([(r + [""] * width)[:width] for r in body])
    names = grid[0].str.strip()
    dropped = isin(names, _NOT_AREAS)
    grid, names = grid[~dropped], names[~dropped]
    if grid.empty:
        raise DataError(f"{where}: the export has a header but no area rows")
    # Scottish intermediate zone names repeat across councils (Tollcross, City Centre East): English
    # names are checked for repeats when they are mapped to codes (add_msoa11_codes)
    values = grid[cols].apply(lambda s: s.str.strip().str.replace(",", "", regex=False))
    values.columns = range(len(cols))
    long = values.melt(ignore_index=False, var_name="col", value_name="raw")
    long["msoa11_name"] = names.loc[long.index].to_numpy()
    nil = isin(long["raw"], ("..", ""))
    numbers = pd.to_numeric(long["raw"].where(~nil), errors="coerce")
    bad = long.loc[numbers.isna() & ~nil, "raw"]
    if len(bad):
        raise DataError(f"{where}: {len(bad):,} value(s) are not counts or '..': {examples(bad.unique())}")
    given = numbers.dropna()
    if ((given < 0) | (given % 1 != 0)).any():
        raise DataError(f"{where}: counts must be whole numbers of at least 0")
    col = long["col"].to_numpy(dtype="int64")
    period, fyear, status = (pd.Series(np.array([lab[i] for lab in labels], dtype=object)[col]) for i in range(3))
    out = {"msoa11_name": long["msoa11_name"].to_numpy()}
    if dimension == "year":
        out |= {"year": period.astype("int64"), "financial_year": fyear}
    else:
        out |= {"month": period}
    out |= {"status": status, value: numbers.astype("Int64").array}
    frame = pd.DataFrame(out).sort_values(["msoa11_name", dimension], kind="stable").reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    note = (f"Stat-Xplore export read: {len(names):,} areas x {len(cols)} {dimension}s; "
            f"{int(nil.sum()):,} '..' (nil or negligible) values are null; the Unknown and Total rows left out")
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"nlens_note_statxplore_0": note.encode()})


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def needs_codes(table: pa.Table, dataset_id: str) -> bool:
    """Whether ``table`` is a Stat-Xplore series still named by area (read by :func:`read_export`)."""
    return dataset_id in STATXPLORE_DATASETS and "msoa11_code" not in table.column_names \
        and "msoa11_name" in table.column_names


def add_msoa11_codes(table: pa.Table, names: pd.DataFrame, *, dataset_id: str, where: str) -> pa.Table:
    """Add ``msoa11_code`` to a series read by :func:`read_export`, keeping the English MSOAs.

    ``names`` has ``msoa11_code, msoa11_name`` (the warehouse's ``lookup_lsoa11_msoa11``). Names of
    Welsh MSOAs (``W02``), Scottish intermediate zones (``S02`` in the lookup, or any name not in the
    ONS ``<LAD> NNN`` form) are left out and counted in a note. A name in that form with no match (an
    English MSOA missing, a misspelling, MSOA 2021 names) is a :class:`DataError` listing them; two
    codes for one English name also.
    """
    frame = table.to_pandas()
    lookup = names[["msoa11_code", "msoa11_name"]].drop_duplicates()
    country = lookup["msoa11_code"].str[0]
    english = lookup[country == "E"]
    twice = english[english["msoa11_name"].duplicated(keep=False)]
    if len(twice):
        raise DataError(f"lookup_lsoa11_msoa11: English MSOA name(s) with two codes: {examples(twice['msoa11_name'])}")
    code = frame["msoa11_name"].map(english.set_index("msoa11_name")["msoa11_code"])
    other = set(lookup.loc[country != "E", "msoa11_name"])
    areas = frame.drop_duplicates("msoa11_name")["msoa11_name"]
    matched = set(frame.loc[code.notna(), "msoa11_name"])
    unmatched = areas[~isin(areas, matched) & ~isin(areas, other)]
    msoa_like = unmatched[unmatched.str.contains(r" \d{3}$", regex=True)]
    if len(msoa_like):
        raise DataError(f"{where}: {len(msoa_like):,} area name(s) match no English MSOA 2011 name of "
                        f"lookup_lsoa11_msoa11: {examples(msoa_like.tolist())}. The export must be by MSOA 2011 "
                        "('National - Regional - LA - OAs'), with the ONS names unchanged")
    if not matched:
        raise DataError(f"{where}: no area name matches an English MSOA 2011 name; is the export by MSOA?")
    welsh = set(lookup.loc[country == "W", "msoa11_name"])
    left = areas[~isin(areas, matched)]
    n_welsh = int(isin(left, welsh).sum())
    n_other = len(left) - n_welsh
    out = frame.assign(msoa11_code=code)[code.notna()]
    dimension, value = STATXPLORE_DATASETS[dataset_id]
    rep = out.loc[out.duplicated(["msoa11_code", dimension]), "msoa11_name"].unique()
    if len(rep):
        raise DataError(f"{where}: {len(rep):,} English MSOA name(s) appear in more than one row: {examples(rep)}")
    order = ["msoa11_code", "msoa11_name", *(["year", "financial_year"] if dimension == "year" else ["month"]),
             "status", value]
    out = out[order].sort_values(["msoa11_code", dimension], kind="stable").reset_index(drop=True)
    result = pa.Table.from_pandas(out, preserve_index=False)
    note = (f"area names mapped to msoa11_code with lookup_lsoa11_msoa11: {len(matched):,} English MSOAs; left out "
            f"{n_welsh:,} Welsh MSOA(s) and {n_other:,} Scottish intermediate zone(s) or other non-English areas"
            + (f" (e.g. {examples(left[~isin(left, welsh)].tolist(), limit=3)})" if n_other else ""))
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k.startswith(b"nlens_note")}
    return result.replace_schema_metadata({**meta, b"nlens_note_statxplore_1": note.encode()})
