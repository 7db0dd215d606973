"""Units of analysis: hierarchy levels and stored neighbourhood sets, aggregation, adjacency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.deprivation.left_behind import left_behind_scores
from neighbourhood_lens.errors import DataError
from neighbourhood_lens.geo.units import aggregate_to_unit, resolve_unit, unit_adjacency, unit_areas, unit_lsoas


def test_unknown_unit_lists_the_valid_ones(con):
    with pytest.raises(DataError, match=r"unknown unit 'wards'.*ward17.*lsoa21"):
        resolve_unit(con, "wards")


@pytest.mark.parametrize(("unit", "n"), [("ward17", 7427), ("lsoa21", 33755), ("lad19", 317), ("region24", 9)])
def test_every_english_lsoa_belongs_to_one_area(con, unit, n):
    areas = unit_areas(con, unit)
    assert len(areas) == n and areas["code"].is_unique
    lsoas = unit_lsoas(con, unit)
    assert areas["population"].sum() == pytest.approx(lsoas["population"].sum())
    assert areas["n_lsoas"].sum() == len(lsoas)


def test_ward_scores_match_the_left_behind_ward_scores(con):
    values = con.execute("SELECT lsoa11_code, imd_score FROM imd2019_lsoa11").df()
    ward = aggregate_to_unit(con, "ward17", values, columns=["imd_score"])
    lb = left_behind_scores(con, vintage=2019).set_index("code")["imd_score"]
    assert (ward["coverage_share"] == 1).all()
    np.testing.assert_allclose(ward.set_index("code")["imd_score"].loc[lb.index], lb, rtol=1e-12)


def test_partial_coverage_gives_no_value_and_says_how_much_is_covered(con):
    values = con.execute("SELECT lsoa11_code, imd_score FROM imd2019_lsoa11").df()
    lsoas = unit_lsoas(con, "ward17")
    ward = lsoas["code"].iloc[0]
    first = lsoas.loc[lsoas["code"] == ward, "lsoa11_code"].iloc[0]
    values.loc[values["lsoa11_code"] == first, "imd_score"] = np.nan
    out = aggregate_to_unit(con, "ward17", values, columns=["imd_score"]).set_index("code")
    assert np.isnan(out.loc[ward, "imd_score"]) and 0 <= out.loc[ward, "coverage_share"] < 1


def test_codes_of_another_vintage_are_named(con):
    values = pd.DataFrame({"lsoa11_code": ["E01000001", "E01035000"], "x": [1.0, 2.0]})
    with pytest.raises(DataError, match="E01035000"):
        aggregate_to_unit(con, "ward17", values, columns=["x"])


def test_ward_adjacency_is_symmetric_free_and_connects_neighbouring_wards(con):
    adj = unit_adjacency(con, "ward17")
    assert (adj["a"] < adj["b"]).all() and not adj.duplicated().any()
    # Every ward has a neighbour but the Isles of Scilly, a one-ward LAD of islands.
    areas = unit_areas(con, "ward17")
    lonely = areas.loc[~areas["code"].isin(adj.stack()), "lad_name"].tolist()
    assert lonely == ["Isles of Scilly"]
