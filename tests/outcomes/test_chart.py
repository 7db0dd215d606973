"""The dot plot: right is always worse, England at 0, one row per outcome."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.outcomes.chart import dot_plot, standardised_gaps


def _table(region: bool = False) -> pd.DataFrame:
    t = pd.DataFrame({
        "outcome": ["bad", "bad", "good", "good"], "year": 2021, "group": ["left_behind", "england"] * 2,
        "value": [0.3, 0.2, 70.0, 60.0], "ci_low": [0.28, 0.19, 68.0, 59.0], "ci_high": [0.32, 0.21, 72.0, 61.0],
        "lsoa_sd": [0.05, 0.05, 10.0, 10.0], "higher_is_worse": [True, True, False, False],
        "unit": ["share", "share", "score", "score"], "label": ["Bad", "Bad", "Good", "Good"]})
    return t.assign(region="R") if region else t


def test_gaps_are_signed_so_that_right_is_worse():
    g = standardised_gaps(_table()).set_index(["outcome", "group"])["x"]
    assert g[("bad", "left_behind")] == pytest.approx(2.0)   # 0.1 above England, 2 SDs, higher is worse
    assert g[("good", "left_behind")] == pytest.approx(-1.0)  # 10 above England, 1 SD, higher is better
    assert g[("bad", "england")] == 0.0


def test_chart_is_written_and_regional_tables_are_refused(tmp_path):
    path = dot_plot(_table(), tmp_path / "c.png")
    assert path.stat().st_size > 5_000
    with pytest.raises(DataError, match="without --by region"):
        dot_plot(_table(region=True), tmp_path / "r.png")
    with pytest.raises(DataError, match="needs the england group"):
        standardised_gaps(_table()[lambda f: f["group"] != "england"])
