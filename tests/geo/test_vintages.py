"""Boundary-vintage conversion: one hand-made case per ONS change code, then the real lookups."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError, JoinError
from neighbourhood_lens.geo import vintages as vt


def _lookup(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["source_code", "target_code", "change_code"])


def test_unchanged_copies_the_value():
    out = vt.convert(pd.DataFrame({"code": ["a"], "x": [7.0]}), lookup=_lookup([("a", "A", "U")]), values="x")
    assert out[["code", "x", "change_code"]].values.tolist() == [["A", 7.0, "U"]]


def test_split_children_inherit_the_parent_value():
    lk = _lookup([("a", "A1", "S"), ("a", "A2", "S"), ("a", "A3", "S")])
    out = vt.convert(pd.DataFrame({"code": ["a"], "x": [0.25]}), lookup=lk, values="x",
                     population=pd.Series({"a": 1500.0}))
    assert out["x"].tolist() == [0.25, 0.25, 0.25] and out["n_sources"].tolist() == [1, 1, 1]


def test_merge_takes_the_population_weighted_mean():
    lk = _lookup([("a", "M", "M"), ("b", "M", "M")])
    f = pd.DataFrame({"code": ["a", "b"], "x": [10.0, 40.0]})
    out = vt.convert(f, lookup=lk, values="x", population=pd.Series({"a": 2000.0, "b": 1000.0}))
    assert out["x"].iloc[0] == pytest.approx((2000 * 10 + 1000 * 40) / 3000)
    equal = vt.convert(f, lookup=lk, values="x")
    assert equal["x"].iloc[0] == pytest.approx(25.0)


def test_irregular_shares_each_source_population_equally_among_its_targets():
    # a (pop 1000) overlaps T1 and T2; b (pop 600) overlaps T2 only.
    lk = _lookup([("a", "T1", "X"), ("a", "T2", "X"), ("b", "T2", "X")])
    f = pd.DataFrame({"code": ["a", "b"], "x": [1.0, 4.0]})
    out = vt.convert(f, lookup=lk, values="x", population=pd.Series({"a": 1000.0, "b": 600.0})).set_index("code")
    assert out.loc["T1", "x"] == pytest.approx(1.0)
    assert out.loc["T2", "x"] == pytest.approx((500 * 1 + 600 * 4) / 1100)
    weighted = vt.convert(f, lookup=lk.assign(weight=[900.0, 100.0, 600.0]), values="x").set_index("code")
    assert weighted.loc["T2", "x"] == pytest.approx((100 * 1 + 600 * 4) / 700)


def test_bad_input_is_named():
    f = pd.DataFrame({"code": ["a", "z"], "x": [1.0, 2.0]})
    with pytest.raises(JoinError, match="1 source LSOA\\(s\\) are not in the lookup: z"):
        vt.convert(f, lookup=_lookup([("a", "A", "U")]), values="x")
    with pytest.raises(DataError, match="unknown change code\\(s\\) Q; valid: U \\(unchanged\\), S \\(split\\)"):
        vt.convert(f.head(1), lookup=_lookup([("a", "A", "Q")]), values="x")
    with pytest.raises(DataError, match="valid conversions: 2001->2011, 2011->2001, 2011->2021"):
        vt.lookup(None, source=2001, target=2021)
    with pytest.raises(DataError, match="the lookup has rows without a source or target code"):
        vt.convert(f.head(1), lookup=_lookup([("a", "A", "U"), ("a", None, "S")]), values="x")


def test_a_target_lists_each_change_code_of_its_pairs_once_in_order():
    lk = _lookup([("b", "T", "S"), ("a", "T", "M"), ("c", "T", "M"), ("a", "U1", "U")])
    out = vt.convert(pd.DataFrame({"code": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]}), lookup=lk, values="x")
    assert out[["code", "change_code", "n_sources"]].values.tolist() == [["T", "MS", 3], ["U1", "U", 1]]
    assert out.attrs["unmatched"]["targets_partial"] == 0
    part = vt.convert(pd.DataFrame({"code": ["a"], "x": [1.0]}), lookup=lk, values="x")
    assert part.attrs["unmatched"] == {"targets_partial": 1, "targets_missing": 0, "values_missing": {"x": 0}}


def test_real_lookups_carry_every_english_lsoa(con):
    lk = vt.lookup(con, source=2011, target=2021)
    ranks = con.execute("SELECT lsoa11_code AS code, imd_rank FROM imd2019_lsoa11").df()
    out = vt.convert(ranks, lookup=lk, values="imd_rank",
                     population=con.execute("SELECT lsoa11_code, population FROM population2019_lsoa11").df()
                     .set_index("lsoa11_code")["population"])
    assert len(out) == 33755  # every English LSOA 2021
    same = out[out["change_code"] == "U"].merge(ranks, on="code", suffixes=("", "_2011"))
    n_unchanged = lk.loc[lk["change_code"] == "U", "target_code"].nunique()  # from the lookup itself
    assert len(same) == n_unchanged and (same["imd_rank"] == same["imd_rank_2011"]).all()
    assert out.attrs["unmatched"] == {"targets_partial": 0, "targets_missing": 0, "values_missing": {"imd_rank": 0}}
    merged = lk[lk["change_code"] == "M"].merge(ranks, left_on="source_code", right_on="code")
    pop = con.execute("SELECT lsoa11_code, population FROM population2019_lsoa11").df()
    merged = merged.merge(pop, left_on="source_code", right_on="lsoa11_code")
    expect = (merged["imd_rank"] * merged["population"]).groupby(merged["target_code"]).sum() / \
        merged.groupby("target_code")["population"].sum()
    got_m = out.set_index("code").loc[expect.index, "imd_rank"]
    assert len(expect) > 0 and got_m.to_numpy() == pytest.approx(expect.to_numpy(), rel=1e-12)
    split = lk[lk["change_code"] == "S"].merge(ranks, left_on="source_code", right_on="code")
    got = split.merge(out, left_on="target_code", right_on="code", suffixes=("_parent", ""))
    assert len(got) == (lk["change_code"] == "S").sum()
    assert got["imd_rank"].to_numpy() == pytest.approx(got["imd_rank_parent"].to_numpy(), rel=1e-12)


def test_missing_values_are_left_out_of_the_mean_not_counted_as_zero():
    lk = _lookup([("a", "M", "M"), ("b", "M", "M"), ("c", "C", "U")])
    f = pd.DataFrame({"code": ["a", "b", "c"], "x": [10.0, float("nan"), float("nan")], "y": [1.0, 3.0, 5.0]})
    out = vt.convert(f, lookup=lk, values=["x", "y"]).set_index("code")
    assert out.loc["M", "x"] == 10.0 and out.loc["M", "y"] == 2.0  # not (10 + 0) / 2
    assert pd.isna(out.loc["C", "x"])
    assert out.attrs["unmatched"]["values_missing"] == {"x": 2, "y": 0}


def test_partial_and_absent_targets_are_reported():
    lk = _lookup([("a", "M", "M"), ("b", "M", "M"), ("c", "C", "U")])
    out = vt.convert(pd.DataFrame({"code": ["a"], "x": [1.0]}), lookup=lk, values="x")
    assert out["code"].tolist() == ["M"]
    assert out.attrs["unmatched"] == {"targets_partial": 1, "targets_missing": 1, "values_missing": {"x": 0}}
    with pytest.raises(DataError, match="missing or negative weight"):
        vt.convert(pd.DataFrame({"code": ["a"], "x": [1.0]}), lookup=lk.assign(weight=[float("nan"), 1.0, 1.0]),
                   values="x")


@pytest.mark.parametrize(("source", "target"), [(2001, 2011), (2011, 2021), (2021, 2011)])
def test_lookup_rows_come_in_one_fixed_order_so_conversions_repeat_exactly(con, source, target):
    """DuckDB's DISTINCT returns rows in an order that varies with its threads; a conversion sums in
    lookup order, so an unordered lookup gave last-digit differences (and a moved tie) between runs."""
    lk = vt.lookup(con, source=source, target=target)
    key = lk[["source_code", "target_code", "change_code"]].astype(str)
    assert len(lk) > 30_000 and key.equals(key.sort_values(list(key.columns)).reset_index(drop=True))
    pct = con.execute(f"SELECT lsoa{str(source)[2:]}_code AS code, imd_rank / count(*) OVER () AS v "
                      f"FROM {({2001: 'imd2010_lsoa01', 2011: 'imd2019_lsoa11', 2021: 'imd2025_lsoa21'})[source]}"
                      ).df()
    runs = [vt.convert(pct, lookup=vt.lookup(con, source=source, target=target), values="v") for _ in range(3)]
    assert all(r.equals(runs[0]) for r in runs[1:])
