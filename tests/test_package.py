"""Package hygiene: light import, version from metadata."""

from __future__ import annotations

import subprocess
import sys


def test_import_is_light():
    code = (
        "import sys, neighbourhood_lens, neighbourhood_lens.geo.geography, neighbourhood_lens.deprivation.left_behind;"
        "heavy = [m for m in ('geopandas', 'matplotlib', 'fastapi', 'libpysal', 'duckdb') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_comes_from_metadata():
    from importlib.metadata import version

    import neighbourhood_lens

    assert neighbourhood_lens.__version__ == version("neighbourhood-lens")
