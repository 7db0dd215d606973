"""Building the warehouse: provenance, joins, idempotence, and bad input."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from neighbourhood_lens.data.build import build_warehouse, read_checksums
from neighbourhood_lens.data.sources import DATASETS
from neighbourhood_lens.errors import (
    ChecksumError,
    DataError,
    SchemaError,
    SourceUnavailableError,
    VintageError,
)
from neighbourhood_lens.warehouse import connect, status

LOOKUPS = ["lookup_lsoa11_lad19", "lookup_lsoa21_ward24_lad24"]


def small_mirror(tmp_path: Path, mirror: Path, frames: dict[str, pd.DataFrame], link: list[str] = LOOKUPS) -> Path:
    """A mirror directory with some real files (symlinked) and some hand-made ones."""
    d = tmp_path / "mirror"
    d.mkdir(exist_ok=True)
    for ds in link:
        os.symlink(mirror / f"{ds}.parquet", d / f"{ds}.parquet")
    for ds, frame in frames.items():
        frame.to_parquet(d / f"{ds}.parquet", index=False)
    return d


def imd_frame(codes: list[str]) -> pd.DataFrame:
    n = len(codes)
    return pd.DataFrame({"lsoa11_code": codes, "IMD_score": [10.0 + i for i in range(n)],
                         "IMD_rank": [float(i + 1) for i in range(n)], "IMD_decile": [1.0] * n})


def test_full_build_records_provenance_matching_the_mirror_checksums(con, mirror):
    prov = status(con)
    derived = {"adjacency_lsoa11", "adjacency_lsoa21"}  # built by the fixture from the boundaries
    assert set(prov["dataset_id"]) == set(DATASETS) | derived
    sums = read_checksums(mirror)
    for row in prov[~prov["dataset_id"].isin(derived)].itertuples():
        assert row.sha256 == sums[f"{row.dataset_id}.parquet"]
        assert row.rows_loaded == row.rows_read
    expected = pd.read_parquet(mirror / "imd2019_lsoa11.parquet", columns=["lsoa11_code"])
    assert prov.set_index("dataset_id").loc["imd2019_lsoa11", "rows_loaded"] == len(expected)
    adj = prov.set_index("dataset_id").loc["adjacency_lsoa11"]
    assert adj["sha256"] == sums["boundaries_lsoa11.parquet"]


def test_every_join_is_reported_and_england_indices_match_completely(con):
    joins = con.execute("SELECT * FROM join_report").df().set_index("step")
    for step in ("imd2019_lsoa11 -> hierarchy_lsoa11", "imd2025_lsoa21 -> hierarchy_lsoa21",
                 "hierarchy_lsoa11: LSOA11 -> ward17", "hierarchy_lsoa11: LSOA11 -> population mid-2019"):
        assert joins.loc[step, "unmatched"] == 0
        assert joins.loc[step, "matched"] == joins.loc[step, "left_rows"]
    # Six City of London wards have no CNI 2019 value: reported, with examples.
    cni = joins.loc["hierarchy_lsoa11: ward17 -> CNI 2019 ward names"]
    assert cni["unmatched"] == cni["left_rows"] - cni["matched"] > 0
    assert cni["unmatched_examples"].startswith("E05")


def test_hierarchies_cover_england_exactly(con, mirror):
    imd19 = pd.read_parquet(mirror / "imd2019_lsoa11.parquet", columns=["lsoa11_code"])
    h11 = con.execute("SELECT * FROM hierarchy_lsoa11").df()
    assert set(h11["lsoa11_code"]) == set(imd19["lsoa11_code"])
    assert h11[["ward17_code", "lad19_code", "region19_code", "population"]].notna().all().all()
    h21 = con.execute("SELECT * FROM hierarchy_lsoa21").df()
    assert len(h21) == 33755 and h21["region24_code"].notna().all()
    # Census 2021 usual residents, England: 56,490,048 published; small-area tables differ by
    # a few dozen people through statistical disclosure control.
    assert h21["population"].sum() == pytest.approx(56_490_048, rel=1e-5)


def test_rebuild_is_idempotent(tmp_path, mirror):
    db = tmp_path / "w.duckdb"
    only = ["lookup_lsoa11_lad19", "lookup_lsoa21_ward24_lad24", "imd2019_lsoa11"]
    build_warehouse(db, mirror=mirror, only=only)
    first = connect(db).execute("SELECT * FROM imd2019_lsoa11 ORDER BY lsoa11_code").df()
    build_warehouse(db, mirror=str(mirror), only=only)  # a mirror given as text, as from a script
    con = connect(db)
    pd.testing.assert_frame_equal(first, con.execute("SELECT * FROM imd2019_lsoa11 ORDER BY lsoa11_code").df())
    assert con.execute("SELECT count(*) FROM provenance").fetchone()[0] == 3


def test_missing_mirror_file_names_every_place_tried(tmp_path):
    with pytest.raises(SourceUnavailableError) as err:
        build_warehouse(tmp_path / "w.duckdb", mirror=tmp_path, cache_dir=tmp_path / "cache",
                        only=["imd2019_lsoa11"])
    msg = str(err.value)
    assert f"{tmp_path}/imd2019_lsoa11.parquet (mirror)" in msg
    assert "nlens data fetch" in msg and "--mirror" in msg


def test_missing_cni_is_skipped_with_a_warning(tmp_path, mirror):
    d = small_mirror(tmp_path, mirror, {})
    report = build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*LOOKUPS, "cni2019_ward17"])
    assert "cni2019_ward17" in report.skipped
    assert any("--file cni2019_ward17=PATH" in w for w in report.warnings)


def test_missing_column_names_file_and_columns(tmp_path, mirror):
    frame = imd_frame(["E01000001"]).drop(columns=["IMD_rank"])
    d = small_mirror(tmp_path, mirror, {"imd2019_lsoa11": frame})
    expected = r"imd2019_lsoa11.parquet does not look like imd2019_lsoa11.*missing column\(s\) imd_rank"
    with pytest.raises(SchemaError, match=expected):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*LOOKUPS, "imd2019_lsoa11"])


def test_duplicate_codes_are_listed(tmp_path, mirror):
    d = small_mirror(tmp_path, mirror, {"imd2019_lsoa11": imd_frame(["E01000001", "E01000002", "E01000001"])})
    with pytest.raises(DataError, match="1 duplicate lsoa11_code value\\(s\\) in imd2019_lsoa11: E01000001"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*LOOKUPS, "imd2019_lsoa11"])


def test_welsh_codes_in_an_england_only_file_are_refused(tmp_path, mirror):
    d = small_mirror(tmp_path, mirror, {"imd2019_lsoa11": imd_frame(["E01000001", "W01000001"])})
    with pytest.raises(DataError, match="covers England only.*1 non-English code\\(s\\): W01000001"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*LOOKUPS, "imd2019_lsoa11"])


def test_lsoa2021_codes_where_2011_are_expected_raise_a_vintage_error(tmp_path, mirror):
    lsoa21_only = ["E01033769", "E01033770"]  # new in 2021: not LSOA 2011 codes
    d = small_mirror(tmp_path, mirror, {"imd2019_lsoa11": imd_frame(["E01000001", *lsoa21_only])})
    with pytest.raises(VintageError, match="2 code\\(s\\) in column 'lsoa11_code' are lsoa21 codes.*E01033769"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*LOOKUPS, "imd2019_lsoa11"])


def test_non_numeric_scores_name_rows_and_values(tmp_path, mirror):
    frame = imd_frame(["E01000001", "E01000002"])
    frame["IMD_score"] = ["12.5", "n/a"]
    d = small_mirror(tmp_path, mirror, {"imd2019_lsoa11": frame})
    with pytest.raises(DataError, match="column 'imd_score'.*must be numeric.*row 3: 'n/a'"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*LOOKUPS, "imd2019_lsoa11"])


def test_unreadable_file_is_named(tmp_path, mirror):
    d = small_mirror(tmp_path, mirror, {})
    (d / "imd2019_lsoa11.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match="cannot read .*imd2019_lsoa11.parquet"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*LOOKUPS, "imd2019_lsoa11"])


def test_a_users_workbook_reads_as_its_csv_and_a_broken_one_is_named(tmp_path, mirror):
    """``--file`` with an .xlsx of a dataset the registry reads from no workbook (here CNI, which users
    supply): the workbook builds the same table as the CSV; a file that is no zip, or a zip that is no
    workbook (an .ods renamed), is a DataError naming the file, not openpyxl's or zipfile's error."""
    import zipfile

    cni = pd.read_parquet(mirror / "cni2019_ward17.parquet").head(50)
    d = small_mirror(tmp_path, mirror, {}, link=[*LOOKUPS, "lookup_lsoa11_ward17"])
    cni.to_csv(tmp_path / "cni.csv", index=False)
    cni.to_excel(tmp_path / "cni.xlsx", index=False, engine="openpyxl")
    tables = []
    for name in ("cni.csv", "cni.xlsx"):
        db = tmp_path / f"{name}.duckdb"
        build_warehouse(db, mirror=d, files={"cni2019_ward17": tmp_path / name},
                        only=[*LOOKUPS, "lookup_lsoa11_ward17", "cni2019_ward17"])
        with duckdb.connect(str(db), read_only=True) as con:
            tables.append(con.execute("SELECT * FROM cni2019_ward17 ORDER BY 1").df())
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert len(tables[0]) == 50

    (tmp_path / "nozip.xlsx").write_bytes(b"not a zip at all")
    with zipfile.ZipFile(tmp_path / "ods.xlsx", "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    for name, why in (("nozip.xlsx", "BadZipFile"), ("ods.xlsx", "KeyError")):
        with pytest.raises(DataError, match=rf"{name}: not a readable \.xlsx workbook \({why}"):
            build_warehouse(tmp_path / "w.duckdb", mirror=d, files={"cni2019_ward17": tmp_path / name},
                            only=[*LOOKUPS, "lookup_lsoa11_ward17", "cni2019_ward17"])


def test_checksum_mismatch_is_caught_and_the_old_warehouse_survives(tmp_path, mirror):
    db = tmp_path / "w.duckdb"
    good = small_mirror(tmp_path, mirror, {"imd2019_lsoa11": imd_frame(["E01000001"])})
    build_warehouse(db, mirror=good, only=[*LOOKUPS, "imd2019_lsoa11"])
    (good / "SHA256SUMS").write_text(f"{hashlib.sha256(b'other').hexdigest()}  imd2019_lsoa11.parquet\n")
    with pytest.raises(ChecksumError, match="imd2019_lsoa11.parquet: SHA-256 is"):
        build_warehouse(db, mirror=good, only=[*LOOKUPS, "imd2019_lsoa11"])
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT lsoa11_code FROM imd2019_lsoa11").fetchall() == [("E01000001",)]
    assert not (tmp_path / "w.duckdb.building").exists()


def test_official_csv_with_publisher_headers_builds(tmp_path, mirror):
    d = small_mirror(tmp_path, mirror, {})
    csv = tmp_path / "file7.csv"
    pd.DataFrame({
        "LSOA code (2011)": ["E01000001", "E01000002"],
        "LSOA name (2011)": ["City of London 001A", "City of London 001B"],
        "Index of Multiple Deprivation (IMD) Score": [6.208, 5.143],
        "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)": [29199, 30379],
        "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)": [9, 10],
    }).to_csv(csv, index=False, encoding="cp1252")
    db = tmp_path / "w.duckdb"
    build_warehouse(db, mirror=d, files={"imd2019_lsoa11": csv}, only=[*LOOKUPS, "imd2019_lsoa11"])
    got = connect(db).execute("SELECT lsoa11_code, imd_score, imd_rank FROM imd2019_lsoa11 ORDER BY 1").fetchall()
    assert got == [("E01000001", 6.208, 29199.0), ("E01000002", 5.143, 30379.0)]


def test_tied_and_impossible_ranks(tmp_path, mirror):
    frame = imd_frame(["E01000001", "E01000002", "E01000003"])
    frame["IMD_rank"] = [1.0, 1.0, 3.0]
    d = small_mirror(tmp_path, mirror, {"imd2019_lsoa11": frame})
    report = build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*LOOKUPS, "imd2019_lsoa11"])
    # Ties are in the official files too (IoD 2019: 26 tied IMD ranks): a note, not a warning.
    assert "imd2019_lsoa11: tied ranks, kept as published (imd_rank 1)" in report.info
    assert not any("tied ranks" in w for w in report.warnings)
    frame["IMD_rank"] = [1.0, 2.0, 4.0]  # rank 4 of 3 LSOAs: part of a national table
    frame.to_parquet(d / "imd2019_lsoa11.parquet", index=False)
    report = build_warehouse(tmp_path / "w2.duckdb", mirror=d, only=[*LOOKUPS, "imd2019_lsoa11"])
    expected = "imd2019_lsoa11: ranks outside 1..N where N = 3 rows (imd_rank 1)"
    assert any(w.startswith(expected) for w in report.warnings)
