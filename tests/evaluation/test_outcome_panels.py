"""Annual outcome series for evaluation: count apportionment, measure breaks, UC years, panels."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError, JoinError
from neighbourhood_lens.evaluation.outcome_counts import apportion_to_lsoas, carry_counts, vintage_of
from neighbourhood_lens.evaluation.outcome_panel import (
    SERIES,
    _measure_years,
    outcome_lsoa_counts,
    outcome_panel,
    outcome_series,
)

# -- tiny frames ---------------------------------------------------------------------------


def test_carry_counts_keeps_totals_on_splits_and_merges():
    # a -> A unchanged; b split into B1 (pop 1) and B2 (pop 3); d and e merged into C
    lk = pd.DataFrame({"source_code": ["a", "b", "b", "d", "e"], "target_code": ["A", "B1", "B2", "C", "C"]})
    f = pd.DataFrame({"code": ["a", "b", "d", "e"], "num": [1.0, 8.0, 10.0, 20.0], "den": [10, 40, 50, 50]})
    out = carry_counts(f, lookup=lk, columns=["num", "den"],
                       weight=pd.Series({"A": 5, "B1": 1, "B2": 3, "C": 2})).set_index("code")
    assert out["num"].to_dict() == {"A": 1.0, "B1": 2.0, "B2": 6.0, "C": 30.0}
    assert out["den"].sum() == f["den"].sum()
    assert out.loc["C", "num"] / out.loc["C", "den"] == pytest.approx(30 / 100)  # ratio of sums, not (0.2 + 0.4) / 2


def test_carry_counts_splits_equally_without_weights_and_names_unknown_sources():
    lk = pd.DataFrame({"source_code": ["b", "b"], "target_code": ["B1", "B2"]})
    out = carry_counts(pd.DataFrame({"code": ["b"], "n": [5.0]}), lookup=lk, columns=["n"])
    assert out["n"].tolist() == [2.5, 2.5]
    with pytest.raises(JoinError, match=r"1 source area\(s\) are not in the lookup: zz"):
        carry_counts(pd.DataFrame({"code": ["b", "zz"], "n": [1.0, 2.0]}), lookup=lk, columns=["n"])


def test_apportion_to_lsoas_refuses_to_lose_an_area():
    m = pd.DataFrame({"lsoa_code": ["x"], "code": ["M"]})
    with pytest.raises(JoinError, match=r"1 area\(s\) have no LSOA.*N"):
        apportion_to_lsoas(pd.DataFrame({"code": ["M", "N"], "n": [1.0, 2.0]}), m, columns=["n"],
                           weight=pd.Series({"x": 1.0}), what="demo")


def test_vintage_labels():
    assert [vintage_of(x) for x in ("lsoa01", "lsoa11", 2021, "21")] == [2001, 2011, 2021, 2021]
    with pytest.raises(DataError, match="unknown LSOA vintage"):
        vintage_of("lsoa15")


def test_fuel_poverty_measure_break_is_refused_unless_asked():
    fp = SERIES["fuel_poverty"]
    with pytest.raises(DataError, match="span the fuel poverty measure break.*--measure lihc"):
        _measure_years(fp, range(2012, 2023), None)
    assert _measure_years(fp, None, "lihc") == (list(range(2011, 2019)), "lihc")
    assert _measure_years(fp, None, "lilee") == ([2019, 2020, 2021, 2022], "lilee")
    assert _measure_years(fp, [2012, 2013], None) == ([2012, 2013], "lihc")
    assert _measure_years(fp, range(2017, 2021), "mixed")[0] == [2017, 2018, 2019, 2020]
    with pytest.raises(DataError, match=r"year\(s\) 2019 use the other measure"):
        _measure_years(fp, [2018, 2019], "lihc")


@pytest.mark.parametrize("outcome, years, measure, words", [
    ("insolvency", [2011], None, r"outside the series \(2012-2022\)"),
    ("insolvency", None, "lihc", "not a measure of insolvency"),
    ("household_deprivation", None, "three", "one_or_more, two_or_more"),
])
def test_bad_years_and_measures_are_clear_errors(outcome, years, measure, words):
    with pytest.raises(DataError, match=words):
        _measure_years(SERIES[outcome], years, measure)


def test_unknown_outcome_lists_the_series():
    with pytest.raises(DataError, match="annual series: fuel_poverty, insolvency"):
        outcome_series("life_expectancy")


# -- real data -----------------------------------------------------------------------------


def test_insolvency_lsoa_counts_add_up_to_the_published_england_total(con):
    # Insolvency Service 2022: 112,086 individual insolvencies in England (the ward table's sum).
    for vintage in (2011, 2021):
        c = outcome_lsoa_counts(con, "insolvency", vintage=vintage, years=[2022])
        assert c["numerator"].sum() == pytest.approx(112_086, abs=1e-6)
        assert c["code"].is_unique


def test_fuel_poverty_keeps_totals_across_the_lsoa_vintages(con):
    raw = con.execute("SELECT year, sum(fuel_poor_households) AS n FROM fuel_poverty_lsoa "
                      "WHERE lsoa_code LIKE 'E%' GROUP BY year").df().set_index("year")["n"]
    c = outcome_lsoa_counts(con, "fuel_poverty", vintage=2011, years=[2011, 2012, 2018], measure="lihc")
    sums = c.groupby("year")["numerator"].sum()
    for year in (2011, 2012, 2018):  # 2011 is on LSOA 2001 and is carried to 2011
        assert sums[year] == pytest.approx(raw[year], rel=1e-9)
    c21 = outcome_lsoa_counts(con, "fuel_poverty", vintage=2021, years=[2020, 2021])
    assert c21.groupby("year")["numerator"].sum()[2020] == pytest.approx(raw[2020], rel=1e-9)


def test_uc_partial_years_are_reported_not_dropped(con):
    c = outcome_lsoa_counts(con, "uc_households", vintage=2011, years=[2015, 2016, 2023])
    years = c.attrs["years"].set_index("year")
    assert years.loc[2016, "status"] == "built"
    assert years.loc[2015, "status"] == years.loc[2023, "status"] == "not built"
    assert "5 month(s)" in years.loc[2015, "reason"] and "1 month(s)" in years.loc[2023, "reason"]
    assert set(c["year"]) == {2016}
    # the annual value is the mean of the 12 months
    raw = con.execute("SELECT avg(coalesce(households_on_uc, 0)) * count(DISTINCT msoa11_code) FROM "
                      "uc_households_msoa11 WHERE month LIKE '2016-%'").fetchone()[0]
    assert c["numerator"].sum() == pytest.approx(raw, rel=1e-9)


def test_panel_is_a_ratio_of_sums_over_the_units_lsoas(con):
    panel = outcome_panel(con, "ward17", outcome="household_deprivation")
    assert sorted(panel["year"].unique()) == [2011, 2021]
    ward = panel.loc[panel["year"] == 2011].iloc[0]
    lsoas = con.execute("SELECT lsoa11_code FROM hierarchy_lsoa11 WHERE ward17_code = ?", [ward["code"]]).df()
    counts = outcome_lsoa_counts(con, "household_deprivation", vintage=2011, years=[2011])
    mine = counts[counts["code"].isin(lsoas["lsoa11_code"])]
    assert ward["value"] == pytest.approx(mine["numerator"].sum() / mine["denominator"].sum())
    two = outcome_panel(con, "ward17", outcome="household_deprivation", measure="two_or_more")
    assert (two.set_index(["code", "year"])["value"] < panel.set_index(["code", "year"])["value"]).all()
    assert "at least two" in two.attrs["outcome"]


def test_evaluate_left_behind_wards_on_insolvencies(con):
    from neighbourhood_lens.deprivation.left_behind import left_behind
    from neighbourhood_lens.evaluation.run import evaluate_in_warehouse

    wards = left_behind(con, vintage=2019)
    treated = pd.DataFrame({"code": wards["code"], "start": 2020})
    ev, unit, label = evaluate_in_warehouse(con, treated, outcome="insolvency", years=range(2012, 2023),
                                            n_placebo=3)
    assert unit == "ward17" and "per 10,000" in label
    att = ev.effects.set_index("effect").loc["att"]
    assert att["n_treated"] > 200 and att["ci_low"] < att["estimate"] < att["ci_high"]
    assert ev.parameters["years_built"] == list(range(2012, 2023))
    assert (ev.matching.status["status"] == "matched").sum() + (ev.matching.status["status"] == "excluded").sum() \
        == len(treated)


def test_two_point_series_matches_on_the_one_pre_period_level(con):
    from neighbourhood_lens.deprivation.left_behind import left_behind
    from neighbourhood_lens.evaluation.run import evaluate_in_warehouse

    wards = left_behind(con, vintage=2019).head(40)
    ev, _, _ = evaluate_in_warehouse(con, pd.DataFrame({"code": wards["code"], "start": 2021}),
                                     outcome="household_deprivation", n_placebo=0)
    assert ev.parameters["min_pre"] == 1
    assert any("two-point series" in n for n in ev.notes)


def test_cli_refuses_to_mix_fuel_poverty_measures(warehouse_path, tmp_path):
    from typer.testing import CliRunner

    from neighbourhood_lens.cli import app

    treated = tmp_path / "t.csv"
    pd.DataFrame({"code": ["E05001645"], "start": [2016]}).to_csv(treated, index=False)
    res = CliRunner().invoke(app, ["evaluate", "--treated", str(treated), "--outcome", "fuel_poverty", "--years",
                                   "2012-2022", "--out", str(tmp_path / "e.csv"), "--db", str(warehouse_path)])
    assert res.exit_code != 0
    assert "measure break" in res.output and "--measure lihc" in res.output
