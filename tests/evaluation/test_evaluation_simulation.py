"""Simulation check on real LSOA IMD scores: naive DiD is biased, matched DiD recovers a known effect,
placebo shows none.

Design (seeded): every English LSOA 2011 starts at its real IoD2019 IMD score :math:`s_i`
(standardised :math:`z_i`) and follows a deprivation-linked trend,
:math:`y_{it} = s_i + 0.4 z_i (t - 2012) + \\varepsilon_{it}`, :math:`\\varepsilon \\sim N(0, 1)`,
for 2012-2017. 120 treated LSOAs are drawn from the most deprived decile and get
:math:`\\delta = -2` from 2015. Because deprived areas trend differently, the naive
treated-vs-everyone DiD is biased by :math:`0.4 (\\bar z_T - \\bar z_C) \\times 3` (the trend
gap times the 3-year distance between mean post- and pre-period years), which the test
computes from the data and checks; matching on pre-period level and trend removes it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.evaluation import evaluate

EFFECT, SLOPE, YEARS, START, N_PLACEBO = -2.0, 0.4, np.arange(2012, 2018), 2015, 9


@pytest.fixture(scope="module")
def simulation(con):  # noqa: ANN001
    base = con.execute("SELECT lsoa11_code AS code, imd_score AS s FROM imd2019_lsoa11 ORDER BY 1").df()
    rng = np.random.default_rng(11)
    s = base["s"].to_numpy(float)
    z = (s - s.mean()) / s.std()
    y = s[:, None] + SLOPE * z[:, None] * (YEARS - YEARS[0])[None, :] + rng.normal(0, 1, (len(s), len(YEARS)))
    treated_ix = rng.choice(np.flatnonzero(z > np.quantile(z, 0.9)), 120, replace=False)
    y[np.ix_(treated_ix, np.flatnonzero(YEARS >= START))] += EFFECT
    panel = pd.DataFrame({"code": np.repeat(base["code"].to_numpy(), len(YEARS)), "year": np.tile(YEARS, len(s)),
                          "value": y.ravel()})
    treated = pd.DataFrame({"code": base["code"].to_numpy()[treated_ix], "start": START})
    ev = evaluate(panel, treated, n_placebo=N_PLACEBO, seed=3)
    is_t = np.zeros(len(s), bool)
    is_t[treated_ix] = True
    expected_bias = SLOPE * (z[is_t].mean() - z[~is_t].mean()) * (YEARS[YEARS >= START].mean()
                                                                   - YEARS[YEARS < START].mean())
    effects = ev.effects.set_index("effect")
    print(f"\nsimulation: injected {EFFECT}; naive {effects.loc['naive', 'estimate']:.3f}; matched "
          f"{effects.loc['att', 'estimate']:.3f} [{effects.loc['att', 'ci_low']:.3f}, "
          f"{effects.loc['att', 'ci_high']:.3f}]; placebo mean {effects.loc['placebo', 'estimate']:.3f} "
          f"(range {effects.loc['placebo', 'ci_low']:.3f} to {effects.loc['placebo', 'ci_high']:.3f})")
    return effects, expected_bias, ev


def test_naive_did_is_biased_by_the_trend_gap(simulation) -> None:  # noqa: ANN001
    effects, expected_bias, _ = simulation
    naive = effects.loc["naive"]
    assert expected_bias > 2.5  # the treated trend up ~1 point a year more than the average LSOA
    assert not naive["ci_low"] <= EFFECT <= naive["ci_high"]
    se = (naive["ci_high"] - naive["ci_low"]) / (2 * 1.96)
    assert abs(naive["estimate"] - (EFFECT + expected_bias)) < 4 * se


def test_matched_did_recovers_the_effect(simulation) -> None:  # noqa: ANN001
    effects, _, ev = simulation
    att = effects.loc["att"]
    assert att["ci_low"] <= EFFECT <= att["ci_high"]
    # SE is about 0.15 (120 areas x 3 post years, noise SD 1, 5 comparators): 0.35 is more than 2 SE
    assert abs(att["estimate"] - EFFECT) < 0.35
    # the most extreme deprived LSOAs may have no comparator within the caliper: counted, with the reason
    st = ev.matching.status
    assert att["n_treated"] == (st["status"] == "matched").sum() >= 115
    assert st.loc[st["status"] == "excluded", "reason"].str.startswith("no comparator").all()
    assert (ev.matching.balance["smd_after"].abs() < 0.1).all()
    assert (ev.matching.balance["smd_before"].abs() > 1).all()
    pre = effects.loc[[e for e in effects.index if e.startswith("event_-")], "estimate"]
    assert len(pre) == 2 and (pre.abs() < 0.5).all()


def test_placebo_shows_no_effect(simulation) -> None:  # noqa: ANN001
    effects, _, _ = simulation
    placebo = effects.loc["placebo"]
    assert abs(placebo["estimate"]) < 0.2
    assert placebo["ci_low"] < 0 < placebo["ci_high"] or abs(placebo["estimate"]) < 0.1
    # every placebo ATT is smaller in size than the real one: the smallest attainable permutation p-value
    assert placebo["p_value"] == pytest.approx(1 / (N_PLACEBO + 1))
