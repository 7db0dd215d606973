"""Theil T/L decomposition and Gini: hand-checkable cases, PySAL cross-checks, real IMD data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.deprivation import inequality as iq
from neighbourhood_lens.errors import DataError, WarehouseError


def _frame(groups, values, weights=None):
    return pd.DataFrame({"g": groups, "x": values, "w": weights if weights is not None else [1.0] * len(values)})


# --- tiny frames, answers worked out by hand ----------------------------------------------------


def test_two_groups_internally_equal_all_inequality_is_between():
    # g1 = {1, 1}, g2 = {3, 3}; mu = 2; score shares 1/4 and 3/4; population shares 1/2 each.
    d = iq.decompose(_frame(["a", "a", "b", "b"], [1.0, 1.0, 3.0, 3.0]), value="x", weight="w", by="g")
    t, l_ = d.set_index("measure").loc["theil_t"], d.set_index("measure").loc["theil_l"]
    assert t["between"] == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5))
    assert l_["between"] == pytest.approx(0.5 * math.log(2 / 1) + 0.5 * math.log(2 / 3))
    assert t["within"] == pytest.approx(0.0, abs=1e-15) and l_["within"] == pytest.approx(0.0, abs=1e-15)
    assert t["between_share"] == pytest.approx(1.0)


def test_identical_groups_all_inequality_is_within():
    d = iq.decompose(_frame(["a", "a", "b", "b"], [1.0, 3.0, 1.0, 3.0]), value="x", weight="w", by="g")
    assert d["between"].abs().max() < 1e-15
    assert (d["within"] == d["total"]).all()


def test_one_person_holds_everything_gives_ln_n():
    # Theil T of (1, ~0) tends to ln 2, its maximum for two people.
    assert iq.theil_t([1.0, 1e-12]) == pytest.approx(math.log(2), abs=1e-9)


def test_population_weights_equal_repeating_rows():
    assert iq.theil_t([1.0, 4.0], [3, 1]) == pytest.approx(iq.theil_t([1.0, 1.0, 1.0, 4.0]))
    assert iq.theil_l([1.0, 4.0], [3, 1]) == pytest.approx(iq.theil_l([1.0, 1.0, 1.0, 4.0]))
    # Theil L of (1, 1, 1, 4): ln(7/4) - ln(4)/4
    assert iq.theil_l([1.0, 4.0], [3, 1]) == pytest.approx(math.log(7 / 4) - math.log(4) / 4)


def test_gini_hand_values():
    assert iq.gini([5.0, 5.0, 5.0]) == 0.0
    # (1, 2, 3): mean abs difference over all 9 ordered pairs = 8/9; G = (8/9) / (2 * 2) = 2/9
    assert iq.gini([3.0, 1.0, 2.0]) == pytest.approx(2 / 9)
    # ties in any order give the same answer
    assert iq.gini([2.0, 1.0, 2.0, 1.0]) == pytest.approx(iq.gini([1.0, 1.0, 2.0, 2.0]))


def test_non_positive_values_are_refused_with_a_clear_message():
    with pytest.raises(DataError, match=r"strictly positive.*1 value\(s\) are <= 0.*health and crime"):
        iq.theil_t([1.0, -0.5, 2.0])
    with pytest.raises(DataError, match="missing"):
        iq.gini([1.0, np.nan])


def test_nest_levels_splits_or_raises():
    f = pd.DataFrame({"ward": ["W1", "W1", "W2"], "lad": ["L1", "L2", "L2"], "x": [1.0, 2.0, 3.0], "w": [1, 1, 1]})
    with pytest.raises(DataError, match=r"1 ward area\(s\) span more than one lad area.*W1"):
        iq.nest_levels(f, ["ward", "lad"], on_split="error")
    with pytest.warns(UserWarning, match="1 ward area"):
        nested = iq.nest_levels(f, ["ward", "lad"])
    assert nested["ward"].tolist() == ["W1|L1", "W1|L2", "W2"]
    with pytest.warns(UserWarning):
        table = iq.decompose_levels(f, value="x", weight="w", levels=["ward", "lad"])
    # every ward part is a single LSOA: all inequality is between ward parts
    assert table.loc[table["level"] == "ward", "between_share"].tolist() == pytest.approx([1.0, 1.0])


def test_nested_contributions_sum_to_total():
    f = _frame(list("aabbccdd"), [1.0, 2.0, 4.0, 5.0, 9.0, 3.0, 2.0, 2.0], [1, 2, 1, 3, 1, 1, 2, 1])
    f["r"] = f["g"].map({"a": "R1", "b": "R1", "c": "R2", "d": "R2"})
    table = iq.decompose_levels(f, value="x", weight="w", levels=["g", "r"])
    nested = iq.nested_contributions(table)
    assert nested.groupby("measure")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    assert (nested["value"] >= -1e-12).all()


def test_level_and_index_errors():
    with pytest.raises(DataError, match="unknown geography level 'ward99'"):
        iq.check_levels("imd2019", ["ward99"])
    with pytest.raises(DataError, match="not on the LSOA 2011 geography of imd2019; use msoa11, ward17"):
        iq.check_levels("imd2019", ["ward24", "lad24"])
    with pytest.raises(DataError, match="finest to coarsest"):
        iq.check_levels("imd2019", ["region19", "lad19"])
    with pytest.raises(DataError, match="unknown index 'imd2004'.*LSOA 2001"):
        iq.check_levels("imd2004", ["lad19"])


# --- PySAL cross-checks ---------------------------------------------------------------------------


def test_matches_pysal_theil_on_expanded_data():
    from inequality.gini import Gini
    from inequality.theil import Theil, TheilD

    rng = np.random.default_rng(7)
    x = rng.uniform(2, 80, size=60)
    w = rng.integers(1, 6, size=60)
    g = rng.choice(["a", "b", "c", "d"], size=60)
    xe, ge = np.repeat(x, w), np.repeat(g, w)
    assert iq.theil_t(x, w) == pytest.approx(float(Theil(xe).T))
    d = iq.decompose(pd.DataFrame({"g": g, "x": x, "w": w}), value="x", weight="w", by="g").set_index("measure")
    pysal = TheilD(xe, ge)
    assert d.loc["theil_t", "between"] == pytest.approx(float(np.ravel(pysal.bg)[0]))
    assert d.loc["theil_t", "within"] == pytest.approx(float(np.ravel(pysal.wg)[0]))
    assert iq.gini(x, w) == pytest.approx(Gini(xe).g)


# --- real data ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imd2019(con):
    return iq.lsoa_scores(con, index="imd2019")


@pytest.fixture(scope="module")
def table2019(con):
    return iq.decompose_index(con, index="imd2019", levels=["ward17", "lad19", "region19"])


def test_real_scores_cover_every_english_lsoa(imd2019):
    assert len(imd2019) == 32844
    assert imd2019["score"].gt(0).all() and imd2019["population"].gt(0).all()


def test_real_decomposition_is_exact_and_nested(table2019, imd2019):
    for measure, fn in (("theil_t", iq.theil_t), ("theil_l", iq.theil_l)):
        t = table2019[table2019["measure"] == measure].set_index("level")
        direct = fn(imd2019["score"], imd2019["population"])
        assert t["total"].to_numpy() == pytest.approx([direct] * 3, rel=1e-12)
        assert (t["between"] + t["within"]).to_numpy() == pytest.approx(t["total"].to_numpy(), rel=1e-12)
        # nested partitions: finer levels explain more
        assert t.loc["ward17", "between"] > t.loc["lad19", "between"] > t.loc["region19", "between"] > 0


def test_real_most_inequality_lies_within_regions(table2019):
    # The paper's claim: disparities within regions exceed those between them.
    region = table2019[table2019["level"] == "region19"]
    assert (region["within"] / region["total"] > 0.5).all()


def test_real_unweighted_region_split_matches_pysal(imd2019):
    from inequality.theil import TheilD

    f = imd2019.assign(one=1.0)
    d = iq.decompose(f, value="score", weight="one", by="region19_code").set_index("measure")
    pysal = TheilD(f["score"].to_numpy(), f["region19_code"].to_numpy())
    assert d.loc["theil_t", "between"] == pytest.approx(float(np.ravel(pysal.bg)[0]), rel=1e-9)


def test_real_domains_and_2025(con):
    with pytest.raises(DataError, match="no 'health' score \\(only its ranks and deciles"):
        iq.lsoa_scores(con, index="imd2019", domain="health")
    with pytest.raises(DataError, match="strictly positive"):
        iq.theil_t(iq.lsoa_scores(con, index="imd2025", domain="health")["score"])
    t = iq.decompose_index(con, index="imd2025", domain="income", levels=["ward24", "lad24", "region24"])
    assert t["level"].unique().tolist() == ["ward24", "lad24", "region24"]
    assert (t["between_share"].between(0, 1)).all()


def test_cli_inequality_writes_the_table(warehouse_path, tmp_path):
    from neighbourhood_lens.cli import app

    out = tmp_path / "ineq.csv"
    res = CliRunner().invoke(app, ["inequality", "--index", "imd2019", "--levels", "ward17,lad19,region19",
                                   "--db", str(warehouse_path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    written = pd.read_csv(out)
    assert list(written.columns) == iq.DECOMPOSITION_COLUMNS
    assert written[["level", "measure"]].apply(tuple, axis=1).tolist() == [
        (lv, m) for lv in ("ward17", "lad19", "region19") for m in ("theil_t", "theil_l")]
    assert "Within region19:" in res.output
    bad = CliRunner().invoke(app, ["inequality", "--index", "imd2099", "--db", str(warehouse_path)])
    assert bad.exit_code == 2 and "unknown index 'imd2099'" in bad.output


def test_warehouse_error_without_tables(tmp_path):
    import duckdb

    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    with warnings.catch_warnings(), pytest.raises(WarehouseError, match="imd2019_lsoa11"):
        iq.lsoa_scores(con, index="imd2019")


def test_rows_without_a_group_are_refused_not_dropped():
    f = _frame(["a", None, "b"], [1.0, 5.0, 2.0])
    with pytest.raises(DataError, match=r"1 row\(s\) have no g code \(rows 1\)"):
        iq.decompose(f, value="x", weight="w", by="g")
    f["r"] = ["R", "R", None]
    with pytest.raises(DataError, match="rows without a code at some level"):
        iq.nest_levels(f.fillna({"g": "c"}), ["g", "r"])


def test_weighted_gini_equals_the_pairwise_definition():
    # G = sum_i sum_j w_i w_j |x_i - x_j| / (2 W^2 mu), evaluated directly
    rng = np.random.default_rng(3)
    x, w = rng.uniform(1, 50, 40), rng.uniform(100, 3000, 40)
    mu = np.average(x, weights=w)
    direct = (np.outer(w, w) * np.abs(x[:, None] - x[None, :])).sum() / (2 * w.sum() ** 2 * mu)
    assert iq.gini(x, w) == pytest.approx(direct, rel=1e-12)
