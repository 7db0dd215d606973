"""The source registry: a direct address for every open dataset, and sources files round-trip."""

from __future__ import annotations

import pytest

from neighbourhood_lens.data.download import load_sources_file, write_sources_file
from neighbourhood_lens.data.sources import ARCGIS, DATASETS, FORMATS, Source, registry_frame
from neighbourhood_lens.errors import DataError


def test_every_open_dataset_has_a_direct_address_and_cni_says_why_not():
    frame = registry_frame()
    open_ = frame[frame["open_data"]]
    assert len(open_) == 36 and (open_["direct_download"] | (open_["no_url_reason"] != "")).all()
    closed = frame[~frame["open_data"]]
    assert sorted(closed["id"]) == ["cni2019_ward17", "cni2023_lsoa21"]
    assert closed["no_url_reason"].str.contains("not open data").all()
    # outcome statistics published without a stable file address say why (official-sources.md, section 8)
    landing = frame[frame["open_data"] & ~frame["direct_download"]].set_index("id")["no_url_reason"]
    assert sorted(landing.index) == ["boundaries_ward21", "census2011_household_deprivation_lsoa11",
                                     "children_low_income_msoa11", "fuel_poverty_lsoa", "insolvencies_ward",
                                     "uc_households_msoa11"]
    assert landing[["fuel_poverty_lsoa", "insolvencies_ward"]].str.contains("landing page; file link changes").all()


def test_addresses_are_machine_endpoints_in_known_formats():
    for ds in DATASETS.values():
        for src in ds.sources:
            assert src.format in FORMATS
            assert src.url.startswith("https://"), src.url
            if src.format.startswith("arcgis"):
                assert src.url.startswith(ARCGIS) and src.url.endswith("/FeatureServer/0")
            if src.format == "zip":
                assert src.member, ds.id
    # boundaries come as GeoJSON in WGS84; ONS lookups are paged layers
    assert {s.format for d in DATASETS.values() if d.geometry for s in d.sources} == {"arcgis-geojson"}
    assert DATASETS["imd2025_lsoa21"].sources[0].url.split("/")[4] == "691ded56d140bbbaa59a2a7d"  # re-upload first
    assert DATASETS["imd2025_lsoa21_subdomains"].sources[0].usecols == "1,2,35-52"


def test_sources_file_round_trip(tmp_path):
    toml = write_sources_file(tmp_path / "sources.toml")
    back = load_sources_file(toml)
    assert set(back) == {d for d, ds in DATASETS.items() if ds.sources}
    for ds_id, srcs in back.items():
        assert [s.url for s in srcs] == [s.url for s in DATASETS[ds_id].sources]
        assert srcs[0].format == DATASETS[ds_id].sources[0].format
        assert srcs[0].rows == DATASETS[ds_id].expected_rows
    assert "# [cni2019_ward17] no direct address: not open data" in toml.read_text()
    csv = write_sources_file(tmp_path / "sources.csv")
    assert csv.read_text().splitlines()[0].startswith("id,title,publisher")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[imd2099_lsoa11]\nurl = "https://x/y.csv"\n', "unknown dataset id [imd2099_lsoa11]"),
        ('[imd2019_lsoa11]\nsha256 = "abc"\n', "needs a url"),
        ('[imd2019_lsoa11]\nurl = "https://x/y.csv"\ncolour = "red"\n', "unknown key(s) colour"),
        ('[imd2019_lsoa11]\nurl = "https://x/y.csv"\nformat = "pdf"\n', "unknown source format 'pdf'"),
        ("[imd2019_lsoa11\n", "not valid TOML"),
    ],
)
def test_bad_sources_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")):
        load_sources_file(path)


def test_format_is_guessed_from_the_address(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[ruc2011_lsoa11]\nurl = "https://intranet.example/ruc.ods"\nsheet = "LSOA11"\nskip = 2\n'
                    '[boundaries_lsoa21]\nurl = "https://gis.example/rest/services/LSOA21/FeatureServer/0"\n'
                    '[lookup_lad24_region24]\nurl = "https://hub.example/items/abc/csv?layers=0"\n')
    got = load_sources_file(path)
    assert got["ruc2011_lsoa11"][0] == Source("https://intranet.example/ruc.ods", "ods", sheet="LSOA11", skip=2)
    assert got["boundaries_lsoa21"][0].format == "arcgis-geojson"
    assert got["lookup_lad24_region24"][0].format == "csv"
