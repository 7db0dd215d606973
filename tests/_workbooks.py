"""Workbook writers for the loopback fixtures: XLSX and ODS written directly as XML (a national table
in about a second, where openpyxl or odfpy take minutes), and BIFF8 XLS through ``xlwt``.

Each takes ``{sheet name: (frame, title rows above the header)}`` and returns the file's bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

__all__ = ["xlsx_bytes", "ods_bytes", "xls_bytes"]


def _cell_xml(ref: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, int | float | np.integer | np.floating):
        return f'<c r="{ref}"><v>{v!r}</v></c>' if isinstance(v, float) else f'<c r="{ref}"><v>{int(v)}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>'


def _col_letters(n: int) -> str:
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _rows(frame: pd.DataFrame, title: Sequence[str] = ()) -> list[list[Any]]:
    out: list[list[Any]] = [[t] for t in title]
    out.append([str(c) for c in frame.columns])
    cols = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in frame.columns]
    out += [list(r) for r in zip(*cols, strict=True)]
    return out


def _xml_text(col: pd.Series) -> pd.Series:
    return col.astype(str).str.replace("&", "&amp;").str.replace("<", "&lt;").str.replace(">", "&gt;")


def _sheet_xml(frame: pd.DataFrame, title: Sequence[str]) -> str:
    """One worksheet's XML, built column by column with Arrow string kernels (a national table in
    well under a second): each column's cells are one joined array, the rows one join across them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    head = [[t] for t in title] + [[str(c) for c in frame.columns]]
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    for i, row in enumerate(head, start=1):
        parts.append(f'<row r="{i}">' + "".join(_cell_xml(f"{_col_letters(j)}{i}", v) for j, v in enumerate(row))
                     + "</row>")
    first = len(head) + 1
    rownum = pa.array(np.arange(first, first + len(frame)).astype(str))
    columns = [pc.binary_join_element_wise('<row r="', rownum, '">', "")]
    for j, c in enumerate(frame.columns):
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col):  # Arrow's shortest round-trip text of each double
            value, open_, close = pc.cast(pa.array(col.to_numpy(dtype=float)), pa.string()), '"><v>', "</v></c>"
        else:
            value, open_, close = _xml_text(col).to_numpy(), '" t="inlineStr"><is><t>', "</t></is></c>"
            value = pa.array(value, pa.string(), from_pandas=True)
        cell = pc.binary_join_element_wise('<c r="' + _col_letters(j), rownum, open_, value, close, "")
        columns.append(pc.if_else(pa.array(col.notna().to_numpy()), cell, ""))
    if len(frame):
        parts += pc.binary_join_element_wise(*columns, "</row>", "").to_pylist()
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


def xlsx_bytes(sheets: dict[str, tuple[pd.DataFrame, Sequence[str]]]) -> bytes:
    """An XLSX workbook: sheet name -> (frame, title rows above the header)."""
    names = list(sheets)
    ct = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
          'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
          'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-'
                    f'officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, len(names) + 1)) + "</Types>")
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    wb = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
          '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
          + "".join(f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, 1))
          + "</sheets></workbook>")
    wbrels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
              '2006/relationships">' + "".join(
                  f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                  f'worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(names) + 1))
              + "</Relationships>")
    members = {"[Content_Types].xml": ct.encode(), "_rels/.rels": rels.encode(), "xl/workbook.xml": wb.encode(),
               "xl/_rels/workbook.xml.rels": wbrels.encode()}
    for i, (frame, title) in enumerate(sheets.values(), start=1):
        members[f"xl/worksheets/sheet{i}.xml"] = _sheet_xml(frame, title).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def ods_bytes(sheets: dict[str, tuple[pd.DataFrame, Sequence[str]]]) -> bytes:
    """An OpenDocument spreadsheet: sheet name -> (frame, title rows above the header)."""
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "<table:table-cell/>"
        if isinstance(v, int | float | np.integer | np.floating):
            return f'<table:table-cell office:value-type="float" office:value="{v!r}"><text:p>{v!r}</text:p></table:table-cell>'  # noqa: E501
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'

    body = []
    for name, (frame, title) in sheets.items():
        body.append(f'<table:table table:name="{escape(name)}">')
        body += ["<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>"
                 for row in _rows(frame, title)]
        body.append("</table:table>")
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:'
               'opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
               '<office:spreadsheet>' + "".join(body) + "</office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                'opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
                'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def xls_bytes(sheets: dict[str, tuple[pd.DataFrame, Sequence[str]]]) -> bytes:
    """A BIFF8 ``.xls`` workbook (Excel 97-2003), as the National Archives' IoD ZIPs hold."""
    import xlwt

    book = xlwt.Workbook()
    for name, (frame, title) in sheets.items():
        sheet = book.add_sheet(name)
        for i, row in enumerate(_rows(frame, title)):
            for j, v in enumerate(row):
                if v is not None:
                    sheet.write(i, j, v.item() if isinstance(v, np.generic) else v)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
