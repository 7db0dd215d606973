"""The README's CLI tour as a test: every example runs, in an 80-column terminal, with no cell cut.

The tour is read from README.md (the first ```bash block after "## CLI tour"), so an example
that breaks fails here. Each line runs in-process (typer's CliRunner) against a copy of the
session warehouse, in ``tmp_path`` so relative outputs land there. Three kinds of line only
check ``--help``, for the stated reasons in :data:`HELP_ONLY`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"

#: Commands that are checked with --help only, and why.
HELP_ONLY = {
    ("data", "fetch"): "needs the internet (tests never touch it); download is tested with a loopback server",
    ("data", "build"): "rebuilds the warehouse the tour runs on; the build is tested in test_build.py",
    ("serve",): "starts a server that runs until stopped; the web app is tested in test_web_api.py",
}


def tour_lines(readme: Path = README) -> list[str]:
    """The ``nlens`` lines of the README's CLI tour, comments removed."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## CLI tour"):]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block, "README's CLI tour has no ```bash block"
    lines = []
    for raw in block.group(1).splitlines():
        line = re.sub(r"\s+#.*$", "", raw).strip()
        if line.startswith("nlens "):
            lines.append(line)
    return lines


def tour_chapters(readme: Path = README) -> dict[str, list[str]]:
    """The tour's ``nlens`` lines by chapter: the ``# Heading`` comment lines that stand alone."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## CLI tour"):]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block, "README's CLI tour has no ```bash block"
    chapters: dict[str, list[str]] = {}
    title = "start"
    for raw in block.group(1).splitlines():
        if raw.startswith("# "):
            title = raw[2:].split(":")[0].split(" (")[0].strip()
            continue
        line = re.sub(r"\s+#.*$", "", raw).strip()
        if line.startswith("nlens "):
            chapters.setdefault(title, []).append(line)
    return chapters


#: Lines of other chapters a chapter needs first (files or stored results they make).
NEEDS = {
    "Change over time": ("nlens left-behind --vintage 2019 --out lb2019.csv",),
}

#: Files the tour writes, each with a provenance sidecar; a chapter checks those its lines name.
WRITTEN = ("lb2019.csv", "lb2023.geojson", "nbhd.gpkg", "theil.png", "barnet.png", "ordsall.png",
           "reach.html", "newcastle.html", "lb.xlsx", "unlocated.csv",
           "selection.png", "selection.html", "compare.png", "unc.png", "event.png", "eval.html")


def test_tour_chapters_cover_every_line():
    chapters = tour_chapters()
    assert [line for lines in chapters.values() for line in lines] == tour_lines()
    assert {"Data", "Find places", "Funding", "Web and reports"} <= set(chapters)
    for chapter, lines in NEEDS.items():
        assert chapter in chapters and all(line in tour_lines() for line in lines)


def test_tour_is_parsed():
    lines = tour_lines()
    assert len(lines) >= 25
    assert lines[0] == "nlens data sources"
    assert any(line.startswith("nlens search ") for line in lines)
    assert any("| head" in line for line in lines)


def _write_grouping(path: Path, con) -> None:
    """``my_groups.csv``: LSOAs 2021 grouped by the first four characters of their MSOA-style name."""
    lsoas = con.execute("SELECT lsoa21_code, lad24_code FROM hierarchy_lsoa21").df()
    lsoas["neighbourhood_code"] = "G_" + lsoas["lad24_code"]
    lsoas[["lsoa21_code", "neighbourhood_code"]].to_csv(path, index=False)


@pytest.fixture
def loopback_360giving(monkeypatch):
    """The README's ``funding fetch`` funder, served by a loopback 360Giving API (tests never go online)."""
    from _loopback import Loopback, demo_grants

    fetch = next(line for line in tour_lines() if line.startswith("nlens funding fetch"))
    funder = fetch.split("--funder ")[1].split()[0]
    with Loopback() as server:
        grants = demo_grants(["E01008427", "E01008304", "E05001645"], org_id=funder)
        for g in grants:  # inside the README's --from/--to window
            g["awardDate"] = "2021-06-15"
        monkeypatch.setenv("NLENS_360G_API", server.threesixty_api(funder, grants))
        yield funder


