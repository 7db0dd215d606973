"""Every geography and result on the map, MSOA and custom-area profiles, and the hardened responses."""

from __future__ import annotations

import pytest
from web_demo import DEMO_LADS, shared_app


@pytest.fixture(scope="module")
def client(warehouse_path, tmp_path_factory):
    from fastapi.testclient import TestClient

    return TestClient(shared_app(warehouse_path, tmp_path_factory.mktemp("web")), raise_server_exceptions=False)


def test_catalogue_lists_editions_sets_and_stored_results(client):
    body = client.get("/api/layers").json()
    years = {e["year"]: e for e in body["editions"]}
    assert sorted(years) == [2004, 2007, 2010, 2015, 2019, 2025]
    assert years[2010]["lsoa_layer"] == "lsoa01" and years[2019]["layers"] == ["lad19", "ward17", "lsoa11"]
    assert "income" in years[2010]["domains"] and years[2004]["domains"] == ["imd"]
    assert [s["layer"] for s in body["neighbourhood_sets"]] == ["nbhd:lancs_demo"]
    layers = {r["measure"]: r["layer"] for r in body["results"]}
    assert layers == {"result:index:ward_need_demo": "ward17", "result:programme:demo_amounts": "lad24",
                      "result:evaluation:demo_roles": "ward24"}


def test_2019_left_behind_wards_are_the_225(client):
    flags = client.get("/api/values/ward17?measure=lb2019").json()
    assert flags["scale"] == "flag" and sum(flags["values"].values()) == 225
    geo = client.get("/api/geo/ward17").json()["features"]
    assert len(geo) == 7427 and "E05001645" in {f["properties"]["code"] for f in geo}  # Bloomfield, Blackpool
    counts = client.get("/api/values/lad19?measure=lb2019").json()["values"]
    assert sum(counts.values()) == 225 and len(client.get("/api/geo/lad19").json()["features"]) == 317


@pytest.mark.slow
def test_each_edition_on_its_own_lsoa_vintage(client, con):
    box = "-3.10,53.75,-2.95,53.90"  # Blackpool
    for year, layer, key in ((2025, "lsoa21", "lsoa21_code"), (2019, "lsoa11", "lsoa11_code"),
                             (2010, "lsoa01", "lsoa01_code")):
        feats = client.get(f"/api/geo/{layer}?bbox={box}").json()["features"]
        values = client.get(f"/api/values/{layer}?measure=imd{year}:imd").json()["values"]
        code = feats[0]["properties"]["code"]
        table = f"imd{year}_{layer}"
        published = con.execute(f"SELECT imd_decile FROM {table} WHERE {key} = ?", [code]).fetchone()[0]
        assert values[code] == published, (year, code)
    income = client.get("/api/values/lsoa11?measure=imd2019:income").json()["values"]
    assert income["E01012681"] == con.execute(
        "SELECT income_decile FROM imd2019_lsoa11 WHERE lsoa11_code = 'E01012681'").fetchone()[0]
    older = client.get("/api/values/ward17?measure=imd2004:imd").json()["values"]
    assert len(older) > 7000 and set(older.values()) == set(range(1, 11))


def test_a_domain_that_an_edition_lacks_is_a_clear_error(client):
    r = client.get("/api/values/lsoa01?measure=imd2004:income")
    assert r.status_code == 400 and "IoD2004 has no income decile" in r.json()["detail"]
    r = client.get("/api/values/ward24?measure=imd2019:imd")
    assert r.status_code == 400 and "lsoa11" in r.json()["detail"]
    assert client.get("/api/values/ward17?measure=drop%20table").status_code == 400
    assert client.get("/api/geo/nbhd:..%2f..").status_code in (404, 422)


