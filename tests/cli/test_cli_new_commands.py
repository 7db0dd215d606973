"""``--format``, ``--out -`` and 80-column screens of programme, index, evaluate and data commands.

Each command runs in-process against the session warehouse; data formats must parse as data
(pandas / json) with the columns the command documents, and an 80-column terminal must get no
line wider than 80 and no cut cell ("…").
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def invoke(args: list[str], db: Path | None = None):
    result = runner.invoke(app, [*args, *(["--db", str(db)] if db else [])], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def csv_tables(stdout: str) -> list[pd.DataFrame]:
    """The tables of a ``--format csv`` run: CSV blocks separated by a blank line."""
    return [pd.read_csv(io.StringIO(block)) for block in stdout.strip().split("\n\n")]


def assert_fits_80(output: str, what: str) -> None:
    assert "…" not in output, f"{what}: a cell or line was cut\n{output}"
    visible = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    widest = max(visible.splitlines(), key=len)
    assert len(widest) <= 80, f"{what}: a line of {len(widest)} columns: {widest!r}"


def test_programme_design_csv_and_json(warehouse_path):
    spec = str(ROOT / "examples/programmes/budget_greedy.toml")
    result = invoke(["programme", "design", spec, "--format", "csv"], warehouse_path)
    (chosen_csv,) = csv_tables(result.stdout)  # stdout carries one table: the chosen areas
    assert chosen_csv["code"].str.match(r"^E05\d{6}$").all() and chosen_csv["code"].is_unique
    assert chosen_csv["amount"].sum() <= 500_000_000  # the spec's [budget] total
    # The other tables (eligibility, reach by decile, missed areas) went to stderr with the prose.
    assert "areas of" in result.stderr and "Eligibility" in result.stderr and "Reach by" in result.stderr
    result = invoke(["programme", "design", spec, "--format", "json", "--out", "-"], warehouse_path)
    chosen = json.loads(result.stdout)  # --out -: stdout carries only the chosen areas
    assert len(chosen) > 0 and {"code", "amount"} <= set(chosen[0])
    assert sum(r["amount"] for r in chosen) == pytest.approx(chosen_csv["amount"].sum(), rel=1e-6)


def test_programme_compare_csv_keeps_every_measure(warehouse_path):
    specs = [str(ROOT / "examples/programmes" / n) for n in ("budget_greedy.toml", "left_behind_2019.toml")]
    result = invoke(["programme", "compare", *specs, "--format", "csv"], warehouse_path)
    (table,) = csv_tables(result.stdout)
    assert {"budget_greedy", "left_behind_2019"} <= set(table["design"])
    assert {"money_share_decile1", "concentration_index"} <= set(table.columns)
    assert table["money_share_decile1"].between(0, 1).all()


def test_index_build_csv_gives_every_area_and_json_with_out_dash(warehouse_path, con):
    result = invoke(["index", "build", "--preset", "imd2019", "--format", "csv"], warehouse_path)
    (frame,) = csv_tables(result.stdout)
    n = con.execute("SELECT count(*) FROM imd2019_lsoa11").fetchone()[0]
    assert len(frame) == n  # every LSOA, not just the --top rows of the screen
    assert list(frame.columns[:4]) == ["code", "score", "rank", "decile"]
    assert frame["rank"].min() == 1 and sorted(frame["decile"].unique()) == list(range(1, 11))
    assert frame["score"].is_monotonic_decreasing
    result = invoke(["index", "build", "--preset", "imd2019", "--out", "-", "--format", "json"], warehouse_path)
    rows = json.loads(result.stdout)
    assert len(rows) == n and rows[0]["rank"] == 1 and rows[0]["code"] == frame["code"].iloc[0]


EVALUATE = ["evaluate", "--treated", "TREATED", "--start", "2020", "--outcome", "imd:employment",
            "--years", "2010,2019,2025", "--placebo", "9"]


@pytest.fixture(scope="module")
def treated_wards(warehouse_path, tmp_path_factory) -> Path:
    """The 2019 left-behind wards as a treated list (as the README's tour does)."""
    path = tmp_path_factory.mktemp("evaluate") / "lb2019.csv"
    invoke(["left-behind", "--out", str(path)], warehouse_path)
    return path


def test_evaluate_fits_80_columns_and_writes_sidecars(warehouse_path, treated_wards, tmp_path, terminal80):
    args = [str(treated_wards) if a == "TREATED" else a for a in EVALUATE]
    result = invoke([*args, "--out", str(tmp_path / "effects.csv"), "--plot", str(tmp_path / "event.png")],
                    warehouse_path)
    assert "The IMD is a relative measure" in result.output  # the caveat note, now wrapped
    assert "Effects on IMD employment" in result.output
    assert_fits_80(result.output, "nlens evaluate")
    for name in ("effects.csv", "event.png"):
        side = json.loads((tmp_path / f"{name}.provenance.json").read_text())
        assert side["command"] == "evaluate"


@pytest.mark.slow
def test_evaluate_json_tables_and_out_dash(warehouse_path, treated_wards, tmp_path):
    args = [str(treated_wards) if a == "TREATED" else a for a in EVALUATE]
    result = invoke([*args, "--out", str(tmp_path / "effects.csv"), "--format", "json"], warehouse_path)
    effects = json.loads(result.stdout)  # one JSON document: the effects; balance on stderr
    written = pd.read_csv(tmp_path / "effects.csv")
    assert [r["effect"] for r in effects] == written["effect"].tolist()
    att = next(r for r in effects if r["effect"] == "att")
    assert att["ci_low"] <= att["estimate"] <= att["ci_high"]
    assert "trend" in result.stderr and "level" in result.stderr
    result = invoke([*args, "--out", "-"], warehouse_path)  # CSV of the effects only
    assert pd.read_csv(io.StringIO(result.stdout))["effect"].tolist() == written["effect"].tolist()


def test_data_sources_and_status_as_data(warehouse_path):
    from neighbourhood_lens.data.sources import registry_frame

    registry = registry_frame()
    result = invoke(["data", "sources", "--format", "csv"])
    (frame,) = csv_tables(result.stdout)
    assert frame["id"].tolist() == registry["id"].tolist()
    assert frame["url"].fillna("").tolist() == registry["url"].fillna("").tolist()  # whole URLs, never cut
    result = invoke(["data", "sources", "--format", "json"])
    assert {r["id"] for r in json.loads(result.stdout)} == set(registry["id"])
    result = invoke(["data", "status", "--format", "json"], warehouse_path)
    datasets = json.loads(result.stdout)  # one document: the datasets; the join checks on stderr
    assert all(len(r["sha256"]) == 64 for r in datasets if r["sha256"])  # full checksums as data
    assert "unmatched" in result.stderr


def test_funding_fetch_out_dash_writes_the_grants_to_stdout(monkeypatch, tmp_path):
    from _loopback import Loopback, demo_grants

    funder = "GB-CHC-9999999"
    with Loopback() as server:
        grants = demo_grants(["E01008427", "E01008304", "E05001645"], org_id=funder)
        monkeypatch.setenv("NLENS_360G_API", server.threesixty_api(funder, grants))
        monkeypatch.chdir(tmp_path)
        result = invoke(["funding", "fetch", "--funder", funder, "--out", "-"])
    frame = pd.read_csv(io.StringIO(result.stdout), dtype=str)
    assert sorted(frame["Identifier"]) == sorted(g["id"] for g in grants)
    assert "wrote 3 to stdout" in " ".join(result.stderr.split())
    assert list(tmp_path.iterdir()) == []  # no file and no sidecar for stdout
