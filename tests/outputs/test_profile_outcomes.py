"""The Outcomes section of area profiles: JSON, HTML report and web page."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.outputs.profile_outcomes import PROFILE_YEARS, outcomes_html, outcomes_section


def _tables() -> dict:
    """Two wards in decile 1 (a: 30 of 100 fuel-poor; b: 10 of 300) and England (50 of 1,000)."""
    idx = pd.MultiIndex.from_tuples([("a", "fuel_poverty"), ("b", "fuel_poverty")], names=["area", "outcome"])
    areas = pd.DataFrame({"numerator": [30.0, 10.0], "denominator": [100.0, 300.0]}, index=idx)
    deciles = pd.DataFrame({"numerator": [40.0], "denominator": [400.0], "n_areas": [2]},
                           index=pd.MultiIndex.from_tuples([(1, "fuel_poverty")], names=["decile", "outcome"]))
    england = pd.DataFrame({"numerator": [50.0], "denominator": [1000.0]}, index=pd.Index(["fuel_poverty"],
                                                                                        name="outcome"))
    return {"areas": {"ward17": areas}, "deciles": {"ward17": deciles}, "england": {2011: england},
            "lsoas": {}, "notes": []}


def test_section_is_a_ratio_of_sums_against_the_same_decile_and_england():
    s = outcomes_section(_tables(), "ward17", "a", decile=1, kind_label="ward", edition="IoD2019")
    (item,) = s["items"]
    assert item["value"] == pytest.approx(0.30)
    assert item["similar"] == {"decile": 1, "n_areas": 2, "value": pytest.approx(0.10)}  # 40/400, not (0.3+0.033)/2
    assert item["england"] == pytest.approx(0.05)
    assert item["gap_vs_similar"] == pytest.approx(0.20) and item["gap_vs_england"] == pytest.approx(0.25)
    assert item["year"] == PROFILE_YEARS["fuel_poverty"][0] and "DESNZ" in item["source"]
    assert "decile 1" in s["comparison"] and "England" in s["comparison"]
    assert item["value_text"] == "30.0%"


def test_section_without_outcome_tables_says_so():
    s = outcomes_section({}, "ward17", "a", decile=1, kind_label="ward", edition="IoD2019")
    assert s["items"] == [] and "no outcome statistics" in s["notes"][0]
    assert "no outcome statistics" in outcomes_html(s)


@pytest.fixture(scope="module")
def store(con):
    from neighbourhood_lens.outputs.profiles import load_store

    return load_store(con)


def test_ward_profile_outcomes_match_the_lsoa_counts(store, con):
    from neighbourhood_lens.evaluation.outcome_panel import outcome_lsoa_counts
    from neighbourhood_lens.outputs.profiles import area_profile

    p = area_profile(None, "E05001645", store=store)  # Bloomfield, Blackpool: a 2019 left-behind ward
    items = {i["id"]: i for i in p["outcomes"]["items"]}
    assert set(items) == set(PROFILE_YEARS)
    lsoas = store.frames["lsoa11"].index[store.frames["lsoa11"]["ward17_code"] == "E05001645"]
    c = outcome_lsoa_counts(con, "insolvency", vintage=2011, years=[2022])
    mine = c[c["code"].isin(lsoas)]
    assert items["insolvency"]["value"] == pytest.approx(1e4 * mine["numerator"].sum() / mine["denominator"].sum())
    # equally deprived places: every ward 2017 of IMD decile 1
    w = store.frames["ward17"]
    dec1 = store.frames["lsoa11"].index[store.frames["lsoa11"]["ward17_code"].isin(w.index[w["imd_decile"] == 1])]
    d = c[c["code"].isin(dec1)]
    assert items["insolvency"]["similar"]["value"] == pytest.approx(1e4 * d["numerator"].sum() / d["denominator"].sum())
    assert items["insolvency"]["england"] == pytest.approx(1e4 * c["numerator"].sum() / c["denominator"].sum())
    assert all(i["year"] and i["source"] for i in items.values())


def test_region_and_custom_area_profiles_have_outcomes(store):
    from neighbourhood_lens.outputs.profiles import area_profile, custom_area_profile

    region = area_profile(None, "E12000001", store=store)["outcomes"]
    assert region["items"] and all(i["similar"] is None for i in region["items"])
    custom = custom_area_profile(store, ["E01033583", "E01008397"])["outcomes"]
    assert len(custom["items"]) == len(PROFILE_YEARS) and "wards" in custom["comparison"]


def test_lad_report_shows_the_outcomes_section(con, store):
    from neighbourhood_lens.outputs.report import lad_report

    text = lad_report(con, "E08000021", store=store)
    assert "<h2>Outcomes</h2>" in text and "Equally deprived places" in text
    assert "local authorities (2024) in the same national IoD2025 IMD decile" in text


def test_outcome_tables_of_one_vintage_are_those_of_the_full_store(con, store):
    """A LAD 2024 report builds only the 2021-based tables: the same figures, and nothing 2011-based."""
    from neighbourhood_lens.errors import DataError
    from neighbourhood_lens.outputs.profile_outcomes import outcome_tables

    only = outcome_tables(con, store.frames, vintages=(2021,))
    assert set(only["areas"]) == {"lsoa21", "ward24", "lad24", "region24"} and set(only["england"]) == {2021}
    for lv in only["areas"]:
        pd.testing.assert_frame_equal(only["areas"][lv], store.outcomes["areas"][lv])
    for lv in only["deciles"]:
        pd.testing.assert_frame_equal(only["deciles"][lv], store.outcomes["deciles"][lv])
    pd.testing.assert_frame_equal(only["england"][2021], store.outcomes["england"][2021])
    with pytest.raises(DataError, match="unknown LSOA vintage"):
        outcome_tables(con, store.frames, vintages=(2001,))
