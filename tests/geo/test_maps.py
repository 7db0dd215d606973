"""Static choropleths: files written, legend, title and source note present; bad input refused."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.geo.maps import choropleth


@pytest.fixture()
def squares():
    import geopandas as gpd
    from shapely.geometry import box

    return gpd.GeoDataFrame({"code": list("ABCD"), "value": [1.0, 2.0, None, 4.0],
                             "kind": pd.Categorical(["low", "high", "low", None], categories=["low", "high"])},
                            geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000), box(0, 1000, 1000, 2000),
                                      box(1000, 1000, 2000, 2000)], crs=27700)


def test_continuous_png_and_svg(squares, tmp_path):
    png = choropleth(squares, "value", title="Test title", source_note="Source: test note", path=tmp_path / "m.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = choropleth(squares, "value", title="Test title", source_note="Source: test note",
                     legend_title="Score units", path=tmp_path / "m.svg")
    text = svg.read_text()
    assert "Test title" in text and "Source: test note" in text and "Score units" in text
    assert "no data" in text  # the missing value gets a legend entry


def test_categorical_legend_lists_categories_in_order_with_counts(squares, tmp_path):
    svg = choropleth(squares, "kind", categorical=True, title="Kinds", source_note="Source: x",
                     colours={"low": "#ff0000"}, path=tmp_path / "c.svg").read_text()
    assert "low (2)" in svg and "high (1)" in svg
    assert svg.index("low (2)") < svg.index("high (1)")


def test_reprojects_from_wgs84(squares, tmp_path):
    wgs = squares.set_geometry(squares.geometry.translate(400000, 300000)).to_crs(4326)
    assert choropleth(wgs, "value", title="t", source_note="s", path=tmp_path / "w.png").exists()


def test_bad_input(squares, tmp_path):
    with pytest.raises(DataError, match="unknown suffix '.jpg'; use .png or .svg"):
        choropleth(squares, "value", title="t", source_note="s", path=tmp_path / "m.jpg")
    with pytest.raises(DataError, match="cannot map column 'nope'"):
        choropleth(squares, "nope", title="t", source_note="s", path=tmp_path / "m.png")
    with pytest.raises(DataError, match="the frame is empty"):
        choropleth(squares.iloc[:0], "value", title="t", source_note="s", path=tmp_path / "m.png")


def test_importing_maps_stays_light():
    code = ("import sys, neighbourhood_lens.geo.maps; "
            "assert 'matplotlib' not in sys.modules and 'geopandas' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_categories_spread_along_a_continuous_colour_map(tmp_path):
    import re

    import geopandas as gpd
    from shapely.geometry import box

    gdf = gpd.GeoDataFrame({"d": pd.Categorical([1, 2, 3], categories=[1, 2, 3])},
                           geometry=[box(i * 10, 0, i * 10 + 10, 10) for i in range(3)], crs=27700)
    svg = choropleth(gdf, "d", categorical=True, cmap="RdYlBu", title="t", source_note="s",
                     path=tmp_path / "d.svg").read_text()
    fills = set(re.findall(r"fill: (#[0-9a-f]{6})", svg)) - {"#ffffff", "#000000", "#444444"}
    rgb = [tuple(int(f[i:i + 2], 16) for i in (1, 3, 5)) for f in fills]
    spread = max(sum(abs(a - b) for a, b in zip(c1, c2, strict=True)) for c1 in rgb for c2 in rgb)
    assert len(fills) >= 3 and spread > 200  # red to blue, not three near-identical shades of red
