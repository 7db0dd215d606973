"""LSOA numerators and denominators: published totals reproduced, vintages bridged, coverage reported."""

from __future__ import annotations

import numpy as np
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.outcomes.values import default_year, outcome_datasets, outcome_values


@pytest.fixture(scope="module")
def cache():
    return {}


def _england(frame):
    return frame["numerator"].sum() / frame["denominator"].sum()


def test_fuel_poverty_reproduces_the_published_england_figures_across_the_measure_break(con, cache):
    # DESNZ: England 10.3% in 2018 (LIHC) and 13.4% in 2019 (LILEE) (mirror README)
    assert round(_england(outcome_values(con, "fuel_poverty", year=2018, lsoa_vintage=2011, cache=cache)), 3) == 0.103
    assert round(_england(outcome_values(con, "fuel_poverty", year=2019, lsoa_vintage=2011, cache=cache)), 3) == 0.134


def test_counts_keep_their_national_totals_when_carried_to_another_vintage(con, cache):
    native = con.execute("SELECT sum(fuel_poor_households), sum(households) FROM fuel_poverty_lsoa "
                         "WHERE year = 2018").fetchall()[0]
    on21 = outcome_values(con, "fuel_poverty", year=2018, lsoa_vintage=2021, cache=cache)
    assert on21["numerator"].sum() == pytest.approx(native[0], rel=1e-9)
    assert on21["denominator"].sum() == pytest.approx(native[1], rel=1e-9)
    assert on21.attrs["coverage"]["lsoas_with_value"] == 33755
    assert any("carried from LSOA 2011 to 2021" in n for n in on21.attrs["notes"])
    # 2011 data are on LSOA 2001 codes: two steps, total still kept
    y11 = outcome_values(con, "fuel_poverty", year=2011, lsoa_vintage=2021, cache=cache)
    total = con.execute("SELECT sum(households) FROM fuel_poverty_lsoa WHERE year = 2011").fetchall()[0][0]
    assert y11["denominator"].sum() == pytest.approx(total, rel=1e-9)


def test_insolvencies_reach_lsoas_through_wd21_wards_without_loss(con, cache):
    for vintage in (2011, 2021):
        f = outcome_values(con, "insolvency", year=2022, lsoa_vintage=vintage, cache=cache)
        assert f["numerator"].sum() == pytest.approx(112086, rel=1e-9)  # published England total, 2022
        assert 18 < _england(f) * 10_000 < 22  # about 20 per 10,000 residents
    assert "bestfit_lsoa21_ward21" in outcome_datasets("insolvency", year=2022, lsoa_vintage=2021)


def test_msoa_counts_are_apportioned_to_lsoas_and_keep_the_msoa_totals(con, cache):
    f = outcome_values(con, "child_low_income", year=2019, lsoa_vintage=2011, cache=cache)
    total = con.execute("SELECT sum(children_relative_low_income) FROM children_low_income_msoa11 "
                        "WHERE year = 2019").fetchall()[0][0]
    assert f["numerator"].sum() == pytest.approx(total, rel=1e-9)
    assert 0.1 < _england(f) < 0.3
    uc = outcome_values(con, "uc_households", year=2022, lsoa_vintage=2021, cache=cache)
    monthly = con.execute("SELECT sum(coalesce(households_on_uc, 0)) / 12 FROM uc_households_msoa11 "
                          "WHERE month LIKE '2022-%'").fetchall()[0][0]
    assert uc["numerator"].sum() == pytest.approx(monthly, rel=1e-9)


def test_scores_are_population_weighted_and_census_shares_are_counts(con, cache):
    f = outcome_values(con, "illness_disability_ratio", year=2019, lsoa_vintage=2011, cache=cache)
    raw = con.execute("SELECT i.comparative_illness_and_disability_ratio_indicator AS v, p.population AS w "
                      "FROM imd2019_lsoa11_indicators i JOIN population2019_lsoa11 p USING (lsoa11_code)").df()
    assert _england(f) == pytest.approx(np.average(raw["v"], weights=raw["w"]), rel=1e-12)
    d = outcome_values(con, "disability", year=2021, lsoa_vintage=2021, cache=cache)
    row = d.set_index("lsoa21_code").loc["E01000001"]
    assert (row["numerator"], row["denominator"]) == (152, 1475)  # TS038, City of London 001A


def test_missing_values_are_kept_as_nan_and_counted_in_coverage(con, cache):
    f = outcome_values(con, "entry_higher_education", year=2019, lsoa_vintage=2011, cache=cache)
    cov = f.attrs["coverage"]
    assert len(f) == cov["lsoas"] == 32844
    assert cov["lsoas_with_value"] == 32844 - int(f["value"].isna().sum()) < 32844
    assert 0.99 < cov["population_share"] < 1


def test_a_year_outside_the_series_is_refused_with_the_years_held(con):
    with pytest.raises(DataError, match="outcome insolvency has no year 2030: the series holds 2012, 2013"):
        outcome_values(con, "insolvency", year=2030, lsoa_vintage=2021)
    with pytest.raises(DataError, match="unknown LSOA vintage 2001"):
        outcome_values(con, "insolvency", year=2020, lsoa_vintage=2001)


def test_default_years_follow_the_vintage():
    assert default_year("insolvency", 2019) == 2019 and default_year("insolvency", 2023) == 2022
    assert default_year("adult_skills", 2019) == 2019 and default_year("adult_skills", 2023) == 2025
    assert default_year("household_deprivation", 2019) == 2011
