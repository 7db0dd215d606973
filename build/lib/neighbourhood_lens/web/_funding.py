"""Funding uploads for the web app: check a 360Giving file, then hand it to :mod:`..funding`.

The upload's bytes are read with the funding module's own reader under the client's base
file name (which is never used as a path), so messages name the user's file. A CSV header is
checked against the 360Giving spreadsheet titles first, so the user learns quickly what is
wrong with a file that is not 360Giving. The web app runs :func:`handle_upload` in a worker
process (:mod:`._jobs`), never on the event loop.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, NeighbourhoodLensError

__all__ = ["FundingUpload", "FundingResult", "UploadTooLargeError", "REQUIRED_360G", "check_360giving_header",
           "friendly_headers", "handle_upload"]

#: Spreadsheet column titles a 360Giving file must have for a reach analysis (case-insensitive).
REQUIRED_360G = ("Identifier", "Amount Awarded", "Award Date")
#: At least one of these locates a grant.
LOCATION_360G = ("Beneficiary Location:0:Geographic Code", "Recipient Org:0:Postal Code",
                 "Beneficiary Location:Geographic Code", "Recipient Org:Postal Code")
_LOCK = threading.Lock()


class UploadTooLargeError(DataError):
    """An upload over the size limit (HTTP 413)."""


@dataclass
class FundingUpload:
    """An uploaded file held in memory: its (base) name and bytes."""

    name: str
    data: bytes


@dataclass
class FundingResult:
    """What the funding page shows: errors, or a summary and the reach dashboard HTML."""

    ok: bool
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    html: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.errors, "notes": self.notes, "summary": self.summary}


def check_360giving_header(columns: list[str], *, name: str) -> list[str]:
    """Problems with a 360Giving spreadsheet header (empty list = fine).

    >>> check_360giving_header(["Identifier", "Amount Awarded", "Award Date",
    ...                         "Recipient Org:0:Postal Code"], name="g.csv")
    []
    >>> check_360giving_header(["id", "amount"], name="g.csv")[0][:60]
    "file 'g.csv' lacks the 360Giving column(s) Identifier, Amoun"
    """
    have = {c.strip().lower() for c in columns}
    problems = []
    missing = [c for c in REQUIRED_360G if c.lower() not in have]
    if missing:
        problems.append(f"file {name!r} lacks the 360Giving column(s) {', '.join(missing)}; its header is: "
                        f"{', '.join(columns[:8]) or '(empty)'}. Use the 360Giving spreadsheet template.")
    if not any(c.lower() in have for c in LOCATION_360G):
        problems.append(f"file {name!r} has no location column: add 'Beneficiary Location:0:Geographic Code' "
                        "(an LSOA, ward or LAD code) or 'Recipient Org:0:Postal Code'.")
    return problems


def _check(upload: FundingUpload) -> list[str]:
    """Quick checks before the full read: a CSV's header (linear time, width-capped)."""
    from neighbourhood_lens.funding.grants import csv_header

    if Path(upload.name).suffix.lower() != ".csv":
        return []  # .xlsx and .json are checked while they are read (streamed, size- and depth-capped)
    try:
        data = upload.data[3:] if upload.data.startswith(b"\xef\xbb\xbf") else upload.data
        return check_360giving_header(csv_header(data, upload.name), name=upload.name)
    except NeighbourhoodLensError as exc:
        return [str(exc)]


_LABELS = {"amount": "Amount (£)", "amount_per_capita": "£ per head", "share_of_amount": "Share of the amount",
           "population": "Population", "decile": "IMD decile", "lad24_code": "Local authority (2024)",
           "region24_code": "Region", "group": "Group"}
_TH = re.compile(r'(<th class="[^"]*">)([a-z][a-z0-9_]*)(</th>)')


def friendly_headers(page: str) -> str:
    """Readable table headers in the reach dashboard instead of column names.

    >>> friendly_headers('<th class="num">amount_per_capita</th><th class="">n_grants</th>')
    '<th class="num">£ per head</th><th class="">N grants</th>'
    """
    def label(m: re.Match[str]) -> str:
        name = m.group(2)
        text = _LABELS.get(name) or name.replace("_", " ").capitalize()
        return m.group(1) + text + m.group(3)

    return _TH.sub(label, page)


def handle_upload(con: Any, upload: FundingUpload, *, index: str = "imd2025") -> FundingResult:
    """Check the file; if fine, compute its reach (messages name the user's file, not a temporary one)."""
    problems = _check(upload)
    if problems:
        return FundingResult(ok=False, errors=problems)
    from neighbourhood_lens.funding import reach as funding

    try:
        with _LOCK:
            result = funding.reach(con.cursor(), upload.data, filename=upload.name, index=index)
    except NeighbourhoodLensError as exc:
        return FundingResult(ok=False, errors=[str(exc)])
    from neighbourhood_lens.funding.report import render_reach_html

    html = friendly_headers(render_reach_html(result, title=f"Funding reach audit: {Path(upload.name).name}"))
    summary = json.loads(json.dumps(result.summary, default=str))
    return FundingResult(ok=True, html=html, summary=summary)
