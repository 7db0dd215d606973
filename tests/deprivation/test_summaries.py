"""Official IoD summary measures: hand-checkable frames, then the real national data."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.deprivation import summaries as sm
from neighbourhood_lens.errors import DataError, JoinError, VintageError

# IoD2019 File 10 (MHCLG, "Local Authority District Summaries (lower-tier)"), as extracted by Trafford
# Data Lab (github.com/traffordDataLab/analysis, IoD2019/report/data/IoD_local_authority.csv):
# "Proportion of LSOAs in most deprived 10% nationally" for the ten Greater Manchester districts.
GM_PROPORTION_2019 = {
    "imd": {"Bolton": 0.2373, "Bury": 0.1, "Manchester": 0.4326, "Oldham": 0.305, "Rochdale": 0.2985,
            "Salford": 0.3, "Stockport": 0.0895, "Tameside": 0.2057, "Trafford": 0.0507, "Wigan": 0.165},
    "income": {"Bolton": 0.2768, "Bury": 0.1, "Manchester": 0.3936, "Oldham": 0.2624, "Rochdale": 0.2985,
               "Salford": 0.26, "Stockport": 0.0842, "Tameside": 0.1702, "Trafford": 0.0725, "Wigan": 0.135},
    "employment": {"Bolton": 0.2316, "Bury": 0.15, "Manchester": 0.3369, "Oldham": 0.2766, "Rochdale": 0.2761,
                   "Salford": 0.3, "Stockport": 0.1, "Tameside": 0.1986, "Trafford": 0.058, "Wigan": 0.19},
    "education": {"Bolton": 0.1356, "Bury": 0.0417, "Manchester": 0.1454, "Oldham": 0.2979, "Rochdale": 0.1567,
                  "Salford": 0.18, "Stockport": 0.0632, "Tameside": 0.1348, "Trafford": 0.0145, "Wigan": 0.14},
    "health": {"Bolton": 0.1921, "Bury": 0.1083, "Manchester": 0.5213, "Oldham": 0.2411, "Rochdale": 0.2761,
               "Salford": 0.44, "Stockport": 0.1211, "Tameside": 0.2979, "Trafford": 0.0507, "Wigan": 0.215},
    "crime": {"Bolton": 0.339, "Bury": 0.1333, "Manchester": 0.6135, "Oldham": 0.3759, "Rochdale": 0.4179,
              "Salford": 0.3133, "Stockport": 0.1316, "Tameside": 0.2695, "Trafford": 0.0217, "Wigan": 0.21},
    "housing": {"Bolton": 0.0, "Bury": 0.0083, "Manchester": 0.0319, "Oldham": 0.0, "Rochdale": 0.0,
                "Salford": 0.0067, "Stockport": 0.0, "Tameside": 0.0, "Trafford": 0.0072, "Wigan": 0.0},
    "environment": {"Bolton": 0.1525, "Bury": 0.0833, "Manchester": 0.1915, "Oldham": 0.0993, "Rochdale": 0.0448,
                    "Salford": 0.0533, "Stockport": 0.0579, "Tameside": 0.0922, "Trafford": 0.029, "Wigan": 0.02},
}
# Same source: "Rank of average score" (IMD, Income, Employment), weighted by MHCLG's mid-2015 population.
GM_RANK_OF_AVERAGE_SCORE_2019 = {
    "imd": {"Bolton": 34, "Bury": 95, "Manchester": 6, "Oldham": 19, "Rochdale": 15, "Salford": 18,
            "Stockport": 130, "Tameside": 28, "Trafford": 191, "Wigan": 75},
    "income": {"Bolton": 29, "Bury": 83, "Manchester": 8, "Oldham": 21, "Rochdale": 15, "Salford": 24,
               "Stockport": 135, "Tameside": 37, "Trafford": 166, "Wigan": 77},
    "employment": {"Bolton": 36, "Bury": 57, "Manchester": 39, "Oldham": 32, "Rochdale": 16, "Salford": 30,
                   "Stockport": 100, "Tameside": 37, "Trafford": 155, "Wigan": 50},
}


# ---------------------------------------------------------------- tier (a): frames worked on paper

def test_extent_weight_follows_the_official_taper():
    # N = 1000: percentile p = ceil(100 r / 1000); p = 20 gets 0.95 - 9 * 0.9 / 19
    w = sm.extent_weight(np.array([1, 100, 101, 110, 200, 300, 301, 1000]), 1000)
    assert w.tolist() == pytest.approx([1, 1, 0.95, 0.95, 0.95 - 9 * 0.9 / 19, 0.05, 0, 0])
    steps = np.diff(sm.extent_weight(np.arange(101, 301, 10), 1000))
    assert steps == pytest.approx(np.full(19, -0.9 / 19))


def test_extent_is_population_share_with_the_taper():
    f = pd.DataFrame({"code": ["A", "A", "A"], "rank": [50, 200, 900], "population": [100.0, 100.0, 200.0]})
    out = sm.summary_measures(f, n_national=1000)
    assert out["extent"].iloc[0] == pytest.approx((100 * 1 + 100 * (0.95 - 9 * 0.9 / 19)) / 400)


def test_local_concentration_counts_only_the_part_of_an_lsoa_needed_for_ten_percent():
    # 10% of 1,000 people = 100: 50 from the rank-2 LSOA and 50 of the 100 in the rank-4 LSOA.
    f = pd.DataFrame({"code": ["A"] * 3, "rank": [8, 2, 4], "population": [850.0, 50.0, 100.0]})
    out = sm.summary_measures(f, n_national=10)
    assert out["local_concentration"].iloc[0] == pytest.approx((50 * (11 - 2) + 50 * (11 - 4)) / 100)


def test_average_rank_runs_most_deprived_high_and_ranks_run_most_deprived_first():
    f = pd.DataFrame({"code": ["a", "b", "c"], "rank": [3, 1, 10], "population": [5.0, 7.0, 9.0],
                      "score": [40.0, 50.0, 2.0]})
    out = sm.summary_measures(f, n_national=10).set_index("code")
    assert out["average_rank"].tolist() == [8.0, 10.0, 1.0]  # N + 1 - r
    assert out["rank_of_average_rank"].tolist() == [2, 1, 3]
    assert out["rank_of_average_score"].tolist() == [2, 1, 3]
    assert out["proportion_most_deprived_10pct"].tolist() == [0.0, 1.0, 0.0]


def test_tied_lsoa_ranks_give_order_free_local_concentration():
    # the mirror's files hold a few tied LSOA ranks (e.g. IoD2019 IMD: 26 pairs); a tie straddling the
    # 10% threshold must not depend on row order
    f = pd.DataFrame({"code": ["A"] * 3, "rank": [3, 3, 9], "population": [60.0, 40.0, 900.0]})
    a = sm.summary_measures(f, n_national=10)["local_concentration"].iloc[0]
    b = sm.summary_measures(f.iloc[::-1], n_national=10)["local_concentration"].iloc[0]
    assert a == b == pytest.approx(10 + 1 - 3)


def test_ties_share_the_lowest_rank_and_missing_scale_gets_no_rank():
    f = pd.DataFrame({"code": ["a", "b", "c"], "rank": [5, 6, 7], "population": [1.0, 1.0, 1.0]})
    out = sm.summary_measures(f, n_national=10)
    assert out["rank_of_proportion_most_deprived_10pct"].tolist() == [1, 1, 1]
    assert out["rank_of_scale"].isna().all() and out["rank_of_average_score"].isna().all()


def test_ranks_must_be_national_ranks():
    f = pd.DataFrame({"code": ["a"], "rank": [11], "population": [1.0]})
    with pytest.raises(DataError, match=r"no valid national rank in 1\.\.10"):
        sm.summary_measures(f, n_national=10)


def test_unknown_domain_and_index_list_the_valid_ones():
    with pytest.raises(DataError, match="valid domains: imd, income, employment, education"):
        sm.check_domain("wealth")
    with pytest.raises(DataError, match="valid indexes: imd2019, imd2025"):
        sm.edition("imd2020")


# ---------------------------------------------------------------- tier (b): the real national data

@pytest.fixture(scope="module")
def lad19(con):
    return sm.summarise_all(con, index="imd2019", by="lad19")


def test_proportion_in_most_deprived_decile_matches_file_10_exactly(lad19):
    for domain, published in GM_PROPORTION_2019.items():
        got = lad19[(lad19["domain"] == domain) & lad19["name"].isin(published)].set_index("name")
        assert got["proportion_most_deprived_10pct"].round(4).to_dict() == published, domain


def test_rank_of_average_score_is_close_to_file_10_despite_population_difference(lad19):
    # MHCLG weighted by mid-2015 population (excluding prisoners); we use mid-2019: ranks move a little.
    for domain, published in GM_RANK_OF_AVERAGE_SCORE_2019.items():
        got = lad19[(lad19["domain"] == domain) & lad19["name"].isin(published)].set_index("name")
        diff = {n: int(got.loc[n, "rank_of_average_score"]) - r for n, r in published.items()}
        assert max(abs(d) for d in diff.values()) <= 5, (domain, diff)
        assert np.mean([abs(d) for d in diff.values()]) <= 2, (domain, diff)


def test_most_deprived_districts_by_proportion_match_the_iod2019_release(lad19):
    # IoD2019 Statistical Release: Middlesbrough, Liverpool, Knowsley, Kingston upon Hull and Manchester have
    # the highest proportions of LSOAs in the most deprived 10%.
    imd = lad19[lad19["domain"] == "imd"].sort_values("rank_of_proportion_most_deprived_10pct")
    assert imd["name"].head(5).tolist() == ["Middlesbrough", "Liverpool", "Knowsley",
                                            "Kingston upon Hull, City of", "Manchester"]


def test_scale_sums_the_file_8_numerators(con, lad19):
    totals = con.execute("SELECT sum(income_domain_numerator), count(*) - count(income_domain_numerator), "
                         "sum(employment_domain_numerator), count(*) - count(employment_domain_numerator) "
                         "FROM imd2019_lsoa11_indicators").fetchone()
    by_domain = lad19.groupby("domain")["scale"].sum()
    # published numerators, plus at most 9 people for each LSOA whose numerator File 8 suppresses (<10)
    assert totals[0] <= by_domain["income"] <= totals[0] + 9 * totals[1]
    assert totals[2] <= by_domain["employment"] <= totals[2] + 9 * totals[3]
    assert lad19.loc[lad19["domain"] == "education", "scale"].isna().all()
    assert lad19.loc[lad19["domain"] == "health", "average_score"].isna().all()


def test_single_lsoa_groups_reproduce_published_rank_and_decile(con):
    out = sm.summarise(con, index="imd2019", by="lsoa11", domain="income")
    pub = con.execute("SELECT lsoa11_code AS code, income_rank, income_decile FROM imd2019_lsoa11").df()
    both = out.merge(pub, on="code", validate="one_to_one")
    assert len(both) == 32844
    assert (both["average_rank"] == 32845 - both["income_rank"]).all()
    assert ((both["proportion_most_deprived_10pct"] == 1) == (both["income_decile"] == 1)).all()


def test_imd2025_by_lad24_covers_england(con):
    out = sm.summarise(con, index="imd2025", by="lad24")
    assert len(out) == 296 and out.attrs["coverage"]["lsoas"] == 33755
    assert out["extent"].between(0, 1).all() and out["n_lsoas"].sum() == 33755
    dec1 = con.execute("SELECT count(*) FROM imd2025_lsoa21 WHERE imd_decile = 1").fetchone()[0]
    assert (out["proportion_most_deprived_10pct"] * out["n_lsoas"]).round().sum() == dec1


def test_population_override_is_used(con):
    pop = con.execute("SELECT lsoa11_code, 1.0 AS population FROM hierarchy_lsoa11").df()
    flat = sm.summarise(con, index="imd2019", by="lad19", population=pop).set_index("code")
    assert (flat["population"] == flat["n_lsoas"]).all()
    assert "user supplied" in flat.attrs["notes"][-1]


def test_csv_grouping_and_stored_neighbourhoods(con, warehouse_path, tmp_path):
    grp = pd.DataFrame({"lsoa11_code": ["E01000001", "E01000002", "E01033768"],
                        "neighbourhood_code": ["N1", "N1", "N2"], "neighbourhood_name": ["One", "One", "Two"]})
    path = tmp_path / "g.csv"
    grp.to_csv(path, index=False)
    out = sm.summarise(con, index="imd2019", by=str(path))
    assert out["code"].tolist() == ["N1", "N2"] and out["n_lsoas"].tolist() == [2, 1]
    assert any("in no group" in n for n in out.attrs["notes"])
    copy = tmp_path / "w.duckdb"
    shutil.copy(warehouse_path, copy)
    rw = duckdb.connect(str(copy))
    rw.register("grp", grp)
    rw.execute("CREATE TABLE neighbourhoods_mine AS SELECT * FROM grp")
    stored = sm.summarise(rw, index="imd2019", by="mine")
    rw.close()
    pd.testing.assert_frame_equal(stored, out)


def test_bad_groupings_say_what_is_valid(con):
    with pytest.raises(VintageError, match="valid levels for imd2019: lsoa11, msoa11, ward17, lad19, region19"):
        sm.summarise(con, index="imd2019", by="lad24")
    with pytest.raises(DataError, match="unknown grouping 'county'.*levels lsoa21, ward24, lad24, region24"):
        sm.summarise(con, index="imd2025", by="county")
    new21 = con.execute("SELECT lsoa21_code FROM hierarchy_lsoa21 EXCEPT SELECT lsoa11_code FROM hierarchy_lsoa11 "
                        "ORDER BY 1 LIMIT 1").fetchone()[0]
    mixed = pd.DataFrame({"lsoa_code": ["E01000001", new21], "code": ["N", "N"]})
    with pytest.raises(VintageError, match=f"mixes vintages: 1 code.*{new21}"):
        sm.summarise(con, index="imd2019", by=mixed)
    with pytest.raises(JoinError, match="1 code\\(s\\) are not English LSOA 2011 codes: W01000001"):
        sm.summarise(con, index="imd2019", by=pd.DataFrame({"lsoa11_code": ["W01000001"], "code": ["x"]}))
    with pytest.raises(DataError, match="lack an LSOA or group code"):
        sm.summarise(con, index="imd2019", by=pd.DataFrame({"lsoa11_code": ["E01000001"], "code": [None]}))
    with pytest.raises(VintageError, match="holds LSOA 2021 codes but imd2019"):
        sm.summarise(con, index="imd2019", by=pd.DataFrame({"lsoa21_code": ["E01000001"], "code": ["x"]}))


def test_income_employment_scale_is_detected_from_the_values():
    rate, converted = sm._as_rate(pd.Series([0.0, 0.25, 0.998]), what="t.income_score")
    assert not converted and rate.tolist() == [0.0, 0.25, 0.998]
    pct, converted = sm._as_rate(pd.Series([0.5, 25.0, 60.9]), what="t.income_score")
    assert converted and pct.tolist() == pytest.approx([0.005, 0.25, 0.609])
    with pytest.raises(DataError, match=r"t\.income_score: values run from -1\.0 to 3\.0"):
        sm._as_rate(pd.Series([-1.0, 3.0]), what="t.income_score")


def test_national_percentile_convention_reproduces_every_published_decile(con):
    # The percentile ceil(100 r / N) used for extent is the analogue of ceil(10 r / N): check that
    # convention against MHCLG's own deciles for every domain of both editions (not ntile-style).
    for ed in sm.EDITIONS.values():
        for d in sm.DOMAINS:
            f = con.execute(f"SELECT {d}_rank AS r, {d}_decile AS dec FROM {ed.table}").df()
            r = f["r"].to_numpy(dtype=np.int64)
            assert (-((-10 * r) // ed.n_lsoas) == f["dec"]).all(), (ed.id, d)
            assert len(f) == ed.n_lsoas and r.min() == 1 and r.max() == ed.n_lsoas, (ed.id, d)


def test_scores_are_published_rates_for_both_editions(lad19, con):
    inc = lad19[lad19["domain"] == "income"]
    assert inc["average_score"].between(0, 1).all()
    ed25 = sm.summarise(con, index="imd2025", by="region24", domain="income")
    assert ed25["average_score"].between(0, 1).all()
    assert any("converted to the published rate" in n for n in inc.attrs.get("notes", []) + lad19.attrs["notes"])
    assert not any("converted" in n for n in ed25.attrs["notes"])


def test_local_concentration_matches_a_slow_reference_on_real_districts(con):
    # an independent, loop-based reading of the definition, on three real districts
    rows = sm.lsoa_frame(con, index="imd2019", by="lad19")
    rows = rows[rows["code"].isin(["E08000003", "E06000002", "E07000178"])]
    assert rows["code"].nunique() == 3
    got = sm.summary_measures(rows, n_national=32844).set_index("code")["local_concentration"]
    for code, g in rows.groupby("code"):
        g = g.sort_values("rank")
        need, acc, num = 0.1 * g["population"].sum(), 0.0, 0.0
        for r, p in zip(g["rank"], g["population"], strict=True):
            take = min(p, need - acc)
            if take <= 0:
                break
            num += take * (32845 - r)
            acc += take
        assert got[code] == pytest.approx(num / need, rel=1e-12)
