"""A fresh install works online: a new venv with only the package's declared dependencies (from
PyPI), then `nlens data fetch` against loopback publishers, in the publishers' layouts (CSV, a ZIP
holding an XLS, an ODS with title rows, a paged FeatureServer layer)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _loopback import Loopback
from _publishers import rewrite_sources, serve_publishers

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ["imd2019_lsoa11", "imd2004_lsoa01", "ruc2011_lsoa11", "lookup_lad19_region19"]


@pytest.mark.slow
def test_a_fresh_venv_with_only_the_declared_dependencies_fetches(tmp_path, mirror):
    from uv import find_uv_bin

    uv, venv = find_uv_bin(), tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    # uv (a test tool) makes the venv and installs into it: the same declared dependencies from PyPI that
    # pip would take, downloaded and unpacked in parallel (with pip this test took 27-34 s in the junit
    # files of `pytest -q`). The venv gets no pip or uv of its own: only the package and what it declares.
    created = subprocess.run([uv, "venv", "--quiet", "--python", base, str(venv)], capture_output=True, text=True)
    assert created.returncode == 0, created.stderr[-2000:]
    project = tmp_path / "project"  # a copy, so the build leaves nothing (build/, *.egg-info) in the checkout
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    install = subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                              str(project)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NLENS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({"NLENS_CACHE": str(tmp_path / "cache"), "COLUMNS": "200", "PATH": f"{venv / 'bin'}:/usr/bin:/bin"})
    work = tmp_path / "work"
    work.mkdir()
    nlens = str(venv / "bin" / "nlens")
    made = subprocess.run([nlens, "data", "sources", "--out", "sources.toml"], cwd=work, env=env,
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    with Loopback() as server:
        serve_publishers(server, mirror, only=DATASETS)
        (work / "sources.toml").write_text(rewrite_sources((work / "sources.toml").read_text(), server.url))
        run = subprocess.run([nlens, "data", "fetch", *DATASETS, "--sources", "sources.toml"], cwd=work, env=env,
                             capture_output=True, text=True)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "Traceback" not in out and f"Fetched {len(DATASETS)}, cached 0, failed 0" in out
