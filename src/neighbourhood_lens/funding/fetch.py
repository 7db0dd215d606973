"""Pull a funder's grants from 360Giving, flattened to the 360Giving spreadsheet standard.

Two routes, both public and keyless:

``api`` (default)
    The 360Giving public API, ``<api>/org/{org_id}/grants_made/``, which answers pages of
    ``{"count", "next", "previous", "results": [{"grant_id", "data": <grant>, ...}]}``; pages
    are followed through their ``next`` links until ``next`` is null, and the number of
    grants read is checked against ``count``. The API has no date filter, so ``--from`` and
    ``--to`` are applied to each grant's ``awardDate`` here (grants without a readable award
    date are left out by a date filter and counted).
``registry``
    The 360Giving Data Registry (``data.json``): every publisher file whose publisher's
    ``org_id`` (or the registry's list of funding organisations in the file) is the funder
    is downloaded from its ``distribution[].downloadURL`` (360Giving JSON, CSV or XLSX) and
    flattened; rows of other funders in a shared file are left out and counted.

Each grant (360Giving JSON, see the standard's schema) becomes one row with the spreadsheet
titles that :func:`neighbourhood_lens.funding.grants.read_grants` reads (``Identifier``,
``Amount Awarded``, ``Award Date``, ``Recipient Org:0:Postal Code``, ``Beneficiary
Location:0:Geographic Code`` ...), so ``nlens funding reach`` audits the file directly. Only
the first recipient, funder, programme and beneficiary location are kept (as the reach audit
uses them); the count of grants with more is reported.

References
----------
360Giving (2024), *360Giving Data Standard* (schema and spreadsheet titles),
https://standard.threesixtygiving.org/; 360Giving Datastore public API routes
(ThreeSixtyGiving/datastore ``datastore/api/urls.py``); Data Registry
https://registry.threesixtygiving.org/data.json.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, SourceUnavailableError, examples

__all__ = ["API_URL", "REGISTRY_URL", "COLUMNS", "GrantsFetch", "flatten_grants", "fetch_grants"]

API_URL = "https://api.threesixtygiving.org/api/v1"
REGISTRY_URL = "https://registry.threesixtygiving.org/data.json"

#: The spreadsheet titles written, in order (360Giving Data Standard).
COLUMNS = [
    "Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date",
    "Recipient Org:0:Identifier", "Recipient Org:0:Name", "Recipient Org:0:Postal Code",
    "Funding Org:0:Identifier", "Funding Org:0:Name", "Grant Programme:0:Title",
    "Beneficiary Location:0:Name", "Beneficiary Location:0:Geographic Code",
    "Beneficiary Location:0:Geographic Code Type",
]


@dataclass
class GrantsFetch:
    """What was fetched: the flattened ``grants``, where from, and what was left out."""

    grants: pd.DataFrame
    source: str
    urls: list[str] = field(default_factory=list)
    read: int = 0
    outside_dates: int = 0
    undated: int = 0
    other_funders: int = 0
    multi_location: int = 0
    notes: list[str] = field(default_factory=list)

    def provenance(self, *, funder: str, date_from: str | None, date_to: str | None) -> dict[str, Any]:
        from neighbourhood_lens import __version__

        return {
            "command": "funding fetch", "funder": funder, "from": date_from, "to": date_to, "route": self.source,
            "urls": self.urls, "grants_read": self.read, "grants_written": len(self.grants),
            "left_out_outside_dates": self.outside_dates, "left_out_undated": self.undated,
            "left_out_other_funders": self.other_funders, "notes": self.notes,
            "licence": "as published by each funder on 360Giving (most use CC BY 4.0 or OGL; see the registry)",
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"), "tool_version": __version__,
        }


def _first(grant: dict[str, Any], key: str) -> dict[str, Any]:
    items = grant.get(key) or [{}]
    item = items[0] if isinstance(items, list) and items else items
    return item if isinstance(item, dict) else {}


def flatten_grants(grants: list[dict[str, Any]]) -> pd.DataFrame:
    """360Giving JSON grants -> one row each with the standard's spreadsheet titles.

    >>> g = {"id": "360G-x-1", "title": "Hall", "currency": "GBP", "amountAwarded": 5000,
    ...      "awardDate": "2021-04-01", "fundingOrganization": [{"id": "GB-CHC-1", "name": "F"}],
    ...      "recipientOrganization": [{"id": "GB-CHC-2", "name": "R", "postalCode": "NE1 1AA"}],
    ...      "beneficiaryLocation": [{"geoCode": "E01008397", "geoCodeType": "LSOA"}]}
    >>> flatten_grants([g]).loc[0, ["Identifier", "Amount Awarded", "Beneficiary Location:0:Geographic Code"]].tolist()
    ['360G-x-1', '5000', 'E01008397']
    """
    rows = []
    for g in grants:
        rec, fun = _first(g, "recipientOrganization"), _first(g, "fundingOrganization")
        loc, prog = _first(g, "beneficiaryLocation"), _first(g, "grantProgramme")
        amount = g.get("amountAwarded", "")
        rows.append([
            g.get("id", ""), g.get("title", ""), g.get("description", ""), g.get("currency", ""),
            "" if amount is None else (f"{amount:.2f}".rstrip("0").rstrip(".") if isinstance(amount, float)
                                       else str(amount)),
            str(g.get("awardDate", "") or "")[:10], rec.get("id", ""), rec.get("name", ""),
            rec.get("postalCode", ""),
            fun.get("id", ""), fun.get("name", ""), prog.get("title", ""), loc.get("name", ""),
            loc.get("geoCode", ""), loc.get("geoCodeType", ""),
        ])
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object).fillna("").astype(str)


def _session() -> Any:
    import requests

    from neighbourhood_lens.data.download import USER_AGENT

    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    s.headers["Accept"] = "application/json"
    return s


def _get(session: Any, url: str, *, timeout: float, params: dict[str, Any] | None = None) -> Any:
    import requests

    from neighbourhood_lens.data.http import connection_reason

    try:
        resp = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise SourceUnavailableError(connection_reason(url, exc)) from None
    if resp.status_code == 404:
        raise SourceUnavailableError(f"{url}: HTTP 404 Not Found (is the organisation id right? e.g. GB-CHC-1234567)")
    if resp.status_code != 200:
        raise SourceUnavailableError(f"{url}: HTTP {resp.status_code} {resp.reason}")
    return resp


def _json(resp: Any) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise DataError(f"{resp.url}: the server did not send JSON (first bytes {resp.content[:60]!r})") from None


def _in_range(frame: pd.DataFrame, date_from: str | None, date_to: str | None) -> tuple[pd.Series, int, int]:
    keep = pd.Series(True, index=frame.index)
    if not (date_from or date_to):
        return keep, 0, 0
    dates = pd.to_datetime(frame["Award Date"].str.slice(0, 10), errors="coerce", format="%Y-%m-%d")
    undated = dates.isna()
    if date_from:
        keep &= dates >= pd.Timestamp(date_from)
    if date_to:
        keep &= dates <= pd.Timestamp(date_to)
    keep &= ~undated
    return keep, int((~keep & ~undated).sum()), int(undated.sum())


def _from_api(org_id: str, api: str, session: Any, timeout: float, page_size: int,
              progress: Callable[[int, int], None] | None) -> tuple[list[dict[str, Any]], list[str]]:
    url: str | None = f"{api.rstrip('/')}/org/{org_id}/grants_made/"
    params: dict[str, Any] | None = {"limit": page_size, "offset": 0}
    grants: list[dict[str, Any]] = []
    urls: list[str] = []
    count = None
    seen: set[str] = set()
    while url:
        if url in seen:
            raise DataError(f"{url}: the API's 'next' link points back to a page already read; stopping")
        seen.add(url)
        doc = _json(_get(session, url, timeout=timeout, params=params))
        urls.append(url)
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise DataError(f"{url}: not a 360Giving API page (expected count/next/results)")
        count = doc.get("count", count)
        grants += [r.get("data", r) if isinstance(r, dict) else {} for r in doc["results"]]
        if progress:
            progress(len(grants), int(count or len(grants)))
        url, params = doc.get("next"), None
    if count is not None and len(grants) != int(count):
        raise DataError(f"{api}: read {len(grants):,} grants but the API reports {int(count):,}; paging went wrong")
    return grants, urls


def _registry_files(org_id: str, registry: str, session: Any, timeout: float) -> list[tuple[str, str]]:
    doc = _json(_get(session, registry, timeout=timeout))
    if not isinstance(doc, list):
        raise DataError(f"{registry}: not a 360Giving registry (expected a list of publisher files)")
    out = []
    for entry in doc:
        pub = entry.get("publisher") or {}
        funders = (entry.get("datagetter_aggregates") or {}).get("distinct_funding_org_identifier") or []
        if pub.get("org_id") == org_id or org_id in funders:
            for dist in entry.get("distribution") or []:
                if dist.get("downloadURL"):
                    out.append((dist["downloadURL"], entry.get("title", "")))
    if not out:
        raise DataError(f"{registry}: no publisher file lists funder {org_id!r} (publisher org_id or funding "
                        "organisations); check the id on https://grantnav.threesixtygiving.org/")
    return out


#: Most bytes and members a fetched 360Giving workbook may unpack to (a large funder's file is well under this).
_MAX_FETCHED_XLSX_BYTES, _MAX_FETCHED_XLSX_MEMBERS = 1_000_000_000, 1000


def _read_file(resp: Any, url: str) -> pd.DataFrame:
    name = url.lower().split("?")[0]
    ctype = resp.headers.get("Content-Type", "")
    if name.endswith(".json") or "json" in ctype:
        doc = _json(resp)
        return flatten_grants(doc.get("grants", []) if isinstance(doc, dict) else [])
    if name.endswith((".xlsx", ".xlsm")) or "spreadsheet" in ctype:
        from neighbourhood_lens.archives import check_zip

        # a publisher's whole file may be large, but not a zip bomb: bounded before pandas opens it
        check_zip(resp.content, name=url, max_unpacked=_MAX_FETCHED_XLSX_BYTES, max_members=_MAX_FETCHED_XLSX_MEMBERS)
        try:
            frame = pd.read_excel(io.BytesIO(resp.content), dtype=str, sheet_name=0, engine="openpyxl").fillna("")
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:  # a zip that is no workbook
            raise DataError(f"{url}: not an Excel workbook (.xlsx) that can be read ({type(exc).__name__}: {exc}); "
                            "360Giving files are .xlsx, .csv or .json") from exc
    else:
        frame = pd.read_csv(io.BytesIO(resp.content), dtype=str, keep_default_na=False)
    missing = [c for c in ("Identifier", "Amount Awarded") if c not in frame.columns]
    if missing:
        raise DataError(f"{url}: not a 360Giving spreadsheet (no {', '.join(missing)} column); found "
                        f"{examples(list(frame.columns), limit=8)}")
    return frame.reindex(columns=list(dict.fromkeys(COLUMNS + list(frame.columns))), fill_value="")


def fetch_grants(
    org_id: str,
    *,
    route: str = "api",
    date_from: str | None = None,
    date_to: str | None = None,
    api: str | None = None,
    registry: str | None = None,
    timeout: float = 60.0,
    page_size: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> GrantsFetch:
    """Fetch the grants made by ``org_id`` (e.g. ``GB-CHC-1036733``) from 360Giving.

    ``api`` and ``registry`` default to ``$NLENS_360G_API`` / ``$NLENS_360G_REGISTRY``, else
    :data:`API_URL` / :data:`REGISTRY_URL`. Dates are ISO (``2021-04-01``), inclusive.
    """
    for label, d in (("--from", date_from), ("--to", date_to)):
        if d is not None and pd.isna(pd.to_datetime(d, errors="coerce", format="%Y-%m-%d")):
            raise DataError(f"{label} {d!r} is not a date like 2021-04-01")
    if not org_id.strip():
        raise DataError("--funder is empty; give the funder's 360Giving organisation id, e.g. GB-CHC-1036733")
    session = _session()
    if route == "api":
        api = api or os.environ.get("NLENS_360G_API") or API_URL
        raw, urls = _from_api(org_id, api, session, timeout, page_size, progress)
        frame = flatten_grants(raw)
        multi = sum(1 for g in raw if isinstance(g.get("beneficiaryLocation"), list)
                    and len(g["beneficiaryLocation"]) > 1)
    elif route == "registry":
        registry = registry or os.environ.get("NLENS_360G_REGISTRY") or REGISTRY_URL
        urls, parts = [registry], []
        for url, _title in _registry_files(org_id, registry, session, timeout):
            parts.append(_read_file(_get(session, url, timeout=timeout), url))
            urls.append(url)
        frame = pd.concat(parts, ignore_index=True) if parts else flatten_grants([])
        multi = int((frame.get("Beneficiary Location:1:Geographic Code", pd.Series(dtype=str)) != "").sum())
    else:
        raise DataError(f"unknown route {route!r}; use api or registry")
    read = len(frame)
    other = 0
    if route == "registry":
        mine = isin(frame["Funding Org:0:Identifier"], [org_id, ""])
        other = int((~mine).sum())
        frame = frame[mine]
    keep, outside, undated = _in_range(frame, date_from, date_to)
    out = GrantsFetch(frame[keep].reset_index(drop=True), route, urls, read, outside, undated, other, multi)
    if multi:
        out.notes.append(f"{multi:,} grant(s) name more than one beneficiary location; the first is used")
    return out


def write_fetch(result: GrantsFetch, path: Path, *, funder: str, date_from: str | None, date_to: str | None) -> Path:
    """Write the grants (``.csv``, ``.xlsx`` or ``.json``) and a ``.provenance.json`` sidecar."""
    from neighbourhood_lens.funding.grants import write_grants

    frame = result.grants
    if path.suffix.lower() == ".json":
        frame = frame.reindex(columns=list(dict.fromkeys(frame.columns)))
    write_grants(frame, path)
    side = path.with_name(path.name + ".provenance.json")
    side.write_text(json.dumps(result.provenance(funder=funder, date_from=date_from, date_to=date_to), indent=2))
    return path
