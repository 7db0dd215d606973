"""Downloads against a loopback HTTP server serving files in each publisher's real layout:
good, corrupt, truncated, moved, missing and slow. No test touches the internet."""

from __future__ import annotations

import hashlib

import pandas as pd
import pyarrow.parquet as pq
import pytest
from _loopback import Loopback, zip_bytes

from neighbourhood_lens.data.build import build_warehouse
from neighbourhood_lens.data.download import USER_AGENT, fetch, load_sources_file, read_manifest
from neighbourhood_lens.data.sources import Source
from neighbourhood_lens.warehouse import connect

# IoD2019 File 7 as published: publisher headers, including the population denominators.
FILE7 = (
    b"LSOA code (2011),LSOA name (2011),Local Authority District code (2019),Local Authority District name (2019),"
    b"Index of Multiple Deprivation (IMD) Score,Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
    b"Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs),"
    b"Total population: mid 2015 (excluding prisoners),"
    b"Working age population 18-59/64: for use with Employment Deprivation Domain (excluding prisoners)\n"
    b"E01000001,City of London 001A,E09000001,City of London,6.208,29199,9,1296,975\n"
    b"E01000002,City of London 001B,E09000001,City of London,5.143,30379,10,1156,862\n"
)
NOT_IOD = b"name,value\nfoo,1\n"
LOOKUPS = ("lookup_lsoa11_lad19", "lookup_lsoa21_ward24_lad24")


@pytest.fixture()
def server():
    with Loopback() as s:
        yield s


def src(url: str, fmt: str = "csv", **kw) -> dict[str, tuple[Source, ...]]:
    return (Source(url, fmt, **kw),)


def test_file7_is_downloaded_verified_cached_with_denominators_and_not_fetched_twice(server, tmp_path):
    url = server.file("/media/File_7.csv", FILE7)
    sha = hashlib.sha256(FILE7).hexdigest()
    [r] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": url},
                checksums={"imd2019_lsoa11": sha})
    assert (r.status, r.sha256) == ("downloaded", sha), r.detail
    assert r.path.read_bytes() == FILE7
    assert read_manifest(tmp_path)["imd2019_lsoa11"]["url"] == url
    cols = pq.read_table(r.table).column_names
    assert "Total population: mid 2015 (excluding prisoners)" in cols
    assert server.agents == [USER_AGENT]
    [again] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": url})
    assert again.status == "cached" and server.hits == ["/media/File_7.csv"]


def test_checksum_mismatch_is_rejected_and_nothing_is_cached(server, tmp_path):
    url = server.file("/File_7.csv", FILE7)
    [r] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": url},
                checksums={"imd2019_lsoa11": "0" * 64})
    assert r.status == "failed" and "does not match the pinned" in r.detail
    assert not list((tmp_path / "imd2019_lsoa11").glob("*"))
    assert "imd2019_lsoa11" not in read_manifest(tmp_path)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "HTTP 404"),
        ("wrong", "does not look like imd2019_lsoa11"),
        ("truncated", "download incomplete"),
        ("empty", "empty"),
        ("slow", "timed out"),
    ],
)
def test_bad_downloads_fail_with_a_reason(server, tmp_path, kind, message):
    url = {
        "missing": server.url + "/nothing/File_7.csv",
        "wrong": server.file("/wrong/File_7.csv", NOT_IOD),
        "truncated": server.file("/short/File_7.csv", FILE7, truncate_to=50),
        "empty": server.file("/empty/File_7.csv", b""),
        "slow": server.file("/slow/File_7.csv", FILE7, delay=3),
    }[kind]
    [r] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": url}, timeout=1)
    assert r.status == "failed" and message in r.detail, r.detail
    assert "imd2019_lsoa11" not in read_manifest(tmp_path)


def test_moved_file_is_followed_and_a_404_falls_back_to_the_next_address(server, tmp_path):
    new = server.file("/media/new/File_7.csv", FILE7)
    old = server.moved("/government/uploads/File_7.csv", new)
    [r] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path / "a", urls={"imd2019_lsoa11": old})
    assert r.status == "downloaded" and r.path.read_bytes() == FILE7
    sources = {"imd2019_lsoa11": (Source(server.url + "/gone.csv"), Source(new))}
    [r] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path / "b", sources=sources)
    assert r.status == "downloaded" and r.url == new
    assert "HTTP 404" in r.notes[0] and "fallback" in r.detail


def test_corrupt_workbook_and_zip_are_refused(server, tmp_path):
    xlsx = server.file("/File_8.xlsx", b"PK\x03\x04 this is not a workbook")
    [r] = fetch(["imd2019_lsoa11_indicators"], cache_dir=tmp_path, urls={"imd2019_lsoa11_indicators": xlsx})
    assert r.status == "failed" and "not a readable XLSX workbook" in r.detail
    z = server.file("/ts001.zip", b"not a zip")
    [r] = fetch(["census2021_population_lsoa21"], cache_dir=tmp_path,
                sources={"census2021_population_lsoa21": src(z, "zip", member="census2021-ts001-lsoa.csv")})
    assert r.status == "failed" and "not a readable ZIP" in r.detail


