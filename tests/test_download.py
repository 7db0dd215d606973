"""Downloads against a real HTTP server on loopback serving good, corrupted and missing files."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from neighbourhood_lens.build import build_warehouse
from neighbourhood_lens.download import fetch, read_manifest
from neighbourhood_lens.warehouse import connect

GOOD = (
    b"LSOA code (2011),Index of Multiple Deprivation (IMD) Score,"
    b"Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
    b"Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)\n"
    b"E01000001,6.208,29199,9\nE01000002,5.143,30379,10\n"
)
NOT_IOD = b"name,value\nfoo,1\n"


class Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes, int | None]] = {}
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server API
        self.hits.append(self.path)
        status, body, length = self.routes.get(self.path, (404, b"not found", None))
        self.send_response(status)
        self.send_header("Content-Length", str(length if length is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    Handler.routes = {
        "/good/File_7.csv": (200, GOOD, None),
        "/wrong/File_7.csv": (200, NOT_IOD, None),
        "/short/File_7.csv": (200, GOOD[:50], len(GOOD)),
        "/empty/File_7.csv": (200, b"", None),
    }
    Handler.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_good_download_is_verified_cached_and_not_fetched_twice(server, tmp_path):
    url = f"{server}/good/File_7.csv"
    sha = hashlib.sha256(GOOD).hexdigest()
    [r] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": url},
                checksums={"imd2019_lsoa11": sha})
    assert (r.status, r.sha256) == ("downloaded", sha)
    assert r.path.read_bytes() == GOOD
    assert read_manifest(tmp_path)["imd2019_lsoa11"]["url"] == url
    [again] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": url})
    assert again.status == "cached" and Handler.hits == ["/good/File_7.csv"]


def test_checksum_mismatch_is_rejected_and_nothing_is_cached(server, tmp_path):
    [r] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": f"{server}/good/File_7.csv"},
                checksums={"imd2019_lsoa11": "0" * 64})
    assert r.status == "failed" and "does not match the pinned" in r.detail
    assert not any((tmp_path / "imd2019_lsoa11").iterdir())


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing/File_7.csv", "HTTP 404"),
        ("/wrong/File_7.csv", "does not look like imd2019_lsoa11"),
        ("/short/File_7.csv", "download incomplete"),
        ("/empty/File_7.csv", "empty file"),
    ],
)
def test_bad_downloads_fail_with_a_reason(server, tmp_path, path, message):
    [r] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": server + path})
    assert r.status == "failed" and message in r.detail
    assert "imd2019_lsoa11" not in read_manifest(tmp_path)


def test_unreachable_server_and_manual_datasets(tmp_path):
    [r, cni] = fetch(["imd2019_lsoa11", "cni2019_ward17"], cache_dir=tmp_path,
                     urls={"imd2019_lsoa11": "http://127.0.0.1:9/File_7.csv"}, timeout=2)
    assert r.status == "failed" and "cannot connect" in r.detail
    assert cni.status == "manual" and "supply your own copy" in cni.detail


def test_build_from_the_download_cache(server, tmp_path, mirror):
    cache = tmp_path / "cache"
    fetch(["imd2019_lsoa11"], cache_dir=cache, urls={"imd2019_lsoa11": f"{server}/good/File_7.csv"})
    db = tmp_path / "w.duckdb"
    files = {ds: mirror / f"{ds}.parquet" for ds in ("lookup_lsoa11_lad19", "lookup_lsoa21_ward24_lad24")}
    build_warehouse(db, cache_dir=cache, files=files, only=[*files, "imd2019_lsoa11"])
    con = connect(db)
    assert con.execute("SELECT count(*) FROM imd2019_lsoa11").fetchone()[0] == 2
    source = con.execute("SELECT source FROM provenance WHERE dataset_id = 'imd2019_lsoa11'").fetchone()[0]
    assert source.startswith(str(cache))


def file8_workbook(path, *, drop_from_second: bool = False):
    """A small workbook laid out like IoD2019 File 8: a Notes sheet, then one sheet per domain."""
    import pandas as pd

    codes = ["E01000001", "E01000002", "E01000003"]
    area = {"LSOA code (2011)": codes, "LSOA name (2011)": ["City of London 001A", "001B", "001C"]}
    income = pd.DataFrame({**area, "Income Domain numerator": [40.0, 35.0, 150.0]})
    barriers = pd.DataFrame({**area, "Road distance to a GP surgery indicator (km)": [0.5, 0.6, 0.4]})
    if drop_from_second:
        barriers = barriers.iloc[:2]
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"Notes": ["English Indices of Deprivation 2019 (test copy)"]}).to_excel(xl, sheet_name="Notes", index=False)
        income.to_excel(xl, sheet_name="IoD2019 Income Domain", index=False)
        barriers.to_excel(xl, sheet_name="IoD2019 Barriers Domain", index=False)
    return path.read_bytes()


def test_multi_sheet_workbook_is_joined_on_the_key(server, tmp_path, mirror):
    Handler.routes["/file8.xlsx"] = (200, file8_workbook(tmp_path / "f8.xlsx"), None)
    cache = tmp_path / "cache"
    [r] = fetch(["imd2019_lsoa11_indicators"], cache_dir=cache,
                urls={"imd2019_lsoa11_indicators": f"{server}/file8.xlsx"})
    assert r.status == "downloaded", r.detail
    db = tmp_path / "w.duckdb"
    files = {ds: mirror / f"{ds}.parquet" for ds in ("lookup_lsoa11_lad19", "lookup_lsoa21_ward24_lad24")}
    build_warehouse(db, cache_dir=cache, files=files, only=[*files, "imd2019_lsoa11_indicators"])
    rows = connect(db).execute(
        "SELECT lsoa11_code, income_domain_numerator, road_distance_to_a_gp_surgery_indicator_km "
        "FROM imd2019_lsoa11_indicators ORDER BY 1").fetchall()
    assert rows == [("E01000001", 40.0, 0.5), ("E01000002", 35.0, 0.6), ("E01000003", 150.0, 0.4)]


def test_sheets_that_do_not_line_up_are_refused(server, tmp_path):
    Handler.routes["/file8.xlsx"] = (200, file8_workbook(tmp_path / "f8.xlsx", drop_from_second=True), None)
    [r] = fetch(["imd2019_lsoa11_indicators"], cache_dir=tmp_path,
                urls={"imd2019_lsoa11_indicators": f"{server}/file8.xlsx"})
    assert r.status == "failed"
    assert "sheets 'IoD2019 Income Domain' and 'IoD2019 Barriers Domain' do not cover the same" in r.detail
