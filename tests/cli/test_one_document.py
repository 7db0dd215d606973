"""``--format json`` prints exactly one JSON document; ``csv``/``tsv`` exactly one table.

Commands with several tables (left-behind: the list and the regions; search: the matches and
the LSOAs inside; evaluate: effects and balance; programme design; data status; funding
reach) put their main table on stdout and show the others on stderr (docs/outputs.md).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

COMMANDS = [
    ["left-behind"],
    ["search", "Ordsall"],
    ["summarise", "--by", "lad19"],
    ["trajectory", "E05000770"],
    ["data", "status"],
    ["data", "sources"],
    ["neighbourhoods", "list"],
    ["index", "build", "--preset", "imd2019", "--top", "3"],
    ["programme", "design", str(ROOT / "examples/programmes/budget_greedy.toml")],
    ["funding", "reach", "GRANTS"],
    ["evaluate", "--treated", "TREATED", "--start", "2020", "--outcome", "imd:employment", "--years",
     "2010,2019,2025", "--placebo", "0", "--out", "OUT"],
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, warehouse_path):
    d = tmp_path_factory.mktemp("one_document")
    result = runner.invoke(app, ["funding", "sample", str(d / "grants.csv"), "--n", "200",
                                 "--db", str(warehouse_path)])
    assert result.exit_code == 0, result.output
    (d / "treated.csv").write_text("code,start\nE05000770,2020\nE05000650,2020\nE05001243,2020\n")
    return {"GRANTS": str(d / "grants.csv"), "TREATED": str(d / "treated.csv"), "OUT": str(d / "effects.csv")}


def _run(args, fmt, inputs, db):
    args = [inputs.get(a, a) for a in args]
    extra = [] if args[:2] == ["data", "sources"] else ["--db", str(db)]
    result = runner.invoke(app, [*args, "--format", fmt, *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_json_is_one_document(args, inputs, warehouse_path):
    result = _run(args, "json", inputs, warehouse_path)
    doc = json.loads(result.stdout)  # one document, or this raises
    assert isinstance(doc, list) and all(isinstance(r, dict) for r in doc)


@pytest.mark.parametrize("args", [COMMANDS[0], COMMANDS[1], COMMANDS[4], COMMANDS[8]], ids=lambda a: a[0])
@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_csv_and_tsv_are_one_table(args, fmt, inputs, warehouse_path):
    result = _run(args, fmt, inputs, warehouse_path)
    assert "\n\n" not in result.stdout.strip(), "more than one table on stdout"
    frame = pd.read_csv(io.StringIO(result.stdout), sep="," if fmt == "csv" else "\t")
    assert len(frame) > 0 and len(frame.columns) > 1


def test_the_other_tables_go_to_stderr(inputs, warehouse_path):
    result = _run(["left-behind"], "json", inputs, warehouse_path)
    assert {"code", "name"} <= set(json.loads(result.stdout)[0])
    assert "By region" in result.stderr
