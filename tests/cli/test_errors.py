"""The one error path of ``nlens``: every bad input file, unknown id and Ctrl-C is one or two lines.

Every command that reads a file the user names is run against an empty file, a binary file,
a header-only CSV and a semicolon-separated CSV, and against files named as another format than
they hold (:data:`ODD_NAMES`): each must exit with code 2, print at most two lines that name the
file, and show no traceback. Interrupts exit with 130.
"""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from neighbourhood_lens.cli import app

runner = CliRunner()

BAD = {
    "empty": b"",
    "binary": bytes(random.Random(21).randrange(256) for _ in range(400)) + b"\x00\xff\xfe",
    "header_only": b"code,start\n",
    "semicolons": b"code;start\nE05000770;2012\n",
}

#: Every command that reads a file named on the command line; F is the bad file.
FILE_COMMANDS = [
    ["evaluate", "--treated", "F", "--out", "OUT/e.csv", "--placebo", "0"],
    ["evaluate", "--treated", "TREATED", "--panel", "F", "--out", "OUT/e.csv", "--placebo", "0"],
    ["summarise", "--by", "F"],
    ["summarise", "--population", "F"],
    ["movers", "--by", "F"],
    ["entrenched", "--by", "F"],
    ["funding", "reach", "F"],
    ["programme", "design", "F"],
    ["programme", "compare", "F"],
    ["index", "build", "F"],
    ["index", "sensitivity", "F", "--draws", "2"],
    ["index", "build", "SPEC_WITH_FILE"],  # a component's file = "F" inside a valid spec
    ["data", "build", "--file", "imd2019_lsoa11=F", "--only", "imd2019_lsoa11", "--offline", "--db", "OUT/w.duckdb"],
    ["data", "build", "--sources", "F", "--offline", "--db", "OUT/w.duckdb"],
    ["data", "fetch", "imd2019_lsoa11", "--sources", "F", "--cache", "OUT/cache"],
    ["data", "build", "--mirror", "MIRROR_WITH_F", "--only", "imd2019_lsoa11", "--db", "OUT/w.duckdb"],
]
_NO_DB = {"data"}


def _run(args: list[str], db: Path | None = None):
    extra = ["--db", str(db)] if db is not None and args[0] not in _NO_DB else []
    return runner.invoke(app, [*args, *extra])


def _assert_one_clear_error(result, *, names: str, code: int = 2) -> None:
    text = result.output
    lines = [line for line in text.splitlines() if line.strip()]
    assert result.exit_code == code, text
    assert "Traceback" not in text and not isinstance(result.exception, (KeyError, ValueError, RuntimeError)), text
    assert 1 <= len(lines) <= 2, text
    assert names in text, f"the message does not name {names!r}:\n{text}"


def _args(template: list[str], bad: Path, tmp_path: Path) -> list[str]:
    """``template`` with F the bad file, and the other placeholders made (see :data:`FILE_COMMANDS`)."""
    treated = tmp_path / "treated.csv"
    treated.write_text("code,start\nE05000770,2012\n")
    spec = tmp_path / "with_file.toml"
    spec.write_text(f'name = "x"\nunit = "lsoa11"\n[[component]]\nname = "Mine"\nfile = "{bad}"\n'
                    'column = "v"\nneed = "high"\n')
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "imd2019_lsoa11.parquet").write_bytes(bad.read_bytes())
    swap = {"F": str(bad), "TREATED": str(treated), "SPEC_WITH_FILE": str(spec), "MIRROR_WITH_F": str(mirror)}
    return [swap.get(a, a.replace("OUT", str(tmp_path)).replace("=F", f"={bad}")) for a in template]


@pytest.mark.parametrize("kind", list(BAD))
@pytest.mark.parametrize("template", FILE_COMMANDS, ids=lambda t: " ".join(t[:3]))
def test_every_bad_file_is_one_clear_line(template, kind, tmp_path, warehouse_path):
    bad = tmp_path / f"{kind}_input.csv"
    bad.write_bytes(BAD[kind])
    named = tmp_path / "mirror" / "imd2019_lsoa11.parquet" if "MIRROR_WITH_F" in template else bad
    _assert_one_clear_error(_run(_args(template, bad, tmp_path), warehouse_path), names=named.name)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


