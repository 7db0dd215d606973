"""Every CSV/XLSX the toolkit writes from user data is safe to open in a spreadsheet."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
from typer.testing import CliRunner

from neighbourhood_lens.cli import app
from neighbourhood_lens.funding.grants import write_grants
from neighbourhood_lens.outputs.tables import write_table

runner = CliRunner()
ATTACKS = ['=HYPERLINK("http://x","y")', "=1+1", "+1", "@SUM(A1)", "\t=1", "\r=1"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"identifier": ATTACKS, "amount_gbp": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0]})


def test_write_table_csv_xlsx_and_stdout(tmp_path, capsys):
    write_table(_frame(), tmp_path / "t.csv", provenance={"command": "=cmd"})
    back = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert back["identifier"].tolist() == ["'" + a for a in ATTACKS]
    assert back["amount_gbp"].tolist()[0] == -5.0
    write_table(_frame(), "-", provenance={}, stdout_format="csv")
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["identifier"].str.startswith("'").all()
    write_table(_frame(), tmp_path / "t.xlsx", provenance={"command": "=cmd"})
    book = openpyxl.load_workbook(tmp_path / "t.xlsx")
    cells = [row[0] for row in book["table"].iter_rows(min_row=2)]
    assert [c.value for c in cells] == [a.replace("\r", "\n") for a in ATTACKS]  # as given (XML reads CR as LF)
    assert all(c.data_type == "s" for c in cells)  # ... as text, never a formula
    assert book["table"]["B2"].value == -5 and book["table"]["B2"].data_type == "n"
    assert all(c.data_type != "f" for row in book["provenance"].iter_rows() for c in row)


def test_write_grants_csv_and_xlsx(tmp_path):
    frame = pd.DataFrame({"Identifier": ATTACKS, "Amount Awarded": [-5.0, 1, 2, 3, 4, 5]})
    write_grants(frame, tmp_path / "g.csv")
    assert pd.read_csv(tmp_path / "g.csv")["Identifier"].str.startswith("'").all()
    write_grants(frame, tmp_path / "g.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "g.xlsx")["grants"]
    assert all(c.data_type == "s" for (c,) in sheet.iter_rows(min_row=2, max_col=1))


def test_funding_reach_unlocated_and_rejected_files(tmp_path, warehouse_path):
    grants = tmp_path / "grants.csv"
    pd.DataFrame({
        "Identifier": ['=HYPERLINK("http://x","y")', "=1+1", "ok-1", "ok-2"],
        "Amount Awarded": ["100", "@SUM(A1)", "-5", "250"],
        "Currency": ["GBP"] * 4,
        "Award Date": ["2020-01-01"] * 4,
        "Beneficiary Location:0:Geographic Code": ["E99999999", "E01000001", "E01000001", "E01000001"],
    }).to_csv(grants, index=False)
    args = ["funding", "reach", str(grants), "--unlocated", str(tmp_path / "u.csv"),
            "--rejected", str(tmp_path / "r.xlsx"), "--db", str(warehouse_path)]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    unlocated = pd.read_csv(tmp_path / "u.csv")
    assert unlocated["identifier"].tolist() == ['\'=HYPERLINK("http://x","y")']
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["table"]
    text = [c for row in sheet.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    assert {"=1+1", "@SUM(A1)"} <= {c.value for c in text}
    assert all(c.data_type == "s" for c in text)
    amounts = [c.value for row in sheet.iter_rows(min_row=2) for c in row if c.data_type == "n"]
    assert -5 in amounts  # the negative amount stays a number
