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
the layer. Boundaries are requested as GeoJSON in WGS84 (``outSR=4326``); each page of those is
parsed by GDAL's GeoJSON driver (pyogrio), which gives the polygons as WKB in one C pass instead
of a Python object per coordinate (a national LSOA layer is over 30,000 polygons). A page GDAL
finds no feature in (an empty page, an ``error`` object, not GeoJSON) is read as JSON, with the
messages above.

References
----------
Esri, *ArcGIS REST APIs: Query (Feature Service/Layer)*, parameters ``resultOffset``,
``resultRecordCount``, ``returnCountOnly`` and the ``exceededTransferLimit`` response flag.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError, SourceUnavailableError

__all__ = ["read_layer"]


#: ``"exceededTransferLimit": true`` in a GeoJSON page's top-level ``properties`` (GDAL does not read them).
_MORE = re.compile(rb'"exceededTransferLimit"\s*:\s*true')
#: A feature without a geometry, as the page writes it.
_NO_GEOMETRY = re.compile(rb'"geometry"\s*:\s*null')


def _get(session: Any, url: str, params: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    return _document(_response(session, url, params, timeout=timeout), url)


def _response(session: Any, url: str, params: dict[str, Any], *, timeout: float) -> Any:
    import requests

    try:
        resp = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        from neighbourhood_lens.data.http import connection_reason

        raise SourceUnavailableError(connection_reason(url, exc)) from None
    if resp.status_code != 200:
        raise SourceUnavailableError(f"{url}: HTTP {resp.status_code} {resp.reason}")
    return resp


def _document(resp: Any, url: str) -> dict[str, Any]:
    """The JSON of an ArcGIS answer; an ``error`` object or a body that is not JSON is an error naming ``url``."""
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


def _geojson_page(content: bytes) -> tuple[dict[str, list[Any]], np.ndarray, bool] | None:
    """A GeoJSON page read by GDAL: ``(properties as Python values by column, geometries as WKB,
    exceededTransferLimit)``; None when GDAL reads no feature from it, or fewer geometries than the
    page has (GDAL leaves out a geometry it cannot read): the caller then reads the page as JSON.

    Dates stay text (``DATE_AS_STRING``), and GDAL's own paging of ArcGIS answers is off: the
    pages are asked for here.
    """
    from pyogrio.errors import DataLayerError, DataSourceError
    from pyogrio.raw import read

    try:
        meta, _, wkb, fields = read(io.BytesIO(content), DATE_AS_STRING="YES", FEATURE_SERVER_PAGING="NO")
    except (DataSourceError, DataLayerError):
        return None
    missing = int(sum(w is None for w in wkb))
    if not len(wkb) or (missing and missing != len(_NO_GEOMETRY.findall(content))):
        return None
    columns = {str(name): values.tolist() for name, values in zip(meta["fields"], fields, strict=True)}
    at = content.rfind(b'"exceededTransferLimit"')
    return columns, wkb, at >= 0 and _MORE.match(content, at) is not None


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
    pages: list[tuple[dict[str, list[Any]], np.ndarray]] = []  # GeoJSON pages read by GDAL
    offset = 0
    while True:
        resp = _response(session, query, {**params, "resultOffset": offset}, timeout=timeout)
        page = _geojson_page(resp.content) if geojson else None
        if page is not None:
            columns, wkb, more = page
            pages.append((columns, wkb))
            offset += len(wkb)
        else:
            doc = _document(resp, query)
            feats = doc.get("features")
            if not isinstance(feats, list):
                raise DataError(f"{query} (offset {offset}): the page has no 'features' list")
            if not feats:
                break
            if geojson:  # GeoJSON that GDAL did not read: its features as JSON
                props = [f.get("properties") or {} for f in feats]
                columns = {k: [p.get(k) for p in props] for k in dict.fromkeys(k for p in props for k in p)}
                from shapely.errors import ShapelyError

                try:
                    wkb = np.array([_wkb(f.get("geometry")) for f in feats], dtype=object)
                except (ValueError, TypeError, AttributeError, KeyError, IndexError, ShapelyError) as exc:
                    raise DataError(f"{query} (offset {offset}): a feature's geometry is not GeoJSON that "
                                    f"can be read ({type(exc).__name__}: {exc})") from None
                pages.append((columns, wkb))
            else:
                rows += [f.get("attributes") or {} for f in feats]
            offset += len(feats)
            more = doc.get("exceededTransferLimit") or (doc.get("properties") or {}).get("exceededTransferLimit")
        if progress:
            progress(offset, total)
        if not more and offset >= total:
            break
    if offset != total:
        raise DataError(
            f"{layer}: read {offset:,} rows but the layer reports {total:,} (returnCountOnly); paging went wrong "
            "or the layer changed while it was read. Try again."
        )
    if geojson:
        import shapely

        names = list(dict.fromkeys(k for columns, _ in pages for k in columns))
        # one list of Python values per column, so that pandas infers its type from all pages at once,
        # as from the features' dicts (a page of nulls, a page of integers: floats with NaN)
        data = {k: [v for columns, wkb in pages for v in columns.get(k, [None] * len(wkb))] for k in names}
        frame = pd.DataFrame({k: pd.Series(v, dtype=None) for k, v in data.items()})
        wkb = np.concatenate([w for _, w in pages]) if pages else np.array([], dtype=object)
        frame["geometry"] = shapely.from_wkb(wkb) if len(wkb) else []
    else:
        frame = pd.DataFrame(rows)
    if oid and oid in frame.columns:
        frame = frame.drop(columns=[oid])
    return frame


def _wkb(geometry: dict[str, Any] | None) -> bytes | None:
    """WKB of a GeoJSON geometry object (None for none)."""
    if not geometry:
        return None
    import shapely
    from shapely.geometry import shape

    return shapely.to_wkb(shape(geometry))
