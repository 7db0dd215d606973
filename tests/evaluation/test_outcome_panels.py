"""Annual outcome series for evaluation: measure breaks, UC years, fixed denominators, ratio-of-sums panels."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.evaluation.outcome_panel import (
    SERIES,
    _measure_years,
    outcome_lsoa_counts,
    outcome_panel,
    outcome_series,
)

# -- tiny frames ---------------------------------------------------------------------------


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


def test_child_low_income_keeps_one_denominator_for_every_year(con):
    c = outcome_lsoa_counts(con, "child_low_income", vintage=2011, years=[2019, 2020, 2021])
    den = c.pivot(index="code", columns="year", values="denominator")
    assert (den[2020] == den[2019]).all() and (den[2021] == den[2019]).all()


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
