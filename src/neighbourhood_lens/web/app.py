"""The FastAPI application: map, profiles, left-behind list, funding upload and the JSON API.

Everything national is read once when the app is created (:func:`create_app`): the profile
store (:mod:`..profiles`), both left-behind tables and the search index, so requests are
in-memory lookups that need no database connection. Map geometry is prepared in a
background thread (:mod:`._geo`). Errors reach the client as a one-line JSON ``detail`` (API)
or a short page (HTML), never as a stack trace.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import re
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from neighbourhood_lens import __version__
from neighbourhood_lens.outputs.profiles import CODE_PATTERN, UnknownAreaError, area_profile, load_store

from ..errors import DataError, NeighbourhoodLensError
from ._areas import MAX_CUSTOM_BODY_BYTES, MAX_CUSTOM_LSOAS, add_routes
from ._funding import FundingUpload, UploadTooLargeError

__all__ = ["create_app", "DEFAULT_MAX_UPLOAD_BYTES"]

log = logging.getLogger(__name__)

#: Default upload limit for grants files (10 MB).
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_CODE = CODE_PATTERN.pattern
_BBOX = re.compile(r"^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$")
_LB_DEFINITION = {
    2019: "Wards (2017) in the most deprived 10% on IMD 2019 (population-weighted ward score) and the "
          "highest-need 10% on the Community Needs Index 2019 (OCSI for Local Trust).",
    2023: "LSOAs (2021) in IMD 2025 decile 1 and the highest-need 10% on the Community Needs Index 2023.",
}
#: Room for the multipart framing (boundaries, part headers, the index field) around an upload.
_MULTIPART_SLACK = 64 * 1024
#: Longest echo of a client's input in a 422 message, and longest message.
_ECHO, _MAX_DETAIL = 80, 1000
_UPLOAD_PATHS = ("/funding", "/api/funding/upload")
_CACHE = {"/funding": "no-store", "/api/funding/": "no-store",
          "/static/": "public, max-age=86400", "/api/geo/": "public, max-age=3600",
          "/api/areas/": "public, max-age=300", "/api/left-behind": "public, max-age=300",
          "/api/search": "public, max-age=300"}


def _left_behind_tables(con: Any) -> dict[int, pd.DataFrame]:
    from neighbourhood_lens.deprivation.left_behind import left_behind_scores

    out = {}
    for vintage in (2019, 2023):
        frame = left_behind_scores(con, vintage=vintage)
        frame = frame[frame["left_behind"]].drop(columns=["in_imd_share", "in_cni_share", "left_behind"])
        out[vintage] = frame.reset_index(drop=True)
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    import json

    return json.loads(frame.to_json(orient="records"))


def create_app(
    db_path: str | os.PathLike[str] | None,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    basemap_url: str | None = None,
    upload_workers: int = 2,
    upload_queue: int = 4,
    upload_timeout: float = 120.0,
    geometry_cache: bool = True,
    warm: bool = True,
) -> FastAPI:
    """Build the web app on the warehouse at ``db_path`` (opened read-only).

    ``basemap_url`` is an optional XYZ tile URL template (``https://.../{z}/{x}/{y}.png``)
    drawn under the areas; by default there is none (the app needs no network). It can also
    be set with the ``NLENS_BASEMAP_URL`` environment variable.

    Uploads are analysed by ``upload_workers`` worker processes (:mod:`._jobs`) with room for
    ``upload_queue`` waiting jobs (more get HTTP 503 with ``Retry-After``) and a limit of
    ``upload_timeout`` seconds per job; the workers start with the server (lifespan) or with
    the first upload.

    When the warehouse holds a current web cache (:mod:`.cache`: every map layer and every
    level's trajectories, written by ``nlens serve`` on its first start after a build), it is
    loaded and the server is ready as soon as it is in memory. Otherwise the layers are built in
    a background thread; with ``geometry_cache`` the dissolved ones are kept in the user cache
    directory (``NLENS_CACHE_DIR`` overrides it) between runs, and with ``warm`` the
    trajectories of every level are computed in the background too. ``/api/health`` says
    ``"ready": true`` once the first page of any kind is answered from memory.
    """
    from contextlib import asynccontextmanager

    from ..warehouse import connect, resolve_db_path
    from ._geo import GeoCache
    from ._jobs import JobTimeoutError, PoolBusyError, UploadPool
    from ._layers import MapValues
    from .cache import TRAJECTORY_LEVELS, Trajectories, load_web_cache

    pool = UploadPool(resolve_db_path(db_path), workers=upload_workers, queue=upload_queue,
                      timeout=upload_timeout)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        threading.Thread(target=pool.warm, daemon=True).start()
        yield
        pool.close()

    con = connect(db_path, read_only=True)
    store = load_store(con)
    cache = load_web_cache(con)
    geo = GeoCache(con.cursor(), store, layers=cache.layers if cache else None,
                   cache_key=_warehouse_key(resolve_db_path(db_path)) if geometry_cache else None)
    trajectories = Trajectories(con, cache.trajectories if cache else None)
    values = MapValues(con.cursor(), store, geo, trajectories)
    warmed = threading.Event()

    def warm_up() -> None:
        """Everything a first page needs, in memory: geometry, trajectories, the common map values."""
        try:
            geo.wait(None)
            if warm:
                for level in TRAJECTORY_LEVELS:
                    trajectories.frame(level)
                for year in (2025, 2019, 2015, 2010, 2007, 2004):
                    lsoa_layer = "lsoa21" if year == 2025 else "lsoa11" if year >= 2015 else "lsoa01"
                    family = ("lad24", "ward24") if year == 2025 else ("lad19", "ward17")
                    for layer in (*family, lsoa_layer):
                        values.geometry(layer)
                        values.values(layer, f"imd{year}:imd")
                geo.labels()
                for name in ("area.html", "map.html", "left_behind.html", "custom.html", "funding.html", "error.html"):
                    templates.get_template(name)  # compiled once, before the first page asks
        except Exception:  # a failure shows on the request that needs the piece
            log.exception("warming the web app failed")
        finally:
            warmed.set()

    left_behind = _left_behind_tables(con)
    areas = store.areas.assign(key=store.areas["name"].str.lower())
    areas = areas[areas["code"].str.startswith("E")]
    basemap = basemap_url or os.environ.get("NLENS_BASEMAP_URL") or ""

    app = FastAPI(title="neighbourhood-lens", version=__version__,
                  description="Deprivation, community need and left-behind neighbourhoods in England.",
                  docs_url=None, openapi_url="/api/openapi.json", redoc_url=None, lifespan=lifespan)
    app.state.store, app.state.geo, app.state.con, app.state.pool = store, geo, con, pool
    app.state.ready, app.state.web_cache = warmed, cache
    app.state.max_upload_bytes = max_upload_bytes  # read on every upload, so it can be changed
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    web = resources.files("neighbourhood_lens.web")
    app.mount("/static", StaticFiles(directory=str(web / "static")), name="static")
    templates = Jinja2Templates(directory=str(web / "templates"))
    templates.env.globals.update(version=__version__)
    threading.Thread(target=warm_up, daemon=True, name="nlens-web-warm").start()

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api")

    def error(request: Request, status: int, message: str) -> Response:
        if wants_html(request):
            return templates.TemplateResponse(request, "error.html", {"message": message, "status": status},
                                              status_code=status)
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(UnknownAreaError)
    async def unknown_area(request: Request, exc: UnknownAreaError) -> Response:
        return error(request, 404, str(exc))

    @app.exception_handler(PoolBusyError)
    async def busy(request: Request, exc: PoolBusyError) -> Response:
        response = error(request, 503, str(exc))
        response.headers["retry-after"] = str(exc.retry_after)
        return response

    @app.exception_handler(JobTimeoutError)
    async def too_slow(request: Request, exc: JobTimeoutError) -> Response:
        return error(request, 422, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = ("no page here: check the address, or start from the map" if exc.status_code == 404
                   else str(exc.detail)[:300])
        response = error(request, exc.status_code, message)
        response.headers.update(getattr(exc, "headers", None) or {})
        return response

    @app.exception_handler(UploadTooLargeError)
    async def too_large(request: Request, exc: UploadTooLargeError) -> Response:
        return error(request, 413, str(exc))

    @app.exception_handler(NeighbourhoodLensError)
    async def bad_input(request: Request, exc: NeighbourhoodLensError) -> Response:
        return error(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for item in exc.errors():
            where = ".".join(str(x) for x in item.get("loc", ()) if x not in ("query", "path", "body"))
            got = repr(item.get("input"))
            got = got if len(got) <= _ECHO else got[:_ECHO] + f"... ({len(got):,} characters)"
            parts.append(f"{where}: {item.get('msg')} (got {got})")
        message = "invalid request: " + "; ".join(parts[:5])
        if len(parts) > 5:
            message += f"; and {len(parts) - 5} more problem(s)"
        return error(request, 422, message[:_MAX_DETAIL])

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return error(request, 500, "internal error; the server log has the details")

    @app.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs_page(request: Request) -> Response:
        """Swagger UI served from the package (vendored swagger-ui-dist), so it works offline."""
        return templates.TemplateResponse(request, "docs.html", {})

    favicon = (web / "static" / "favicon.ico").read_bytes()

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon_ico() -> Response:
        """The site icon (browsers ask for it on every first load)."""
        return Response(favicon, media_type="image/x-icon", headers={"cache-control": "public, max-age=86400"})

    # ---- JSON API -------------------------------------------------------------------------------
    @app.get("/api/health", tags=["api"])
    async def health() -> dict[str, Any]:
        """Liveness and what is loaded (answered on the event loop itself: no thread hop, never blocks)."""
        return {"status": "ok", "version": __version__, "ready": warmed.is_set(),
                "web_cache": "warehouse" if cache else "built in memory",
                "areas": {k: len(v) for k, v in store.frames.items()},
                "geometry_ready": geo.wait(0)}

    @functools.lru_cache(maxsize=20000)
    def profile_json(code: str) -> bytes:
        box = geo.bbox(code)
        body = json.dumps({**area_profile(None, code, store=store), "bbox": box}).encode()
        if box is None and not geo.wait(0):
            profile_json.cache_clear()  # geometry not ready yet: do not keep a profile without bbox
        return body

    @app.get("/api/areas/{code}", tags=["api"], response_class=JSONResponse)
    async def area(code: Annotated[str, PathParam(pattern=_CODE, description="GSS code, e.g. E08000021")]
                   ) -> Response:
        """Profile of an LSOA, MSOA, ward, local authority or region (see ``neighbourhood_lens.outputs.profiles``)."""
        return Response(profile_json(code), media_type="application/json")

    @app.get("/api/search", tags=["api"])
    def search(q: Annotated[str, Query(min_length=2, max_length=80, description="name or code")],
               limit: Annotated[int, Query(ge=1, le=50)] = 15) -> dict[str, Any]:
        """Areas whose name or code contains ``q`` (case-insensitive); exact code matches first."""
        text = q.strip().lower()
        if CODE_PATTERN.match(q.strip().upper()):
            hits = areas[areas["code"] == q.strip().upper()]
        else:
            hits = areas[areas["key"].str.contains(text, regex=False)]
            order = {"lad": 0, "ward": 1, "region": 0, "msoa": 3, "lsoa": 2}
            hits = hits.assign(_s=~hits["key"].str.startswith(text), _t=hits["type"].map(order),
                               _v=-hits["vintage"].astype(int))
            hits = hits[hits["type"] != "msoa"].sort_values(["_s", "_t", "_v", "name"])
        hits = hits.drop_duplicates("code").head(limit)
        return {"query": q, "items": _records(hits[["code", "name", "type", "vintage", "lad_code", "lad_name"]])}

    @app.get("/api/left-behind", tags=["api"], response_model=None)
    def left_behind_api(vintage: Annotated[int, Query(description="2019 (wards) or 2023 (LSOAs)")] = 2019,
                        region: Annotated[str | None, Query(pattern=r"^E12\d{6}$")] = None,
                        lad: Annotated[str | None, Query(pattern=r"^E0[6-9]\d{6}$")] = None,
                        format: Literal["json", "csv"] = "json") -> Any:
        """The left-behind areas of a vintage, optionally within a region or LAD; JSON or CSV."""
        frame = _filter(left_behind[_vintage(vintage)], region, lad)
        if format == "csv":
            buf = io.StringIO()
            frame.to_csv(buf, index=False)
            name = f"left_behind_{vintage}{'_' + (lad or region) if (lad or region) else ''}.csv"
            return Response(buf.getvalue(), media_type="text/csv",
                            headers={"content-disposition": f'attachment; filename="{name}"'})
        return {"vintage": vintage, "definition": _LB_DEFINITION[vintage], "count": len(frame),
                "items": _records(frame)}

    @app.post("/api/funding/upload", tags=["api"])
    async def funding_api(file: Annotated[UploadFile, File()],
                          index: Annotated[Literal["imd2019", "imd2025"], Form()] = "imd2025") -> JSONResponse:
        """Upload a 360Giving grants file (CSV/XLSX/JSON); the reach summary (200) or the problems (400)."""
        upload = await _read_upload(file, app.state.max_upload_bytes)
        result = await pool.run(upload, index)
        return JSONResponse(result.as_dict(), status_code=200 if result.ok else 400)

    add_routes(app, store=store, geo=geo, values=values, templates=templates,
               parse_bbox=_parse_bbox)

    # ---- pages ----------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def map_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "map.html", {"basemap": basemap})

    def trajectory_svg_for(level: str, code: str) -> str:
        """The 2004-2025 trajectory chart (trajectories from the web cache, else computed per level once)."""
        from neighbourhood_lens.outputs.report import trajectory_svg

        return trajectory_svg(trajectories.of(level, code))

    @app.get("/area/{code}", response_class=HTMLResponse, include_in_schema=False)
    def area_page(request: Request, code: Annotated[str, PathParam(pattern=_CODE)]) -> Response:
        profile = area_profile(None, code, store=store)
        try:
            profile["trajectory_svg"] = trajectory_svg_for(profile["geography"], code)
        except NeighbourhoodLensError:
            profile["trajectory_svg"] = ""
        return templates.TemplateResponse(request, "area.html", {"p": profile})

    @app.get("/left-behind", response_class=HTMLResponse, include_in_schema=False)
    def left_behind_page(request: Request, vintage: Annotated[int, Query(description="2019 or 2023")] = 2019,
                         region: Annotated[str | None, Query(pattern=r"^(E12\d{6})?$")] = None,
                         lad: Annotated[str | None, Query(pattern=r"^(E0[6-9]\d{6})?$")] = None) -> Response:
        region, lad = region or None, lad or None
        frame = _filter(left_behind[_vintage(vintage)], region, lad)
        full = left_behind[vintage]
        regions = full[["region_code", "region_name"]].drop_duplicates().sort_values("region_name")
        lads = full[["lad_code", "lad_name"]].drop_duplicates().sort_values("lad_name")
        query = f"vintage={vintage}" + (f"&region={region}" if region else "") + (f"&lad={lad}" if lad else "")
        return templates.TemplateResponse(request, "left_behind.html", {
            "rows": _records(frame), "vintage": vintage, "region": region, "lad": lad,
            "regions": _records(regions), "lads": _records(lads), "definition": _LB_DEFINITION[vintage],
            "csv_url": f"/api/left-behind?{query}&format=csv", "population": float(frame["population"].sum())})

    @app.get("/funding", response_class=HTMLResponse, include_in_schema=False)
    def funding_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "funding.html", {"limit_mb": app.state.max_upload_bytes / 1e6})

    @app.post("/funding", response_class=HTMLResponse, include_in_schema=False)
    async def funding_submit(request: Request, file: Annotated[UploadFile, File()],
                             index: Annotated[Literal["imd2019", "imd2025"], Form()] = "imd2025") -> Response:
        try:
            upload = await _read_upload(file, app.state.max_upload_bytes)
            result = await pool.run(upload, index)
            status = 200 if result.ok else 400
        except PoolBusyError:
            raise
        except NeighbourhoodLensError as exc:
            result, status = None, 413 if isinstance(exc, UploadTooLargeError) else 400
            errors = [str(exc)]
        else:
            errors = result.errors
        return templates.TemplateResponse(request, "funding.html", {
            "limit_mb": app.state.max_upload_bytes / 1e6, "result": result, "errors": errors,
            "filename": _base_name(file.filename) or "upload"}, status_code=status)

    def body_limit(path: str) -> int | None:
        if path in _UPLOAD_PATHS:
            return app.state.max_upload_bytes + _MULTIPART_SLACK
        return MAX_CUSTOM_BODY_BYTES.get(path)

    async def refuse(scope: dict[str, Any], receive: Any, send: Any, size: str) -> None:
        if scope["path"] in _UPLOAD_PATHS:
            message = (f"the upload ({size}) is over the upload limit of {app.state.max_upload_bytes / 1e6:.1f} MB; "
                       "split the file or filter it to the grants you need")
        else:
            message = (f"the request ({size}) is over the limit of {MAX_CUSTOM_BODY_BYTES[scope['path']] / 1e6:.1f} "
                       f"MB for {scope['path']}; a custom area has at most {MAX_CUSTOM_LSOAS:,} LSOA codes "
                       "(about 70 kB)")
        response = error(Request(scope), 413, message)
        response.headers["connection"] = "close"  # the server then drops the rest of the body unread
        await response(scope, receive, send)

    app.add_middleware(_UploadLimit, limit=body_limit, refuse=refuse)
    # Outermost, around Starlette's error middleware too: every response (413, 404, 422 and 500
    # included) gets the security and cache headers.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: _CacheHeaders(build_stack(), img_src=_origin(basemap))  # type: ignore[method-assign]
    return app


class _UploadLimit:
    """Pure ASGI middleware: refuse a POST body over its path's limit while it streams in.

    ``limit(path)`` gives the limit in bytes of a path (None: no limit here). A declared
    ``Content-Length`` over the limit is refused before any byte is read; otherwise the body is
    read chunk by chunk (at most the limit held) and refused as soon as it passes the limit, so an
    oversized body is neither parsed nor spooled to disk.
    """

    def __init__(self, app: Any, *, limit: Any, refuse: Any) -> None:
        self.app, self.limit, self.refuse = app, limit, refuse

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = self.limit(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self.refuse(scope, receive, send, f"{int(declared) / 1e6:.1f} MB")
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                await self.refuse(scope, receive, send, f"over {limit / 1e6:.1f} MB")
                return
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _origin(url: str) -> str:
    """The scheme and host of a tile URL template, for the CSP (empty if none).

    >>> _origin("https://tile.example.org/{z}/{x}/{y}.png"), _origin("")
    ('https://tile.example.org', '')
    """
    match = re.match(r"^(https?://[^/{}]+)", url or "")
    return match.group(1) if match else ""


#: Content-Security-Policy: no inline or foreign script; styles may be set inline (Leaflet,
#: Swagger UI and the legends set element styles); images from here, data: URIs and the basemap.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:{img}; "
        "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'")


class _CacheHeaders:
    """Pure ASGI middleware: Cache-Control by path (no-store on errors), nosniff, CSP, framing and referrer."""

    def __init__(self, app: Any, *, img_src: str = "") -> None:
        self.app = app
        self.security = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                         (b"referrer-policy", b"same-origin"),
                         (b"content-security-policy", _CSP.format(img=" " + img_src if img_src else "").encode())]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        value = next((v for k, v in _CACHE.items() if path.startswith(k)), "no-cache").encode()

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"cache-control" not in names:
                    headers.append((b"cache-control", value if message["status"] < 400 else b"no-store"))
                headers.extend(self.security)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _warehouse_key(path: Path) -> str | None:
    """A short key naming this warehouse file as it is now (path, size, mtime) and the tool version."""
    import hashlib

    try:
        stat = path.resolve().stat()
    except OSError:
        return None
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _vintage(vintage: int) -> int:
    if vintage not in _LB_DEFINITION:
        raise DataError(f"vintage {vintage} is not available: use 2019 (wards, IMD 2019 x CNI 2019) or 2023 "
                        "(LSOAs, IMD 2025 x CNI 2023)")
    return vintage


def _filter(frame: pd.DataFrame, region: str | None, lad: str | None) -> pd.DataFrame:
    if region:
        frame = frame[frame["region_code"] == region]
    if lad:
        frame = frame[frame["lad_code"] == lad]
    return frame


def _base_name(filename: str | None) -> str:
    r"""The last component of a client's file name, whatever its path separators (never used as a path).

    >>> _base_name("..\\..\\evil.csv"), _base_name("../../g.xlsx"), _base_name(None)
    ('evil.csv', 'g.xlsx', '')
    """
    return re.split(r"[\\/]", filename or "")[-1][:200]


def _parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    if not _BBOX.match(bbox):
        raise DataError(f"bbox {bbox[:60]!r} is not minlon,minlat,maxlon,maxlat (four numbers)")
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise DataError(f"bbox {bbox!r} is not a valid box: need minlon < maxlon and minlat < maxlat in degrees")
    return x0, y0, x1, y1


async def _read_upload(file: UploadFile, limit: int) -> FundingUpload:
    """Read an upload in chunks, refusing it once it passes ``limit`` bytes."""
    name = _base_name(file.filename)
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".json"):
        raise DataError(f"file {name!r}: upload a 360Giving .csv, .xlsx or .json file (got {suffix or 'no suffix'})")
    chunks, size = [], 0
    while chunk := await file.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise UploadTooLargeError(f"file {name!r} is over the upload limit of {limit / 1e6:.1f} MB; "
                            "split it or filter it to the grants you need")
        chunks.append(chunk)
    if size == 0:
        raise DataError(f"file {name!r} is empty")
    return FundingUpload(name=name, data=b"".join(chunks))
