"""The source registry: every dataset the warehouse is built from, in one table.

Each :class:`Dataset` names its publisher, licence, vintage, geography, official download
(or landing page where the publisher gives no stable file URL), the key that must be unique,
and the canonical columns it must provide after normalisation (see :mod:`.normalise`).

Dataset ids follow the humaniverse ``IMD`` R package convention: index, year and geography
vintage, e.g. ``imd2019_lsoa11``, ``cni2023_lsoa21``, ``lookup_lsoa11_ward17``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Dataset", "DATASETS", "get_dataset", "registry_frame", "OGL", "IOD_DOMAINS"]

OGL = "Open Government Licence v3.0"
_MHCLG = "Ministry of Housing, Communities and Local Government"
_ONS = "Office for National Statistics"
_OCSI = "OCSI for Local Trust"
_IOD2019 = "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2019"
_IOD2025 = "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2025"
_IOD2015 = "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2015"
_IOD_ARCHIVE = "https://webarchive.nationalarchives.gov.uk/"
_GEOPORTAL = "https://geoportal.statistics.gov.uk/"
_SAPE = (
    "https://www.ons.gov.uk/peoplepopulationandcommunity/populationandmigration/"
    "populationestimates/datasets/lowersuperoutputareamidyearpopulationestimates"
)
_CENSUS = "https://www.nomisweb.co.uk/sources/census_2021_bulk"
_CNI = "https://ocsi.uk/2019/10/21/community-needs-index/"

#: The seven IoD domains plus the overall index, in canonical column-prefix form.
IOD_DOMAINS: tuple[str, ...] = (
    "imd",
    "income",
    "employment",
    "education",
    "health",
    "crime",
    "housing",
    "environment",
)


@dataclass(frozen=True)
class Dataset:
    """One official dataset.

    Attributes
    ----------
    id : str
        Warehouse table name and mirror file stem, e.g. ``imd2019_lsoa11``.
    geography : str
        Geography and vintage of the key, e.g. ``lsoa11``; ``None`` for non-area tables.
    key : tuple of str
        Columns that must be unique (after normalisation).
    required : tuple of str
        Canonical columns that must be present.
    url : str or None
        Direct download of the official file. ``None`` where the publisher gives no stable
        file address: ``nlens data fetch`` then says where to get it by hand.
    sha256 : str or None
        Pinned checksum of the official file, when known; downloads are checked against it.
    england_only : bool
        The key must be an English code (``E...``); lookups also cover Wales and Scotland.
    open_data : bool
        ``False`` for data users must supply themselves (OCSI's CNI).
    """

    id: str
    title: str
    publisher: str
    licence: str
    vintage: str
    geography: str | None
    key: tuple[str, ...]
    required: tuple[str, ...]
    landing_page: str
    url: str | None = None
    sha256: str | None = None
    england_only: bool = True
    open_data: bool = True
    geometry: bool = False
    numeric: tuple[str, ...] = field(default=())


def _iod(dom: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{d}_{m}" for d in dom for m in ("score", "rank", "decile"))


_LSOA11 = ("lsoa11_code",)
_LSOA21 = ("lsoa21_code",)
_LSOA01 = ("lsoa01_code",)

_ALL = [
    Dataset(
        "imd2019_lsoa11", "English Indices of Deprivation 2019, File 7 (scores, ranks, deciles)",
        _MHCLG, OGL, "2019", "lsoa11", _LSOA11,
        ("lsoa11_code", "imd_score", "imd_rank", "imd_decile"), _IOD2019,
        url="https://assets.publishing.service.gov.uk/government/uploads/system/uploads/"
        "attachment_data/file/845345/File_7_-_All_IoD2019_Scores__Ranks__Deciles_and_"
        "Population_Denominators_3.csv",
        numeric=_iod(IOD_DOMAINS),
    ),
    Dataset(
        "imd2019_lsoa11_indicators", "English Indices of Deprivation 2019, File 8 (indicators)",
        _MHCLG, OGL, "2019", "lsoa11", _LSOA11, ("lsoa11_code",), _IOD2019,
        url="https://assets.publishing.service.gov.uk/government/uploads/system/uploads/"
        "attachment_data/file/833992/File_8_-_IoD2019_Underlying_Indicators.xlsx",
    ),
    Dataset(
        "imd2019_lsoa11_subdomains", "English Indices of Deprivation 2019, File 4 (sub-domains)",
        _MHCLG, OGL, "2019", "lsoa11", _LSOA11, ("lsoa11_code",), _IOD2019,
    ),
    Dataset(
        "imd2025_lsoa21", "English Indices of Deprivation 2025, File 7 (scores, ranks, deciles)",
        _MHCLG, OGL, "2025", "lsoa21", _LSOA21,
        ("lsoa21_code", "imd_score", "imd_rank", "imd_decile"), _IOD2025,
        url="https://assets.publishing.service.gov.uk/media/68ff5daabcb10f6bf9bef911/"
        "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv",
        numeric=_iod(IOD_DOMAINS),
    ),
    Dataset(
        "imd2025_lsoa21_subdomains", "English Indices of Deprivation 2025 (sub-domains)",
        _MHCLG, OGL, "2025", "lsoa21", _LSOA21, ("lsoa21_code",), _IOD2025,
    ),
    Dataset(
        "imd2015_lsoa11", "English Indices of Deprivation 2015, File 1 (IMD)",
        _MHCLG, OGL, "2015", "lsoa11", _LSOA11,
        ("lsoa11_code", "imd_score", "imd_rank", "imd_decile"), _IOD2015,
    ),
    Dataset(
        "imd2010_lsoa01", "English Indices of Deprivation 2010", "Department for Communities "
        "and Local Government", OGL, "2010", "lsoa01", _LSOA01,
        ("lsoa01_code", "imd_score", "imd_rank", "imd_decile"), _IOD_ARCHIVE,
    ),
    Dataset(
        "imd2007_lsoa01", "English Indices of Deprivation 2007", "Department for Communities "
        "and Local Government", OGL, "2007", "lsoa01", _LSOA01,
        ("lsoa01_code", "imd_score", "imd_rank", "imd_decile"), _IOD_ARCHIVE,
    ),
    Dataset(
        "imd2004_lsoa01", "English Indices of Deprivation 2004", "Office of the Deputy Prime "
        "Minister", OGL, "2004", "lsoa01", _LSOA01,
        ("lsoa01_code", "imd_score", "imd_rank", "imd_decile"), _IOD_ARCHIVE,
    ),
    Dataset(
        "cni2019_ward17", "Community Needs Index 2019 (wards, 2017 boundaries)", _OCSI,
        "OCSI licence (not open data; research use)", "2019", "ward17", ("ward17_code",),
        ("ward17_code", "cni_score", "cni_rank"), _CNI, open_data=False,
    ),
    Dataset(
        "cni2023_lsoa21", "Community Needs Index 2023 (LSOA 2021)", _OCSI,
        "OCSI licence (not open data; research use)", "2023", "lsoa21", _LSOA21,
        ("lsoa21_code", "cni_score", "cni_rank"), _CNI, open_data=False,
    ),
    Dataset(
        "population2019_lsoa11", "Lower layer Super Output Area population estimates, mid-2019",
        _ONS, OGL, "2019", "lsoa11", _LSOA11, ("lsoa11_code", "population"), _SAPE,
    ),
    Dataset(
        "population2020_lsoa11", "Lower layer Super Output Area population estimates, mid-2020",
        _ONS, OGL, "2020", "lsoa11", _LSOA11, ("lsoa11_code", "population"), _SAPE,
    ),
    Dataset(
        "census2021_population_lsoa21", "Census 2021 usual residents (TS001/TS021 totals)",
        _ONS, OGL, "2021", "lsoa21", _LSOA21, ("lsoa21_code", "population"), _CENSUS,
    ),
    Dataset(
        "census2021_household_deprivation_lsoa21", "Census 2021 household deprivation (TS011)",
        _ONS, OGL, "2021", "lsoa21", _LSOA21, ("lsoa21_code", "households_total"), _CENSUS,
    ),
    Dataset(
        "lookup_lsoa11_ward17", "LSOA (2011) to ward (2017) best-fit lookup", _ONS, OGL,
        "2017", "lsoa11", _LSOA11, ("lsoa11_code", "ward17_code"), _GEOPORTAL,
        england_only=False,
    ),
    Dataset(
        "lookup_lsoa11_msoa11", "LSOA (2011) to MSOA (2011) lookup", _ONS, OGL, "2011",
        "lsoa11", _LSOA11, ("lsoa11_code", "msoa11_code"), _GEOPORTAL, england_only=False,
    ),
    Dataset(
        "lookup_lsoa11_lad19", "LSOA (2011) to local authority district (2019) lookup", _ONS,
        OGL, "2019", "lsoa11", _LSOA11, ("lsoa11_code", "lad19_code"), _GEOPORTAL,
        england_only=False,
    ),
    Dataset(
        "lookup_lad19_region19", "Local authority district (2019) to region lookup", _ONS, OGL,
        "2019", "lad19", ("lad19_code",), ("lad19_code", "region19_code", "region19_name"),
        _GEOPORTAL,
    ),
    Dataset(
        "lookup_lsoa21_ward24_lad24", "LSOA (2021) to ward (2024) to LAD (2024) lookup", _ONS,
        OGL, "2024", "lsoa21", _LSOA21, ("lsoa21_code", "ward24_code", "lad24_code"),
        _GEOPORTAL, england_only=False,
    ),
    Dataset(
        "lookup_lad24_region24", "Local authority district (2024) to region lookup", _ONS, OGL,
        "2024", "lad24", ("lad24_code",), ("lad24_code", "region24_code", "region24_name"),
        _GEOPORTAL,
    ),
    Dataset(
        "lookup_lsoa01_lsoa11", "LSOA (2001) to LSOA (2011) lookup with change codes", _ONS,
        OGL, "2011", "lsoa01", ("lsoa01_code", "lsoa11_code"),
        ("lsoa01_code", "lsoa11_code", "change_code"), _GEOPORTAL, england_only=False,
    ),
    Dataset(
        "lookup_lsoa11_lsoa21_lad22", "LSOA (2011) to LSOA (2021) to LAD (2022) lookup with "
        "change codes", _ONS, OGL, "2021", "lsoa11", ("lsoa11_code", "lsoa21_code"),
        ("lsoa11_code", "lsoa21_code", "change_code"), _GEOPORTAL, england_only=False,
    ),
    Dataset(
        "ruc2011_lsoa11", "Rural-urban classification 2011 (LSOA)", _ONS, OGL, "2011",
        "lsoa11", _LSOA11, ("lsoa11_code", "ruc11_code"), _GEOPORTAL, england_only=False,
    ),
    Dataset(
        "ruc2021_lsoa21", "Rural-urban classification 2021 (LSOA)", _ONS, OGL, "2021",
        "lsoa21", _LSOA21, ("lsoa21_code", "ruc21_code"), _GEOPORTAL, england_only=False,
    ),
    Dataset(
        "boundaries_lsoa11", "LSOA (December 2011) boundaries, generalised, England and Wales",
        _ONS, OGL + "; contains OS data (c) Crown copyright", "2011", "lsoa11", _LSOA11,
        ("lsoa11_code", "geometry"), _GEOPORTAL, england_only=False, geometry=True,
    ),
    Dataset(
        "boundaries_lsoa21", "LSOA (December 2021) boundaries, generalised, England and Wales",
        _ONS, OGL + "; contains OS data (c) Crown copyright", "2021", "lsoa21", _LSOA21,
        ("lsoa21_code", "geometry"), _GEOPORTAL, england_only=False, geometry=True,
    ),
    Dataset(
        "boundaries_lad24", "Local authority districts (May 2024) boundaries, UK", _ONS,
        OGL + "; contains OS data (c) Crown copyright", "2024", "lad24", ("lad24_code",),
        ("lad24_code", "geometry"), _GEOPORTAL, england_only=False, geometry=True,
    ),
]

#: Every dataset, by id, in build order.
DATASETS: dict[str, Dataset] = {d.id: d for d in _ALL}


def get_dataset(dataset_id: str) -> Dataset:
    """Return the registry entry for ``dataset_id`` or raise a helpful ``KeyError``."""
    try:
        return DATASETS[dataset_id]
    except KeyError:
        raise KeyError(
            f"unknown dataset {dataset_id!r}; known datasets: {', '.join(DATASETS)}"
        ) from None


def registry_frame() -> pd.DataFrame:
    """The registry as a table (one row per dataset), for ``nlens data sources``."""
    rows = [
        {
            "id": d.id,
            "title": d.title,
            "publisher": d.publisher,
            "licence": d.licence,
            "vintage": d.vintage,
            "geography": d.geography,
            "url": d.url or d.landing_page,
            "direct_download": d.url is not None,
            "open_data": d.open_data,
            "required_columns": ",".join(d.required),
        }
        for d in _ALL
    ]
    return pd.DataFrame(rows)
