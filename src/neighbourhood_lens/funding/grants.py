"""Reading and validating grants files: 360Giving CSV/XLSX/JSON and simple allocation tables.

Two input forms are recognised from the header:

``360giving``
    The 360Giving Data Standard, spreadsheet column titles (``Identifier``, ``Title``,
    ``Currency``, ``Amount Awarded``, ``Award Date``, ``Recipient Org:0:Identifier``,
    ``Recipient Org:0:Postal Code``, ``Beneficiary Location:0:Geographic Code``,
    ``Beneficiary Location:0:Geographic Code Type``, ``Grant Programme:0:Title``), or the
    standard's JSON package (``{"grants": [{"id", "amountAwarded", "beneficiaryLocation": [...]}]}``).
    Only the first (``:0:``) beneficiary location and recipient are used.
``allocation``
    A simple table: an area code column (``area_code``, ``code``, ``lad_code`` ...), an amount
    column (``amount``, ``amount_gbp``, ``allocation``), optionally ``programme`` and ``period``.

Rows are numbered as a spreadsheet user sees them: the header is row 1, the first grant
row 2 (JSON: the first grant is row 1). Bad rows are *rejected* with a reason, never dropped:
non-numeric, empty, negative or implausible (infinite, over £1 trillion) amounts, non-GBP
currencies, duplicate identifiers (the first occurrence is kept) and award dates that do not
parse. Whole-file problems (empty file, not
UTF-8, a header that is neither form) raise :class:`~neighbourhood_lens.errors.DataError`.

References
----------
360Giving (2024), *360Giving Data Standard*, schema and spreadsheet template,
https://standard.threesixtygiving.org/.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError, SchemaError, examples

__all__ = ["MAX_COLUMNS", "MAX_JSON_DEPTH", "csv_header", "json_depth",
           "GrantsInput", "GRANT_COLUMNS", "SYNTHETIC_COLUMNS", "read_grants", "validate_grants", "synthetic_grants",
           "write_grants"]

#: Largest amount accepted for one row (GBP); larger values, and infinities, are rejected.
MAX_AMOUNT_GBP = 1e12

#: Most columns accepted in a header (the 360Giving template has about 60).
MAX_COLUMNS = 1000
#: Most rows a workbook sheet may declare (a 10 MB upload holds far fewer grants).
MAX_XLSX_ROWS = 500_000
#: Most cells read from a workbook sheet (rows x header width).
MAX_XLSX_CELLS = 20_000_000
#: Deepest JSON nesting accepted (a 360Giving package nests about 5 levels).
MAX_JSON_DEPTH = 32
#: A JSON string: a quote, then ordinary bytes or escapes (a backslash and the byte after it), then a quote.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)

#: Columns of :attr:`GrantsInput.grants`.
GRANT_COLUMNS = [
    "row", "identifier", "title", "currency", "amount_gbp", "award_date", "recipient_org_id",
    "postcode", "geo_code", "geo_code_type", "programme", "period",
]

_360G_COLUMNS = {
    "identifier": "identifier",
    "title": "title",
    "currency": "currency",
    "amount awarded": "amount",
    "award date": "award_date",
    "recipient org:0:identifier": "recipient_org_id",
    "recipient org:0:postal code": "postcode",
    "beneficiary location:0:geographic code": "geo_code",
    "beneficiary location:0:geographic code type": "geo_code_type",
    "grant programme:0:title": "programme",
}
_ALLOC_CODE = ("area_code", "code", "area code", "geography_code", "geo_code", "gss_code", "ons_code",
               "lad_code", "la_code", "lad24_code", "lad19_code", "lsoa11_code", "lsoa21_code")
_ALLOC_AMOUNT = ("amount", "amount_gbp", "allocation", "allocation_gbp", "value_gbp")


@dataclass
class GrantsInput:
    """A grants file read and checked.

    ``grants`` holds the valid rows (:data:`GRANT_COLUMNS`; ``amount_gbp`` float, the rest
    strings, empty string when absent). ``rejected`` holds the bad rows:
    ``row, identifier, amount, reason``. ``rows_read`` is the number of data rows in the file,
    counted when it was read (independently of the validation), so that
    ``rows_in = len(grants) + len(rejected)`` is a check, not an identity.
    """

    grants: pd.DataFrame
    rejected: pd.DataFrame
    form: str
    source: str
    notes: list[str] = field(default_factory=list)
    rows_read: int | None = None

    @property
    def rows_in(self) -> int:
        """Data rows in the file (``rows_read``; for a frame built by hand, grants + rejected)."""
        return len(self.grants) + len(self.rejected) if self.rows_read is None else self.rows_read


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", str(name).strip().lower())


def _decode(data: bytes, name: str, encoding: str | None) -> bytes:
    """UTF-8 bytes of a text file (BOM removed), or a DataError naming the first bad byte."""
    if encoding and encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
        try:
            return data.decode(encoding).encode("utf-8")
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(f"{name}: cannot decode as {encoding}: {exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{name}: not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} (position {exc.start}). "
            "Save the file as UTF-8 (Excel: 'CSV UTF-8'), or give its encoding (--encoding cp1252)."
        ) from None
    return data


def csv_header(data: bytes, name: str) -> list[str]:
    """The header of a CSV file, checked in linear time before any parsing.

    Refuses a header with more than :data:`MAX_COLUMNS` fields (counted on the raw first line,
    so a header of a million empty columns is refused at once), drops blank *trailing* titles
    (a common spreadsheet export) and refuses repeated or blank titles elsewhere.

    >>> csv_header(b"Identifier,Amount Awarded,,\\n1,2,,\\n", "g.csv")
    ['Identifier', 'Amount Awarded']
    >>> csv_header(b"a,b,a\\n", "g.csv")
    Traceback (most recent call last):
    ...
    neighbourhood_lens.errors.SchemaError: g.csv: repeated column(s) in the header: a; give each column once
    """
    import csv
    from collections import Counter

    end = data.find(b"\n")
    line = data[: end if end >= 0 else len(data)]
    n_fields = line.count(b",") + 1
    if n_fields > MAX_COLUMNS:
        raise SchemaError(f"{name}: the header row has {n_fields:,} columns; at most {MAX_COLUMNS:,} are accepted. "
                          "Delete the empty columns to the right of the data and save the file again.")
    try:
        first = line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise DataError(f"{name}: the header row is not UTF-8 text; save the file as CSV UTF-8") from None
    header = next(csv.reader([first]), [])
    while header and not header[-1].strip():
        header.pop()
    counts = Counter(header)
    dup = sorted(h for h, k in counts.items() if k > 1 and h.strip())
    if dup:
        raise SchemaError(f"{name}: repeated column(s) in the header: {examples(dup)}; give each column once")
    blank = [i + 1 for i, h in enumerate(header) if not h.strip()]
    if blank:
        raise SchemaError(f"{name}: column(s) {examples(blank)} of the header have no title; give every column "
                          "with data a title, or delete it")
    return header


def _read_csv(data: bytes, name: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = csv_header(data, name)
    end = data.find(b"\n")
    width = data[: end if end >= 0 else len(data)].count(b",") + 1
    names = header + [f"__blank_{i}" for i in range(len(header), width)]  # blank trailing titles: ignored
    known = set(_360G_COLUMNS) | set(_ALLOC_CODE) | set(_ALLOC_AMOUNT) | {"programme", "period", "currency"}
    keep = [h for h in header if _key(h) in known] or header  # skip descriptions etc.: less to read
    ragged: list[str] = []

    def bad_row(row: pacsv.InvalidRow) -> str:
        ragged.append(f"row {row.number} has {row.actual_columns} fields, not {row.expected_columns}: "
                      f"{row.text[:80]!r}")
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            # single-threaded so that row numbers are known; the checked header replaces the file's
            read_options=pacsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(invalid_row_handler=bad_row),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in keep}, strings_can_be_null=False,
                quoted_strings_can_be_null=False, include_columns=keep,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise DataError(f"{name}: not a readable CSV file: {exc}") from None
    if ragged:
        raise DataError(f"{name}: {len(ragged)} row(s) do not have one field per header column: "
                        f"{'; '.join(ragged[:3])}. Quote fields that contain commas.")
    return table.to_pandas()


def json_depth(data: bytes) -> int:
    """The deepest nesting of objects and arrays in a JSON text, counted in linear time.

    Strings are blanked first (so brackets inside them do not count), then the running depth
    is a cumulative sum over the bracket bytes.

    >>> json_depth(b'{"grants": [{"a": "[[["}]}'), json_depth(b'[]'), json_depth(b'1')
    (3, 1, 0)
    """
    body = _JSON_STRING.sub(b'""', data)
    raw = np.frombuffer(body, dtype=np.uint8)
    step = np.isin(raw, _OPEN).astype(np.int32) - np.isin(raw, _CLOSE).astype(np.int32)
    return int(np.cumsum(step).max()) if len(step) else 0


def _read_json(data: bytes, name: str) -> pd.DataFrame:
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise DataError(f"{name}: JSON nested {depth:,} levels deep; a 360Giving package needs at most "
                        f"{MAX_JSON_DEPTH}. Upload the 360Giving JSON package as published.")
    try:
        doc = json.loads(data)
    except RecursionError:
        raise DataError(f"{name}: JSON nested too deeply to read") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}: not valid JSON: {exc}") from None
    grants = doc.get("grants") if isinstance(doc, dict) else None
    if not isinstance(grants, list):
        raise SchemaError(
            f"{name}: not a 360Giving JSON package: expected an object with a 'grants' list; "
            f"found {type(doc).__name__} with keys {examples(list(doc)[:10]) if isinstance(doc, dict) else '-'}"
        )

    def first(g: dict, key: str, sub: str) -> object:
        items = g.get(key) or [{}]
        item = items[0] if isinstance(items, list) and items else items  # the standard's list, or one object
        return item.get(sub, "") if isinstance(item, dict) else ""

    # A grant that is not a JSON object keeps its row (and is rejected by its empty amount and
    # identifier), so no entry is dropped and row numbers stay the grant's position in the list.
    rows = [
        {
            "identifier": g.get("id", ""), "title": g.get("title", ""), "currency": g.get("currency", ""),
            "amount": g.get("amountAwarded", ""), "award_date": g.get("awardDate", ""),
            "recipient_org_id": first(g, "recipientOrganization", "id"),
            "postcode": first(g, "recipientOrganization", "postalCode"),
            "geo_code": first(g, "beneficiaryLocation", "geoCode"),
            "geo_code_type": first(g, "beneficiaryLocation", "geoCodeType"),
            "programme": first(g, "grantProgramme", "title"),
        }
        if isinstance(g, dict) else {}
        for g in grants
    ]
    frame = pd.DataFrame(rows, columns=list(_360G_COLUMNS.values()), dtype=object).fillna("").astype(str)
    frame.insert(0, "row", np.arange(1, len(frame) + 1))
    return frame


def _read_xlsx(data: bytes, name: str) -> pd.DataFrame:
    """The first sheet of a workbook as text, streamed with openpyxl in read-only mode.

    A sheet whose declared dimension is over :data:`MAX_COLUMNS` columns or
    :data:`MAX_XLSX_ROWS` rows is refused before any row is read; rows are read only as wide
    as the header (never padded to the sheet's last column); blank trailing header cells are
    ignored. Before openpyxl opens it, the archive is checked (:func:`..archives.check_zip`): at
    most 100 members and 50 MB unpacked, declared and actually read, so a zip bomb is refused.
    """
    import openpyxl

    from neighbourhood_lens.archives import check_zip

    check_zip(data, name=name)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        n_rows, n_cols = sheet.max_row, sheet.max_column
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise DataError(f"{name}: not a readable .xlsx workbook: {str(exc)[:200]}") from None
    if (n_cols or 0) > MAX_COLUMNS or (n_rows or 0) > MAX_XLSX_ROWS:
        raise SchemaError(
            f"{name}: the sheet {sheet.title!r} declares {n_rows or 0:,} rows x {n_cols or 0:,} columns; at most "
            f"{MAX_XLSX_ROWS:,} rows and {MAX_COLUMNS:,} columns are accepted. Delete the empty rows and columns "
            "beyond the data (select them, Delete) and save the workbook again.")
    try:
        rows = sheet.iter_rows(values_only=True, max_col=min(n_cols or MAX_COLUMNS, MAX_COLUMNS))
        first = list(next(rows, ()))
        while first and (first[-1] is None or not str(first[-1]).strip()):
            first.pop()
        header = ["" if v is None else str(v) for v in first]
        width = len(header)
        limit = min(MAX_XLSX_ROWS, MAX_XLSX_CELLS // max(width, 1))
        body = [["" if v is None else str(v) for v in row[:width]]
                for row in itertools.islice(sheet.iter_rows(min_row=2, max_col=width, values_only=True), limit + 1)]
        if len(body) > limit:  # a sheet without (or with a false) dimension: stop at the cap, not at the end
            raise SchemaError(f"{name}: the sheet {sheet.title!r} has more than {limit:,} rows of {width} columns; "
                              "split the workbook or save it as CSV")
    except Exception as exc:
        raise DataError(f"{name}: not a readable .xlsx workbook: {str(exc)[:200]}") from None
    finally:
        book.close()
    blank = [i + 1 for i, h in enumerate(header) if not h.strip()]
    if blank:
        raise SchemaError(f"{name}: column(s) {examples(blank)} of the header have no title; give every column "
                          "with data a title, or delete it")
    while body and not any(v.strip() for v in body[-1]):
        body.pop()  # trailing empty rows, as pandas' reader drops them
    return pd.DataFrame(body, columns=header, dtype=object).fillna("").astype(str)


def _standardise(raw: pd.DataFrame, name: str) -> tuple[pd.DataFrame, str]:
    """Rename a raw table's columns to the internal names and decide its form."""
    keys = {_key(c): c for c in raw.columns}
    if "amount awarded" in keys:
        if "identifier" not in keys:
            raise SchemaError(f"{name}: 360Giving file without an 'Identifier' column; the standard requires it")
        if not {"beneficiary location:0:geographic code", "recipient org:0:postal code"} & set(keys):
            raise SchemaError(
                f"{name}: no location column: add 'Beneficiary Location:0:Geographic Code' "
                "(LSOA, MSOA, ward, local authority or region code) or 'Recipient Org:0:Postal Code'"
            )
        out = pd.DataFrame({new: raw[keys[k]] for k, new in _360G_COLUMNS.items() if k in keys})
        return out, "360giving"
    code = next((keys[k] for k in _ALLOC_CODE if k in keys), None)
    amount = next((keys[k] for k in _ALLOC_AMOUNT if k in keys), None)
    known = [keys[k] for k in _360G_COLUMNS if k in keys]
    if (code is None or amount is None) and (len(known) >= 2 or any(":0:" in k for k in keys)):
        missing = [t for t in ("Identifier", "Amount Awarded") if t.lower() not in keys]
        if not any(k in keys for k in ("beneficiary location:0:geographic code", "recipient org:0:postal code")):
            missing.append("Beneficiary Location:0:Geographic Code or Recipient Org:0:Postal Code")
        raise SchemaError(
            f"{name}: a 360Giving header (it has {examples([repr(k) for k in known], limit=4)}) without the "
            f"column(s) {', '.join(repr(m) for m in missing)} that funding reach needs; add them (titles as in "
            "the 360Giving standard) or check the file is the whole export."
        )
    if code is None or amount is None:
        raise SchemaError(
            f"{name}: header is not 360Giving: found columns {examples(list(raw.columns), limit=8)}. "
            "Expected the 360Giving titles ('Identifier', 'Amount Awarded', 'Currency', 'Award Date', "
            "'Beneficiary Location:0:Geographic Code', ...) or an allocation table with 'area_code' and "
            "'amount' (optional 'programme', 'period')."
        )
    out = pd.DataFrame({"geo_code": raw[code], "amount": raw[amount]})
    for k in ("programme", "period", "currency"):
        if k in keys:
            out[k] = raw[keys[k]]
    return out, "allocation"


def read_grants(
    source: str | Path | bytes, *, filename: str | None = None, encoding: str | None = None
) -> GrantsInput:
    """Read a grants file (``.csv``, ``.xlsx`` or ``.json``) and validate it.

    ``source`` is a path or the file's bytes (an upload); ``filename`` gives the name (and so
    the format) of bytes. Text must be UTF-8 unless ``encoding`` is given. See the module
    docstring for the forms recognised and :func:`validate_grants` for the row checks.
    """
    if isinstance(source, bytes | bytearray):
        data, name = bytes(source), filename or "upload.csv"
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"grants file {path} does not exist")
        data, name = path.read_bytes(), filename or path.name
    suffix = Path(name).suffix.lower()
    if re.match(rb"\s*\Z", data):
        raise DataError(f"{name}: the file is empty; expected a header row and at least one grant")
    if suffix in (".xlsx", ".xlsm"):
        raw = _read_xlsx(data, name)
        raw.insert(0, "__row", np.arange(2, len(raw) + 2))
    elif suffix == ".json":
        raw = _read_json(_decode(data, name, encoding), name)
        raw = raw.rename(columns={"row": "__row", **{v: k for k, v in _360G_COLUMNS.items()}})
    elif suffix in (".csv", ".txt", ""):
        raw = _read_csv(_decode(data, name, encoding), name)
        raw.insert(0, "__row", np.arange(2, len(raw) + 2))
    else:
        raise DataError(f"{name}: unknown file type {suffix!r}; use .csv, .xlsx or .json")
    if raw.empty:
        raise DataError(f"{name}: the file has a header but no grants")
    rows = raw.pop("__row").to_numpy()
    notes = []
    extra = [c for c in raw.columns if re.match(r"(beneficiary location|recipient org):[1-9]", _key(c))]
    if extra:
        notes.append(f"only the first (:0:) beneficiary location and recipient are used; ignored columns: "
                     f"{examples(extra)}")
    frame, form = _standardise(raw, name)
    frame.insert(0, "row", rows)
    grants, rejected = validate_grants(frame, form=form)
    return GrantsInput(grants=grants, rejected=rejected, form=form, source=name, notes=notes, rows_read=len(rows))