def test_neighbourhood_set_layer_values_and_profile(client):
    feats = client.get("/api/geo/nbhd:lancs_demo?bbox=-3.2,53.6,-2.0,54.0").json()["features"]
    codes = {f["properties"]["code"] for f in feats}
    assert codes and all(c[1:10] in DEMO_LADS for c in codes)
    values = client.get("/api/values/nbhd:lancs_demo?measure=imd2025:imd").json()["values"]
    assert set(values) == codes and set(values.values()) <= set(range(1, 11))
    code = sorted(codes)[0]
    body = client.post("/api/custom-area", json={"neighbourhood_set": "lancs_demo", "neighbourhood": code}).json()
    assert body["code"] == code and body["type"] == "custom" and body["bbox"] is not None
    page = client.get(f"/neighbourhood/lancs_demo/{code}")
    assert page.status_code == 200 and "neighbourhood of set lancs_demo" in page.text
    assert client.get("/neighbourhood/lancs_demo/NOPE").status_code == 400


def test_stored_result_is_a_layer(client):
    values = client.get("/api/values/ward17?measure=result:index:ward_need_demo").json()
    assert values["scale"] == "decile" and values["values"]["E05001645"] == 1
    r = client.get("/api/values/lad24?measure=result:index:ward_need_demo")
    assert r.status_code == 400 and "ward17" in r.json()["detail"]
    amounts = client.get("/api/values/lad24?measure=result:programme:demo_amounts").json()
    assert amounts["scale"] == "value" and len(amounts["values"]) == 296 and max(amounts["values"].values()) == 6000
    roles = client.get("/api/values/ward24?measure=result:evaluation:demo_roles").json()
    assert roles["scale"] == "category" and set(roles["values"].values()) == {"treated", "comparator"}


def test_bbox_for_every_area_type_and_msoa_profiles(client):
    for code in ("E01000001", "E01012681", "E02001234", "E05001645", "E05011000", "E06000009", "E07000117",
                 "E12000002"):
        body = client.get(f"/api/areas/{code}").json()
        assert body["bbox"] is not None, code
        x0, y0, x1, y1 = body["bbox"]
        assert -7 < x0 < x1 < 2 and 49 < y0 < y1 < 56, code
    msoa = client.get("/api/areas/E02001234").json()
    assert msoa["type"] == "msoa" and msoa["imd"]["n_areas"] == 6791 and msoa["n_lsoas"] >= 4
    region = client.get("/api/areas/E12000001").json()
    assert region["imd"]["decile"] is None and all(d["decile"] is None for d in region["domains"])
    assert region["imd"]["rank"] in range(1, 10)
    page = client.get("/area/E05001645").text
    assert "other_editions" not in page and "ward (2017 boundaries)" in page
    assert "MSOA (2011 boundaries)" in client.get("/area/E02001234").text
    assert "Rank 1 of 9" in client.get("/area/E12000001").text


def test_custom_area_of_a_wards_lsoas_has_the_wards_rank(client, con):
    lsoas = [r[0] for r in con.execute(
        "SELECT lsoa21_code FROM hierarchy_lsoa21 WHERE ward24_code = 'E05011000'").fetchall()]
    ward = client.get("/api/areas/E05011000").json()
    body = client.post("/api/custom-area", json={"name": "Same as a ward", "codes": lsoas}).json()
    assert body["imd"]["rank"] == ward["imd"]["rank"] and body["imd"]["decile"] == ward["imd"]["decile"]
    assert [d["rank"] for d in body["domains"]] == [d["rank"] for d in ward["domains"]]
    assert body["population"] == ward["population"] and len(body["lsoas"]) == len(lsoas)
    assert body["bbox"] == pytest.approx(ward["bbox"], abs=1e-3)


def test_custom_area_form_with_a_code_file(client):
    data = b"lsoa21_code\nE01012681\nE01012682\nE01012683\n"
    r = client.post("/custom", data={"name": "My patch"}, files={"file": ("codes.csv", data, "text/csv")})
    assert r.status_code == 200 and "My patch" in r.text and "custom area of 3 LSOA(s)" in r.text
    assert "1 word(s) that are not area codes were ignored: lsoa21_code" in r.text
    bad = client.post("/api/custom-area", json={"codes": ["E01012681", "E05001645"]})
    assert bad.status_code == 400 and "E05001645" in bad.json()["detail"]
    mixed = client.post("/api/custom-area", json={"codes": ["E01000010", "E01033769"]})
    assert mixed.status_code == 404 and "one vintage" in mixed.json()["detail"]


