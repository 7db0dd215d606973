"""Composite indices on tiny frames: transforms, aggregation, spec validation, weight draws, ranks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.indices import combine, parse_spec, transform
from neighbourhood_lens.indices.aggregate import Plan, evaluate
from neighbourhood_lens.indices.sensitivity import ordinal_ranks, weight_draws
from neighbourhood_lens.indices.transforms import exponential, need_rank, winsorise


def _spec(**extra):
    base = {"name": "t", "unit": "lsoa11",
            "component": [{"name": "a", "table": "x", "column": "v", "need": "high"},
                          {"name": "b", "table": "x", "column": "w", "need": "low"}]}
    base.update(extra)
    return base


# ---------------------------------------------------------------- transforms

def test_exponential_endpoints_and_formula():
    # ranks of a 4-area domain, rank 1 = most deprived
    x = transform(np.array([1.0, 2.0, 3.0, 4.0]), "exponential", need="low")
    assert x[0] == pytest.approx(100.0)
    # rank 2 of 4: R = 3/4, X = -23 ln(1 - 0.75 (1 - e^(-100/23)))
    assert x[1] == pytest.approx(-23 * math.log(1 - 0.75 * (1 - math.exp(-100 / 23))))
    # least need: R = 1/N, just above 0
    assert 0 < x[3] < x[2] < x[1]


def test_exponential_ties_take_the_midpoint_of_the_ranks_they_span():
    # published ranks r, r with r + 1 missing (the mirror's ties): both get rank 1.5 of 3
    x = exponential(-np.array([1.0, 1.0, 3.0]))
    r = 1.5
    expected = -23 * math.log(1 - (3 - r + 1) / 3 * (1 - math.exp(-100 / 23)))
    assert x[0] == x[1] == pytest.approx(expected)


def test_every_transform_puts_more_need_higher():
    v = np.array([5.0, 1.0, 3.0])  # need = "low": 1.0 is most need
    for method in ("exponential", "rank", "zscore", "minmax", "none"):
        out = transform(v, method, need="low")
        assert np.argmax(out) == 1 and np.argmin(out) == 0, method


def test_missing_values_stay_missing_and_are_not_counted():
    out = transform(np.array([1.0, np.nan, 2.0]), "rank", need="high")
    assert np.isnan(out[1])
    assert out[[0, 2]].tolist() == [0.5, 1.0]  # N = 2


def test_minmax_and_zscore_refuse_a_constant_column():
    with pytest.raises(DataError, match="every value is the same"):
        transform(np.array([2.0, 2.0]), "zscore", what="component 'a'")


def test_ranks_along_columns_and_winsorise():
    assert need_rank(np.array([[1.0, 3.0], [2.0, 1.0]])).tolist() == [[2.0, 1.0], [1.0, 2.0]]
    assert need_rank(np.array([5.0, 5.0, 5.0, 1.0])).tolist() == [2.0, 2.0, 2.0, 4.0]  # ranks 1-3 tie: 2
    clipped, n = winsorise(np.array([0.0, 1.0, 2.0, 3.0, 1000.0]), 0.0, 0.75)
    assert n == 1 and clipped.max() == 3.0


def test_need_rank_agrees_with_scipy_rankdata_on_ties_and_gaps():
    from scipy.stats import rankdata

    rng = np.random.default_rng(4)
    a = rng.integers(0, 40, (600, 3)).astype(float)  # many ties
    a[rng.random(a.shape) < 0.1] = np.nan
    np.testing.assert_array_equal(need_rank(a), rankdata(-a, method="average", axis=0, nan_policy="omit"))
    b = rng.normal(size=2000)
    np.testing.assert_array_equal(need_rank(b), rankdata(-b, method="average"))


# ---------------------------------------------------------------- aggregation

def test_weighted_sum_mean_and_geometric_by_hand():
    v = [np.array([[2.0], [4.0]]), np.array([[8.0], [1.0]])]
    w = np.array([[1.0], [3.0]])
    assert combine(v, w, "weighted_sum")[:, 0].tolist() == [26.0, 7.0]
    assert combine(v, w, "weighted_mean")[:, 0].tolist() == [6.5, 1.75]
    g = combine(v, w, "geometric_mean")[:, 0]
    assert g == pytest.approx([(2 * 8**3) ** 0.25, (4 * 1) ** 0.25])


def test_drop_component_reweights_the_present_ones():
    v = [np.array([[2.0]]), np.array([[np.nan]])]
    w = np.array([[1.0], [3.0]])
    # weighted sum rescaled to the full weight total: 2 x (4 / 1)
    assert combine(v, w, "weighted_sum")[0, 0] == 8.0
    assert combine(v, w, "weighted_mean")[0, 0] == 2.0


def test_geometric_mean_refuses_non_positive_values():
    with pytest.raises(DataError, match="geometric mean needs positive values"):
        combine([np.array([[0.0]]), np.array([[1.0]])], np.ones((2, 1)), "geometric_mean")


def test_evaluate_nested_domain_by_hand():
    spec = parse_spec({"name": "t", "unit": "lsoa11",
                       "component": [{"name": "a", "table": "x", "column": "v", "need": "high", "weight": 1}],
                       "domain": [{"name": "d", "weight": 3, "aggregate": "weighted_mean", "component": [
                           {"name": "b", "table": "x", "column": "w", "need": "high", "weight": 1},
                           {"name": "c", "table": "x", "column": "u", "need": "high", "weight": 3}]}],
                       "aggregate": {"method": "weighted_sum"}})
    raw = np.array([[1.0, 2.0, 6.0], [0.0, 4.0, 0.0]])
    plan = Plan(spec=spec, codes=np.array(["p", "q"]), raw=raw, leaves=spec.leaves())
    score, parts = evaluate(plan, raw, keep_parts=True)
    # d = (2 + 3*6)/4 = 5 and (4 + 0)/4 = 1; score = 1*a + 3*d
    assert parts["d"][:, 0].tolist() == [5.0, 1.0]
    assert score[:, 0].tolist() == [16.0, 3.0]


# ---------------------------------------------------------------- spec validation

@pytest.mark.parametrize(("change", "message"), [
    ({"component": [{"name": "a", "table": "x", "column": "v", "need": "high", "weight": -1}]},
     "weight = -1.0 is negative"),
    ({"component": [{"name": "a", "table": "x", "column": "v", "need": "high", "weight": 0},
                    {"name": "b", "table": "x", "column": "w", "need": "high", "weight": 0}]},
     "all weights are zero"),
    ({"component": [{"name": "a", "table": "x", "column": "v", "need": "high"},
                    {"name": "a", "table": "x", "column": "w", "need": "high"}]},
     "duplicate component/domain name\\(s\\): a"),
    ({"component": [{"name": "a", "table": "x", "column": "v", "need": "middle"}]}, "component.0.need"),
    ({"component": [{"name": "a", "table": "x", "column": "v", "need": "high", "transform": "log"}]},
     "component.0.transform"),
    ({"component": [{"name": "a", "column": "v", "need": "high"}]}, "exactly one of table"),
    ({"component": [{"name": "score", "table": "x", "column": "v", "need": "high"}]}, "reserved"),
    ({"aggregate": {"method": "median"}}, "aggregate.method"),
    ({"colour": "red"}, "colour: unknown key"),
])
def test_bad_specs_name_the_key(change, message):
    with pytest.raises(DataError, match=message):
        parse_spec(_spec(**change), source="spec.toml")


def test_toml_example_parses(tmp_path):
    from neighbourhood_lens.indices import load_spec

    path = tmp_path / "s.toml"
    path.write_text('name = "x"\nunit = "lsoa11"\n[[component]]\nname = "income"\ntable = "imd2019_lsoa11"\n'
                    'column = "Income_rank"\nneed = "low"\ntransform = "exponential"\nweight = 1\n'
                    '[aggregate]\nmethod = "weighted_mean"\n')
    spec = load_spec(path)
    assert spec.component[0].column == "Income_rank" and spec.areas == "unit"
    assert "component" in spec.model_json_schema()["properties"]


# ---------------------------------------------------------------- draws and ranks

def test_weight_draws_keep_each_level_total_and_stay_in_range():
    spec = parse_spec({"name": "t", "unit": "lsoa11",
                       "component": [{"name": "a", "table": "x", "column": "v", "need": "high", "weight": 2},
                                     {"name": "b", "table": "x", "column": "w", "need": "high", "weight": 6}],
                       "domain": [{"name": "d", "weight": 2, "component": [
                           {"name": "c", "table": "x", "column": "u", "need": "high", "weight": 1},
                           {"name": "e", "table": "x", "column": "z", "need": "high", "weight": 1}]}]})
    plan = Plan(spec=spec, codes=np.array(["p"]), raw=np.zeros((1, 4)), leaves=spec.leaves())
    tw, lw = weight_draws(plan, draws=500, jitter=0.2, rng=np.random.default_rng(0))
    assert np.allclose(tw.sum(axis=0), 10.0)
    assert np.allclose(lw[[2, 3]].sum(axis=0), 2.0)
    # a factor in [0.8, 1.2] rescaled by at most 1.2/0.8 either way
    assert tw[0].min() >= 2 * 0.8 / 1.2 - 1e-9 and tw[0].max() <= 2 * 1.2 / 0.8 + 1e-9
    assert tw[0].std() > 0.1
    tw0, _ = weight_draws(plan, draws=3, jitter=0.0, rng=np.random.default_rng(0))
    assert np.allclose(tw0, [[2], [6], [2]])


def test_ordinal_ranks_use_every_rank_once_even_with_ties():
    s = np.array([[1.0, 2.0], [1.0, 0.0], [3.0, 1.0], [0.5, 9.0]])
    r = ordinal_ranks(s)
    assert sorted(r[:2, 0].tolist()) == [2, 3] and r[2, 0] == 1 and r[3, 0] == 4
    assert r[:, 1].tolist() == [2, 4, 3, 1]
