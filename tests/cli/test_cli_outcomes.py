"""``nlens outcomes list`` and ``compare``: the README tour lines in 80 columns, files with provenance."""

from __future__ import annotations

import json
import re
import shlex

import pandas as pd
from typer.testing import CliRunner

from neighbourhood_lens.cli import app


def _tour(prefix: str) -> list[str]:
    from test_cli_tour import tour_lines

    return [line for line in tour_lines() if line.startswith(prefix)]


def test_outcomes_tour_lines_run_in_80_columns_and_write_table_chart_and_sidecars(warehouse_path, tmp_path,
                                                                                   monkeypatch, terminal80):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NLENS_DB", str(warehouse_path))
    lines = _tour("nlens outcomes")
    assert len(lines) == 2
    runner = CliRunner()
    for line in lines:
        result = runner.invoke(app, shlex.split(line)[1:], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        visible = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.output)
        assert "…" not in visible and max(len(x) for x in visible.splitlines()) <= 80, visible
    assert "known gaps" in runner.invoke(app, ["outcomes", "list"]).output
    table = pd.read_csv(tmp_path / "outcomes2019.csv")
    assert list(table.columns[:11]) == ["outcome", "year", "group", "n_areas", "population", "value", "ci_low",
                                        "ci_high", "gap_vs_other_deprived", "gap_vs_england", "ratio_vs_england"]
    assert set(table["group"]) == {"left_behind", "other_deprived", "england"} and len(table) == 9
    side = json.loads((tmp_path / "outcomes2019.csv.provenance.json").read_text())
    assert {"fuel_poverty_lsoa", "insolvencies_ward", "cni2019_ward17"} <= {s["dataset_id"] for s in side["sources"]}
    assert (tmp_path / "outcomes2019.png").stat().st_size > 10_000
    assert (tmp_path / "outcomes2019.png.provenance.json").exists()


def test_bad_input_is_one_red_line(warehouse_path, tmp_path):
    runner = CliRunner()
    db = ["--db", str(warehouse_path)]
    r = runner.invoke(app, ["outcomes", "compare", *db, "--outcome", "happiness"])
    assert r.exit_code == 2 and "unknown outcome 'happiness'" in r.output
    (tmp_path / "g.csv").write_text("code\nE01999999\n")
    r = runner.invoke(app, ["outcomes", "compare", *db, "--outcome", "disability", "--groups", str(tmp_path / "g.csv")])
    assert r.exit_code == 2 and "1 code(s) are not English area codes" in " ".join(r.output.split())
    r = runner.invoke(app, ["outcomes", "compare", *db, "--by", "lad"])
    assert r.exit_code == 2 and "the only split is 'region'" in r.output
