"""Safe spreadsheet cells: user text is never written as a formula (CSV/formula injection).

A spreadsheet program runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula
(and some also after a leading tab or carriage return), so a grants file with a recipient
named ``=HYPERLINK("http://x","y")`` would become a live link, or worse, in the file we write.
Every CSV and XLSX the toolkit writes goes through this module.

Notes
-----
The rule follows OWASP's *CSV Injection* guidance: a text cell whose first character is one
of ``= + - @ \\t \\r`` is prefixed with a single quote (``'``), which a spreadsheet shows as
text and which a reader can strip. Choices:

* only **text** is changed: numbers (``-5.0`` in a numeric column, or a ``float`` in a mixed
  column) stay numbers, so a genuine negative amount is still a negative amount;
* a negative number written as text, exactly ``-`` then digits with an optional decimal part
  (``"-2500"``, ``"-5.0"``), is left alone: in a CSV it is the same bytes as the number, every
  spreadsheet reads it as that number, and it is often an amount as the user typed it. Every
  other text cell with a risky first character is prefixed, whatever follows: ``"-5 apples"``
  becomes ``"'-5 apples"``, ``"-2+3+cmd|' /C calc'!A0"`` becomes ``"'-2+3+cmd|' /C calc'!A0"``,
  and ``"+1"`` becomes ``"'+1"``;
* column names are treated like cells (they can come from a user's file);
* in ``.xlsx`` files the text is written unchanged but as a string cell with Excel's
  "quote prefix" flag (what typing ``'`` in Excel does), never as a formula, so the workbook
  shows exactly what the user's file said.

References
----------
OWASP Foundation, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RISKY_FIRST", "csv_quoting", "is_risky", "mark_text_cells", "neutralise", "neutralise_frame"]

#: First characters that make a spreadsheet treat a cell as a formula.
RISKY_FIRST = ("=", "+", "-", "@", "\t", "\r")
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?")  # ASCII digits, as the vectorised check reads them


def is_risky(value: Any) -> bool:
    """Whether ``value`` is text a spreadsheet would run as a formula.

    >>> [is_risky(v) for v in ["=1+1", "+1", "@SUM(A1)", "\\t=1", "-5 apples", "-2+3", -5.0, "-2500", "Leeds"]]
    [True, True, True, True, True, True, False, False, False]
    """
    return isinstance(value, str) and value.startswith(RISKY_FIRST) and not _NEGATIVE_NUMBER.fullmatch(value)


def neutralise(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is risky text (see the module notes), else unchanged.

    >>> neutralise('=HYPERLINK("http://x","y")'), neutralise(-5.0), neutralise("Leeds")
    ('\\'=HYPERLINK("http://x","y")', -5.0, 'Leeds')
    """
    return "'" + value if is_risky(value) else value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every risky text cell and column name prefixed with ``'`` (a copy if anything changed).

    Only text columns (object, string, category) are looked at; numeric columns are returned as they are.

    >>> import pandas as pd
    >>> neutralise_frame(pd.DataFrame({"name": ["=1+1", "Leeds"], "amount": [-5.0, 2.0]})).to_dict("list")
    {'name': ["'=1+1", 'Leeds'], 'amount': [-5.0, 2.0]}
    """
    out = frame
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if values.dtype.kind not in "OSU" and str(values.dtype) not in ("string", "category", "str"):
            continue
        risky = _risky(values)
        if bool(risky.any()):
            if out is frame:
                out = frame.copy()
            if str(values.dtype) == "category":
                out.isetitem(i, values.astype(object).where(~risky, "'" + values.astype(str)))
            else:
                out.isetitem(i, values.where(~risky, "'" + values.astype(str)))
    names = [neutralise(c) for c in frame.columns]
    if names != list(frame.columns):
        if out is frame:
            out = frame.copy()
        out.columns = names
    return out


def _is_text_dtype(values: pd.Series) -> bool:
    """Whether every value is text or missing (pandas' ``str`` and ``string`` dtypes), so the checks
    can be vectorised string operations; object and category columns may hold anything."""
    return str(values.dtype) in ("string", "str")


def _risky(values: pd.Series) -> pd.Series:
    """:func:`is_risky` of each cell, as a boolean Series (vectorised for text dtypes)."""
    if _is_text_dtype(values):
        first = values.str.match(r"[=+\-@\t\r]", na=False)
        return (first & ~values.str.fullmatch(_NEGATIVE_NUMBER.pattern, na=False)).astype(bool)
    return values.map(is_risky, na_action="ignore").fillna(False).astype(bool)


def csv_quoting(frame: pd.DataFrame) -> int:
    """The ``quoting`` for ``frame.to_csv``: minimal, unless a text cell holds a carriage return.

    Python's CSV writer quotes a field with a newline but not one with a lone ``\r`` (it is not
    in the line terminator), which readers take as the end of a row; such a frame is written
    with every text field quoted instead.

    >>> import csv
    >>> import pandas as pd
    >>> csv_quoting(pd.DataFrame({"a": ["x"]})) == csv.QUOTE_MINIMAL, csv_quoting(pd.DataFrame({"a": ["'\\r=1"]}))
    (True, 2)
    """
    import csv

    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if _is_text_dtype(values):
            if bool(values.str.contains("\r", regex=False, na=False).any()):
                return csv.QUOTE_NONNUMERIC
        elif values.dtype.kind in "OSU":
            if bool(values.map(lambda v: isinstance(v, str) and "\r" in v, na_action="ignore").fillna(False).any()):
                return csv.QUOTE_NONNUMERIC
    return csv.QUOTE_MINIMAL


def mark_text_cells(worksheet: Any) -> None:
    """Turn every formula openpyxl made from a text value back into a string cell with Excel's quote prefix.

    openpyxl stores any ``str`` starting with ``=`` as a formula; the toolkit never writes formulas, so
    each such cell (and any other risky text cell) becomes plain text, value unchanged.
    """
    for row in worksheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and (cell.data_type == "f" or is_risky(cell.value)):
                cell.data_type = "s"
                cell.quotePrefix = True
