"""The outcome catalogue: the outcomes the issue names, with units, directions and real sources."""

from __future__ import annotations

import pytest

from neighbourhood_lens.data.sources import DATASETS
from neighbourhood_lens.errors import DataError
from neighbourhood_lens.outcomes.catalogue import OUTCOMES, UNITS, catalogue, get_outcome, parse_outcomes

REQUIRED = ["fuel_poverty", "insolvency", "child_low_income", "uc_households", "household_deprivation",
            "household_deprivation_2plus", "disability", "overcrowding", "social_renting",
            "years_of_potential_life_lost", "illness_disability_ratio", "acute_morbidity", "mood_anxiety",
            "crime_burglary", "staying_on_education", "entry_higher_education", "adult_skills", "broadband",
            "distance_gp", "homelessness"]


def test_the_issue_outcomes_are_all_there_with_valid_units_and_sources():
    assert set(REQUIRED) <= set(OUTCOMES)
    for o in OUTCOMES.values():
        assert o.unit in UNITS and o.years == tuple(sorted(o.years))
        assert set(o.datasets) <= set(DATASETS), o.id
        assert (o.aggregation == "weighted_mean") == (o.kind == "indicator")
    assert get_outcome("insolvency").per == 10_000 and get_outcome("insolvency").scale == 10_000
    assert get_outcome("crime_theft").scale == 1  # the published rate is already per 1,000
    assert get_outcome("connectivity").higher_is_worse is False


def test_indicator_columns_exist_in_the_real_tables(con):
    for o in OUTCOMES.values():
        if o.kind != "indicator":
            continue
        for part in o.column.split(";"):
            year, col = part.split(":")
            table = "imd2019_lsoa11_indicators" if year == "2019" else "imd2025_lsoa21_indicators"
            cols = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
            assert col in cols, (o.id, col)


def test_catalogue_table_and_id_parsing():
    cat = catalogue()
    assert list(cat["id"]) == list(OUTCOMES)
    assert cat.set_index("id").loc["fuel_poverty", "years"] == "2011-2022"
    assert cat.set_index("id").loc["insolvency", "unit"] == "rate per 10,000"
    assert [o.id for o in parse_outcomes(["fuel_poverty", "disability,fuel_poverty"])] == ["fuel_poverty",
                                                                                           "disability"]
    assert len(parse_outcomes("all")) == len(OUTCOMES)


def test_unknown_outcome_names_the_valid_ones():
    with pytest.raises(DataError, match=r"unknown outcome 'fuel'. Did you mean fuel_poverty\? Valid outcomes: "):
        get_outcome("fuel")
    with pytest.raises(DataError, match="no outcome given"):
        parse_outcomes(" , ")
