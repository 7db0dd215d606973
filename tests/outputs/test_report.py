"""The self-contained LAD report."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.outputs.report import lad_report, trajectory_svg


def test_trajectory_svg_plots_one_point_per_edition():
    svg = trajectory_svg(pd.DataFrame({"edition": [2004, 2010, 2025], "percentile": [0.0, 0.5, 1.0]}))
    assert svg.count("<circle") == 3
    # 0 = most deprived at the top of the plot area (y = 15), 1 at the bottom (y = 220 - 35).
    assert 'cy="15.0"' in svg and 'cy="185.0"' in svg


@pytest.fixture(scope="module")
def newcastle(con):
    return lad_report(con, "E08000021")


def test_report_is_self_contained(newcastle):
    assert "Newcastle upon Tyne" in newcastle
    assert not re.search(r'(src|href)="(?!data:)', newcastle), "the report must not reference external files"
    assert "data:image/png;base64," in newcastle


def test_report_lists_the_lads_left_behind_lsoas(newcastle, con):
    from neighbourhood_lens.deprivation.left_behind import left_behind

    lb = left_behind(con, vintage=2023)
    n = int((lb["lad_code"] == "E08000021").sum())
    assert f"{n} LSOAs (2023 definition)" in newcastle
    assert "Trajectory 2004-2025" in newcastle and "<svg" in newcastle


def test_report_rejects_unknown_lad(con):
    with pytest.raises(DataError, match="not an English local authority"):
        lad_report(con, "E08999999")
