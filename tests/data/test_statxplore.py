"""Stat-Xplore CSV exports (areas by name) and the WD21 ward GeoJSON: tiny hand-checkable files,
then the mirror's children series written in the export layout and read back."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
from _exports import statxplore_export

from neighbourhood_lens.data.publisher_files import read_geojson, read_publisher_file
from neighbourhood_lens.data.sources import DATASETS, Source
from neighbourhood_lens.data.sources_file import guess_format
from neighbourhood_lens.data.statxplore import add_msoa11_codes, is_export, needs_codes, read_export
from neighbourhood_lens.errors import DataError

UC = b'''Stat-Xplore

"Households on Universal Credit (I II III IV z)"
"National - Regional - LA - OAs by Month"
"Counting: Households on Universal Credit"

Filters:
"Default Summation","Households on Universal Credit"

"Month","December 2022 (r)","December 2022 - Annotations","November 2023 (p)","November 2023 - Annotations",
"National - Regional - LA - OAs",
"Hartlepool 001",..,,"1,204",,
"Hartlepool 002",12,,15,,
"Cardiff 001",3,,4,,
"Tollcross",5,,6,,
"Tollcross",7,,8,,
"Unknown",10,,11,,
"Total",1300,,1400,,


"INFO","Statistical disclosure control has been applied to this table."

Source: Department for Work and Pensions
'''
NAMES = pd.DataFrame({"msoa11_code": ["E02002483", "E02002484", "W02000384", "S02001920"],
                      "msoa11_name": ["Hartlepool 001", "Hartlepool 002", "Cardiff 001", "Tollcross"]})


def test_an_export_is_read_long_with_status_and_nil_as_null():
    assert is_export(UC)
    table = read_export(UC, "uc_households_msoa11", where="uc.csv")
    frame = table.to_pandas()
    assert list(frame.columns) == ["msoa11_name", "month", "status", "households_on_uc"]
    h1 = frame[frame["msoa11_name"] == "Hartlepool 001"].set_index("month")
    assert h1["status"].to_dict() == {"2022-12": "r", "2023-11": "p"}
    assert pd.isna(h1.loc["2022-12", "households_on_uc"]) and h1.loc["2023-11", "households_on_uc"] == 1204
    assert "Unknown" not in set(frame["msoa11_name"]) and "Total" not in set(frame["msoa11_name"])
    assert len(frame) == 5 * 2  # five area rows (a Scottish name twice) x two months; footnotes not read
    assert needs_codes(table, "uc_households_msoa11")


def test_names_become_msoa11_codes_and_other_countries_are_counted():
    table = read_export(UC, "uc_households_msoa11", where="uc.csv")
    out = add_msoa11_codes(table, NAMES, dataset_id="uc_households_msoa11", where="uc.csv")
    frame = out.to_pandas()
    assert list(frame.columns) == ["msoa11_code", "msoa11_name", "month", "status", "households_on_uc"]
    assert sorted(set(frame["msoa11_code"])) == ["E02002483", "E02002484"]
    note = out.schema.metadata[b"nlens_note_statxplore_1"].decode()
    assert "2 English MSOAs; left out 1 Welsh MSOA(s) and 1 Scottish" in note


def test_an_unmatched_english_name_is_an_error_listing_it():
    table = read_export(UC.replace(b'"Hartlepool 002"', b'"Hartlepol 002"'), "uc_households_msoa11", where="uc.csv")
    with pytest.raises(DataError, match=r"uc.csv: 1 area name\(s\) match no English MSOA 2011 name.*Hartlepol 002"):
        add_msoa11_codes(table, NAMES, dataset_id="uc_households_msoa11", where="uc.csv")


@pytest.mark.parametrize(("data", "message"), [
    (b"a,b\n1,2\n", "no Stat-Xplore header row"),
    (UC.replace(b'"Month"', b'"Quarter"'), "the columns are by 'Quarter'"),
    (UC.replace(b'"December 2022 (r)"', b'"Dec-22"'), "'Dec-22' is not a month"),
    (UC.replace(b"12,,15", b"12,,x"), "not counts or '..': x"),
])
def test_a_wrong_export_says_what_is_wrong(data, message):
    with pytest.raises(DataError, match=message):
        read_export(data, "uc_households_msoa11", where="uc.csv")


def test_financial_years_give_the_year_ending():
    data = (b'"Year","2014/15","2014/15 - Annotations","2021/22 (p)","2021/22 - Annotations",\n'
            b'"National - Regional - LA - OAs (GB)",\n"Hartlepool 001",131,,146,,\n"Total",131,,146,,\n')
    frame = read_export(data, "children_low_income_msoa11", where="c.csv").to_pandas()
    assert frame[["year", "financial_year", "status"]].astype(object).where(frame.notna(), None).values.tolist() == [
        [2015, "2014/15", None], [2022, "2021/22", "p"]]
    with pytest.raises(DataError, match="not a financial year"):
        read_export(data.replace(b"2014/15", b"2014/16"), "children_low_income_msoa11", where="c.csv")


def test_the_mirror_children_series_round_trips_through_the_export_layout(mirror):
    """Written as DWP exports it (tests/_exports.py), read and coded with the mirror's lookup: the mirror table."""
    names = pd.read_parquet(mirror / "lookup_lsoa11_msoa11.parquet")
    data = statxplore_export(mirror, "children_low_income_msoa11")
    table = read_export(data, "children_low_income_msoa11", where="export")
    out = add_msoa11_codes(table, names, dataset_id="children_low_income_msoa11", where="export").to_pandas()
    ref = pd.read_parquet(mirror / "children_low_income_msoa11.parquet")
    pd.testing.assert_frame_equal(out, ref, check_dtype=False)


