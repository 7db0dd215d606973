"""Header normalisers: official publisher headers and mirror headers land in the same columns."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from neighbourhood_lens.data.normalise import NORMALISERS, normalise_headers
from neighbourhood_lens.data.sources import DATASETS, registry_frame

FILE7_2019 = [
    "LSOA code (2011)", "LSOA name (2011)", "Local Authority District code (2019)",
    "Local Authority District name (2019)", "Index of Multiple Deprivation (IMD) Score",
    "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
    "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",
    "Income Score (rate)", "Income Rank (where 1 is most deprived)",
    "Employment Score (rate)", "Education, Skills and Training Score",
    "Health Deprivation and Disability Score", "Crime Score",
    "Barriers to Housing and Services Score", "Living Environment Score",
    "Income Deprivation Affecting Children Index (IDACI) Score (rate)",
    "Income Deprivation Affecting Older People (IDAOPI) Score (rate)",
    "Total population: mid 2015 (excluding prisoners)",
    "Working age population 18-59/64: for use with Employment Deprivation Domain (excluding prisoners)",
]


def test_file7_official_headers_map_to_canonical_columns():
    m = normalise_headers("imd2019_lsoa11", FILE7_2019)
    assert [m[h] for h in FILE7_2019] == [
        "lsoa11_code", "lsoa11_name", "lad19_code", "lad19_name", "imd_score", "imd_rank",
        "imd_decile", "income_score", "income_rank", "employment_score", "education_score",
        "health_score", "crime_score", "housing_score", "environment_score", "idaci_score",
        "idaopi_score", "denominator_total", "denominator_working_age",
    ]


def test_iod2025_file7_uses_2021_and_2024_vintages():
    m = normalise_headers("imd2025_lsoa21", ["LSOA code (2021)", "Local Authority District code (2024)"])
    assert list(m.values()) == ["lsoa21_code", "lad24_code"]


@pytest.mark.parametrize(
    ("dataset", "headers", "expected"),
    [
        ("lookup_lsoa11_ward17", ["LSOA11CD", "WD17CD", "WD17NM"], ["lsoa11_code", "ward17_code", "ward17_name"]),
        ("lookup_lad19_region19", ["LAD19CD", "RGN19CD", "RGN19NM"],
         ["lad19_code", "region19_code", "region19_name"]),
        ("lookup_lsoa11_lsoa21_lad22", ["LSOA11CD", "LSOA21CD", "CHGIND"],
         ["lsoa11_code", "lsoa21_code", "change_code"]),
        ("population2019_lsoa11", ["LSOA Code", "All Ages", "0", "90+"],
         ["lsoa11_code", "population", "age_0", "age_90"]),
        ("cni2023_lsoa21", ["LSOA code", "Community Needs Index 2023 Score", "Civic Assets Domain Rank"],
         ["lsoa21_code", "cni_score", "civic_assets_rank"]),
        ("ruc2011_lsoa11", ["LSOA11CD", "RUC11CD", "RUC11"], ["lsoa11_code", "ruc11_code", "ruc11_class"]),
    ],
)
def test_ons_and_ocsi_headers(dataset, headers, expected):
    assert list(normalise_headers(dataset, headers).values()) == expected


def test_two_headers_mapping_to_one_column_is_refused():
    with pytest.raises(ValueError, match="'IMD_score' and 'Index of Multiple Deprivation \\(IMD\\) Score'"):
        normalise_headers("imd2019_lsoa11", ["IMD_score", "Index of Multiple Deprivation (IMD) Score"])


def test_every_dataset_has_a_normaliser_and_the_mirror_satisfies_it(mirror):
    assert set(NORMALISERS) >= set(DATASETS)
    for ds in DATASETS.values():
        names = pq.read_schema(mirror / f"{ds.id}.parquet").names
        mapped = set(normalise_headers(ds.id, names).values())
        assert set(ds.required) <= mapped, ds.id


def test_registry_lists_publisher_licence_and_url():
    frame = registry_frame()
    assert frame["id"].is_unique
    assert frame["url"].str.startswith("https://").all()
    assert not frame.loc[frame["id"].str.startswith("cni"), "open_data"].any()