def _parse_dates(text: pd.Series) -> pd.Series:
    """ISO 8601 dates (the standard's format), falling back to day-first ``dd/mm/yyyy``."""
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    retry = parsed.isna() & (text != "")
    if retry.any():
        parsed[retry] = pd.to_datetime(text[retry], format="%d/%m/%Y", errors="coerce", utc=True)
    return parsed


def validate_grants(frame: pd.DataFrame, *, form: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split standardised rows into valid grants and rejected rows with reasons.

    ``frame`` has ``row``, ``amount`` (text) and any of the other internal columns. Returns
    ``(grants, rejected)``; every input row is in exactly one of them.

    >>> f = pd.DataFrame({"row": [2, 3, 4, 5], "identifier": ["a", "b", "a", "c"],
    ...                   "amount": ["100", "-5", "7", "£1,250.50"], "currency": ["GBP", "GBP", "", "USD"]})
    >>> ok, bad = validate_grants(f, form="360giving")
    >>> ok[["row", "amount_gbp"]].to_dict("records")
    [{'row': 2, 'amount_gbp': 100.0}]
    >>> bad["reason"].tolist()
    ["Amount Awarded is negative: '-5'", "duplicate Identifier 'a' (first at row 2)", "Currency 'USD' is not GBP"]
    """
    f = frame.copy()
    for col in GRANT_COLUMNS[1:]:
        if col not in f and col != "amount_gbp":
            f[col] = ""
        elif col in f:
            f[col] = f[col].astype(str).str.strip()
    f["amount"] = f["amount"].astype(str).str.strip()
    if form == "allocation":
        f["identifier"] = "row-" + f["row"].astype(str)
    label = "Amount Awarded" if form == "360giving" else "amount"
    amount = pd.to_numeric(f["amount"], errors="coerce").astype(float)
    retry = amount.isna() & (f["amount"] != "")
    if retry.any():  # "£1,250.50": strip the pound sign, thousands separators and spaces
        cleaned = f.loc[retry, "amount"].str.replace(r"[£,\s]", "", regex=True)
        amount[retry] = pd.to_numeric(cleaned, errors="coerce").astype(float)
    currency = f["currency"].str.upper()
    dates = _parse_dates(f["award_date"])
    first_row = f.groupby("identifier", sort=False)["row"].transform("first")
    checks: list[tuple[np.ndarray, str, str]] = [
        ((f["amount"] == "").to_numpy(), f"{label} is empty", ""),
        ((f["amount"] != "").to_numpy() & np.isnan(amount.to_numpy()), f"{label} is not a number", "amount"),
        ((amount < 0).to_numpy(), f"{label} is negative", "amount"),
        ((amount.abs() > MAX_AMOUNT_GBP).to_numpy(), f"{label} is not a plausible amount (over £1 trillion)",
         "amount"),
        (((currency != "") & (currency != "GBP")).to_numpy(), "Currency", "currency"),
        ((f["identifier"] == "").to_numpy(), "Identifier is empty", ""),
        (((f["row"] != first_row) & (f["identifier"] != "")).to_numpy(), "duplicate Identifier", "identifier"),
        (((f["award_date"] != "") & dates.isna()).to_numpy(), "Award Date does not parse", "award_date"),
    ]
    bad = np.zeros(len(f), dtype=bool)
    for mask, _, _ in checks:
        bad |= mask
    # The reasons of the bad rows, by position among them (object arrays: no index to align).
    at = np.flatnonzero(bad)
    text_of = {col: f[col].to_numpy(dtype=object)[at] for col in ("identifier", "amount", "currency", "award_date")}
    first_of = first_row.to_numpy()[at].astype(str).astype(object)
    reasons = np.full(len(at), "", dtype=object)
    for mask, text, col in checks:
        hit = mask[at]
        if not hit.any():
            continue
        if col == "currency":
            msg = "Currency '" + text_of["currency"][hit] + "' is not GBP"
        elif col == "identifier":
            msg = text + " '" + text_of["identifier"][hit] + "' (first at row " + first_of[hit] + ")"
        elif col == "award_date":
            msg = text + ": '" + text_of["award_date"][hit] + "' (use YYYY-MM-DD)"
        elif col == "amount":
            msg = text + ": '" + text_of["amount"][hit] + "'"
        else:
            msg = text
        so_far = reasons[hit]
        reasons[hit] = np.where(so_far == "", msg, so_far + "; " + msg)
    rejected = pd.DataFrame({
        "row": f["row"].to_numpy()[at], "identifier": text_of["identifier"],
        "amount": text_of["amount"], "reason": reasons.astype(str),
    })
    grants = f.loc[~bad].copy()
    grants["amount_gbp"] = amount[~bad].to_numpy()
    grants["currency"] = "GBP"
    return grants[GRANT_COLUMNS].reset_index(drop=True), rejected


#: Spreadsheet titles written by :func:`synthetic_grants`, in order.
SYNTHETIC_COLUMNS = [
    "Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date",
    "Recipient Org:0:Identifier", "Recipient Org:0:Name", "Recipient Org:0:Postal Code",
    "Funding Org:0:Identifier", "Funding Org:0:Name", "Grant Programme:0:Title",
    "Beneficiary Location:0:Geographic Code", "Beneficiary Location:0:Geographic Code Type",
]

# (share of rows, SQL giving the codes, declared type). Codes come from the warehouse.
_SYNTHETIC_MIX = [
    (0.50, "SELECT lsoa11_code AS code, population, imd_decile FROM hierarchy_lsoa11 "
           "JOIN imd2019_lsoa11 USING (lsoa11_code)", "LSOA"),
    (0.05, "SELECT lsoa21_code AS code, 1.0 AS population, 5 AS imd_decile FROM hierarchy_lsoa21 "
           "WHERE lsoa21_code NOT IN (SELECT lsoa11_code FROM hierarchy_lsoa11)", "LSOA"),
    (0.10, "SELECT DISTINCT msoa11_code AS code, 1.0 AS population, 5 AS imd_decile FROM hierarchy_lsoa11", "MSOA"),
    (0.12, "SELECT DISTINCT ward17_code AS code, 1.0 AS population, 5 AS imd_decile FROM hierarchy_lsoa11", "WD"),
    (0.03, "SELECT DISTINCT ward24_code AS code, 1.0 AS population, 5 AS imd_decile FROM hierarchy_lsoa21 "
           "WHERE ward24_code NOT IN (SELECT ward17_code FROM hierarchy_lsoa11)", "WD"),
    (0.10, "SELECT DISTINCT lad19_code AS code, 1.0 AS population, 5 AS imd_decile FROM hierarchy_lsoa11", "LAD"),
    (0.02, "SELECT DISTINCT lad24_code AS code, 1.0 AS population, 5 AS imd_decile FROM hierarchy_lsoa21 "
           "WHERE lad24_code NOT IN (SELECT lad19_code FROM hierarchy_lsoa11)", "UA"),
    (0.02, "SELECT DISTINCT region19_code AS code, 1.0 AS population, 5 AS imd_decile FROM hierarchy_lsoa11", "RGN"),
    (0.01, "SELECT 'E92000001' AS code, 1.0 AS population, 5 AS imd_decile", "CTRY"),
]

# One of each kind of bad row, repeated cyclically over ~1% of rows: (column, value, what).
_SYNTHETIC_FAULTS = [
    ("Amount Awarded", "five thousand", "non-numeric amount"),
    ("Amount Awarded", "-2500", "negative amount"),
    ("Currency", "USD", "non-GBP currency"),
    ("Identifier", "DUPLICATE", "duplicate identifier"),
    ("Award Date", "31/02/2021", "date that does not parse"),
    ("Beneficiary Location:0:Geographic Code", "E01099999", "unknown LSOA code"),
    ("Beneficiary Location:0:Geographic Code", "W01000001", "Welsh code (outside England)"),
    ("Beneficiary Location:0:Geographic Code", "E47000001", "combined authority (unsupported type)"),
    ("Beneficiary Location:0:Geographic Code", "", "postcode only (needs a lookup)"),
    ("Beneficiary Location:0:Geographic Code Type", "MSOA", "wrong code type (overridden)"),
]


def synthetic_grants(con: object, n: int, *, seed: int = 1) -> pd.DataFrame:
    """A SYNTHETIC 360Giving grants table for demos, tests and benchmarks — not real grants.

    Identifiers start ``360G-SYNTHETIC-``, titles and funder say SYNTHETIC. Beneficiary codes
    are real codes from the warehouse (``con``), mixed: LSOA 2011 (50%), LSOA 2021-only codes,
    MSOA 2011, ward 2017 and 2024-only, LAD 2019 and 2024-only, regions and England; the
    code type column is blank for 5% of rows. LSOA grants favour more deprived areas
    (sampling weight ``population x (11 - IMD 2019 decile)``), amounts are log-normal (median
    about £5,000). About 1% of rows carry one fault each, cycling through every kind the reader
    and locator must catch (see ``_SYNTHETIC_FAULTS``), so each kind appears when ``n >= 1000``.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([m[0] for m in _SYNTHETIC_MIX])
    kinds = rng.choice(len(_SYNTHETIC_MIX), size=n, p=shares / shares.sum())
    codes = np.empty(n, dtype=object)
    types = np.empty(n, dtype=object)
    for k, (_, sql, declared) in enumerate(_SYNTHETIC_MIX):
        pick = np.flatnonzero(kinds == k)
        pool = con.execute(sql).df()  # type: ignore[attr-defined]
        weight = pool["population"].to_numpy(float) * (11 - pool["imd_decile"].to_numpy(float))
        codes[pick] = pool["code"].to_numpy()[rng.choice(len(pool), size=len(pick), p=weight / weight.sum())]
        types[pick] = declared
    types[rng.random(n) < 0.05] = ""
    ids = np.char.add("360G-SYNTHETIC-", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)
    amount = np.round(np.exp(rng.normal(np.log(5000), 1.0, n)), -1)
    days = rng.integers(0, 5 * 365, n)
    dates = (np.datetime64("2019-04-01") + days.astype("timedelta64[D]")).astype(str)
    org = rng.integers(1, max(2, n // 3), n).astype(str)
    frame = pd.DataFrame({
        "Identifier": ids,
        "Title": np.char.add("SYNTHETIC demo grant ", np.arange(1, n + 1).astype(str)),
        "Description": "SYNTHETIC data generated by neighbourhood-lens for demonstration; not a real grant",
        "Currency": "GBP",
        "Amount Awarded": amount.astype(int).astype(str),
        "Award Date": dates,
        "Recipient Org:0:Identifier": np.char.add("GB-SYNTHETIC-", org),
        "Recipient Org:0:Name": np.char.add("SYNTHETIC Community Group ", org),
        "Recipient Org:0:Postal Code": "",
        "Funding Org:0:Identifier": "GB-SYNTHETIC-FUNDER",
        "Funding Org:0:Name": "SYNTHETIC Funder (demo data, not real)",
        "Grant Programme:0:Title": rng.choice(
            ["SYNTHETIC Community Ownership", "SYNTHETIC Shared Prosperity", "SYNTHETIC Small Grants"], n),
        "Beneficiary Location:0:Geographic Code": codes,
        "Beneficiary Location:0:Geographic Code Type": types,
    }, columns=SYNTHETIC_COLUMNS)
    n_bad = max(len(_SYNTHETIC_FAULTS), n // 100) if n >= 2 * len(_SYNTHETIC_FAULTS) else 0
    where = rng.choice(np.arange(1, n), size=n_bad, replace=False)
    for j, (col, value, _) in enumerate(_SYNTHETIC_FAULTS):
        rows = where[j :: len(_SYNTHETIC_FAULTS)]
        if value == "DUPLICATE":
            frame.loc[rows, col] = frame.loc[rows - 1, col].to_numpy()
        elif col == "Beneficiary Location:0:Geographic Code" and value == "":
            frame.loc[rows, col] = ""
            frame.loc[rows, "Beneficiary Location:0:Geographic Code Type"] = ""
            frame.loc[rows, "Recipient Org:0:Postal Code"] = "ZZ99 9ZZ"
        elif col == "Beneficiary Location:0:Geographic Code Type":
            lsoa = frame.loc[rows, "Beneficiary Location:0:Geographic Code"].str.startswith("E01")
            frame.loc[rows[lsoa.to_numpy()], col] = value
        else:
            frame.loc[rows, col] = value
    return frame


def write_grants(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a 360Giving spreadsheet-titled frame as ``.csv``, ``.xlsx`` or a 360Giving ``.json`` package.

    Grants come from publishers and users, so text a spreadsheet would run as a formula is
    made safe in CSV (``'`` prefix) and XLSX (string cells); see :mod:`neighbourhood_lens._spreadsheet`.
    """
    from .._spreadsheet import csv_quoting, mark_text_cells, neutralise_frame

    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        safe = neutralise_frame(frame)
        safe.to_csv(path, index=False, quoting=csv_quoting(safe))
    elif suffix == ".xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            frame.to_excel(writer, index=False, sheet_name="grants")
            mark_text_cells(writer.sheets["grants"])
    elif suffix == ".json":
        def one(r: dict) -> dict:
            amount = pd.to_numeric(r["Amount Awarded"], errors="coerce")
            return {
                "id": r["Identifier"], "title": r["Title"], "description": r.get("Description", ""),
                "currency": r["Currency"], "amountAwarded": r["Amount Awarded"] if amount != amount else float(amount),
                "awardDate": r["Award Date"],
                "recipientOrganization": [{"id": r["Recipient Org:0:Identifier"], "name": r["Recipient Org:0:Name"],
                                           "postalCode": r["Recipient Org:0:Postal Code"]}],
                "fundingOrganization": [{"id": r["Funding Org:0:Identifier"], "name": r["Funding Org:0:Name"]}],
                "grantProgramme": [{"title": r["Grant Programme:0:Title"]}],
                "beneficiaryLocation": [{"geoCode": r["Beneficiary Location:0:Geographic Code"],
                                         "geoCodeType": r["Beneficiary Location:0:Geographic Code Type"]}],
            }

        grants = [one(r) for r in frame.to_dict(orient="records")]
        path.write_text(json.dumps({"grants": grants}, indent=1), encoding="utf-8")
    else:
        raise DataError(f"cannot write {path}: use .csv, .xlsx or .json")
    return path