#: Files whose name says another format than they hold: pandas opens a CSV named .zip as an archive of
#: one member, and the build reads a file of an extension it has no reader for as a vector file (GDAL).
ODD_NAMES = {
    "two_members.zip": _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<a/>"}),
    "empty.zip": _zip({}),
    "settings.toml": b"x = 1\n",
    "damaged.gpkg": bytes(random.Random(7).randrange(256) for _ in range(300)),
}


def _odd_cases() -> list[tuple[list[str], str]]:
    """Each command with each odd file, but a TOML where it is a spec (its problems are listed one per line)."""
    return [(t, name) for t in FILE_COMMANDS if "MIRROR_WITH_F" not in t for name in ODD_NAMES
            if not (name.endswith(".toml") and t[0] in ("programme", "index") and t[2] == "F")]


@pytest.mark.parametrize(("template", "name"), _odd_cases(), ids=lambda v: v if isinstance(v, str) else " ".join(v[:3]))
def test_a_file_named_as_another_format_is_one_clear_line(template, name, tmp_path, warehouse_path):
    bad = tmp_path / name
    bad.write_bytes(ODD_NAMES[name])
    _assert_one_clear_error(_run(_args(template, bad, tmp_path), warehouse_path), names=name)


@pytest.mark.parametrize(("args", "expected"), [
    (["data", "build", "--file", "cni2019=x.csv", "--offline"], "did you mean cni2019_ward17?"),
    (["data", "build", "--only", "cni2019", "--offline"], "did you mean cni2019_ward17?"),
    (["data", "fetch", "nosuch"], "known ids: imd2019_lsoa11, "),
])
def test_unknown_dataset_id_is_one_line_with_the_valid_ids(args, expected, tmp_path):
    result = runner.invoke(app, [*args, "--db" if args[1] == "build" else "--cache", str(tmp_path / "x")])
    _assert_one_clear_error(result, names=expected)
    assert result.output.count("\n") == 1


def test_missing_file_names_the_option(tmp_path, warehouse_path):
    result = _run(["summarise", "--population", str(tmp_path / "nope.csv")], warehouse_path)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), RuntimeError("Query interrupted")])
