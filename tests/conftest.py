"""Session fixtures: the real national data in ../shared/data, built once per test session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("NLENS_TEST_MIRROR", ROOT.parent / "shared" / "data"))


def _build_the_cli_once() -> None:
    """typer's ``CliRunner.invoke`` builds the whole click command tree from the Typer app at every call
    (every command's signature and annotations evaluated again: 278 builds were 33 s of a single-process
    cProfile of the suite); ``nlens`` itself builds it once per process, so the tests build it once per
    process too, and invoke that same command."""
    import typer.main
    import typer.testing

    built: dict[int, tuple[object, object]] = {}

    def get_command(app):
        if id(app) not in built:
            built[id(app)] = (app, typer.main.get_command(app))  # the app is kept, so its id is not reused
        return built[id(app)][1]

    typer.testing._get_command = get_command


_build_the_cli_once()


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The read-only mirror of official data (../shared/data)."""
    if not (MIRROR / "imd2019_lsoa11.parquet").exists():
        pytest.fail(f"the data mirror is missing at {MIRROR}; set NLENS_TEST_MIRROR")
    return MIRROR


def _run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every worker of this test run (pytest-xdist), or this session's own."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def warehouse_path(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built from the full mirror, with LSOA adjacency cached, once per test run.

    Under pytest-xdist the first worker builds it while the others wait on a file lock, so the
    run builds it once; tests only read it (those that write work on a copy). The build's
    warnings and info lines are kept beside it (:func:`warehouse_report`).
    """
    import fcntl

    from neighbourhood_lens.data.build import build_warehouse
    from neighbourhood_lens.geo.adjacency import ensure_adjacency

    folder = _run_dir(tmp_path_factory) / "session-warehouse"
    folder.mkdir(exist_ok=True)
    path, done = folder / "nlens.duckdb", folder / "built"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                report = build_warehouse(path, mirror=mirror)
                (folder / "report.json").write_text(json.dumps({"warnings": report.warnings, "info": report.info}))
                for vintage in (2011, 2021):
                    ensure_adjacency(path, vintage)
                done.write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


@pytest.fixture(scope="session")
def warehouse_report(warehouse_path: Path) -> dict[str, list[str]]:
    """The ``warnings`` and ``info`` lines of the session warehouse's build (a clean build from the mirror)."""
    return json.loads((warehouse_path.parent / "report.json").read_text())


@pytest.fixture(scope="session")
def con(warehouse_path: Path):
    """A read-only connection to the session warehouse."""
    from neighbourhood_lens.warehouse import connect

    connection = connect(warehouse_path)
    yield connection
    connection.close()


@pytest.fixture
def terminal80(monkeypatch):
    """The CLI's console as an 80-column terminal without colour (tables drawn, not piped)."""
    from neighbourhood_lens.cli import _common

    monkeypatch.setattr(_common.console, "_force_terminal", True)
    monkeypatch.setattr(_common.console, "_color_system", None)
    monkeypatch.setattr(_common.console, "_width", 80)
    monkeypatch.setenv("COLUMNS", "80")


#: Tests that share one expensive module- or session-level set-up run in one pytest-xdist worker: the
#: web tests share one app (tests/web_demo.py, its geometry built once), and each module's tests share
#: its module fixtures. Only the tests of :data:`SPREAD` (no costly module fixture, long tests) go one
#: by one to whichever worker is free.
GROUPS = {"tests/web/": "web"}
SPREAD = ("tests/cli/test_cli_tour.py::",)

#: About how many seconds the largest units take on a 2-core machine (from the junit file of
#: ``pytest -q --junitxml=FILE``; the web group and the online module are mostly their shared set-up).
#: Any other unit counts :data:`SECONDS_PER_TEST` for each of its tests. They only order the queue.
COSTS = {"web": 70.0, "tests/data/test_online.py": 60.0, "tests/data/test_keep.py": 19.0,
         "tests/data/test_fresh_install.py": 10.0, "tests/data/test_build_denominators.py": 7.0}
SPREAD_COST = 6.0  # each README tour chapter
SECONDS_PER_TEST = 0.2


def unit_cost(scope: str, tests: int) -> float:
    """The rough cost that orders the units (see :data:`COSTS`)."""
    if scope in COSTS:
        return COSTS[scope]
    return SPREAD_COST if scope.startswith(SPREAD) else SECONDS_PER_TEST * tests


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Schedule by :data:`GROUPS`, else by module, else (for :data:`SPREAD`) by test; costliest units first.

    pytest-xdist's own ``--dist loadgroup`` reads ``xdist_group`` marks by rewriting ``item._nodeid``,
    which pytest 9.2 no longer reads (node ids come from ``item._id``), so its groups are ignored and
    every worker would build the shared fixtures again. This scheduler groups by path instead.

    Units go out longest first (:func:`unit_cost`), so that short ones fill the end of the run and
    no worker is left alone with a long one. The two first are the web group and the online module:
    one worker builds the session warehouse for the web app while the other serves and fetches the
    publishers' files, which needs no warehouse, instead of waiting on the warehouse's lock.
    """
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            for prefix, group in GROUPS.items():
                if nodeid.startswith(prefix):
                    return group
            if nodeid.startswith(SPREAD):
                return nodeid
            return nodeid.split("::", 1)[0]

        def _assign_work_unit(self, node) -> None:
            if not self._ordered:  # the queue is complete before the first unit goes out
                units = sorted(self.workqueue.items(), key=lambda kv: -unit_cost(kv[0], len(kv[1])))
                self.workqueue.clear()
                self.workqueue.update(units)
                self._ordered = True
            super()._assign_work_unit(node)

    return ByGroup(config, log)
