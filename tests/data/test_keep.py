"""Rebuilds keep the user's work: --file replaces one dataset, --only deletes nothing, user tables
survive (or are dropped with a reason), and a held or foreign warehouse file is refused clearly."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.cli import app
from neighbourhood_lens.data.build import build_warehouse
from neighbourhood_lens.data.sources import DATASETS
from neighbourhood_lens.deprivation.left_behind import left_behind
from neighbourhood_lens.errors import WarehouseError
from neighbourhood_lens.neighbourhoods.build import store_neighbourhoods
from neighbourhood_lens.store import save_result
from neighbourhood_lens.warehouse import connect


def _tables(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in names}
    finally:
        con.close()


@pytest.fixture()
def work(warehouse_path: Path, tmp_path: Path) -> Path:
    """A copy of the session warehouse with a stored neighbourhood set and a stored index."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(warehouse_path, path)
    con = duckdb.connect(str(path))
    h = con.execute("SELECT lsoa21_code, lad24_code FROM hierarchy_lsoa21").df()
    h["neighbourhood_code"], h["neighbourhood_name"] = "N-" + h["lad24_code"], h["lad24_code"]
    store_neighbourhoods(con, "by_lad", h, vintage=2021)
    wards = con.execute("SELECT DISTINCT ward17_code AS code FROM hierarchy_lsoa11 ORDER BY 1").df()
    wards["score"] = range(len(wards))
    save_result(con, wards, kind="index", name="my_need", unit="ward17", value_column="score")
    con.close()
    return path


