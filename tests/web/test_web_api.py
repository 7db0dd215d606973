"""The web API on the real warehouse, through FastAPI's TestClient."""

from __future__ import annotations

import pytest
from web_demo import shared_app


@pytest.fixture(scope="module")
def client(warehouse_path, tmp_path_factory):
    from fastapi.testclient import TestClient

    app = shared_app(warehouse_path, tmp_path_factory.mktemp("web"))
    limit, app.state.max_upload_bytes = app.state.max_upload_bytes, 2000  # a small limit for these tests
    yield TestClient(app, raise_server_exceptions=False)
    app.state.max_upload_bytes = limit


def test_health(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["areas"]["lsoa21"] == 33755 and body["areas"]["ward17"] == 7427


def test_left_behind_2019_is_the_published_225(client):
    body = client.get("/api/left-behind?vintage=2019").json()
    assert body["count"] == 225 == len(body["items"])
    assert {"code", "name", "imd_rank", "cni_rank"} <= set(body["items"][0])
    # Every listed ward is in the most deprived 10% of 7,427 wards and the top 10% on the CNI.
    assert all(item["imd_rank"] <= 742.7 and item["cni_decile"] == 1 for item in body["items"])


def test_left_behind_filters_and_csv(client):
    every = client.get("/api/left-behind?vintage=2023").json()["items"]
    lad = every[0]["lad_code"]
    some = client.get(f"/api/left-behind?vintage=2023&lad={lad}").json()["items"]
    assert len(some) == sum(item["lad_code"] == lad for item in every) > 0
    csv = client.get(f"/api/left-behind?vintage=2023&lad={lad}&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == len(some) + 1


@pytest.mark.parametrize("url, status, words", [
    ("/api/left-behind?vintage=2020", 400, "2019"),
    ("/api/left-behind?lad=../../etc", 422, "lad"),
    ("/api/areas/E99999999", 404, "no English"),
    ("/api/areas/not-a-code", 422, "code"),
    ("/api/geo/lsoa21", 400, "bbox"),
    ("/api/geo/lsoa21?bbox=1,2,3", 400, "four numbers"),
    ("/api/geo/countries", 422, "layer"),
    ("/api/search?q=a", 422, "q"),
])
def test_bad_input_is_a_clear_error_without_trace(client, url, status, words):
    r = client.get(url)
    assert r.status_code == status
    assert words in r.json()["detail"]
    assert "Traceback" not in r.text


def test_profile_of_a_ward17_uses_2019(client):
    p = client.get("/api/areas/E05001645").json()  # Bloomfield, Blackpool: IMD rank 1 ward
    assert p["imd"]["edition"] == "IoD2019" and p["imd"]["rank"] == 1
    assert p["left_behind"]["left_behind"] is True
    assert len(p["domains"]) == 7 and p["neighbours"]
    assert all(n["code"].startswith("E05") for n in p["neighbours"])


def test_profile_of_a_shared_lsoa_code_has_both_editions(client, con):
    p = client.get("/api/areas/E01000001").json()
    published = con.execute("SELECT imd_decile FROM imd2025_lsoa21 WHERE lsoa21_code='E01000001'").fetchone()[0]
    assert p["imd"]["edition"] == "IoD2025" and p["imd"]["decile"] == published
    assert [e["imd"]["edition"] for e in p["other_editions"]] == ["IoD2019"]
    assert p["bbox"] is not None and p["lad_context"]["code"] == "E09000001"


def test_profile_of_a_lad_counts_its_left_behind_lsoas(client):
    p = client.get("/api/areas/E08000021").json()
    items = client.get("/api/left-behind?vintage=2023&lad=E08000021").json()["items"]
    assert p["left_behind"]["n_left_behind_within"] == len(items)
    r = client.get("/api/areas/E08000021")
    assert "max-age" in r.headers["cache-control"]


def test_geometry_layers_are_simplified_and_compressed(client):
    r = client.get("/api/geo/lad24", headers={"accept-encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and "max-age" in r.headers["cache-control"]
    assert len(r.json()["features"]) == 296
    box = client.get("/api/geo/lsoa21?bbox=-1.70,54.95,-1.55,55.02").json()["features"]
    assert 0 < len(box) < 1000 and all(f["properties"]["code"].startswith("E01") for f in box)


def test_search_finds_lads_and_codes(client):
    items = client.get("/api/search?q=newcastle upon").json()["items"]
    assert items[0]["code"] == "E08000021"
    assert client.get("/api/search?q=e05001645").json()["items"][0]["name"] == "Bloomfield"


def test_upload_is_size_limited_and_header_checked(client):
    big = client.post("/api/funding/upload", files={"file": ("g.csv", b"x" * 5000, "text/csv")})
    assert big.status_code == 413 and "upload limit" in big.json()["detail"]
    assert big.headers["cache-control"] == "no-store"
    # A body far over the limit is refused by the middleware, before the multipart parser sees it.
    huge = client.post("/api/funding/upload", files={"file": ("g.csv", b"x" * 200_000, "text/csv")})
    assert huge.status_code == 413 and "over the upload limit of 0.0 MB" in huge.json()["detail"]
    page = client.post("/funding", files={"file": ("g.csv", b"x" * 200_000, "text/csv")})
    assert page.status_code == 413 and "upload limit" in page.text and page.headers["cache-control"] == "no-store"
    bad = client.post("/api/funding/upload", files={"file": ("g.csv", b"id,amount\n1,2\n", "text/csv")})
    assert bad.json()["ok"] is False and "Amount Awarded" in bad.json()["errors"][0]
    exe = client.post("/api/funding/upload", files={"file": ("../../evil.exe", b"MZ", "application/octet-stream")})
    assert exe.status_code == 400 and "'evil.exe'" in exe.json()["detail"]


def test_pages_render(client):
    for url, text in [("/", 'id="map"'), ("/area/E05001645", "Bloomfield"), ("/left-behind", "225"),
                      ("/funding", "360Giving")]:
        r = client.get(url)
        assert r.status_code == 200 and text in r.text
    assert client.get("/area/E99999999").status_code == 404
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200


def test_upload_of_a_valid_360giving_file_returns_its_reach(client, con):
    from neighbourhood_lens.funding.reach import synthetic_grants

    keep = ["Identifier", "Currency", "Amount Awarded", "Award Date", "Beneficiary Location:0:Geographic Code",
            "Beneficiary Location:0:Geographic Code Type"]
    grants = synthetic_grants(con, 12, seed=5)[keep]
    data = grants.to_csv(index=False).encode()
    assert len(data) < 2000  # the client's upload limit
    body = client.post("/api/funding/upload", files={"file": ("g.csv", data, "text/csv")},
                       data={"index": "imd2019"}).json()
    assert body["ok"] and not body["errors"]
    s = body["summary"]
    assert s["rows_in"] == 12 == s["located"] + s["unlocated"] + s["rejected"] and s["balanced"]
    assert s["synthetic"] is True


def test_upload_limit_stops_reading_a_stream_once_it_is_passed():
    import asyncio

    from neighbourhood_lens.web.app import _UploadLimit

    reads, refused, reached = [], [], []

    async def endless():  # a client that never stops sending 1 kB chunks
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def refuse(scope, receive, send, size):
        refused.append(size)

    async def inner(scope, receive, send):
        reached.append(scope["path"])

    mw = _UploadLimit(inner, limit=lambda path: 10_000 if path == "/api/funding/upload" else None, refuse=refuse)
    scope = {"type": "http", "method": "POST", "path": "/api/funding/upload", "headers": []}
    asyncio.run(mw(scope, endless, None))
    assert len(reads) == 11 and refused and not reached  # 11 kB read, then refused; the app never ran
    declared = {**scope, "headers": [(b"content-length", b"50000")]}
    reads.clear()
    asyncio.run(mw(declared, endless, None))
    assert reads == [] and refused[-1] == "0.1 MB"  # refused on the header alone
    asyncio.run(mw({**scope, "path": "/api/search"}, endless, None))
    assert reached == ["/api/search"]  # other paths are not buffered


def test_user_values_are_escaped_in_pages(client):
    evil = "<svg onload=alert(1)>.csv"
    r = client.post("/funding", files={"file": (evil, b"id,amount\n1,2\n", "text/csv")})
    assert r.status_code == 400 and "&lt;svg onload=alert(1)&gt;.csv could not be analysed" in r.text
    assert "<svg onload" not in r.text
    r = client.post("/funding", files={"file": ("..\\..\\<img src=x onerror=alert(1)>.exe", b"MZ", "x/y")})
    assert r.status_code == 400 and "&lt;img src=x onerror=alert(1)&gt;.exe" in r.text and "<img src=x" not in r.text
    assert "..\\" not in r.text  # only the base name is shown
    r = client.get("/area/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert r.status_code in (404, 422) and "<script>alert(1)" not in r.text
    r = client.get("/left-behind?lad=%3Cb%3Ex")
    assert r.status_code == 422 and "&lt;b&gt;x" in r.text and "<b>x" not in r.text


def test_static_files_cannot_escape_their_directory(client):
    for url in ("/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/..%2f..%2fweb%2fapp.py",
                "/static/vendor/../../app.py"):
        r = client.get(url)
        assert r.status_code == 404 and "create_app" not in r.text, url


def test_internal_errors_hide_details_and_are_not_cached(client, monkeypatch):
    from neighbourhood_lens.web import app as web_app

    def broken(*args, **kwargs):
        raise RuntimeError("secret /home/user/warehouse.duckdb detail")

    monkeypatch.setattr(web_app, "area_profile", broken)
    for url in ("/area/E08000022", "/api/areas/E08000023"):
        r = client.get(url)
        assert r.status_code == 500 and "internal error" in r.text
        assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
        assert r.headers["cache-control"] == "no-store"


def test_cache_headers_by_kind_of_response(client):
    assert "max-age" in client.get("/static/style.css").headers["cache-control"]
    assert client.get("/api/areas/E99999999").headers["cache-control"] == "no-store"
    assert client.get("/funding").headers["cache-control"] == "no-store"
    bad = client.post("/api/funding/upload", files={"file": ("g.csv", b"id,amount\n1,2\n", "text/csv")})
    assert bad.headers["cache-control"] == "no-store"


def test_serve_binds_localhost_by_default():
    import inspect

    from neighbourhood_lens.cli.web import serve

    assert inspect.signature(inspect.unwrap(serve)).parameters["host"].default == "127.0.0.1"


SECURITY = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


def test_security_headers_are_on_every_response_errors_included(client, monkeypatch):
    from neighbourhood_lens.web import app as web_app

    ok = client.get("/api/health")
    not_found = client.get("/no/such/page")
    invalid = client.get("/api/areas/not-a-code")
    too_large = client.post("/api/custom-area", content=b"{}", headers={"content-length": "5000000"})
    monkeypatch.setattr(web_app, "area_profile", lambda *a, **k: 1 / 0)
    crash = client.get("/area/E08000024")
    statuses = [r.status_code for r in (ok, not_found, invalid, too_large, crash)]
    assert statuses == [200, 404, 422, 413, 500]
    for r in (ok, not_found, invalid, too_large, crash):
        missing = [h for h in SECURITY if h not in r.headers]
        assert not missing, (r.status_code, missing)
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    for r in (not_found, invalid, too_large, crash):
        assert r.headers["cache-control"] == "no-store", r.status_code


def test_favicon_is_served(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon" and r.content[:4] == b"\0\0\1\0"
    assert client.get("/static/favicon.svg").status_code == 200
    assert 'rel="icon" href="/favicon.ico"' in client.get("/").text


def test_custom_area_bodies_are_size_limited_before_parsing(client):
    from neighbourhood_lens.web._areas import MAX_CUSTOM_BODY_BYTES

    big = b'{"codes": ["' + b"E01000001" * (MAX_CUSTOM_BODY_BYTES["/api/custom-area"] // 9) + b'"]}'
    r = client.post("/api/custom-area", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over the limit of 1.0 MB for /api/custom-area" in r.json()["detail"]
    assert "at most 5,000 LSOA codes" in r.json()["detail"]
    r = client.post("/custom", files={"file": ("codes.csv", b"E01000001\n" * 150_000, "text/csv")})
    assert r.status_code == 413 and "for /custom" in r.text and "<html" in r.text.lower()


def test_custom_area_json_is_validated_off_the_loop_with_the_usual_messages(client, con):
    codes = con.execute("SELECT lsoa21_code FROM hierarchy_lsoa21 WHERE ward24_code = "
                        "(SELECT min(ward24_code) FROM hierarchy_lsoa21)").df()["lsoa21_code"].tolist()
    r = client.post("/api/custom-area", json={"name": "One ward", "codes": codes})
    assert r.status_code == 200 and r.json()["n_lsoas"] == len(codes) and r.json()["bbox"]
    assert r.headers["content-encoding"] == "gzip" and r.headers["x-frame-options"] == "DENY"  # gzipped off the loop
    plain = client.post("/api/custom-area", json={"name": "One ward", "codes": codes},
                        headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == r.json()
    r = client.post("/api/custom-area", json={"codes": ["E01000001"], "colour": "red"})
    assert r.status_code == 422 and "colour: Extra inputs are not permitted" in r.json()["detail"]
    r = client.post("/api/custom-area", content=b'{"codes": [', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "invalid request" in r.json()["detail"]
    r = client.post("/api/custom-area", json={"codes": ["E01000001"] * 5001})
    assert r.status_code == 422 and "at most 5000 items" in r.json()["detail"]
    schema = client.get("/api/openapi.json").json()["paths"]["/api/custom-area"]["post"]["requestBody"]
    assert "codes" in schema["content"]["application/json"]["schema"]["properties"]


@pytest.mark.parametrize("level", ["lsoa21", "lsoa11", "ward17", "lad24"])
def test_area_summaries_at_once_equal_the_one_by_one_summaries(client, level):
    from neighbourhood_lens.outputs.profiles import _summaries, _summary

    store = client.app.state.store
    frame = store.frames[level]
    codes = frame.index[:: max(1, len(frame) // 300)].tolist()  # ~300 areas across the country
    if "cni_decile" in frame.columns:
        codes += frame.index[frame["cni_decile"].isna()][:5].tolist()  # missing values become None
    assert _summaries(store, level, codes) == [_summary(store, level, c) for c in codes]
    with pytest.raises(KeyError):
        _summaries(store, level, ["E99999999"])