def test_cni_is_never_downloaded_unless_the_user_names_an_address(tmp_path):
    [cni] = fetch(["cni2019_ward17"], cache_dir=tmp_path)
    assert cni.status == "manual" and "never downloaded automatically" in cni.detail


def file8_workbook(path, *, drop_from_second: bool = False) -> bytes:
    """A small workbook laid out like IoD2019 File 8: a Notes sheet, then one sheet per domain."""
    codes = ["E01000001", "E01000002", "E01000003"]
    area = {"LSOA code (2011)": codes, "LSOA name (2011)": ["City of London 001A", "001B", "001C"]}
    income = pd.DataFrame({**area, "Income Domain numerator": [40.0, 35.0, 150.0]})
    barriers = pd.DataFrame({**area, "Road distance to a GP surgery indicator (km)": [0.5, 0.6, 0.4]})
    if drop_from_second:
        barriers = barriers.iloc[:2]
    with pd.ExcelWriter(path) as xl:
        notes = pd.DataFrame({"Notes": ["English Indices of Deprivation 2019 (test copy)"]})
        notes.to_excel(xl, sheet_name="Notes", index=False)
        income.to_excel(xl, sheet_name="IoD2019 Income Domain", index=False)
        barriers.to_excel(xl, sheet_name="IoD2019 Barriers Domain", index=False)
    return path.read_bytes()


def test_multi_sheet_workbook_is_joined_on_the_key_and_built(server, tmp_path, mirror):
    url = server.file("/file8.xlsx", file8_workbook(tmp_path / "f8.xlsx"))
    cache = tmp_path / "cache"
    [r] = fetch(["imd2019_lsoa11_indicators"], cache_dir=cache, urls={"imd2019_lsoa11_indicators": url})
    assert r.status == "downloaded", r.detail
    db = tmp_path / "w.duckdb"
    files = {ds: mirror / f"{ds}.parquet" for ds in LOOKUPS}
    build_warehouse(db, cache_dir=cache, files=files, only=[*files, "imd2019_lsoa11_indicators"])
    con = connect(db)
    rows = con.execute(
        "SELECT lsoa11_code, income_domain_numerator, road_distance_to_a_gp_surgery_indicator_km "
        "FROM imd2019_lsoa11_indicators ORDER BY 1").fetchall()
    assert rows == [("E01000001", 40.0, 0.5), ("E01000002", 35.0, 0.6), ("E01000003", 150.0, 0.4)]
    source = con.execute("SELECT source FROM provenance WHERE dataset_id = 'imd2019_lsoa11_indicators'").fetchall()
    assert source[0][0] == url


def test_sheets_that_do_not_line_up_are_refused(server, tmp_path):
    url = server.file("/file8.xlsx", file8_workbook(tmp_path / "f8.xlsx", drop_from_second=True))
    [r] = fetch(["imd2019_lsoa11_indicators"], cache_dir=tmp_path, urls={"imd2019_lsoa11_indicators": url})
    assert r.status == "failed"
    assert "sheets 'IoD2019 Income Domain' and 'IoD2019 Barriers Domain' do not cover the same" in r.detail


def test_ods_with_title_rows_above_the_header(server, tmp_path):
    """Defra's rural-urban lookup: sheet LSOA11 with two title rows above the header."""
    path = tmp_path / "ruc.ods"
    body = [["Rural Urban Classification 2011 lookup tables", None, None, None],
            ["Lower Super Output Areas (LSOA) 2011", None, None, None],
            ["Lower Super Output Area 2011 Code", "Rural Urban Classification 2011 code",
             "Rural Urban Classification 2011 (10 fold)", "Rural Urban Classification 2011 (2 fold)"],
            ["E01000001", "A1", "Urban major conurbation", "Urban"],
            ["W01000002", "E1", "Rural village", "Rural"]]
    with pd.ExcelWriter(path, engine="odf") as xl:
        pd.DataFrame({"Notes": ["about"]}).to_excel(xl, sheet_name="Notes", index=False)
        pd.DataFrame(body).to_excel(xl, sheet_name="LSOA11", index=False, header=False)
    url = server.file("/ruc.ods", path.read_bytes())
    [r] = fetch(["ruc2011_lsoa11"], cache_dir=tmp_path / "c", urls={"ruc2011_lsoa11": url})
    assert r.status == "downloaded", r.detail
    frame = pq.read_table(r.table).to_pandas()
    assert frame.iloc[:, 0].tolist() == ["E01000001", "W01000002"] and frame.iloc[1, 3] == "Rural"


def test_zip_member_csv_keeps_english_rows_and_says_how_many_were_left_out(server, tmp_path):
    """Nomis's TS001 bulk zip: the LSOA CSV (England and Wales) inside, Nomis headers."""
    csv = (b"date,geography,geography code,Residence type: Total; measures: Value,"
           b"Residence type: Lives in a household; measures: Value\n"
           b"2021,City of London 001A,E01000001,1473,1473\n2021,City of London 001B,E01000002,1384,1384\n"
           b"2021,Isle of Anglesey 001A,W01000001,1500,1490\n")
    url = server.file("/census2021-ts001.zip", zip_bytes({"census2021-ts001-ctry.csv": b"x\n1\n",
                                                          "census2021-ts001-lsoa.csv": csv}))
    [r] = fetch(["census2021_population_lsoa21"], cache_dir=tmp_path, urls={"census2021_population_lsoa21": url})
    assert r.status == "downloaded", r.detail
    assert r.rows == 3 and any("1 rows for Wales" in n for n in r.notes), r.notes


