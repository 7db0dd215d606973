"""Counts carried across vintages keep their totals; scores follow geo.vintages.convert."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.errors import JoinError
from neighbourhood_lens.geo.vintages import convert, lookup
from neighbourhood_lens.outcomes.carry import apportion, shares


def test_split_shares_by_population_and_merge_adds_up():
    f = pd.DataFrame({"source_code": ["s", "m1", "m2"], "n": [12.0, 3.0, 4.0], "d": [100.0, 10.0, 20.0]})
    pairs = pd.DataFrame({"source_code": ["s", "s", "m1", "m2"], "target_code": ["S1", "S2", "M", "M"]})
    out = apportion(f, pairs=pairs, weights=pd.Series({"S1": 1.0, "S2": 2.0, "M": 5.0}), columns=["n", "d"])
    assert out.set_index("target_code")["n"].to_dict() == {"M": 7.0, "S1": 4.0, "S2": 8.0}
    assert out["d"].sum() == f["d"].sum()  # totals kept


def test_zero_weights_share_equally_and_missing_values_stay_missing():
    f = pd.DataFrame({"source_code": ["a", "b"], "n": [6.0, np.nan]})
    pairs = pd.DataFrame({"source_code": ["a", "a", "b"], "target_code": ["A1", "A2", "B"]})
    out = apportion(f, pairs=pairs, weights=pd.Series({"A1": 0.0, "A2": 0.0, "B": 1.0}), columns=["n"])
    assert out["n"].tolist()[:2] == [3.0, 3.0] and np.isnan(out["n"].iloc[2])


def test_unknown_sources_and_targets_without_weight_are_named():
    pairs = pd.DataFrame({"source_code": ["a"], "target_code": ["A"]})
    with pytest.raises(JoinError, match="1 source code\\(s\\) are not in the lookup: z"):
        apportion(pd.DataFrame({"source_code": ["z"], "n": [1.0]}), pairs=pairs, weights=pd.Series({"A": 1.0}),
                  columns=["n"])
    with pytest.raises(JoinError, match="no weight \\(population\\) for 1 target area\\(s\\): A"):
        shares(pairs, pd.Series({"B": 1.0}))


def test_score_carried_as_weighted_counts_equals_convert_for_unchanged_split_and_merged(con):
    """A score carried as (P v, P) and apportioned is what geo.vintages.convert gives for U, S and M."""
    from neighbourhood_lens.outcomes.values import lsoa_population

    v = con.execute("SELECT lsoa11_code AS code, adult_skills_and_english_language_proficiency_indicator AS value "
                    "FROM imd2019_lsoa11_indicators").df()
    lk = lookup(con, source=2011, target=2021)
    pop11, pop21 = lsoa_population(con, 2011), lsoa_population(con, 2021)
    ref = convert(v, lookup=lk, values="value", population=pop11).set_index("code")
    p = pop11.reindex(v["code"]).to_numpy()
    counts = pd.DataFrame({"source_code": v["code"], "n": v["value"] * p, "d": p})
    ours = apportion(counts, pairs=lk, weights=pop21, columns=["n", "d"]).set_index("target_code")
    ours = ours["n"] / ours["d"]
    simple = ref.index[ref["change_code"].isin(["U", "S", "M"])]
    assert len(simple) > 33000
    np.testing.assert_allclose(ours.reindex(simple).to_numpy(), ref.loc[simple, "value"].to_numpy(), rtol=1e-9)
