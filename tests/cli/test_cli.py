"""The ``nlens`` command line: data build/status, left-behind outputs, errors and help."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.cli import app

runner = CliRunner()


def flat(text: str) -> str:
    """Terminal output with Rich's line wrapping undone."""
    return " ".join(text.split())


REQUIRED = "code,name,lad_code,lad_name,region_name,population,imd_score,imd_rank,cni_score,cni_rank".split(",")


def test_build_subset_and_status(tmp_path, mirror):
    db = tmp_path / "w.duckdb"
    only = "lookup_lsoa11_lad19,lookup_lsoa21_ward24_lad24,imd2019_lsoa11"
    result = runner.invoke(app, ["data", "build", "--mirror", str(mirror), "--db", str(db), "--only", only])
    assert result.exit_code == 0, result.output
    assert "with 3 datasets" in flat(result.output)
    status = runner.invoke(app, ["data", "status", "--db", str(db)], env={"COLUMNS": "200"})
    assert status.exit_code == 0
    assert "imd2019_lsoa11" in status.output and "32,844" in status.output


def test_left_behind_2019_writes_csv_with_provenance(warehouse_path, tmp_path):
    out = tmp_path / "lb.csv"
    result = runner.invoke(app, ["left-behind", "--db", str(warehouse_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "225 left-behind wards" in flat(result.output) and "England" in result.output
    frame = pd.read_csv(out)
    assert len(frame) == 225 and set(REQUIRED) <= set(frame.columns)
    prov = json.loads(out.with_name("lb.csv.provenance.json").read_text())
    assert prov["parameters"] == {"vintage": 2019, "imd_share": 0.1, "cni_share": 0.1}
    assert {s["dataset_id"] for s in prov["sources"]} >= {"imd2019_lsoa11", "cni2019_ward17"}
    assert all(len(s["sha256"]) == 64 for s in prov["sources"])


def test_left_behind_2023_parquet_and_geojson(warehouse_path, tmp_path):
    pq_out, geo_out = tmp_path / "lb.parquet", tmp_path / "lb.geojson"
    for out in (pq_out, geo_out):
        args = ["left-behind", "--vintage", "2023", "--db", str(warehouse_path), "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    table = pq.read_table(pq_out)
    assert b"neighbourhood_lens" in table.schema.metadata
    gdf = gpd.read_file(geo_out)
    assert len(gdf) == table.num_rows and gdf.geometry.notna().all()
    assert set(REQUIRED) <= set(gdf.columns) and gdf["imd_rank"].dtype.kind == "i"


def test_errors_are_one_clear_line_with_exit_code_2(tmp_path):
    missing = tmp_path / "none.duckdb"
    result = runner.invoke(app, ["left-behind", "--db", str(missing)])
    assert result.exit_code == 2
    assert "no warehouse at" in result.output and "nlens data build --mirror" in flat(result.output)
    result = runner.invoke(app, ["data", "build", "--mirror", str(tmp_path), "--db", str(missing),
                                 "--only", "imd2019_lsoa11"])
    assert result.exit_code == 2 and "could not be found" in result.output


def test_unknown_output_suffix(warehouse_path, tmp_path):
    result = runner.invoke(app, ["left-behind", "--db", str(warehouse_path), "--out", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "unknown suffix '.txt'" in flat(result.output)
    assert "left-behind wards" not in result.output  # refused before any work


@pytest.mark.parametrize("args", [[], ["data"], ["data", "build"], ["left-behind"], ["doctor"]])
def test_help_everywhere(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
