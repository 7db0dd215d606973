"""Double disadvantage: the published 225 wards, the 2023 successor, and the decile rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.deprivation.left_behind import (
    OUTPUT_COLUMNS,
    left_behind,
    left_behind_scores,
    summary_by_region,
)
from neighbourhood_lens.errors import DataError
from neighbourhood_lens.geo.geography import equal_count_decile


@pytest.fixture(scope="module")
def lb2019(con):
    return left_behind(con, vintage=2019)


def test_2019_reproduces_local_trusts_225_wards(lb2019):
    # OCSI/Local Trust (2019): 225 wards in the most deprived 10% on both IMD 2019 and CNI 2019.
    assert len(lb2019) == 225
    assert lb2019["code"].is_unique and lb2019["code"].str.startswith("E05").all()
    assert list(lb2019.columns) == OUTPUT_COLUMNS
    assert (lb2019["imd_decile"] == 1).all() and (lb2019["cni_decile"] == 1).all()


def test_2019_ward_scores_are_population_weighted_means_of_lsoa_scores(con, mirror, lb2019):
    imd = pd.read_parquet(mirror / "imd2019_lsoa11.parquet", columns=["lsoa11_code", "IMD_score"])
    pop = pd.read_parquet(mirror / "population2019_lsoa11.parquet", columns=["lsoa11_code", "total_population"])
    lk = pd.read_parquet(mirror / "lookup_lsoa11_ward17.parquet")
    d = imd.merge(pop, on="lsoa11_code").merge(lk, on="lsoa11_code")
    ward = lb2019.iloc[0]["code"]
    part = d[d["ward17_code"] == ward]
    expected = np.average(part["IMD_score"], weights=part["total_population"])
    assert lb2019.iloc[0]["imd_score"] == pytest.approx(expected, rel=1e-12)
    assert lb2019.iloc[0]["population"] == part["total_population"].sum()


def test_2019_thresholds_are_ten_percent_of_each_ranking(con, lb2019):
    scores = left_behind_scores(con, vintage=2019)
    n_wards = len(scores)
    n_cni = con.execute("SELECT count(*) FROM cni2019_ward17").fetchone()[0]
    assert lb2019["imd_rank"].max() <= 0.1 * n_wards
    assert lb2019["cni_rank"].max() <= 0.1 * n_cni
    # every ward inside both thresholds is listed, none outside
    both = scores[(scores["imd_rank"] <= 0.1 * n_wards) & (scores["cni_rank"] <= 0.1 * n_cni)]
    assert set(both["code"]) == set(lb2019["code"])


def test_2023_uses_imd2025_decile_1_and_cni2023_decile_1(con, mirror):
    lb = left_behind(con, vintage=2023)
    imd = pd.read_parquet(mirror / "imd2025_lsoa21.parquet", columns=["lsoa21_code", "IMD_decile"])
    cni = pd.read_parquet(mirror / "cni2023_lsoa21.parquet")
    rank = cni["Community Needs Index 2023 Rank"]
    cni_d1 = set(cni.loc[np.ceil(rank * 10 / len(cni)) == 1, "lsoa21_code"])
    expected = set(imd.loc[imd["IMD_decile"] == 1, "lsoa21_code"]) & cni_d1
    assert set(lb["code"]) == expected
    assert len(lb) > 1000 and lb["code"].str.startswith("E01").all()


@pytest.mark.parametrize(("table", "n"), [("imd2019_lsoa11", 32844), ("imd2025_lsoa21", 33755)])
def test_equal_count_deciles_match_the_published_deciles(con, table, n):
    frame = con.execute(f"SELECT imd_rank, imd_decile, income_rank, income_decile FROM {table}").df()
    assert len(frame) == n
    for d in ("imd", "income"):
        assert (equal_count_decile(frame[f"{d}_rank"], n) == frame[f"{d}_decile"]).all()


def test_wider_thresholds_give_a_superset(con, lb2019):
    wider = left_behind(con, vintage=2019, imd_share=0.2, cni_share=0.2)
    assert set(lb2019["code"]) < set(wider["code"])


def test_region_summary_adds_up(lb2019):
    s = summary_by_region(lb2019).set_index("region_name")
    assert s.loc["England", "areas"] == 225
    assert s.drop("England")["population"].sum() == s.loc["England", "population"] == lb2019["population"].sum()


def test_bad_vintage_and_share_are_refused(con):
    with pytest.raises(DataError, match="unknown vintage 2020; valid vintages: 2019, 2023"):
        left_behind(con, vintage=2020)
    with pytest.raises(DataError, match="share must be in \\(0, 1\\]; got 1.5"):
        left_behind(con, vintage=2019, imd_share=1.5)


@pytest.mark.parametrize(("vintage", "table", "key"), [(2019, "cni2019_ward17", "ward17_code"),
                                                        (2023, "imd2025_lsoa21", "lsoa21_code")])
def test_a_repeated_code_in_an_input_table_is_named_not_joined_twice(warehouse_path, vintage, table, key):
    import duckdb

    with duckdb.connect() as mem:  # the session warehouse, read-only, with one row of one table repeated
        mem.execute(f"ATTACH '{warehouse_path}' AS w (READ_ONLY)")
        needed = {2019: ("imd2019_lsoa11", "cni2019_ward17", "hierarchy_lsoa11"),
                  2023: ("imd2025_lsoa21", "cni2023_lsoa21", "hierarchy_lsoa21")}[vintage]
        for t in needed:
            mem.execute(f"CREATE VIEW {t} AS SELECT * FROM w.{t}")
        first = mem.execute(f"SELECT min({key}) FROM {table}").fetchone()[0]
        mem.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM w.{table} "
                    f"UNION ALL SELECT * FROM w.{table} WHERE {key} = '{first}'")
        with pytest.raises(DataError, match=f"{table}: {key} repeats, e.g. {first}"):
            left_behind_scores(mem, vintage=vintage)