def test_formats_are_guessed_for_exports_and_geojson():
    assert guess_format("https://x.org/uc.csv", DATASETS["uc_households_msoa11"]) == "statxplore"
    assert guess_format("https://x.org/fuel.csv", DATASETS["insolvencies_ward"]) == "csv"
    hub = "https://open-geography-portalx-ons.hub.arcgis.com/api/download/v1/items/abc/geojson?layers=0"
    assert guess_format(hub, DATASETS["boundaries_ward21"]) == "geojson"
    assert guess_format("https://x.org/wd21.geojson", DATASETS["boundaries_ward21"]) == "geojson"


def test_ward_geojson_keeps_code_name_and_geometry(tmp_path):
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"FID": 1, "WD21CD": "E05000001", "WD21NM": "A", "LAT": 0.5},
         "geometry": square}]}
    data = json.dumps(doc).encode()
    table = read_geojson(data, DATASETS["boundaries_ward21"], where="wd21.geojson")
    assert table.column_names == ["WD21CD", "WD21NM", "geometry"]
    assert b"geo" in table.schema.metadata and b"FID, LAT" in table.schema.metadata[b"nlens_note_geojson"]
    path = tmp_path / "wd21.geojson"
    path.write_bytes(data)
    same = read_publisher_file(path, Source(str(path), "geojson"), DATASETS["boundaries_ward21"])
    assert same.column("geometry").equals(table.column("geometry"))
    with pytest.raises(DataError, match="not a readable GeoJSON"):
        read_geojson(b'{"type": "FeatureColl', DATASETS["boundaries_ward21"], where="bad.geojson")


def test_a_long_csv_of_a_dwp_series_is_still_read_as_a_csv(tmp_path):
    path = tmp_path / "uc.csv"
    pd.DataFrame({"msoa11_code": ["E02002483"], "msoa11_name": ["Hartlepool 001"], "month": ["2022-12"],
                  "status": ["r"], "households_on_uc": [3]}).to_csv(path, index=False)
    table = read_publisher_file(path, Source(str(path), "csv"), DATASETS["uc_households_msoa11"])
    assert isinstance(table, pa.Table) and not needs_codes(table, "uc_households_msoa11")
