"""Hidden pockets and next-door gaps: tiny frames, and the paper's three examples on the real data."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.deprivation import pockets as pk
from neighbourhood_lens.errors import DataError


def _areas(codes, scores, deciles, lads, pops=None):
    n = len(codes)
    return pd.DataFrame({"code": codes, "name": codes, "ward_name": [f"w{c}" for c in codes], "lad_code": lads,
                         "lad_name": lads, "population": pops or [1.0] * n, "score": scores, "decile": deciles})


# --- tiny frames --------------------------------------------------------------------------------


def test_pocket_beside_affluent_neighbour_in_a_deprived_lad():
    # LAD L1 = {A: 40, B: 5} mean 22.5; L2 = {C: 45, D: 42} mean 43.5 -> L1 is the less deprived
    # (affluent) half of 2 LADs. A is decile 1 next to B (decile 10): a pocket both ways.
    areas = _areas(list("ABCD"), [40.0, 5.0, 45.0, 42.0], [1, 10, 1, 1], ["L1", "L1", "L2", "L2"])
    found = pk.hidden_pockets(areas, pd.DataFrame({"a": ["A", "C"], "b": ["B", "D"]}))
    assert found["code"].tolist() == ["A"]
    row = found.iloc[0]
    assert row["in_affluent_lad"] and row["beside_affluent"]
    assert row["gap_lad"] == pytest.approx(40 - 22.5) and row["gap_neighbour"] == pytest.approx(35.0)
    assert row["gap"] == pytest.approx(35.0) and row["decile_gap"] == 9
    assert row["affluent_neighbour_wards"] == "wB"


def test_pocket_through_the_lad_only_and_isolated_areas():
    # X is deprived with no neighbour at all, in the affluent LAD: found through its LAD only.
    areas = _areas(["X", "Y", "Z"], [30.0, 2.0, 60.0], [2, 10, 1], ["L1", "L1", "L2"])
    found = pk.hidden_pockets(areas, pd.DataFrame({"a": [], "b": []}, dtype=str))
    assert found["code"].tolist() == ["X"]
    assert pd.isna(found.loc[0, "neighbour_code"]) and not found.loc[0, "beside_affluent"]
    assert found.loc[0, "gap"] == pytest.approx(30 - 16)


def test_pocket_options_are_checked():
    areas = _areas(["A"], [1.0], [1], ["L"])
    links = pd.DataFrame({"a": [], "b": []}, dtype=str)
    with pytest.raises(DataError, match="affluent_decile \\(3\\) must be above max_decile \\(3\\)"):
        pk.hidden_pockets(areas, links, affluent_decile=3)
    with pytest.raises(DataError, match="max_decile must be an integer decile 1-10; got 11"):
        pk.hidden_pockets(areas, links, max_decile=11)
    with pytest.raises(DataError, match="lack column"):
        pk.hidden_pockets(areas.drop(columns="decile"), links)


def test_ward_links_from_lsoa_links():
    links = pd.DataFrame({"a": ["l1", "l1", "l3"], "b": ["l2", "l3", "l4"], "kind": ["queen", "queen", "nearest"]})
    wards = pk.ward_links(links, pd.Series({"l1": "W1", "l2": "W1", "l3": "W2", "l4": "W3"}))
    assert wards.values.tolist() == [["W1", "W2", "queen"], ["W2", "W3", "nearest"]]
    with pytest.raises(DataError, match="1 LSOA\\(s\\) in the adjacency have no ward: l4"):
        pk.ward_links(links, pd.Series({"l1": "W1", "l2": "W1", "l3": "W2"}))


def test_next_door_share_by_lad_by_hand():
    # A (decile 1, 100 people) touches B (decile 7: gap 6 >= 5); C (decile 2) touches only A.
    areas = _areas(list("ABC"), [50.0, 12.0, 40.0], [1, 7, 2], ["L", "L", "L"], [100.0, 300.0, 100.0])
    links = pd.DataFrame({"a": ["A", "A"], "b": ["B", "C"]})
    res = pk.next_door_by_lad(areas, links).iloc[0]
    assert res["deprived_population"] == 200 and res["gap_population"] == 100
    assert res["gap_share"] == pytest.approx(100 / 500) and res["gap_share_of_deprived"] == pytest.approx(0.5)
    stricter = pk.next_door_by_lad(areas, links, min_decile_gap=7).iloc[0]
    assert stricter["gap_population"] == 0
    pairs = pk.next_door_pairs(areas, links)
    assert pairs[["code", "neighbour_code", "decile_gap"]].values.tolist() == [["A", "B", 6], ["A", "C", 1]]


def test_filter_lad_unknown_name_suggests():
    areas = _areas(["A"], [1.0], [1], ["Barnet"])
    assert len(pk.filter_lad(areas, "barnet")) == 1
    with pytest.raises(DataError, match="no LAD called or coded 'Barnett'.*did you mean Barnet"):
        pk.filter_lad(areas, "Barnett")


# --- the real data: the paper's examples ---------------------------------------------------------


@pytest.fixture(scope="module")
def lsoa_level(con):
    return pk.area_scores(con, index="imd2019", level="lsoa")


@pytest.fixture(scope="module")
def ward_level(con):
    return pk.area_scores(con, index="imd2019", level="ward")


@pytest.fixture(scope="module")
def lsoa_pockets(lsoa_level):
    return pk.hidden_pockets(*lsoa_level)


def test_real_adjacency_covers_england(lsoa_level, ward_level):
    areas, links = lsoa_level
    assert len(areas) == 32844 and areas["decile"].between(1, 10).all()
    linked = set(links["a"]) | set(links["b"])
    assert len(set(areas["code"]) - linked) <= 2  # at most a single-LSOA island LAD (Scilly)
    wards, wlinks = ward_level
    assert len(wards) == 7427 and (wlinks["a"] < wlinks["b"]).all()
    # ward deciles are equal-count over England's wards
    assert wards["decile"].value_counts().between(742, 743).all()


def test_east_finchley_pocket_beside_garden_suburb(lsoa_pockets):
    barnet = pk.filter_lad(lsoa_pockets, "Barnet")
    ef = barnet[barnet["ward_name"] == "East Finchley"]
    assert not ef.empty and (ef["decile"] <= 3).all()
    assert ef["affluent_neighbour_wards"].str.contains("Garden Suburb").any()
    assert barnet["in_affluent_lad"].all()  # Barnet is in the less deprived half of LADs


def test_tang_hall_pockets_in_york(lsoa_pockets, ward_level):
    york = pk.filter_lad(lsoa_pockets, "York")
    hull_road = york[york["ward_name"] == "Hull Road"]
    assert (hull_road["decile"] <= 2).any() and hull_road["affluent_neighbour_wards"].str.contains("Heworth").any()
    assert (york["ward_name"] == "Heworth").sum() >= 2
    # ward level: Heworth sits next to Osbaldwick & Derwent, at least 4 deciles less deprived
    pairs = pk.next_door_pairs(*ward_level)
    pair = pairs[(pairs["name"] == "Heworth") & (pairs["neighbour_name"] == "Osbaldwick & Derwent")]
    assert len(pair) == 1 and pair["decile_gap"].iloc[0] >= 4


def test_littlemoor_against_the_next_ward(lsoa_pockets, ward_level):
    dorset = pk.filter_lad(lsoa_pockets, "Dorset")
    lm = dorset[dorset["ward_name"] == "Littlemoor"]
    assert (lm["decile"] == 1).any() and lm["affluent_neighbour_wards"].str.contains("Preston").any()
    wards = pk.filter_lad(pk.hidden_pockets(*ward_level), "Dorset")
    row = wards[wards["name"] == "Littlemoor"]
    assert len(row) == 1 and row["decile"].iloc[0] == 1 and "Preston" in row["affluent_neighbour_wards"].iloc[0]


def test_real_pockets_are_ranked_and_national(lsoa_pockets):
    assert lsoa_pockets["gap"].is_monotonic_decreasing
    assert (lsoa_pockets["decile"] <= 3).all()
    assert (lsoa_pockets["in_affluent_lad"] | lsoa_pockets["beside_affluent"]).all()


@pytest.mark.slow
def test_cli_pockets_and_next_door(warehouse_path, tmp_path):
    from neighbourhood_lens.cli import app

    runner = CliRunner()
    out, png = tmp_path / "p.csv", tmp_path / "p.png"
    res = runner.invoke(app, ["pockets", "--lad", "Barnet", "--db", str(warehouse_path), "--out", str(out),
                              "--map", str(png)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "East Finchley" in set(pd.read_csv(out)["ward_name"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = runner.invoke(app, ["next-door", "--level", "ward", "--lad", "Dorset", "--db", str(warehouse_path),
                              "--out", str(tmp_path / "n.csv")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Littlemoor" in res.output and pd.read_csv(tmp_path / "n.csv")["lad_name"].tolist() == ["Dorset"]
    bad = runner.invoke(app, ["pockets", "--level", "msoa", "--db", str(warehouse_path)])
    assert bad.exit_code == 2 and "unknown level 'msoa'; valid levels: lsoa, ward" in bad.output
