"""Session fixtures: the real national data in ../shared/data, built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("NLENS_TEST_MIRROR", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The read-only mirror of official data (../shared/data)."""
    if not (MIRROR / "imd2019_lsoa11.parquet").exists():
        pytest.fail(f"the data mirror is missing at {MIRROR}; set NLENS_TEST_MIRROR")
    return MIRROR


@pytest.fixture(scope="session")
def warehouse_path(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built from the full mirror, with LSOA adjacency cached, once per session."""
    from neighbourhood_lens.data.build import build_warehouse
    from neighbourhood_lens.geo.adjacency import ensure_adjacency

    path = tmp_path_factory.mktemp("warehouse") / "nlens.duckdb"
    build_warehouse(path, mirror=mirror)
    for vintage in (2011, 2021):
        ensure_adjacency(path, vintage)
    return path


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
