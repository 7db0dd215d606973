"""The messages issue 21 found wanting: each says what was wrong, with the value, in readable lines."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.cli import app
from neighbourhood_lens.errors import DataError, SchemaError

runner = CliRunner()


def _fails(args, db):
    result = runner.invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_negative_max_population_is_named(warehouse_path):
    text = _fails(["neighbourhoods", "build", "--max-population", "-5"], warehouse_path)
    assert text == "Error: --max-population must be a positive number of people; got -5"


def test_trajectory_asks_when_a_name_means_two_wards(warehouse_path):
    text = _fails(["trajectory", "Ordsall"], warehouse_path)
    assert "E05013028 (ward 2024, Salford); E05000770 (ward 2017, Salford)" in text
    result = runner.invoke(app, ["trajectory", "E05013028", "--format", "json", "--db", str(warehouse_path)])
    assert result.exit_code == 0 and len(result.stdout.strip()) > 0


def test_index_accepts_labels_and_derives_column_names(tmp_path, warehouse_path):
    spec = tmp_path / "labels.toml"
    spec.write_text('name = "[Mine]"\nunit = "lsoa11"\n'
                    '[[component]]\nname = "Income"\ntable = "imd2019_lsoa11"\ncolumn = "income_score"\nneed = "high"\n'
                    '[[component]]\nname = "Housing_and_Access (Santé)"\ntable = "imd2019_lsoa11"\n'
                    'column = "housing_rank"\nneed = "low"\n')
    result = runner.invoke(app, ["index", "build", str(spec), "--format", "csv", "--db", str(warehouse_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "code,score,rank,decile,income,housing_and_access_sante"
    assert "[Mine]" in result.stderr  # the spec's name, brackets and all


def test_colliding_labels_name_both():
    from neighbourhood_lens.indices.spec import parse_spec

    comp = {"table": "t", "column": "v", "need": "high"}
    with pytest.raises(DataError, match=r"'Income' and 'income!' \(each gives income\)"):
        parse_spec({"name": "x", "unit": "lsoa11", "component": [{"name": "Income", **comp},
                                                                  {"name": "income!", **comp}]})


def test_unknown_table_is_two_readable_lines(tmp_path, warehouse_path):
    spec = tmp_path / "t.toml"
    spec.write_text('name = "x"\nunit = "lsoa11"\n[[component]]\nname = "a"\ntable = "imd2019"\n'
                    'column = "v"\nneed = "high"\n')
    result = runner.invoke(app, ["index", "build", str(spec), "--db", str(warehouse_path)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 2 and max(map(len, lines)) < 200, result.output
    assert lines[1].startswith("Closest tables: imd2019_lsoa11, ")


def test_360giving_without_amount_names_the_column():
    from neighbourhood_lens.funding.grants import read_grants

    csv = b"Identifier,Title,Currency,Award Date,Beneficiary Location:0:Geographic Code\nx,t,GBP,2020-01-01,E01000001\n"
    with pytest.raises(SchemaError, match="without the column\\(s\\) 'Amount Awarded' that funding reach needs"):
        read_grants(csv, filename="g.csv")


def test_lock_message_cuts_the_command_at_a_word():
    from neighbourhood_lens.warehouse import _shorten

    cmd = "/work/main/.venv/bin/python /work/main/.venv/bin/nlens serve --db /tmp/some/long/path/nlens.duckdb"
    short = _shorten(cmd, 80)
    assert short.endswith(" …") and cmd.startswith(short[:-2]) and cmd[len(short) - 2] == " "
    assert len(short) <= 80  # every word shown is whole


def test_expected_build_differences_are_notes_not_warnings(warehouse_report):
    # the session warehouse is a clean build from the official files (tests/conftest.py)
    assert warehouse_report["warnings"] == []
    assert any("tied ranks, kept as published" in n for n in warehouse_report["info"])


def test_panel_text_year_is_quoted_back():
    from neighbourhood_lens.evaluation.panel import validate_panel

    with pytest.raises(DataError, match=r"row 2 \(E05000770: year 'twenty'\)"):
        validate_panel(pd.DataFrame({"code": ["E05000770"], "year": ["twenty"], "value": [1.0]}))
