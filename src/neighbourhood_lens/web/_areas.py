"""Web routes for map layers, measures and custom-area profiles (added to the app by :func:`add_routes`).

* ``GET /api/layers``: what the map can show (:meth:`._layers.MapValues.catalogue`).
* ``GET /api/geo/{layer}``: geometry of any layer, including ``lsoa11``, ``ward17``, ``lad19``,
  ``lsoa01`` and stored neighbourhood sets ``nbhd:NAME``.
* ``GET /api/values/{layer}?measure=``: ``{code: value}`` of a measure on a layer.
* ``GET /api/labels``: place names (LAD 2024 names at a point inside each LAD) for the basemap.
* ``POST /api/custom-area``: the profile of an area made of listed LSOAs or of one stored
  neighbourhood (:func:`..profiles.custom_area_profile`); ``/custom`` is the page with a form
  (codes typed, pasted or uploaded as a text/CSV file) and ``/neighbourhood/{set}/{code}``
  the profile page of a stored neighbourhood.
"""

from __future__ import annotations

import re
import threading
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from neighbourhood_lens.outputs.profiles import custom_area_profile

from ..errors import DataError
from ._geo import BBOX_ONLY, MAX_LSOA_BBOX

__all__ = ["add_routes", "parse_codes", "gzipped", "CustomArea", "MAX_CUSTOM_LSOAS", "MAX_CUSTOM_BODY_BYTES"]

#: Most LSOAs in one custom area (a large local authority has about 700).
MAX_CUSTOM_LSOAS = 5000
#: Largest code list file accepted (about 90,000 codes).
MAX_CODES_BYTES = 1_000_000
#: Largest request body of ``POST /custom`` (a code list file, the pasted codes, the form framing) and of
#: ``POST /api/custom-area`` (5,000 codes as JSON are about 70 kB); larger bodies get 413 while they stream in.
MAX_CUSTOM_BODY_BYTES = {"/custom": MAX_CODES_BYTES + 300_000, "/api/custom-area": 1_000_000}
#: Custom-area profiles computed at once (in a thread, never on the event loop); more wait their turn, so the
#: event loop competes with one busy thread at most for the interpreter.
_PROFILES_AT_ONCE = threading.BoundedSemaphore(1)
_LAYER = r"^(lad24|ward24|lsoa21|lsoa11|ward17|lad19|lsoa01|nbhd:[a-z][a-z0-9_]{0,47})$"
_SET = r"^[a-z][a-z0-9_]{0,47}$"
_TOKEN = re.compile(r"[\s,;\"'\t|]+")


