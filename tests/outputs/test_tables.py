"""Outputs: spreadsheets with a provenance sheet, stdout, sidecars, integer counts, one vocabulary."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.outputs.tables import integer_counts, provenance_record, write_sidecar, write_table

FRAME = pd.DataFrame({"code": ["E05000001", "E05000002"], "name": ["A", "B, C"], "population": [1500.0, 20.0],
                      "n_lsoas": [3.0, None], "score": [1.5, 2.0]})
PROV = {"tool": "neighbourhood-lens", "command": "test", "parameters": {"vintage": 2019, "levels": ["a", "b"]},
        "sources": [{"dataset_id": "imd2019_lsoa11", "sha256": "ab" * 32}]}


def test_xlsx_has_the_table_then_a_provenance_sheet(tmp_path):
    path = write_table(FRAME, tmp_path / "t.xlsx", provenance=PROV)
    book = pd.read_excel(path, sheet_name=None, engine="openpyxl")
    assert list(book) == ["table", "provenance"]
    table = book["table"]
    assert table["code"].tolist() == ["E05000001", "E05000002"] and table["population"].tolist() == [1500, 20]
    sheet = pd.read_excel(path, sheet_name="provenance", header=None, engine="openpyxl").fillna("")
    rows = {r[0]: r[1] for r in sheet.values.tolist()}
    assert rows["command"] == "test" and rows["parameters.vintage"] == 2019
    assert json.loads(rows["parameters.levels"]) == ["a", "b"]
    assert "imd2019_lsoa11" in sheet.values.ravel().tolist()  # the sources table under the key/values
    assert json.loads((tmp_path / "t.xlsx.provenance.json").read_text())["command"] == "test"


def test_dash_writes_csv_or_json_to_stdout_and_no_sidecar(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_table(FRAME, "-", provenance=PROV)
    assert capsys.readouterr().out == ('code,name,population,n_lsoas,score\n'
                                       'E05000001,A,1500,3,1.5\nE05000002,"B, C",20,,2.0\n')
    write_table(FRAME, "-", provenance=PROV, stdout_format="json")
    rows = json.loads(capsys.readouterr().out)
    assert rows[1] == {"code": "E05000002", "name": "B, C", "population": 20, "n_lsoas": None, "score": 2.0}
    assert not list(tmp_path.iterdir())
    with pytest.raises(DataError, match="cannot write 'xml' to stdout"):
        write_table(FRAME, "-", provenance=PROV, stdout_format="xml")


def test_integer_counts_only_for_whole_numbers_in_count_columns():
    out = integer_counts(FRAME.assign(mean_population=[1.5, 2.0]))
    kinds = out.dtypes.astype(str).to_dict()
    assert {k: kinds[k] for k in ("population", "n_lsoas", "score", "mean_population")} == {
        "population": "int64", "n_lsoas": "Int64", "score": "float64", "mean_population": "float64"}
    assert FRAME["population"].dtype == "float64"  # the input is not changed


def test_sidecar_for_a_map_or_report(tmp_path, con):
    page = tmp_path / "r.html"
    page.write_text("<html></html>")
    prov = provenance_record(con, ["imd2019_lsoa11"], command="report", parameters={"lad": "E08000021"})
    side = json.loads(write_sidecar(page, prov).read_text())
    assert side["output"] == "r.html" and side["output_bytes"] == 13
    assert side["sources"][0]["dataset_id"] == "imd2019_lsoa11" and len(side["sources"][0]["sha256"]) == 64


def test_rejected_grants_use_amount_gbp():
    from neighbourhood_lens.cli.funding import _amount_gbp

    rejected = pd.DataFrame({"row": [2, 3], "amount": ["£1,200.50", "lots"], "reason": ["x", "y"]})
    out = _amount_gbp(rejected)
    assert list(out.columns) == ["row", "amount_gbp", "amount_as_given", "reason"]
    assert out["amount_gbp"].tolist()[0] == 1200.5 and pd.isna(out["amount_gbp"].iloc[1])
    assert out["amount_as_given"].tolist() == ["£1,200.50", "lots"]
