"""The outcome comparison: ratio of sums, cluster-bootstrap CIs, gaps, verdicts, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.outcomes.catalogue import get_outcome
from neighbourhood_lens.outcomes.compare import (
    COLUMNS,
    OutcomeMatrix,
    bootstrap_ratio,
    compare_groups,
    compare_outcomes,
    count_verdicts,
)
from neighbourhood_lens.outcomes.groups import Group
from neighbourhood_lens.outcomes.values import outcome_values


def _matrix():
    """Six LSOAs, one share outcome: group A (2 areas) 3/10 and 3/10, B 1/10 ... by hand."""
    num = np.array([[3.0], [3.0], [1.0], [1.0], [2.0], [2.0]])
    den = np.full((6, 1), 10.0)
    codes = np.array([f"L{i}" for i in range(6)], dtype=object)
    return OutcomeMatrix(codes, [get_outcome("fuel_poverty")], [2019], num, den, np.ones((6, 1), bool),
                         np.full(6, 100.0), np.array(["R"] * 6, dtype=object), [], {}, np.array([0.1]))


def _groups(spec):
    return {n: Group(n, pd.DataFrame({"lsoa11_code": [f"L{i}" for i in rows], "cluster": cl}))
            for n, (rows, cl) in spec.items()}


def test_ratio_of_sums_and_gaps_by_hand():
    g = _groups({"left_behind": ([0, 1], ["a", "b"]), "other_deprived": ([2, 3], ["c", "d"]),
                 "england": ([0, 1, 2, 3, 4, 5], ["a", "b", "c", "d", "e", "f"])})
    raw = compare_groups(_matrix(), g, draws=200, seed=3)
    assert list(raw.columns[:11]) == COLUMNS
    t = raw.set_index("group")
    assert t.loc["left_behind", "value"] == pytest.approx(0.3)
    assert t.loc["england", "value"] == pytest.approx(12 / 60)
    # identical areas: every bootstrap draw is the same, so the interval is the point
    assert (t.loc["left_behind", "ci_low"], t.loc["left_behind", "ci_high"]) == pytest.approx((0.3, 0.3))
    assert t.loc["left_behind", "gap_vs_other_deprived"] == pytest.approx(0.2)
    assert t.loc["left_behind", "ratio_vs_england"] == pytest.approx(1.5)
    assert t.loc["left_behind", "verdict_vs_other_deprived"] == "worse than equally deprived places"
    assert t.loc["left_behind", "population"] == 200 and t.loc["england", "n_areas"] == 6


def test_no_clear_difference_when_the_gap_interval_spans_zero():
    m = _matrix()
    m.numerators[:, 0] = [1.0, 5.0, 1.0, 5.0, 3.0, 3.0]  # both groups 0.3 on average, spread within
    g = _groups({"left_behind": ([0, 1], ["a", "b"]), "other_deprived": ([2, 3], ["c", "d"]),
                 "england": ([0, 1, 2, 3, 4, 5], list("abcdef"))})
    t = compare_groups(m, g, draws=400).set_index("group")
    assert t.loc["left_behind", "gap_vs_other_deprived"] == pytest.approx(0.0)
    assert t.loc["left_behind", "verdict_vs_other_deprived"] == "no clear difference from equally deprived places"
    assert count_verdicts(t.reset_index())["unclear_vs_other_deprived"] == 1


def test_bootstrap_is_a_cluster_resample_with_the_right_spread():
    rng = np.random.default_rng(7)
    num = rng.normal(50, 10, size=(400, 1)).clip(0)
    den = np.full((400, 1), 100.0)
    draws = bootstrap_ratio(num, den, draws=2000, rng=np.random.default_rng(1))
    se = (num[:, 0] / 100).std(ddof=1) / np.sqrt(400)  # the textbook standard error of a mean
    assert draws.std() == pytest.approx(se, rel=0.1)
    assert draws.mean() == pytest.approx(num.mean() / 100, abs=3 * se / np.sqrt(2000) + 1e-9)


def test_real_comparison_2019_matches_the_england_totals(con):
    t = compare_outcomes(con, vintage=2019, outcomes="fuel_poverty,illness_disability_ratio", draws=200)
    eng = t[t["group"] == "england"].set_index("outcome")
    f = outcome_values(con, "fuel_poverty", year=2019, lsoa_vintage=2011)
    assert eng.loc["fuel_poverty", "value"] == pytest.approx(f["numerator"].sum() / f["denominator"].sum())
    lb = t[t["group"] == "left_behind"].set_index("outcome")
    assert (lb["n_areas"] == 225).all()
    assert (lb["ci_low"] <= lb["value"]).all() and (lb["value"] <= lb["ci_high"]).all()
    assert lb.loc["illness_disability_ratio", "value"] > eng.loc["illness_disability_ratio", "value"]
    assert "fuel_poverty_lsoa" in t.attrs["datasets"] and "cni2019_ward17" in t.attrs["datasets"]


def test_by_region_splits_every_group(con):
    t = compare_outcomes(con, vintage=2023, outcomes="disability", draws=100, by_region=True)
    assert "region" in t.columns and t["region"].nunique() == 9
    total = con.execute("SELECT sum(population) FROM hierarchy_lsoa21").fetchall()[0][0]
    assert t.loc[t["group"] == "england", "population"].sum() == pytest.approx(total)
    lb = t[t["group"] == "left_behind"]
    assert lb["gap_vs_england"].notna().all()  # each region against England's same region


def test_bad_input_gets_clear_messages(con, tmp_path):
    with pytest.raises(DataError, match="unknown outcome 'nope'"):
        compare_outcomes(con, vintage=2019, outcomes="nope")
    with pytest.raises(DataError, match="outcome insolvency has no year 2030"):
        compare_outcomes(con, vintage=2019, outcomes="insolvency", year=2030, draws=100)
    with pytest.raises(DataError, match=r"1 outcome\(s\) have no year 2012: disability"):
        compare_outcomes(con, vintage=2019, outcomes="insolvency,disability", year=2012, draws=100)
    with pytest.raises(DataError, match="unknown vintage 2020"):
        compare_outcomes(con, vintage=2020, outcomes="insolvency")
    # a group whose LSOAs have no value for the outcome asked for
    f = outcome_values(con, "entry_higher_education", year=2019, lsoa_vintage=2011)
    (tmp_path / "empty.csv").write_text("code\n" + "\n".join(f.loc[f["value"].isna(), "lsoa11_code"][:3]) + "\n")
    with pytest.raises(DataError, match="group\\(s\\) empty have no value for any of the outcomes asked for"):
        compare_outcomes(con, vintage=2019, outcomes="entry_higher_education", groups=[str(tmp_path / "empty.csv")],
                         draws=100)
    t = compare_outcomes(con, vintage=2019, outcomes="entry_higher_education,disability",
                         groups=[str(tmp_path / "empty.csv")], draws=100)
    assert any("entry_higher_education: no value for any area of group empty" in w for w in t.attrs["warnings"])
    assert len(t) == 6  # the empty row is kept, not dropped