def test_arcgis_layer_is_paged_past_the_1000_row_cap(server, tmp_path):
    rows = [{"LSOA11CD": f"E01{i:06d}", "WD17CD": f"E05{i // 5:06d}"} for i in range(1, 2501)]
    url = server.arcgis_layer("LSOA11_WD17_EW_LU", rows)
    [r] = fetch(["lookup_lsoa11_ward17"], cache_dir=tmp_path, urls={"lookup_lsoa11_ward17": url})
    assert r.status == "downloaded", r.detail
    table = pq.read_table(r.table)
    assert table.num_rows == 2500 and set(table.column_names) == {"LSOA11CD", "WD17CD"}
    pages = [h for h in server.hits if "resultOffset" in h]
    assert [h.split("resultOffset=")[1].split("&")[0] for h in pages] == ["0", "1000", "2000"]
    assert all("resultRecordCount=1000" in h for h in pages)


def test_arcgis_boundaries_as_geojson_and_a_wrong_row_count(server, tmp_path):
    sq = [{"type": "Polygon", "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]]} for x in range(3)]
    rows = [{"LAD24CD": c, "LAD24NM": c} for c in ("E06000001", "E06000002", "W06000001")]
    url = server.arcgis_layer("LAD_2024_BUC", rows, cap=2, geometries=sq)
    [r] = fetch(["boundaries_lad24"], cache_dir=tmp_path, urls={"boundaries_lad24": url})
    assert r.status == "downloaded", r.detail
    assert pq.read_table(r.table).num_rows == 3
    # the registry's own address is checked against the published row count (361 for LAD 2024)
    sources = {"boundaries_lad24": (Source(url, "arcgis-geojson", rows=361),)}
    [bad] = fetch(["boundaries_lad24"], cache_dir=tmp_path / "x", sources=sources)
    assert bad.status == "failed" and "3 rows, but boundaries_lad24 has 361" in bad.detail


def test_sources_file_replaces_addresses_and_build_fetches_what_is_missing(server, tmp_path, mirror, monkeypatch):
    url = server.file("/mirror/File_7.csv", FILE7)
    toml = tmp_path / "my_sources.toml"
    toml.write_text(f'[imd2019_lsoa11]\nurl = "{url}"\nsha256 = "{hashlib.sha256(FILE7).hexdigest()}"\n')
    monkeypatch.setenv("NLENS_SOURCES", str(toml))
    sources = load_sources_file()
    assert sources["imd2019_lsoa11"][0].format == "csv"
    files = {ds: mirror / f"{ds}.parquet" for ds in LOOKUPS}
    report = build_warehouse(tmp_path / "w.duckdb", cache_dir=tmp_path / "cache", files=files,
                             only=[*files, "imd2019_lsoa11"], fetch_missing=True, sources=sources)
    assert report.fetched == ["imd2019_lsoa11"]
    assert connect(tmp_path / "w.duckdb").execute("SELECT count(*) FROM imd2019_lsoa11").fetchall()[0][0] == 2


def test_offline_build_names_every_missing_file_and_where_to_put_it(tmp_path, mirror):
    from neighbourhood_lens.errors import SourceUnavailableError

    dead = {"imd2019_lsoa11": (Source("http://127.0.0.1:9/File_7.csv"),)}
    files = {ds: mirror / f"{ds}.parquet" for ds in LOOKUPS}
    with pytest.raises(SourceUnavailableError) as err:
        build_warehouse(tmp_path / "w.duckdb", cache_dir=tmp_path / "cache", files=files,
                        only=[*files, "imd2019_lsoa11"], fetch_missing=True, sources=dead, timeout=2)
    msg = str(err.value)
    assert msg.startswith("1 open dataset(s) are not in the cache and could not be downloaded "
                          "(cannot reach 127.0.0.1:9)")
    assert "  imd2019_lsoa11: https://assets.publishing.service.gov.uk/media/" in msg and "--file ID=PATH" in msg
    assert not (tmp_path / "w.duckdb").exists()


def test_a_fixed_file_that_changes_after_the_first_download_is_flagged(server, tmp_path):
    url = server.file("/media/File_7.csv", FILE7)
    [first] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": url})
    changed = FILE7.replace(b"6.208", b"6.209")
    server.file("/media/File_7.csv", changed)
    [again] = fetch(["imd2019_lsoa11"], cache_dir=tmp_path, urls={"imd2019_lsoa11": url}, force=True)
    assert again.status == "downloaded" and "CHANGED since the last download" in again.detail
    assert first.sha256 != again.sha256 and f"sha256 {first.sha256[:12]}" in again.notes[0]
