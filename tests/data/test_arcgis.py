"""ArcGIS GeoJSON pages read by GDAL give the frame the features' own JSON gives, page by page."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import requests
import shapely
from _loopback import Loopback
from shapely.geometry import shape

from neighbourhood_lens.data.arcgis import read_layer
from neighbourhood_lens.errors import DataError, SourceUnavailableError

SQUARE = {"type": "Polygon", "coordinates": [[[0.1, 50.0], [0.2, 50.0], [0.2, 50.1], [0.1, 50.1], [0.1, 50.0]],
                                              [[0.12, 50.02], [0.12, 50.03], [0.13, 50.03], [0.12, 50.02]]]}
TWO = {"type": "MultiPolygon", "coordinates": [[[[1, 1], [2, 1], [2, 2], [1, 1]]], [[[3, 3], [4, 3], [4, 4], [3, 3]]]]}


def _rows(n: int) -> list[dict]:
    """Properties whose types differ by page: nulls then whole numbers, whole and decimal numbers, dates as text."""
    return [{"CODE": f"E01{i:06d}", "NAME": None if i % 7 == 0 else f"Area {i}",
             "COUNT": None if i < 4 else i, "SHARE": i if i % 2 else i + 0.25, "FLAG": i % 3 == 0,
             "DATE": f"2021-03-{i % 28 + 1:02d}", "WHEN": "2021-03-31T12:00:00" if i % 2 else "31/03/2021"}
            for i in range(n)]


def _geometries(n: int) -> list[dict | None]:
    return [None if i == 5 else TWO if i % 4 == 0 else SQUARE for i in range(n)]


def _expected(rows: list[dict], geometries: list[dict | None]) -> pd.DataFrame:
    """What the features' JSON gives: a frame of the property dicts and Shapely's shape of each geometry."""
    frame = pd.DataFrame(rows)
    frame["geometry"] = [shape(g) if g else None for g in geometries]
    return frame


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.drop(columns="geometry"), want.drop(columns="geometry"))
    assert got["geometry"].isna().tolist() == want["geometry"].isna().tolist()
    have = got["geometry"].dropna().to_numpy()
    assert shapely.equals_exact(have, want["geometry"].dropna().to_numpy(), tolerance=0).all()
    assert (shapely.to_wkb(have) == shapely.to_wkb(want["geometry"].dropna().to_numpy())).all()


@pytest.mark.parametrize("cap", [4, 1000])
def test_geojson_pages_read_by_gdal_equal_the_features_json(cap):
    rows, geoms = _rows(11), _geometries(11)
    with Loopback() as server:
        url = server.arcgis_layer("LSOA_TEST", rows, cap=cap, geometries=geoms)
        got = read_layer(url, session=requests.Session(), geojson=True)
        pages = [h for h in server.hits if "resultOffset" in h]
    assert len(pages) == -(-11 // cap)  # every page asked for once: GDAL pages nothing itself
    _same(got, _expected(rows, geoms))
    assert got["COUNT"].dtype == "float64" and got["FLAG"].dtype == bool and got["DATE"].iloc[1] == "2021-03-02"


def test_a_page_gdal_does_not_read_is_read_as_json():
    """A page without ``"type": "FeatureCollection"`` is not GeoJSON to GDAL; its features are read as JSON."""
    rows, geoms = _rows(6), _geometries(6)
    with Loopback() as server:
        url = server.arcgis_layer("LSOA_TEST", rows, cap=3, geometries=geoms)
        serve = server.routes["/arcgis/LSOA_TEST/FeatureServer/0/query"]

        def bare_second_page(q):
            status, body, headers = serve(q)
            if q.get("resultOffset") == "3":
                doc = json.loads(body)
                body = json.dumps({"features": doc["features"]}).encode()  # no type, no exceededTransferLimit
            return status, body, headers

        server.routes["/arcgis/LSOA_TEST/FeatureServer/0/query"] = bare_second_page
        got = read_layer(url, session=requests.Session(), geojson=True)
    _same(got, _expected(rows, geoms))


def test_an_error_object_instead_of_a_page_names_the_layer():
    rows = _rows(4)
    with Loopback() as server:
        url = server.arcgis_layer("LSOA_TEST", rows, cap=2, geometries=_geometries(4))
        serve = server.routes["/arcgis/LSOA_TEST/FeatureServer/0/query"]

        def token_required(q):
            if q.get("resultOffset") == "2":
                return 200, b'{"error":{"code":499,"message":"Token Required"}}', {}
            return serve(q)

        server.routes["/arcgis/LSOA_TEST/FeatureServer/0/query"] = token_required
        with pytest.raises(SourceUnavailableError, match="ArcGIS error 499 'Token Required'"):
            read_layer(url, session=requests.Session(), geojson=True)


def test_a_geometry_gdal_cannot_read_is_an_error_naming_the_page_not_a_missing_polygon():
    rows = _rows(4)
    broken = [SQUARE, SQUARE, {"type": "Polygon", "coordinates": [[[0.1, "x"], [0.2, 50.0], [0.1, 50.0]]]}, SQUARE]
    with Loopback() as server:
        url = server.arcgis_layer("LSOA_TEST", rows, cap=2, geometries=broken)
        with pytest.raises(DataError, match=r"offset 2\): a feature's geometry is not GeoJSON that can be read"):
            read_layer(url, session=requests.Session(), geojson=True)
