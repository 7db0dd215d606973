"""Loading the outcome statistics: real tables with their vintages, bad files refused, WD21 best fit."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from neighbourhood_lens.data.build import build_warehouse
from neighbourhood_lens.errors import DataError, VintageError
from neighbourhood_lens.warehouse import connect

OUTCOME_TABLES = {
    "imd2025_lsoa21_indicators": 33755, "fuel_poverty_lsoa": 395588, "insolvencies_ward": 346632,
    "children_low_income_msoa11": 54328, "uc_households_msoa11": 611190,
    "census2011_household_deprivation_lsoa11": 34753, "census2021_disability_lsoa21": 35672,
    "census2021_overcrowding_lsoa21": 35672, "census2021_tenure_lsoa21": 35672, "boundaries_ward21": 7878,
}
REFS = ["lookup_lsoa01_lsoa11", "lookup_lsoa11_lad19", "lookup_lsoa21_ward24_lad24"]


def test_every_outcome_table_is_loaded_with_provenance(con, mirror):
    prov = con.execute("SELECT dataset_id, geography, rows_loaded FROM provenance").df().set_index("dataset_id")
    for table, rows in OUTCOME_TABLES.items():
        assert prov.loc[table, "rows_loaded"] == rows == len(pd.read_parquet(mirror / f"{table}.parquet"))
    assert prov.loc["insolvencies_ward", "geography"] == "ward21"
    assert prov.loc["children_low_income_msoa11", "geography"] == "msoa11"


def test_outcome_tables_keep_their_vintages_and_canonical_columns(con):
    years = con.execute("SELECT lsoa_vintage, min(year), max(year), count(DISTINCT measure) FROM fuel_poverty_lsoa "
                        "GROUP BY 1 ORDER BY 1").fetchall()
    assert years == [("lsoa01", 2011, 2011, 1), ("lsoa11", 2012, 2020, 2), ("lsoa21", 2021, 2022, 1)]
    cols = {r[0] for r in con.execute("DESCRIBE census2021_tenure_lsoa21").fetchall()}
    assert {"households_total", "households_social_rented_council", "households_social_rented_other"} <= cols
    # the English ward figures add up to the published England total for 2022 (README: 112,086)
    total = con.execute("SELECT sum(insolvencies) FROM insolvencies_ward WHERE year = 2022 AND type = 'total' "
                        "AND ward21_code LIKE 'E%'").fetchall()[0][0]
    assert total == 112086
    joins = con.execute("SELECT step, unmatched FROM join_report").df().set_index("step")["unmatched"]
    for step in ("vintage check insolvencies_ward", "vintage check children_low_income_msoa11",
                 "vintage check fuel_poverty_lsoa (lsoa21 years)",
                 "vintage check census2011_household_deprivation_lsoa11"):
        assert joins[step] == 0


def test_every_english_lsoa_is_placed_in_one_ward21_and_every_english_ward_is_reached(con):
    for yy, n in (("11", 32844), ("21", 33755)):
        t = con.execute(f"SELECT * FROM bestfit_lsoa{yy}_ward21").df()
        own = t[t["method"] != "ward_interior_point"]
        assert own[f"lsoa{yy}_code"].is_unique and len(own) == n
        assert t["ward21_code"].nunique() == 7026  # every English WD21 ward, orphans included
        # interior points: almost every LSOA lies inside a ward; the rest are reported
        report = con.execute(f"SELECT unmatched FROM join_report WHERE step LIKE 'bestfit_lsoa{yy}_ward21: LSOA%'")
        assert report.fetchall()[0][0] == int((t["method"] == "nearest").sum()) < 10


def _mirror(tmp_path: Path, mirror: Path, frames: dict[str, pd.DataFrame]) -> Path:
    d = tmp_path / "m"
    d.mkdir()
    for ds in REFS:
        os.symlink(mirror / f"{ds}.parquet", d / f"{ds}.parquet")
    for ds, f in frames.items():
        f.to_parquet(d / f"{ds}.parquet", index=False)
    return d


def _fuel(year: int, vintage: str, codes: list[str], measure: str = "LIHC") -> pd.DataFrame:
    return pd.DataFrame({"year": year, "measure": measure, "lsoa_vintage": vintage, "lsoa_code": codes,
                         "households": 100, "fuel_poor_households": 10, "fuel_poor_share": 0.1})


def test_a_fuel_poverty_year_with_codes_of_another_vintage_is_refused(tmp_path, mirror):
    # E01035000 onwards are LSOA 2021 codes (new in 2021), labelled here as 2011-vintage
    new21 = pd.read_parquet(mirror / "lookup_lsoa11_lsoa21_lad22.parquet")
    codes21 = sorted(set(new21["LSOA21CD" if "LSOA21CD" in new21 else "lsoa21_code"]) -
                     set(new21["LSOA11CD" if "LSOA11CD" in new21 else "lsoa11_code"]))[:2]
    frame = pd.concat([_fuel(2015, "lsoa11", ["E01000001"]), _fuel(2015, "lsoa11", codes21)])
    d = _mirror(tmp_path, mirror, {"fuel_poverty_lsoa": frame})
    with pytest.raises(VintageError, match=r"data year\(s\) 2015 labelled lsoa11 are lsoa21 codes"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*REFS, "fuel_poverty_lsoa"])


def test_duplicate_year_and_code_in_a_long_table_is_refused(tmp_path, mirror):
    frame = pd.concat([_fuel(2015, "lsoa11", ["E01000001", "E01000002"]), _fuel(2015, "lsoa11", ["E01000001"])])
    d = _mirror(tmp_path, mirror, {"fuel_poverty_lsoa": frame})
    with pytest.raises(DataError, match=r"1 duplicate lsoa_code\+year value\(s\) in fuel_poverty_lsoa: E01000001/2015"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*REFS, "fuel_poverty_lsoa"])


def test_mixed_measures_and_unknown_categories_are_refused(tmp_path, mirror):
    frame = pd.concat([_fuel(2015, "lsoa11", ["E01000001"]), _fuel(2015, "lsoa11", ["E01000002"], "LILEE")])
    d = _mirror(tmp_path, mirror, {"fuel_poverty_lsoa": frame})
    with pytest.raises(DataError, match="data year 2015 mixes LSOA vintages"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*REFS, "fuel_poverty_lsoa"])
    bad = _fuel(2015, "lsoa11", ["E01000001"], "LIHC+")
    (d / "fuel_poverty_lsoa.parquet").unlink()
    bad.to_parquet(d / "fuel_poverty_lsoa.parquet", index=False)
    with pytest.raises(DataError, match="column 'measure' has 1 row\\(s\\) with unknown value\\(s\\) LIHC\\+"):
        build_warehouse(tmp_path / "w2.duckdb", mirror=d, only=[*REFS, "fuel_poverty_lsoa"])


def test_more_fuel_poor_than_households_is_refused(tmp_path, mirror):
    frame = _fuel(2015, "lsoa11", ["E01000001"]).assign(fuel_poor_households=101)
    d = _mirror(tmp_path, mirror, {"fuel_poverty_lsoa": frame})
    with pytest.raises(DataError, match="1 row\\(s\\) have more fuel-poor households than households"):
        build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*REFS, "fuel_poverty_lsoa"])


def test_a_good_small_fuel_file_loads_and_its_joins_are_reported(tmp_path, mirror):
    frame = pd.concat([_fuel(2015, "lsoa11", ["E01000001", "E01000002"]), _fuel(2021, "lsoa21", ["E01000001"],
                                                                                 "LILEE")])
    d = _mirror(tmp_path, mirror, {"fuel_poverty_lsoa": frame})
    build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*REFS, "fuel_poverty_lsoa"])
    with connect(tmp_path / "w.duckdb") as c:
        steps = c.execute("SELECT step, left_rows, unmatched FROM join_report WHERE step LIKE '%fuel%' "
                          "ORDER BY step").fetchall()
    assert steps == [("vintage check fuel_poverty_lsoa (lsoa11 years)", 2, 0),
                     ("vintage check fuel_poverty_lsoa (lsoa21 years)", 1, 0)]


def test_publisher_headers_map_to_the_same_columns_as_the_mirror():
    from neighbourhood_lens.data.normalise import normalise_headers

    nomis = normalise_headers("census2021_tenure_lsoa21", [
        "date", "geography", "geography code", "Tenure of household: Total: All households",
        "Tenure of household: Owned", "Tenure of household: Owned: Owns outright",
        "Tenure of household: Social rented: Rents from council or Local Authority",
        "Tenure of household: Social rented: Other social rented"])
    assert nomis["geography code"] == "lsoa21_code"
    assert nomis["Tenure of household: Total: All households"] == "households_total"
    assert nomis["Tenure of household: Social rented: Other social rented"] == "households_social_rented_other"
    assert nomis["Tenure of household: Owned"] == "tenure_of_household_owned"  # a subtotal, kept by name
    dis = normalise_headers("census2021_disability_lsoa21", [
        "geography code", "Disability: Total: All usual residents",
        "Disability: Disabled under the Equality Act", "Disability: Not disabled under the Equality Act"])
    assert list(dis.values()) == ["lsoa21_code", "residents_total", "residents_disabled", "residents_not_disabled"]
    dep11 = normalise_headers("census2011_household_deprivation_lsoa11", ["geography code", "total_households"])
    assert dep11 == {"geography code": "lsoa11_code", "total_households": "households_total"}
    ins = normalise_headers("insolvencies_ward", ["ward_code", "ward_name", "insolvency_type", "year", "count"])
    assert list(ins.values()) == ["ward21_code", "ward21_name", "type", "year", "insolvencies"]


def test_a_dataset_without_a_direct_download_is_skipped_with_where_to_get_it(tmp_path, mirror):
    d = _mirror(tmp_path, mirror, {})
    report = build_warehouse(tmp_path / "w.duckdb", mirror=d, only=[*REFS, "children_low_income_msoa11"])
    assert "children_low_income_msoa11" in report.skipped
    assert any("children_low_income_msoa11 skipped: no direct address (no file URL: a Stat-Xplore export" in w
               and "--file children_low_income_msoa11=PATH" in w for w in report.warnings)
