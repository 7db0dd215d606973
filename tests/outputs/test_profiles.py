"""The profile store's neighbour lists: each area's queen neighbours, sorted, cut from the pairs when asked."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.outputs.profiles import _neighbour_lists


def test_area_neighbours_drop_pairs_inside_an_area_and_list_each_neighbour_once():
    pairs = pd.DataFrame({"a": ["L1", "L2", "L1", "L3", "L4", "L2", "L3"],
                          "b": ["L2", "L1", "L3", "L1", "L1", "L4", "L4"]}, dtype="str")
    area = pd.Series({"L1": "W1", "L2": "W1", "L3": "W2", "L4": "W3"})
    lists = _neighbour_lists(pairs, area)
    assert dict(lists) == {"W1": ["W2", "W3"], "W2": ["W1", "W3"], "W3": ["W1"]}
    assert dict(_neighbour_lists(pairs)) == {"L1": ["L2", "L3"], "L2": ["L1", "L4"], "L3": ["L1", "L4"], "L4": ["L1"]}
    assert "L9" not in lists and lists.get("L9", []) == []
    with pytest.raises(KeyError):
        lists["L9"]


def test_ward_neighbours_are_the_wards_whose_lsoas_touch(con):
    from neighbourhood_lens.outputs.profiles import _pairs

    h = con.execute("SELECT lsoa21_code, ward24_code FROM hierarchy_lsoa21").df().set_index("lsoa21_code")
    pairs = _pairs(con, 2021, pd.Index(h.index))
    lists = _neighbour_lists(pairs, h["ward24_code"])
    ward = h["ward24_code"].iloc[0]
    inside = set(h.index[h["ward24_code"] == ward])
    touching = pairs.loc[pairs["a"].isin(inside) & ~pairs["b"].isin(inside), "b"]
    assert lists[ward] == sorted(set(h.loc[touching, "ward24_code"]))
    assert len(lists[ward]) > 0 and ward not in lists[ward]