def test_replacing_cni_keeps_every_other_table_and_the_set_and_left_behind_follows(work, mirror, tmp_path):
    before = _tables(work)
    con = connect(work)
    old = left_behind(con, vintage=2019)
    con.close()
    ward = old.loc[0, "code"]  # the most deprived left-behind ward: give it the lowest CNI need
    cni = pd.read_parquet(mirror / "cni2019_ward17.parquet")
    n = len(cni)
    cni.loc[cni["ward17_code"] == ward, "Community Needs Index rank"] = n
    copy = tmp_path / "my_cni.csv"
    cni.to_csv(copy, index=False)  # the public redistribution's layout (humaniverse/IMD data-raw)

    result = CliRunner().invoke(app, ["data", "build", "--db", str(work), "--file", f"cni2019_ward17={copy}"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console may wrap at any width
    assert f"1 loaded, {len(DATASETS) - 1} kept from the previous warehouse" in said
    assert ("Kept your tables: adjacency_lsoa11, adjacency_lsoa21, index_my_need, neighbourhood_sets, "
            "neighbourhoods_by_lad, stored_results") in said
    # the replaced dataset is checked (its 12 known CNI 2019 codes outside the ward lookup: a note, as in
    # the official file; more would be a warning); kept ones are not re-reported
    assert "note: cni2019_ward17: 12 English ward17_code value(s) are not in lookup_lsoa11_ward17" in said
    assert "warning: imd2019_lsoa11" not in said and "lookup_lsoa11_msoa11" not in said

    after = _tables(work)
    assert after == before  # every table, the set and the caches, with the same row counts
    con = connect(work)
    new = left_behind(con, vintage=2019)
    assert set(new["code"]) == set(old["code"]) - {ward} and len(new) == len(old) - 1
    prov = con.execute("SELECT source, notes FROM provenance WHERE dataset_id = 'cni2019_ward17'").fetchall()[0]
    assert prov[0] == str(copy.resolve()) and "not open data" in prov[1]
    same = con.execute("SELECT count(*) FROM neighbourhoods_by_lad").fetchall()[0][0]
    assert same == before["neighbourhoods_by_lad"]


def _bestfits(path: Path) -> tuple[list[pd.DataFrame], list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return ([con.execute(f"SELECT * FROM bestfit_lsoa{yy}_ward21").df() for yy in ("11", "21")],
                con.execute("SELECT * FROM join_report WHERE step LIKE 'bestfit%'").fetchall())
    finally:
        con.close()


@pytest.mark.slow
def test_only_deletes_nothing_and_changed_inputs_invalidate_caches_with_a_reason(work, mirror, tmp_path,
                                                                                 warehouse_report, monkeypatch):
    from neighbourhood_lens.data import outcome_tables

    derived: list[int] = []
    derive = outcome_tables.derive_ward21_bestfit
    monkeypatch.setattr(outcome_tables, "derive_ward21_bestfit", lambda con: derived.append(1) or derive(con))
    before, fits = _tables(work), _bestfits(work)
    report = build_warehouse(work, mirror=mirror, only=["lookup_lad19_region19"])
    assert report.loaded == ["lookup_lad19_region19"] and _tables(work) == before
    # the boundaries were kept, so the ward 2021 best fits are carried, with their records and messages
    assert derived == []
    carried = _bestfits(work)
    assert all(a.equals(b) for a, b in zip(carried[0], fits[0], strict=True)) and carried[1] == fits[1]
    said = [m for m in report.info if m.startswith("bestfit_")]
    assert said == [m for m in warehouse_report["info"] if m.startswith("bestfit_")] and said

    bounds = pd.read_parquet(mirror / "boundaries_lsoa21.parquet")
    bounds.to_parquet(tmp_path / "b21.parquet", index=False, compression="zstd")  # same rows, new bytes
    lookup = pd.read_parquet(mirror / "lookup_lsoa21_ward24_lad24.parquet")
    gone = sorted(lookup.loc[lookup["lsoa21_code"].str.startswith("E"), "lsoa21_code"])[-1]  # new in 2021
    lookup[lookup["lsoa21_code"] != gone].to_parquet(tmp_path / "lk.parquet", index=False)
    report = build_warehouse(work, files={"boundaries_lsoa21": tmp_path / "b21.parquet",
                                          "lookup_lsoa21_ward24_lad24": tmp_path / "lk.parquet"})
    text = "\n".join(report.warnings)
    assert "adjacency_lsoa21 dropped: boundaries_lsoa21 changed" in text and "nlens data adjacency" in text
    assert f"neighbourhood set 'by_lad' kept but no longer matches the rebuilt hierarchy_lsoa21: 1 of its LSOA " \
           f"codes are gone (e.g. {gone})" in text
    after = _tables(work)
    assert "adjacency_lsoa21" not in after and after["adjacency_lsoa11"] == before["adjacency_lsoa11"]
    assert after["neighbourhoods_by_lad"] == before["neighbourhoods_by_lad"]
    assert derived == [1]  # boundaries_lsoa21 was loaded again, so the best fits were derived again
    again = _bestfits(work)
    assert all(a.equals(b) for a, b in zip(again[0], fits[0], strict=True)) and again[1] == fits[1]
    con = duckdb.connect(str(work))
    con.execute("UPDATE provenance SET tool_version = '0.0.0' WHERE dataset_id = 'boundaries_ward21'")
    con.close()
    build_warehouse(work, mirror=mirror, only=["lookup_lad19_region19"])
    assert derived == [1, 1]  # kept boundaries loaded by another version: derived again, not trusted


def test_expected_coverage_is_one_note_per_dataset_not_a_warning(tmp_path, mirror):
    report = build_warehouse(tmp_path / "w.duckdb", mirror=mirror,
                             only=["lookup_lsoa11_lad19", "lookup_lsoa11_msoa11", "lookup_lsoa21_ward24_lad24"])
    notes = [m for m in report.info if m.startswith("lookup_lsoa11_msoa11")]
    assert len(notes) == 1 and notes[0].startswith(
        "lookup_lsoa11_msoa11: coverage: 6,976 lsoa11_code value(s) outside lookup_lsoa11_lad19's coverage")
    assert "S01006506" in notes[0] and not any("S0100" in w for w in report.warnings)


def test_a_warehouse_held_by_another_process_is_refused_in_one_line(work, mirror):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
         "print('ready', flush=True); time.sleep(60)", str(work)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError) as err:
            build_warehouse(work, files={"cni2019_ward17": mirror / "cni2019_ward17.parquet"})
        assert f"is in use by process {holder.pid}" in str(err.value) and "nlens serve" in str(err.value)
        result = CliRunner().invoke(app, ["data", "adjacency", "--db", str(work), "--vintage", "2011", "--rebuild"],
                                    env={"COLUMNS": "300"})
        assert result.exit_code == 2
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: the warehouse") and str(holder.pid) in lines[0]
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert build_warehouse(work, only=["lookup_lad19_region19"], mirror=mirror).loaded


def test_a_file_that_is_not_a_warehouse_is_named(tmp_path, mirror):
    path = tmp_path / "notes.duckdb"
    path.write_text("my notes, not a database\n" * 10)
    with pytest.raises(WarehouseError, match="is not a DuckDB warehouse"):
        build_warehouse(path, mirror=mirror, only=["lookup_lad19_region19"])
    assert path.read_text().startswith("my notes")
    result = CliRunner().invoke(app, ["left-behind", "--db", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "is not a DuckDB warehouse" in result.output


def test_failed_build_shows_no_empty_progress_bar(tmp_path):
    result = CliRunner().invoke(app, ["data", "build", "--db", str(tmp_path / "w.duckdb"), "--mirror",
                                      str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "could not be found" in result.output
    assert "0/None" not in result.output and "Loading" not in result.output


def test_warehouse_lookup_order(tmp_path, monkeypatch):
    from neighbourhood_lens.warehouse import default_db_path, resolve_db_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NLENS_DB", raising=False)
    assert default_db_path() == tmp_path / "nlens.duckdb"  # nothing here yet: still ./nlens.duckdb (one rule)
    (tmp_path / "nlens.duckdb").write_bytes(b"")
    assert default_db_path() == tmp_path / "nlens.duckdb"
    monkeypatch.setenv("NLENS_DB", str(tmp_path / "env.duckdb"))
    assert default_db_path() == tmp_path / "env.duckdb"
    assert resolve_db_path(tmp_path / "given.duckdb") == tmp_path / "given.duckdb"


def _leave_a_wal(path: Path) -> None:
    """Write to the warehouse in another process that exits without closing it, so that the change
    is only in the write-ahead log beside the file (as after a crash)."""
    code = ("import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); c.execute(\"SET checkpoint_threshold = '1TB'\"); "
            "c.execute('CREATE TABLE index_after_crash AS SELECT 1 AS code'); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


@pytest.mark.parametrize("crashed", [False, True], ids=["file copy", "table by table (WAL beside it)"])
def test_a_rebuild_keeps_the_datasets_and_user_tables_and_drops_the_rest_either_way(tmp_path, mirror, crashed):
    from neighbourhood_lens.data.keep import can_copy_file

    db = tmp_path / "O'Brien's data" / "w.duckdb"  # a quote in the path: the old warehouse is attached by name
    db.parent.mkdir()
    only = ["lookup_lsoa11_lad19", "lookup_lsoa21_ward24_lad24", "lookup_lad19_region19"]
    build_warehouse(db, mirror=mirror, only=only)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE scratch AS SELECT 1 AS x")  # neither a dataset nor the user's work
    con.execute("CREATE VIEW my_view AS SELECT * FROM scratch")
    con.execute("CREATE TABLE index_mine AS SELECT 'E05000001' AS code, 1.0 AS score")
    con.close()
    if crashed:
        _leave_a_wal(db)
    assert can_copy_file(db) is not crashed
    before = _tables(db)
    report = build_warehouse(db, mirror=mirror, only=["imd2019_lsoa11"])
    assert report.loaded == ["imd2019_lsoa11"] and sorted(report.kept) == sorted(only)
    after = _tables(db)
    user = {"index_mine", "index_after_crash"} if crashed else {"index_mine"}
    assert set(report.user_tables) == user
    assert set(after) == (set(before) - {"scratch"}) | {"imd2019_lsoa11"} and user <= set(after)
    assert all(after[t] == before[t] for t in [*only, *user])
    con = duckdb.connect(str(db), read_only=True)
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    kept = {r[0] for r in con.execute("SELECT dataset_id FROM provenance").fetchall()}
    con.close()
    assert "my_view" not in views and kept == {*only, "imd2019_lsoa11"}
