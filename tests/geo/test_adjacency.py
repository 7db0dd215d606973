"""Queen adjacency of LSOAs and explicit island links."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

from neighbourhood_lens.geo.adjacency import connect_within_groups, load_adjacency, neighbours, queen_adjacency


def test_corner_touch_counts_as_queen_but_gaps_do_not():
    g = gpd.GeoDataFrame({"id": ["A", "B", "C"]}, geometry=[box(0, 0, 1, 1), box(1, 1, 2, 2), box(2.5, 0, 3, 1)])
    assert queen_adjacency(g, key="id").values.tolist() == [["A", "B"]]


def test_islands_are_bridged_within_their_group_only():
    g = gpd.GeoDataFrame(
        {"id": ["A", "B", "I", "X"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 3, 1, 4), box(2, 0, 3, 1)], crs=27700,
    )
    groups = pd.Series(["L1", "L1", "L1", "L2"])
    links = connect_within_groups(g, queen_adjacency(g, key="id"), key="id", groups=groups)
    assert links.values.tolist() == [["A", "B", "queen"], ["A", "I", "nearest"], ["B", "X", "queen"]]


def test_national_adjacency_connects_every_lad(con):
    links = load_adjacency(con, 2011)
    h = con.execute("SELECT lsoa11_code, lad19_code FROM hierarchy_lsoa11").df()
    assert (links["a"] < links["b"]).all() and not links.duplicated(["a", "b"]).any()
    assert set(links["a"]) | set(links["b"]) <= set(h["lsoa11_code"])
    # every LSOA in a LAD of more than one LSOA has a neighbour in its LAD
    lad = h.set_index("lsoa11_code")["lad19_code"]
    both = neighbours(links)
    same = both[both["code"].map(lad) == both["neighbour"].map(lad)]
    multi = h.groupby("lad19_code")["lsoa11_code"].transform("size") > 1
    assert set(h.loc[multi, "lsoa11_code"]) <= set(same["code"])
    nearest = links[links["kind"] == "nearest"]
    assert 0 < len(nearest) < 50  # a handful of estuary and island bridges, explicitly marked
    assert (nearest["a"].map(lad) == nearest["b"].map(lad)).all()
