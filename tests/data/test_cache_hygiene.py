"""The download cache stays sound: atomic downloads, orphan sweep, --force keeps the old copy until
the new one verifies, paths relative to the cache, errors that name the address, a hint for a
corrupt cached table. Each test states the case before and after."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _loopback import Loopback, zip_bytes

from neighbourhood_lens.data.build import build_warehouse
from neighbourhood_lens.data.download import cached_table, fetch, read_manifest
from neighbourhood_lens.errors import DataError

FILE7 = (
    b"LSOA code (2011),LSOA name (2011),Index of Multiple Deprivation (IMD) Score,"
    b"Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
    b"Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)\n"
    b"E01000001,City of London 001A,6.208,2,10\nE01000002,City of London 001B,5.143,1,10\n"
)
ID = "imd2019_lsoa11"
LOOKUPS = ("lookup_lsoa11_lad19", "lookup_lsoa21_ward24_lad24")


@pytest.fixture()
def server():
    with Loopback() as s:
        yield s


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_force_keeps_the_good_copy_when_the_new_download_is_corrupt(server, tmp_path):
    url = server.file("/media/File_7.csv", FILE7)
    [first] = fetch([ID], cache_dir=tmp_path, urls={ID: url})
    before, manifest = _files(tmp_path / ID), read_manifest(tmp_path)
    server.file("/media/File_7.csv", b"<html>Service unavailable</html>")  # the refresh gets an error page
    [again] = fetch([ID], cache_dir=tmp_path, urls={ID: url}, force=True)
    assert first.status == "downloaded" and again.status == "failed"
    assert "(the cached copy was kept)" in again.detail and url in again.detail
    assert _files(tmp_path / ID) == before and read_manifest(tmp_path) == manifest  # after == before
    assert cached_table(tmp_path, ID) is not None


def test_a_killed_download_leaves_a_part_file_that_the_next_fetch_sweeps(server, tmp_path):
    url = server.file("/media/File_7.csv", FILE7 * 4000, stall_after=200_000)  # sends 200 kB, then hangs
    code = ("import sys; from pathlib import Path; from neighbourhood_lens.data.download import fetch; "
            f"fetch([{ID!r}], cache_dir=Path({str(tmp_path)!r}), urls={{{ID!r}: {url!r}}}, timeout=60)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    part = None
    for _ in range(600):
        parts = list((tmp_path / ID).glob("*.part")) if (tmp_path / ID).is_dir() else []
        if parts and parts[0].stat().st_size >= 65536:
            part = parts[0]
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert part is not None and part.name == f"File_7.csv.{proc.pid}.part"  # before: the orphan (64 kB+)
    assert "File_7.csv" not in _files(tmp_path / ID)  # nothing half-written under the real name
    pooch_orphan = tmp_path / ID / "tmpab12cd34"  # what the earlier pooch downloader left behind
    pooch_orphan.write_bytes(b"partial")
    server.file("/media/File_7.csv", FILE7)
    [r] = fetch([ID], cache_dir=tmp_path, urls={ID: url})
    assert r.status == "downloaded"
    assert sorted(_files(tmp_path / ID)) == ["File_7.csv", f"{ID}.nlens.parquet"]  # after: swept


def test_a_part_file_of_a_running_download_is_left_alone(tmp_path):
    from neighbourhood_lens.data.transfer import sweep_orphans

    (tmp_path / ID).mkdir()
    live = tmp_path / ID / f"File_7.csv.{os.getppid()}.part"  # the parent process is alive
    dead = tmp_path / ID / "File_7.csv.999999999.part"
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    assert sweep_orphans(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


def test_manifest_paths_are_relative_so_a_moved_cache_is_read_where_it_is(server, tmp_path, mirror):
    url = server.file("/media/File_7.csv", FILE7)
    old = tmp_path / "old_cache"
    fetch([ID], cache_dir=old, urls={ID: url})
    entry = read_manifest(old)[ID]
    assert entry["table"] == f"{ID}/{ID}.nlens.parquet" and entry["file"] == f"{ID}/File_7.csv"
    new = tmp_path / "moved_cache"
    shutil.move(old, new)
    hit = cached_table(new, ID)
    assert hit is not None and hit[0] == new / ID / f"{ID}.nlens.parquet"
    # a manifest written by an earlier version (absolute paths to the old place) is read inside this cache
    legacy = dict(entry, table=str(old / ID / f"{ID}.nlens.parquet"), file=str(old / ID / "File_7.csv"))
    (new / "manifest.json").write_text(json.dumps({ID: legacy}))
    assert cached_table(new, ID)[0] == new / ID / f"{ID}.nlens.parquet"
    files = {ds: mirror / f"{ds}.parquet" for ds in LOOKUPS}
    report = build_warehouse(tmp_path / "w.duckdb", cache_dir=new, files=files, only=[*files, ID])
    assert ID in report.loaded


def test_a_corrupt_download_is_reported_with_its_address_not_the_cache_path(server, tmp_path):
    url = server.file("/output/census/2021/census2021-ts001.zip", b"PK\x03\x04 not really a zip")
    [r] = fetch(["census2021_population_lsoa21"], cache_dir=tmp_path, urls={"census2021_population_lsoa21": url})
    assert r.status == "failed" and r.detail.startswith(url) and "not a readable ZIP" in r.detail
    assert str(tmp_path) not in r.detail.split(" (saved as ")[0]
    inner = zip_bytes({"census2021-ts001-lsoa.csv": b"date,geography\n"})
    server.file("/output/census/2021/census2021-ts001.zip", inner)
    [r] = fetch(["census2021_population_lsoa21"], cache_dir=tmp_path, urls={"census2021_population_lsoa21": url})
    assert r.status == "failed" and r.detail.startswith(url), r.detail


def test_a_corrupt_cached_table_gives_the_fix_and_fetch_replaces_it(server, tmp_path, mirror):
    url = server.file("/media/File_7.csv", FILE7)
    fetch([ID], cache_dir=tmp_path, urls={ID: url})
    table = tmp_path / ID / f"{ID}.nlens.parquet"
    table.write_bytes(table.read_bytes()[:100])  # before: a truncated Parquet (a full disk, a bad copy)
    files = {ds: mirror / f"{ds}.parquet" for ds in LOOKUPS}
    with pytest.raises(DataError) as err:
        build_warehouse(tmp_path / "w.duckdb", cache_dir=tmp_path, files=files, only=[*files, ID])
    assert f"nlens data fetch --force {ID}" in str(err.value) and url in str(err.value)
    [r] = fetch([ID], cache_dir=tmp_path, urls={ID: url})  # without --force: the unreadable table is refetched
    assert r.status == "downloaded" and any("cached table was unreadable" in n for n in r.notes)
    assert ID in build_warehouse(tmp_path / "w.duckdb", cache_dir=tmp_path, files=files, only=[*files, ID]).loaded
