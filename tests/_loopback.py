"""A loopback HTTP server that serves files in each publisher's real layout, for tests and by hand.

Routes (``Loopback.routes``) map a path to ``(status, body, headers)`` or to a callable
``(query: dict) -> (status, body, headers)``. Helpers add:

* static files, optionally truncated (``Content-Length`` larger than the body), slow (sleep
  before answering), moved (301 with ``Location``) or missing (404);
* an ArcGIS FeatureServer layer that caps every page at 1,000 rows and sets
  ``exceededTransferLimit`` while rows remain (JSON and GeoJSON, ``returnCountOnly``);
* the 360Giving public API (``/api/v1/org/<id>/grants_made/`` paged with ``next`` links) and a
  Data Registry ``data.json`` whose ``downloadURL`` points back at this server.

Run by hand: ``python tests/_loopback.py`` serves a demo 360Giving API (see ``__main__``).
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

Route = tuple[int, bytes, dict[str, str]] | Callable[[dict[str, str]], tuple[int, bytes, dict[str, str]]]


class Loopback:
    """A threaded HTTP server on 127.0.0.1 with programmable routes."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[str] = []
        self.agents: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parsed = urlparse(self.path)
                outer.hits.append(self.path)
                outer.agents.append(self.headers.get("User-Agent", ""))
                query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
                # a route may name a query (the ONS file?uri=... addresses); percent-escapes compare decoded
                full = unquote(f"{parsed.path}?{parsed.query}")
                route = next((r for k, r in outer.routes.items() if "?" in k and unquote(k) == full), None) \
                    or outer.routes.get(parsed.path)
                if route is None:
                    status, body, headers = 404, b"not found", {}
                elif callable(route):
                    status, body, headers = route(query)
                else:
                    status, body, headers = route
                headers = dict(headers)
                delay = float(headers.pop("X-Delay", "0"))
                stall = int(headers.pop("X-Stall-After", "-1"))
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                headers.setdefault("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    if stall >= 0:  # send part of the body, then hang (a transfer that never finishes)
                        self.wfile.write(body[:stall])
                        self.wfile.flush()
                        time.sleep(30)
                    self.wfile.write(body[max(stall, 0):])
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # serve_forever checks for shutdown every poll_interval (0.5 s by default), so each test's
        # server took half a second to stop; 0.01 s wakes the idle thread 100 times a second
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ static files
    def file(self, path: str, body: bytes, *, truncate_to: int | None = None, delay: float = 0,
             content_type: str = "application/octet-stream", stall_after: int | None = None) -> str:
        headers = {"Content-Type": content_type}
        if stall_after is not None:
            headers["X-Stall-After"] = str(stall_after)
        if truncate_to is not None:
            headers["Content-Length"] = str(len(body))
            body = body[:truncate_to]
        if delay:
            headers["X-Delay"] = str(delay)
        self.routes[path] = (200, body, headers)
        return self.url + path

    def moved(self, path: str, to: str) -> str:
        self.routes[path] = (301, b"", {"Location": to})
        return self.url + path

    # ------------------------------------------------------------------ ArcGIS FeatureServer
    def arcgis_layer(self, service: str, rows: list[dict[str, Any]], *, cap: int = 1000,
                     geometries: list[dict[str, Any]] | None = None, oid: str = "FID") -> str:
        """Serve ``rows`` as ``/arcgis/<service>/FeatureServer/0``; pages hold at most ``cap`` rows."""
        base = f"/arcgis/{service}/FeatureServer/0"
        data = [{oid: i + 1, **r} for i, r in enumerate(rows)]

        def meta(q: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
            fields = [{"name": oid, "type": "esriFieldTypeOID"}] + [
                {"name": k, "type": "esriFieldTypeString"} for k in rows[0]]
            return 200, json.dumps({"objectIdField": oid, "maxRecordCount": cap, "fields": fields}).encode(), {}

        def query(q: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
            if q.get("returnCountOnly") == "true":
                return 200, json.dumps({"count": len(data)}).encode(), {}
            offset = int(q.get("resultOffset", 0))
            n = min(int(q.get("resultRecordCount", cap)), cap)
            page = data[offset:offset + n]
            more = offset + len(page) < len(data)
            if q.get("f") == "geojson":
                geo = geometries or [None] * len(data)
                feats = [{"type": "Feature", "properties": r, "geometry": geo[offset + i]} for i, r in enumerate(page)]
                doc: dict[str, Any] = {"type": "FeatureCollection", "features": feats}
                if more:
                    doc["properties"] = {"exceededTransferLimit": True}
            else:
                doc = {"objectIdFieldName": oid, "features": [{"attributes": r} for r in page]}
                if more:
                    doc["exceededTransferLimit"] = True
            return 200, json.dumps(doc).encode(), {"Content-Type": "application/json"}

        self.routes[base] = meta
        self.routes[base + "/query"] = query
        return self.url + base

    # ------------------------------------------------------------------ 360Giving
    def threesixty_api(self, org_id: str, grants: list[dict[str, Any]], *, page: int = 2) -> str:
        """Serve ``/api/v1/org/<org_id>/grants_made/`` (DRF limit/offset pages with ``next`` links)."""
        path = f"/api/v1/org/{org_id}/grants_made/"

        def handler(q: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
            limit = min(int(q.get("limit", page)), page)
            offset = int(q.get("offset", 0))
            chunk = grants[offset:offset + limit]
            nxt = f"{self.url}{path}?limit={limit}&offset={offset + limit}" if offset + limit < len(grants) else None
            prev = f"{self.url}{path}?limit={limit}&offset={max(0, offset - limit)}" if offset else None
            results = [{"grant_id": g["id"], "data": g, "self": f"{self.url}/api/v1/grant/{g['id']}/",
                        "publisher": {"org_id": org_id}} for g in chunk]
            doc = {"count": len(grants), "next": nxt, "previous": prev, "results": results}
            return 200, json.dumps(doc).encode(), {"Content-Type": "application/json"}

        self.routes[path] = handler
        return self.url + "/api/v1"

    def threesixty_registry(self, entries: list[dict[str, Any]]) -> str:
        self.routes["/data.json"] = (200, json.dumps(entries).encode(), {"Content-Type": "application/json"})
        return self.url + "/data.json"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:  # fast: fixtures, not archives
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def demo_grants(codes: list[str], org_id: str = "GB-CHC-9999999") -> list[dict[str, Any]]:
    """360Giving JSON grants to real area codes, one per code, amounts 1,000 x position (labelled demo)."""
    out = []
    for i, code in enumerate(codes, start=1):
        out.append({
            "id": f"360G-DEMO-{i:04d}", "title": f"DEMO grant {i} (loopback test data, not real)",
            "description": "served by tests/_loopback.py", "currency": "GBP", "amountAwarded": 1000 * i,
            "awardDate": f"2021-{(i % 12) + 1:02d}-15",
            "recipientOrganization": [{"id": f"GB-DEMO-{i}", "name": f"Demo group {i}"}],
            "fundingOrganization": [{"id": org_id, "name": "Demo Funder"}],
            "grantProgramme": [{"title": "Demo programme"}],
            "beneficiaryLocation": [{"name": code, "geoCode": code, "geoCodeType": "LSOA" if code[1:3] == "01"
                                     else "WD"}],
        })
    return out


if __name__ == "__main__":
    import sys

    codes = sys.argv[1:] or ["E01008397", "E01008398", "E01033556", "E01000001", "E01000002", "E05001645"]
    with Loopback() as server:
        api = server.threesixty_api("GB-CHC-9999999", demo_grants(codes))
        print(f"360Giving API on {api} (funder GB-CHC-9999999, {len(codes)} demo grants, 2 per page).")
        print(f"Try: nlens funding fetch --funder GB-CHC-9999999 --api {api} --out grants.csv")
        print("Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
