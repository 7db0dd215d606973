"""Read a whole ArcGIS FeatureServer layer (the ONS Open Geography Portal), page by page.

One ``query`` request returns at most the layer's ``maxRecordCount`` rows (1,000 or 2,000 on
the ONS portal, whatever is asked for), so a layer is read as the portal's documentation
and ``official-sources.md`` note N1 describe:

1. ``<layer>?f=json`` gives the object-id field (``FID``, ``ObjectId`` or ``OBJECTID``) and
   the page cap;
2. ``<layer>/query?where=...&returnCountOnly=true&f=json`` gives the number of rows;
3. ``<layer>/query?...&orderByFields=<oid>&resultOffset=N&resultRecordCount=<cap>`` is
   requested with ``N`` advanced by the rows actually returned, until a page is empty or,
   with no ``exceededTransferLimit`` flag, the count is reached.

The total is checked against the count; a different total, an ``error`` object (e.g. 499
"Token Required" after ONS moves a service) or a page that is not JSON is an error naming
the layer. Boundaries are requested as GeoJSON in WGS84 (``outSR=4326``).

References
----------
Esri, *ArcGIS REST APIs: Query (Feature Service/Layer)*, parameters ``resultOffset``,
``resultRecordCount``, ``returnCountOnly`` and the ``exceededTransferLimit`` response flag.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from neighbourhood_lens.errors import DataError, SourceUnavailableError

__all__ = ["read_layer"]


def _get(session: Any, url: str, params: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    import requests

    try:
        resp = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        from neighbourhood_lens.data.http import connection_reason

        raise SourceUnavailableError(connection_reason(url, exc)) from None
    if resp.status_code != 200:
        raise SourceUnavailableError(f"{url}: HTTP {resp.status_code} {resp.reason}")
    try:
        doc = resp.json()
    except ValueError:
        raise DataError(f"{resp.url}: the server did not send JSON (first bytes {resp.content[:60]!r})") from None
    if isinstance(doc, dict) and "error" in doc:
        err = doc["error"] or {}
        raise SourceUnavailableError(
            f"{url}: ArcGIS error {err.get('code')} {err.get('message')!r}; the service may have moved to a new "
            "version (ONS renames layers), so point your sources file at the new one"
        )
    return doc


def read_layer(
    layer: str,
    *,
    session: Any,
    where: str = "1=1",
    out_fields: str = "*",
    geojson: bool = False,
    timeout: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Every row of the FeatureServer ``layer`` (``.../FeatureServer/0``) as a DataFrame.

    With ``geojson=True`` the frame has a ``geometry`` column of Shapely geometries (WGS84).
    ``progress(rows_so_far, total)`` is called after each page.
    """
    layer = layer.rstrip("/")
    meta = _get(session, layer, {"f": "json"}, timeout=timeout)
    oid = meta.get("objectIdField") or next(
        (f["name"] for f in meta.get("fields", []) if f.get("type") == "esriFieldTypeOID"), None
    )
    cap = int(meta.get("maxRecordCount") or 1000)
    query = f"{layer}/query"
    count_doc = _get(session, query, {"where": where, "returnCountOnly": "true", "f": "json"}, timeout=timeout)
    if "count" not in count_doc:
        raise DataError(f"{query}: returnCountOnly gave no count ({str(count_doc)[:80]})")
    total = int(count_doc["count"])
    params: dict[str, Any] = {
        "where": where, "outFields": out_fields, "resultRecordCount": cap,
        "returnGeometry": "true" if geojson else "false", "f": "geojson" if geojson else "json",
    }
    if oid:
        params["orderByFields"] = oid
    if geojson:
        params["outSR"] = 4326
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    offset = 0
    while True:
        doc = _get(session, query, {**params, "resultOffset": offset}, timeout=timeout)
        feats = doc.get("features")
        if not isinstance(feats, list):
            raise DataError(f"{query} (offset {offset}): the page has no 'features' list")
        if not feats:
            break
        if geojson:
            rows += [f.get("properties") or {} for f in feats]
            geoms += [f.get("geometry") for f in feats]
        else:
            rows += [f.get("attributes") or {} for f in feats]
        offset += len(feats)
        if progress:
            progress(offset, total)
        more = doc.get("exceededTransferLimit") or (doc.get("properties") or {}).get("exceededTransferLimit")
        if not more and offset >= total:
            break
    if offset != total:
        raise DataError(
            f"{layer}: read {offset:,} rows but the layer reports {total:,} (returnCountOnly); paging went wrong "
            "or the layer changed while it was read. Try again."
        )
    frame = pd.DataFrame(rows)
    if oid and oid in frame.columns:
        frame = frame.drop(columns=[oid])
    if geojson:
        from shapely.geometry import shape

        frame["geometry"] = [shape(g) if g else None for g in geoms]
    return frame
