"""Trajectories across IoD2004-2025: hand frames, then the real editions."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.deprivation import trajectories as tr
from neighbourhood_lens.errors import DataError


def test_area_percentile_is_population_weighted_and_ranked_among_areas():
    lsoas = pd.DataFrame({"lsoa_code": ["a", "b", "c", "a", "b", "c"], "edition": [2004] * 3 + [2025] * 3,
                          "percentile": [0.02, 0.5, 0.3, 0.6, 0.6, 0.1]})
    groups = pd.DataFrame({"lsoa_code": ["a", "b", "c"], "code": ["W1", "W1", "W2"], "name": ["x", "x", "y"]})
    pop = pd.DataFrame({"lsoa_code": ["a", "b", "c"], "population": [3.0, 1.0, 2.0]})
    out = tr.area_percentiles(lsoas, groups, pop).set_index(["code", "edition"])
    assert out.loc[("W1", 2004), "percentile"] == pytest.approx((3 * 0.02 + 0.5) / 4)
    assert out.loc[("W1", 2004), "area_rank"] == 1 and out.loc[("W2", 2025), "area_rank"] == 1
    moves = tr.movers(out.reset_index(), start=2004, end=2025, top=5).set_index("code")
    assert moves.loc["W1", "direction"] == "improved" and moves.loc["W2", "direction"] == "declined"
    assert tr.entrenched(out.reset_index(), years=(2004, 2025)).empty  # W1 and W2 each leave decile 1 once


def test_unknown_edition_lists_the_valid_ones():
    f = pd.DataFrame({"code": ["a"], "name": ["A"], "edition": [2004], "percentile": [0.1], "area_decile": [1]})
    with pytest.raises(DataError, match="valid editions: 2004, 2007, 2010, 2015, 2019, 2025"):
        tr.movers(f, start=2001, end=2025)


@pytest.fixture(scope="module")
def lsoa11(con):
    return tr.trajectories(con, by="lsoa11")


def test_native_editions_reproduce_the_published_deciles(con, lsoa11):
    pub = con.execute("SELECT lsoa11_code AS code, imd_decile FROM imd2019_lsoa11").df()
    mine = lsoa11[lsoa11["edition"] == 2019].merge(pub, on="code", validate="one_to_one")
    assert len(mine) == 32844 and (mine["area_decile"] == mine["imd_decile"]).all()


def test_every_edition_is_carried_to_lsoa_2011(lsoa11):
    counts = lsoa11.groupby("edition")["code"].nunique()
    assert counts[2015] == counts[2019] == counts[2025] == 32844
    assert counts[2004] == 32840  # four LSOA 2011 have no 2001 parent in the ONS lookup
    assert lsoa11["percentile"].between(0, 1).all()


def test_entrenched_areas_are_in_decile_one_every_time(lsoa11):
    ent = tr.entrenched(lsoa11)
    assert 0 < len(ent) < 3284
    d1 = lsoa11[lsoa11["code"].isin(ent["code"])]
    assert (d1["area_decile"] == 1).all() and d1.groupby("code")["edition"].nunique().eq(6).all()
    # independently: LSOAs whose decile is 1 in all six editions, counted from the wide table
    wide = lsoa11.pivot(index="code", columns="edition", values="area_decile")
    assert set(ent["code"]) == set(wide.index[(wide == 1).all(axis=1)])
    # percentile direction: decile 1 holds the smallest percentiles (rank 1 = most deprived)
    e19 = lsoa11[lsoa11["edition"] == 2019]
    assert e19.loc[e19["area_decile"] == 1, "percentile"].max() < e19.loc[e19["area_decile"] == 2, "percentile"].min()


def test_trajectory_of_a_ward_and_its_chart(con, tmp_path):
    out = tr.trajectory(con, "E05000770")  # Ordsall, Salford
    assert out["edition"].tolist() == [2004, 2007, 2010, 2015, 2019, 2025] and (out["level"] == "ward17").all()
    png = tr.plot_trajectory(out, tmp_path / "t.png")
    assert png.stat().st_size > 10_000
    with pytest.raises(DataError, match="not a known LSOA, MSOA, ward, LAD or region code"):
        tr.trajectory(con, "E99999999")


def test_entrenched_needs_decile_one_in_every_edition_and_every_edition_present():
    eds = list(tr.YEARS)
    rows = []
    for code, deciles in (("all", [1] * 6), ("once_out", [1, 1, 2, 1, 1, 1]), ("missing", [1] * 5)):
        for y, d in zip(eds, deciles, strict=False):
            rows.append({"code": code, "name": code.upper(), "edition": y, "percentile": 0.05 * d, "area_decile": d})
    ent = tr.entrenched(pd.DataFrame(rows))
    assert ent["code"].tolist() == ["all"] and ent["editions_in_decile1"].tolist() == [6]


@pytest.mark.parametrize(("level", "vintage"), [("ward17", 2011), ("lad24", 2021)])
def test_trajectories_from_given_lsoa_percentiles_equal_computing_them(con, level, vintage):
    lsoas = tr.lsoa_percentiles(con, vintage=vintage)
    assert tr.base_vintage(level) == vintage and lsoas.attrs["vintage"] == vintage
    pd.testing.assert_frame_equal(tr.trajectories(con, by=level, lsoas=lsoas), tr.trajectories(con, by=level))


def test_lsoa_percentiles_of_the_other_vintage_are_refused(con):
    with pytest.raises(DataError, match=r"of vintage 2011, not 2021: pass lsoa_percentiles\(con, vintage=2021\)"):
        tr.trajectories(con, by="ward24", lsoas=tr.lsoa_percentiles(con, vintage=2011))


@pytest.mark.parametrize("vintage", [2011, 2021])
def test_editions_converted_together_equal_one_conversion_each(con, vintage):
    """Editions on the same LSOAs go through ``convert`` together: exactly the figures and change codes of
    converting each edition on its own, step by step (2001 -> 2011 -> 2021, or 2021 -> 2011)."""
    from neighbourhood_lens.geo.vintages import convert, lookup

    pops = {2011: con.execute("SELECT lsoa11_code, population FROM population2019_lsoa11").df()
            .set_index("lsoa11_code")["population"],
            2021: con.execute("SELECT lsoa21_code, population FROM census2021_population_lsoa21").df()
            .set_index("lsoa21_code")["population"]}
    frames = []
    for ed in tr.EDITIONS.values():
        code = {2001: "lsoa01_code", 2011: "lsoa11_code", 2021: "lsoa21_code"}[ed.lsoa_vintage]
        cur = con.execute(f"SELECT {code} AS code, imd_rank / count(*) OVER () AS percentile, '' AS change_code "
                          f"FROM {ed.table}").df()
        at = ed.lsoa_vintage
        while at != vintage:
            nxt = 2011 if at in (2001, 2021) else 2021
            pop = {(2001, 2011): None, (2021, 2011): pops[2021], (2011, 2021): pops[2011]}[(at, nxt)]
            cur = convert(cur, lookup=lookup(con, source=at, target=nxt), values="percentile", population=pop)
            cur, at = cur[["code", "percentile", "change_code"]], nxt
        frames.append(cur.rename(columns={"code": "lsoa_code"}).assign(edition=ed.year))
    one_each = pd.concat(frames, ignore_index=True)[["lsoa_code", "edition", "percentile", "change_code"]]
    pd.testing.assert_frame_equal(tr.lsoa_percentiles(con, vintage=vintage), one_each, check_exact=True)


def test_only_frames_on_the_same_lsoas_are_put_side_by_side():
    a = pd.DataFrame({"code": ["x", "y"], "p2004": [0.1, 0.2], "change_code": ""})
    b = pd.DataFrame({"code": ["y", "x"], "p2007": [0.4, 0.3], "change_code": ""})
    c = pd.DataFrame({"code": ["x", "z"], "p2010": [0.5, 0.6], "change_code": ""})
    joined, alone = tr._side_by_side([a, b, c])
    assert joined.to_dict("list") == {"code": ["x", "y"], "p2004": [0.1, 0.2], "p2007": [0.3, 0.4]}
    assert alone.to_dict("list") == {"code": ["x", "z"], "p2010": [0.5, 0.6]}