def test_security_headers_offline_docs_and_html_404(client):
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in r.text and " onclick=" not in r.text  # no inline script
    docs = client.get("/api/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert "Apache License" in client.get("/static/vendor/swagger-ui/LICENSE").text
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Not found" in missing.text


def test_422_bodies_are_truncated(client):
    r = client.get("/api/search", params={"q": "x" * 65_000})
    assert r.status_code == 422 and len(r.text) < 1200 and "characters)" in r.json()["detail"]


def test_dissolved_layers_are_cached_on_disk_and_reread(tmp_path, monkeypatch):
    import numpy as np
    import shapely

    from neighbourhood_lens.web._geo import cached_dissolve

    monkeypatch.setenv("NLENS_CACHE_DIR", str(tmp_path))
    squares = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)])
    keys = np.array(["b", "a", "a"])
    codes, merged = cached_dissolve(keys, squares, name="t", cache_key="k1")
    assert codes.tolist() == ["a", "b"] and shapely.area(merged).tolist() == [2.0, 1.0]
    assert (tmp_path / "geometry" / "t-k1.parquet").exists()
    again, back = cached_dissolve(keys[:1], squares[:1], name="t", cache_key="k1")  # read, not recomputed
    assert again.tolist() == ["a", "b"] and shapely.equals(back, merged).all()


def test_layer_features_are_valid_geojson_with_or_without_a_polygon():
    import json

    import numpy as np
    import pandas as pd
    import shapely

    from neighbourhood_lens.web._geo import _layer

    geoms = np.array([shapely.box(-1.61234567, 54.9, -1.5, 55.0), None], dtype=object)
    props = pd.DataFrame({"name": ['Say "hi"', "Ynys Môn"]}, index=["E01000001", "E01000002"])
    layer = _layer("lsoa21", pd.Series(["E01000001", "E01000002"]), geoms, props)
    doc = json.loads(layer.collection())
    first, second = doc["features"]
    assert first["properties"] == {"code": "E01000001", "name": 'Say "hi"'}
    assert first["geometry"]["type"] == "Polygon" and [-1.61235, 54.9] in first["geometry"]["coordinates"][0]
    assert second == {"type": "Feature", "properties": {"code": "E01000002", "name": "Ynys Môn"}, "geometry": None}
    assert layer.codes == {"E01000001": 0, "E01000002": 1}
    assert json.loads(layer.collection((-1.6, 54.95, -1.55, 54.96)))["features"] == [first]


def test_a_dissolve_in_threads_gives_the_same_polygons_as_in_one(con):
    """Wards 2024 of five Lancashire authorities from their real LSOA 2021 polygons, byte for byte."""
    import shapely

    from neighbourhood_lens.web._geo import dissolve

    rows = con.execute(
        "SELECT h.ward24_code, b.geometry FROM boundaries_lsoa21 b JOIN hierarchy_lsoa21 h USING (lsoa21_code) "
        f"WHERE h.lad24_code IN ({', '.join(repr(c) for c in DEMO_LADS)}) ORDER BY b.lsoa21_code DESC").df()
    keys, geoms = rows["ward24_code"].to_numpy(), shapely.from_wkb(rows["geometry"].map(bytes).to_numpy())
    one_codes, one = dissolve(keys, geoms, threads=1)
    for threads in (2, 3):
        codes, merged = dissolve(keys, geoms, threads=threads)
        assert codes.tolist() == one_codes.tolist() == sorted(set(keys))
        assert shapely.to_wkb(merged).tolist() == shapely.to_wkb(one).tolist()
    several = len(keys) - len(one_codes)
    assert several > 100 and shapely.get_num_geometries(one).min() >= 1  # real unions happened
