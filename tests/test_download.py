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