def test_ctrl_c_is_one_line_and_exit_130(raised, monkeypatch, tmp_path):
    import neighbourhood_lens.data.build as build

    def interrupted(*args, **kwargs):
        raise raised

    monkeypatch.setattr(build, "build_warehouse", interrupted)
    result = runner.invoke(app, ["data", "build", "--db", str(tmp_path / "w.duckdb"), "--offline"])
    assert result.exit_code == 130, result.output
    assert result.output.strip() == "Interrupted."


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    """Only errors a user can cause are turned into a line; a genuine bug still surfaces."""
    import neighbourhood_lens.data.build as build

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(build, "build_warehouse", bug)
    result = runner.invoke(app, ["data", "build", "--db", str(tmp_path / "w.duckdb"), "--offline"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_square_brackets_in_a_message_survive(monkeypatch, tmp_path):
    import neighbourhood_lens.data.build as build
    from neighbourhood_lens.errors import DataError

    def refuse(*args, **kwargs):
        raise DataError("name must match ^[a-z][a-z0-9_]{0,47}$ and [bold]stay[/bold] text")

    monkeypatch.setattr(build, "build_warehouse", refuse)
    result = runner.invoke(app, ["data", "build", "--db", str(tmp_path / "w.duckdb"), "--offline"])
    assert result.exit_code == 2
    assert "^[a-z][a-z0-9_]{0,47}$ and [bold]stay[/bold] text" in result.output


def _commands(group: typer.Typer, prefix: tuple[str, ...] = ()):
    for info in group.registered_commands:
        yield (*prefix, info.name or info.callback.__name__), info.callback
    for sub in group.registered_groups:
        yield from _commands(sub.typer_instance, (*prefix, sub.name))


def test_every_command_goes_through_the_one_handler():
    found = dict(_commands(app))
    assert len(found) > 25
    unwrapped = [" ".join(name) for name, fn in found.items() if not getattr(fn, "handles_errors", False)]
    assert unwrapped == []


def test_help_has_no_bool_metavars_or_brace_usage():
    for name, _ in _commands(app):
        text = runner.invoke(app, [*name, "--help"], terminal_width=120).output
        assert "<bool>" not in text, name
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage


#: Commands that write a file the user names; OUT is the output path.
OUTPUT_COMMANDS = [
    ["left-behind", "--vintage", "2019", "--out", "OUT.csv"],
    ["left-behind", "--vintage", "2019", "--out", "OUT.xlsx"],
    ["left-behind", "--vintage", "2023", "--out", "OUT.geojson"],
    ["trajectory", "E05000770", "--chart", "OUT.png"],
    ["data", "sources", "--out", "OUT.toml"],
    ["data", "build", "--db", "OUT.duckdb", "--only", "lookup_lad19_region19", "--mirror", "MIRROR"],
    ["data", "fetch", "imd2019_lsoa11", "--cache", "OUT"],  # a folder: given a file, it cannot be made
]


def _output_cases() -> list[tuple[list[str], str]]:
    """Each output under a file and given as a folder, but ``--db`` only under a file (a folder given
    as the warehouse is refused as no warehouse before anything is written) and ``--cache``, a folder,
    given as a file."""
    cases = []
    for t in OUTPUT_COMMANDS:
        if t[:2] == ["data", "fetch"]:
            cases.append((t, "a file"))
            continue
        cases.append((t, "under a file"))
        if t[:2] != ["data", "build"]:
            cases.append((t, "a folder"))
    return cases


@pytest.mark.parametrize(("template", "where"), _output_cases(),
                         ids=lambda v: v if isinstance(v, str) else " ".join(
                             v[:2] + [next(a for a in v if a.startswith("OUT"))]))
def test_an_output_that_cannot_be_written_is_one_line_naming_the_option(template, where, tmp_path, warehouse_path,
                                                                        mirror):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    option = next(a for a in template if a.startswith("OUT"))
    out = (blocker if where == "under a file" else tmp_path) / option.replace("OUT", "result")
    if where == "a folder":
        out.mkdir()
    elif where == "a file":
        out = blocker
    result = _run([str(out) if a == option else str(mirror) if a == "MIRROR" else a for a in template],
                  warehouse_path)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    if template[:2] == ["data", "build"]:  # --db is the warehouse, read as well as written: found when it is made
        assert result.output.count("Error:") == 1 and len(lines) - next(
            i for i, line in enumerate(lines) if line.startswith("Error:")) <= 2, result.output
    else:  # found before the command starts: nothing else is shown (no table saying "all in FILE")
        assert lines[0].startswith("Error:") and len(lines) <= 2, result.output
    said = " ".join(result.output[result.output.index("Error:"):].split())  # the console may wrap it
    assert f"{template[template.index(option) - 1]} {out}: cannot write" in said, said
    expected = {"under a file": "notes.txt is a file, not a folder", "a folder": "it is a folder; give a file name",
                "a file": "it is a file, where a folder is needed"}[where]
    assert expected in said, said


#: Options naming a file or folder that commands read (every other path option is an output, checked
#: before the command starts by ``cli._errors.unwritable_output``).
PATH_INPUTS = {"db", "file", "mirror", "panel", "population", "postcodes", "sources", "spec", "specs", "treated"}


def test_every_path_option_is_known_as_an_input_or_an_output():
    import inspect
    import typing

    from neighbourhood_lens.cli._errors import OUTPUT_FILES, OUTPUT_FOLDERS

    seen = set()
    for _, callback in _commands(app):
        hints = typing.get_type_hints(inspect.unwrap(callback), include_extras=True)
        seen |= {name for name, hint in hints.items() if name != "return" and "Path" in str(hint)}
    assert seen - PATH_INPUTS - OUTPUT_FILES - OUTPUT_FOLDERS == set()
    assert not PATH_INPUTS & (OUTPUT_FILES | OUTPUT_FOLDERS)
    assert {"out", "map_path", "chart", "cache", "db"} <= seen