class CustomArea(BaseModel):
    """A custom area: LSOA codes (all 2011 or all 2021), or one neighbourhood of a stored set."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("Custom area", max_length=120, description="a name for the area, shown on its profile")
    codes: list[Annotated[str, Field(max_length=20)]] | None = Field(
        None, max_length=MAX_CUSTOM_LSOAS, description="LSOA codes, e.g. ['E01012345', 'E01012346']")
    neighbourhood_set: str | None = Field(None, pattern=_SET, description="a stored neighbourhood set")
    neighbourhood: str | None = Field(None, max_length=40, description="a neighbourhood code of that set")


def parse_codes(text: str) -> tuple[list[str], list[str]]:
    """LSOA-like codes in a pasted or uploaded list, and the other words (e.g. a header).

    >>> parse_codes("lsoa21_code\\nE01012345, E01012346;e01012347\\n")
    (['E01012345', 'E01012346', 'E01012347'], ['lsoa21_code'])
    """
    words = [w for w in _TOKEN.split(text) if w]
    codes = [w.upper() for w in words if re.fullmatch(r"[A-Za-z]\d{8}", w)]
    return codes, [w for w in words if not re.fullmatch(r"[A-Za-z]\d{8}", w)]


def gzipped(request: Request, response: Response) -> Response:
    """``response`` gzipped here (in a worker thread) when the client accepts it, else as it is.

    Starlette's GZipMiddleware compresses on the event loop; a custom area's page of 5,000 LSOAs
    is about 1 MB, so it is compressed where it was rendered (the middleware passes through a
    response that already has a ``Content-Encoding``).
    """
    import gzip

    if "gzip" not in request.headers.get("accept-encoding", "") or len(response.body) < 1000:
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(gzip.compress(response.body, compresslevel=6), status_code=response.status_code,
                    headers={**headers, "content-encoding": "gzip", "vary": "Accept-Encoding"})


def add_routes(app: FastAPI, *, store: Any, geo: Any, values: Any, templates: Any, parse_bbox: Any) -> None:
    """Register the map-layer and custom-area routes on ``app``."""

    def neighbourhood_profile(set_name: str, code: str) -> dict[str, Any]:
        assignment, _ = values._assignment(set_name)
        rows = assignment[assignment["code"] == code]
        if rows.empty:
            raise DataError(f"neighbourhood set {set_name!r} has no neighbourhood {code!r}; pick one on the map "
                            f"(layer '{set_name}')")
        profile = custom_area_profile(store, rows.iloc[:, 0].tolist(), name=str(rows["name"].iloc[0]), code=code)
        profile["type_label"] = f"neighbourhood of set {set_name}"
        profile["neighbourhood_set"] = set_name
        return profile

    def with_box(profile: dict[str, Any]) -> dict[str, Any]:
        profile["bbox"] = geo.bbox_of([x["code"] for x in profile["lsoas"]])
        return profile

    @app.get("/api/layers", tags=["geometry"])
    def layers() -> dict[str, Any]:
        """Editions (with domains and layers by zoom), stored neighbourhood sets and stored results."""
        return values.catalogue()

    @app.get("/api/geo/{layer}", tags=["geometry"])
    def geometry(layer: Annotated[str, PathParam(pattern=_LAYER, description="lad24, ward24, lsoa21, lsoa11, "
                                                 "ward17, lad19, lsoa01 or nbhd:NAME")],
                 bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None) -> Response:
        """Simplified GeoJSON of a map layer (LSOA layers need a ``bbox`` of at most a few degrees)."""
        box = parse_bbox(bbox)
        if layer in BBOX_ONLY and (box is None or (box[2] - box[0]) * (box[3] - box[1]) > MAX_LSOA_BBOX):
            raise DataError(f"the {layer} layer needs bbox=minlon,minlat,maxlon,maxlat covering at most "
                            f"{MAX_LSOA_BBOX} square degrees; zoom in or use a ward or LAD layer")
        return Response(values.geometry(layer).collection(box), media_type="application/geo+json")

    @app.get("/api/values/{layer}", tags=["geometry"])
    def layer_values(layer: Annotated[str, PathParam(pattern=_LAYER)],
                     measure: Annotated[str, Query(max_length=80, description="imd2019:income, cni2023, lb2019, "
                                                   "result:index:NAME ...")]) -> dict[str, Any]:
        """Values of one measure on one layer, keyed by area code (see ``web._layers``)."""
        return values.values(layer, measure)

    @app.get("/api/labels", tags=["geometry"])
    def labels() -> dict[str, Any]:
        """Place names for the offline basemap: each local authority's name at a point inside it."""
        return {"items": geo.labels()}

    def custom_area_json(request: Request, body: bytes) -> Response:
        """Validate the JSON body and profile the area (runs in a worker thread)."""
        try:
            area = CustomArea.model_validate_json(body or b"null")
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
        with _PROFILES_AT_ONCE:
            return gzipped(request, custom_area_response(area))

    def custom_area_response(area: CustomArea) -> JSONResponse:
        if area.neighbourhood_set:
            if not area.neighbourhood:
                raise DataError("give the neighbourhood code with neighbourhood_set")
            return JSONResponse(with_box(neighbourhood_profile(area.neighbourhood_set, area.neighbourhood)))
        if not area.codes:
            raise DataError("give codes (a list of LSOA codes) or neighbourhood_set and neighbourhood")
        return JSONResponse(with_box(custom_area_profile(store, area.codes, name=area.name)))

    @app.post("/api/custom-area", tags=["api"], response_class=JSONResponse, openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": CustomArea.model_json_schema()}}}})
    async def custom_area_api(request: Request) -> Response:
        """Profile of a custom area: listed LSOA codes, or one neighbourhood of a stored set (body: ``CustomArea``).

        The body is size-limited while it streams in (413), then parsed and profiled in a worker
        thread, so the server keeps answering other requests meanwhile.
        """
        return await run_in_threadpool(custom_area_json, request, await request.body())

    @app.get("/custom", response_class=HTMLResponse, include_in_schema=False)
    def custom_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "custom.html", {"sets": values.sets().to_dict("records")})

    def custom_page_for(request: Request, text: str, name: str) -> Response:
        """Parse the codes, profile the area and render its page (runs in a worker thread)."""
        found, other = parse_codes(text)
        if not found:
            raise DataError("no LSOA codes found: type or upload codes such as E01012345, one per line")
        if len(set(found)) > MAX_CUSTOM_LSOAS:
            raise DataError(f"{len(set(found)):,} LSOA codes: a custom area can have at most {MAX_CUSTOM_LSOAS:,}")
        with _PROFILES_AT_ONCE:
            profile = with_box(custom_area_profile(store, found, name=name.strip() or "Custom area"))
            if other:
                profile.setdefault("notes", []).append(
                    f"{len(other)} word(s) that are not area codes were ignored: {', '.join(other[:5])[:200]}")
            return gzipped(request, templates.TemplateResponse(request, "area.html", {"p": profile}))

    @app.post("/custom", response_class=HTMLResponse, include_in_schema=False)
    async def custom_submit(request: Request,
                            codes: Annotated[str, Form(max_length=200_000)] = "",
                            name: Annotated[str, Form(max_length=120)] = "Custom area",
                            file: Annotated[UploadFile | None, File()] = None) -> Response:
        text = codes
        if file is not None and file.filename:
            data = await file.read(MAX_CODES_BYTES + 1)
            if len(data) > MAX_CODES_BYTES:
                raise DataError(f"the code list is over {MAX_CODES_BYTES / 1e6:.0f} MB; list at most "
                                f"{MAX_CUSTOM_LSOAS:,} LSOA codes")
            text += "\n" + data.decode("utf-8-sig", errors="replace")
        return await run_in_threadpool(custom_page_for, request, text, name)

    @app.get("/neighbourhood/{set_name}/{code}", response_class=HTMLResponse, include_in_schema=False)
    def neighbourhood_page(request: Request, set_name: Annotated[str, PathParam(pattern=_SET)],
                           code: Annotated[str, PathParam(max_length=40, pattern=r"^[A-Za-z0-9_]+$")]) -> Response:
        return templates.TemplateResponse(request, "area.html", {"p": with_box(neighbourhood_profile(set_name, code))})
