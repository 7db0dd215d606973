"""Screen tables of the CLI as exact text at fixed widths (as Rich tests its own output), and --format."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from neighbourhood_lens.cli import _common, app
from neighbourhood_lens.cli._common import cap_note, render_table

runner = CliRunner()

LADS = pd.DataFrame({"code": ["E06000009", "E08000021"], "name": ["Blackpool", "Newcastle upon Tyne"],
                     "population": [139446.0, 300196.0], "mean_score": [45.5, 2.25]})


def screen(frame: pd.DataFrame, width: int, *, terminal: bool = True, **kw) -> str:
    c = Console(width=width, record=True, force_terminal=terminal, color_system=None, file=open("/dev/null", "w"))
    c.print(render_table(frame, **kw))
    return c.export_text()


def test_table_fits_at_80_columns():
    # Whole-number floats print without decimals, other floats with 2; numbers right-aligned.
    assert screen(LADS, 80, title="Two LADs") == (
        "                          Two LADs                           \n"
        "┏━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━┓\n"
        "┃ code      ┃ name                ┃ population ┃ mean_score ┃\n"
        "┡━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━┩\n"
        "│ E06000009 │ Blackpool           │    139,446 │      45.50 │\n"
        "│ E08000021 │ Newcastle upon Tyne │    300,196 │       2.25 │\n"
        "└───────────┴─────────────────────┴────────────┴────────────┘\n"
    )


def test_narrower_table_wraps_names_at_spaces_and_headings_at_underscores():
    # 50 columns: 13 go to borders and padding, 37 to cells. Codes (9) and numbers (10 for the
    # heading "population") never break; "mean_score" breaks after its underscore (5); the name
    # column gets the 3 spare columns (10 -> 13), so "Newcastle upon Tyne" wraps at a space.
    assert screen(LADS, 50, title="Two LADs") == (
        "                     Two LADs                     \n"
        "┏━━━━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┓\n"
        "┃           ┃               ┃            ┃ mean_ ┃\n"
        "┃ code      ┃ name          ┃ population ┃ score ┃\n"
        "┡━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━┩\n"
        "│ E06000009 │ Blackpool     │    139,446 │ 45.50 │\n"
        "│ E08000021 │ Newcastle     │    300,196 │  2.25 │\n"
        "│           │ upon Tyne     │            │       │\n"
        "└───────────┴───────────────┴────────────┴───────┘\n"
    )


def test_too_narrow_for_columns_gives_one_record_per_block():
    # 40 columns cannot hold 9 + 10 + 10 + 5 cells plus 13 of borders: records instead.
    assert screen(LADS, 40, title="Two LADs", caption="showing 2 of 9; all in x.csv") == (
        "Two LADs                                \n"
        "── 1 of 2 ──────────────────────────────\n"
        "code       E06000009                    \n"
        "name       Blackpool                    \n"
        "population 139,446                      \n"
        "mean_score 45.50                        \n"
        "── 2 of 2 ──────────────────────────────\n"
        "code       E08000021                    \n"
        "name       Newcastle upon Tyne          \n"
        "population 300,196                      \n"
        "mean_score 2.25                         \n"
        "showing 2 of 9; all in x.csv            \n"
    )


def test_a_url_longer_than_the_line_continues_and_is_never_shortened():
    url = "https://assets.publishing.service.gov.uk/government/uploads/system/uploads/attachment_data/file/845345/F.csv"
    text = screen(pd.DataFrame({"id": ["imd2019_lsoa11"], "url": [url]}), 80)
    assert "…" not in text
    assert url in "".join(line[4:].rstrip() for line in text.splitlines() if line.startswith(("url ", "    ")))


def test_on_a_pipe_cells_are_tab_separated_with_the_title_as_a_comment():
    import io

    pipe = io.StringIO()
    Console(file=pipe, width=20, force_terminal=False).print(render_table(LADS, title="Two LADs"))
    assert pipe.getvalue() == (
        "# Two LADs\n"
        "code\tname\tpopulation\tmean_score\n"
        "E06000009\tBlackpool\t139,446\t45.50\n"
        "E08000021\tNewcastle upon Tyne\t300,196\t2.25\n"
    )


def test_cap_note_names_the_file():
    note = "showing 15 of 466; all with --out FILE or --top 0"
    assert cap_note(15, 466, out=None, hint="--out FILE or --top 0") == note
    assert cap_note(466, 466) is None


@pytest.fixture
def terminal80(monkeypatch):
    monkeypatch.setattr(_common.console, "_force_terminal", True)
    monkeypatch.setattr(_common.console, "_color_system", None)
    monkeypatch.setattr(_common.console, "_width", 80)


def test_version():
    from neighbourhood_lens import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"neighbourhood-lens {__version__}\n"


def test_search_finds_jaywick_and_caps_with_a_note(warehouse_path, terminal80):
    result = runner.invoke(app, ["search", "Jaywick", "--db", str(warehouse_path)])
    assert result.exit_code == 0, result.output
    assert "E05011963" in result.output and "West Clacton & Jaywick Sands" in result.output
    assert "Tendring" in result.output
    result = runner.invoke(app, ["search", "Abbey", "--type", "ward", "--top", "3", "--db", str(warehouse_path)])
    n = int(result.output.split()[0])
    assert n > 3 and f"showing 3 of {n:,}; all with --top 0" in " ".join(result.output.split())


def test_format_csv_and_json_put_only_data_on_stdout(warehouse_path):
    result = runner.invoke(app, ["search", "Jaywick", "--format", "csv", "--db", str(warehouse_path)])
    assert result.exit_code == 0
    # One table on stdout, the match; the LSOAs inside the matched ward are shown on stderr.
    assert result.stdout == ("code,name,type,vintage,lad_name,match\n"
                             "E05011963,West Clacton & Jaywick Sands,ward,2024,Tendring,word\n")
    assert "1 match" in result.stderr and "E01021988" in result.stderr and "LSOAs inside" in result.stderr
    result = runner.invoke(app, ["search", "newcastle upon tyne", "--type", "lad", "--format", "json",
                                 "--db", str(warehouse_path)])
    rows = json.loads(result.stdout)
    assert [(r["code"], r["vintage"], r["match"]) for r in rows] == [("E08000021", "2024", "name"),
                                                                     ("E08000021", "2019", "name")]


def test_out_dash_writes_json_to_stdout(warehouse_path):
    result = runner.invoke(app, ["left-behind", "--out", "-", "--format", "json", "--db", str(warehouse_path)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 225 and sum(r["population"] for r in rows) == 2_370_413
    assert isinstance(rows[0]["population"], int)
    assert "225" in result.stderr and "Wrote 225 rows to stdout" in " ".join(result.stderr.split())


def test_report_suggests_close_names(warehouse_path, tmp_path):
    # The report on a name that resolves is run by the README tour (test_cli_tour.py).
    out = tmp_path / "n.html"
    result = runner.invoke(app, ["report", "--lad", "Newcstle", "--out", str(out), "--db", str(warehouse_path)])
    assert result.exit_code == 2 and not out.exists()
    assert "did you mean Newcastle upon Tyne (E08000021)" in " ".join(result.output.split())


def test_movers_top_means_what_it_says(warehouse_path, terminal80):
    result = runner.invoke(app, ["movers", "--by", "lad19", "--top", "20", "--format", "csv",
                                 "--db", str(warehouse_path)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))  # one table: 20 improvers and 20 decliners
    assert frame["direction"].value_counts().to_dict() == {"improved": 20, "declined": 20}