@pytest.mark.slow
@pytest.mark.parametrize("chapter", list(tour_chapters()))
def test_readme_tour_runs_in_80_columns(chapter, warehouse_path, mirror, con, tmp_path, monkeypatch, terminal80,
                                        loopback_360giving):
    """One chapter of the tour, on its own copy of the warehouse (chapters run in parallel workers)."""
    db = tmp_path / "tour.duckdb"
    shutil.copy(warehouse_path, db)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NLENS_DB", str(db))
    _write_grouping(tmp_path / "my_groups.csv", con)
    runner = CliRunner()
    lines = tour_chapters()[chapter]
    for line in [*NEEDS.get(chapter, ()), *lines]:
        command, _, pipe = line.partition("|")
        args = shlex.split(command)[1:]
        args = [str(mirror) if a == "../shared/data" else a for a in args]
        # the shipped examples are read from the repository; outputs still land in tmp_path
        args = [p for a in args for p in (
            sorted(str(f) for f in README.parent.glob(a)) if a.startswith("examples/") and "*" in a
            else [str(README.parent / a)] if a.startswith("examples/") else [a])]
        reason = next((why for key, why in HELP_ONLY.items() if tuple(args[: len(key)]) == key), None)
        if reason:
            args = [*args[: 2 if args[0] == "data" else 1], "--help"]
        result = runner.invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        out = result.output
        if args[:3] == ["report", "--lad", "Newcastle upon Tyne"]:  # a name, resolved to its code
            assert "report on Newcastle upon Tyne (E08000021)" in " ".join(out.split())
            side = json.loads((tmp_path / "newcastle.html.provenance.json").read_text())
            assert side["parameters"] == {"lad": "E08000021"} and side["output"] == "newcastle.html"
        assert "…" not in out, f"{line}: a cell or line was cut\n{out}"
        visible = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)  # cursor codes of a spinner take no columns
        assert max((len(x) for x in visible.splitlines()), default=0) <= 80 or pipe or "-" in args, line
        if pipe:  # `--out - | head`: stdout is the CSV itself
            rows = [r for r in result.stdout.splitlines() if r.count(",") > 5]
            assert rows[0].startswith("code,name,"), line
            assert len(rows) == 317 + 1, line  # a header and every LAD 2019 (domain imd)
    # what the chapter wrote: spreadsheets with provenance, maps and HTML with sidecars, integer counts
    named = " ".join(lines)
    for name in WRITTEN:
        if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", named):
            assert (tmp_path / name).exists(), name
            assert (tmp_path / f"{name}.provenance.json").exists(), name
    if "lb.xlsx" in named:
        book = pd.read_excel(tmp_path / "lb.xlsx", sheet_name=None, engine="openpyxl")
        assert list(book) == ["table", "provenance"] and len(book["table"]) == 225
        assert book["table"]["population"].dtype.kind == "i"
    if "nbhd.gpkg" in named:
        import geopandas as gpd

        nbhd = gpd.read_file(tmp_path / "nbhd.gpkg")
        assert nbhd["code"].is_unique and nbhd["code"].str.startswith("N").all()  # one row per neighbourhood


def test_every_tour_output_is_checked():
    named = " ".join(tour_lines())
    assert all(name in named for name in WRITTEN)


def _commands(group, prefix=()):
    """Every command path of the Typer app, e.g. ("neighbourhoods", "build")."""
    import typer.main

    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, cmd in click_group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_help_fits_80_columns_uncut():
    runner = CliRunner()
    paths = list(_commands(app))
    assert ("search",) in paths and ("neighbourhoods", "build") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, path
        assert "…" not in result.output, f"nlens {' '.join(path)} --help cuts a word:\n{result.output}"
