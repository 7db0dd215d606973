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

__all__ = ["Source", "Dataset", "DATASETS", "get_dataset", "registry_frame", "OGL", "IOD_DOMAINS", "ARCGIS",
           "FORMATS", "CNI_REDISTRIBUTIONS"]

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


#: The ONS Open Geography Portal's ArcGIS REST services (``<ARCGIS>/<SERVICE>/FeatureServer/0``).
ARCGIS = "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services"
_HUB = "https://open-geography-portalx-ons.hub.arcgis.com/api/download/v1/items"
_ASSETS = "https://assets.publishing.service.gov.uk"
_UKGWA = "https://webarchive.nationalarchives.gov.uk/ukgwa"
_ONS_FILE = (
    "https://www.ons.gov.uk/file?uri=%2fpeoplepopulationandcommunity%2fpopulationandmigration%2f"
    "populationestimates%2fdatasets%2flowersuperoutputareamidyearpopulationestimates%2f"
)

#: How a publisher's file is read: ``csv``, ``xlsx``, ``xls``, ``ods``, ``zip`` (a member named by
#: ``Source.member``, itself any of these), ``arcgis`` (a paged FeatureServer layer, attributes
#: only), ``arcgis-geojson`` (paged, with geometry in WGS84), ``nomis`` (a Nomis API ``.data.csv``
#: query, paged with ``RecordOffset`` past the 25,000-row cap and pivoted to one row per area),
#: ``statxplore`` (a DWP Stat-Xplore CSV export, areas by name: :mod:`.statxplore`) and ``geojson``
#: (one GeoJSON file, e.g. the ONS hub download API's ``.../geojson?layers=0``).
FORMATS = ("csv", "xlsx", "xls", "ods", "zip", "arcgis", "arcgis-geojson", "parquet", "nomis", "statxplore",
           "geojson")


@dataclass(frozen=True)
class Source:
    """One address a dataset can be downloaded from, and how to read what it returns.

    Attributes
    ----------
    url : str
        The file, or for ``arcgis`` formats the layer (``.../FeatureServer/0``).
    format : str
        One of :data:`FORMATS`.
    member : str or None
        For ``zip``: the member to read (the archive's only CSV/XLSX when ``None``).
    sheet : str or None
        For workbooks: the sheet to read; ``None`` reads every sheet with the key (see
        :func:`neighbourhood_lens.data.build.read_source`).
    skip : int
        Rows above the header in the sheet (ONS and Defra put titles there).
    usecols : str or None
        1-based columns to keep, e.g. ``"1,35-52"`` (IoD2025 File 7 holds the sub-domains).
    sha256 : str or None
        Pinned checksum where the file is fixed (a published asset); ``None`` where it is
        generated on request (ArcGIS layers, hub downloads), which are checked by row count
        and schema instead.
    where : str
        ArcGIS ``where`` clause (e.g. ``LAD24CD LIKE 'E%'``).
    dedupe : bool
        ArcGIS: keep one row per distinct value of the dataset key (an OA-level lookup read
        for its LSOA columns).
    out_fields : str
        ArcGIS ``outFields``.
    rows : int or None
        Expected rows, for an address from a user's sources file (the registry's own
        addresses use :attr:`Dataset.expected_rows`).
    year : int or None
        The data year of one part of a dataset published as one file per year (DESNZ fuel
        poverty): a sources file lists them under ``parts`` (see :mod:`.download`).
    """

    url: str
    format: str = "csv"
    member: str | None = None
    sheet: str | None = None
    skip: int = 0
    usecols: str | None = None
    sha256: str | None = None
    where: str = "1=1"
    dedupe: bool = False
    out_fields: str = "*"
    rows: int | None = None
    year: int | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown source format {self.format!r}; use one of {', '.join(FORMATS)}")


def _arcgis(service: str, *, geojson: bool = False, **kw: object) -> Source:
    return Source(f"{ARCGIS}/{service}/FeatureServer/0", "arcgis-geojson" if geojson else "arcgis", **kw)  # type: ignore[arg-type]


def _asset(path: str, fmt: str = "csv", **kw: object) -> Source:
    return Source(f"{_ASSETS}/{path}", fmt, **kw)  # type: ignore[arg-type]


#: Public copies of OCSI's CNI (official-sources.md, section 2). Never downloaded unless the
#: user names one (``--sources`` or ``--url``); the licence for redistribution is unstated.
CNI_REDISTRIBUTIONS = {
    "cni2019_ward17": (
        "https://raw.githubusercontent.com/humaniverse/IMD/master/data-raw/cni2019_england_ward17.csv",
        "https://github.com/britishredcrosssociety/covid-19-vulnerability/raw/master/data/community-needs-ward.csv",
    ),
    "cni2023_lsoa21": (
        "https://raw.githubusercontent.com/humaniverse/IMD/master/data-raw/cni2023_england_lsoa21.csv",
    ),
}
CNI_CAVEAT = (
    "OCSI's Community Needs Index is not open data; this copy was supplied by the user (OCSI's layout or a "
    "public redistribution such as humaniverse/IMD data-raw, whose licence for redistribution is unstated)"
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
    sources : tuple of Source
        Where to download it, best first; later entries are fallbacks (older asset ids,
        earlier service versions, the FeatureServer behind a hub download).
    expected_rows : int or None
        Rows the official file has (before any filter to England), checked after download
        where the file is generated rather than fixed.
    no_url_reason : str or None
        Why there is no direct address, for ``nlens data sources``.
    england_filter : bool
        The publisher's file covers England and Wales: keep the English rows (the count of
        others is recorded in provenance).
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
    sources: tuple[Source, ...] = ()
    expected_rows: int | None = None
    no_url_reason: str | None = None
    england_filter: bool = False

    def __post_init__(self) -> None:
        if self.sources and self.url is None:
            object.__setattr__(self, "url", self.sources[0].url)
        elif self.url is not None and not self.sources:
            fmt = "xlsx" if self.url.endswith(".xlsx") else "csv"
            object.__setattr__(self, "sources", (Source(self.url, fmt, sha256=self.sha256),))


def _iod(dom: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{d}_{m}" for d in dom for m in ("score", "rank", "decile"))


_F7_2025 = "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv"
_F7_2015 = (
    "File_7_ID_2015_All_ranks__deciles_and_scores_for_the_Indices_of_Deprivation__and_population_denominators.csv"
)
_LSOA11 = ("lsoa11_code",)
_LSOA21 = ("lsoa21_code",)
_LSOA01 = ("lsoa01_code",)

_ALL = [
    Dataset(
        "imd2019_lsoa11", "English Indices of Deprivation 2019, File 7 (scores, ranks, deciles)",
        _MHCLG, OGL, "2019", "lsoa11", _LSOA11,
        ("lsoa11_code", "imd_score", "imd_rank", "imd_decile"), _IOD2019,
        sources=(
            _asset("media/5dc407b440f0b6379a7acc8d/File_7_-_All_IoD2019_Scores__Ranks__Deciles_and_"
                   "Population_Denominators_3.csv"),
            _asset("government/uploads/system/uploads/attachment_data/file/845345/File_7_-_All_IoD2019_Scores__"
                   "Ranks__Deciles_and_Population_Denominators_3.csv"),
        ),
        expected_rows=32844, numeric=_iod(IOD_DOMAINS),
    ),
    Dataset(
        "imd2019_lsoa11_indicators", "English Indices of Deprivation 2019, File 8 (indicators)",
        _MHCLG, OGL, "2019", "lsoa11", _LSOA11, ("lsoa11_code",), _IOD2019,
        sources=(
            _asset("media/5d8b3cd740f0b609909b590a/File_8_-_IoD2019_Underlying_Indicators.xlsx", "xlsx"),
            _asset("government/uploads/system/uploads/attachment_data/file/833992/File_8_-_IoD2019_Underlying_"
                   "Indicators.xlsx", "xlsx"),
        ),
        expected_rows=32844,
    ),
    Dataset(
        "imd2019_lsoa11_subdomains", "English Indices of Deprivation 2019, File 4 (sub-domains)",
        _MHCLG, OGL, "2019", "lsoa11", _LSOA11, ("lsoa11_code",), _IOD2019,
        sources=(
            _asset("government/uploads/system/uploads/attachment_data/file/833976/File_4_-_IoD2019_Sub-domains_"
                   "of_Deprivation.xlsx", "xlsx", sheet="IoD2019 Sub-domains"),
            _asset("media/5d8b3b24ed915d0373d35410/File_4_-_IoD2019_Sub-domains_of_Deprivation.xlsx", "xlsx",
                   sheet="IoD2019 Sub-domains"),
        ),
        expected_rows=32844,
    ),
    Dataset(
        "imd2025_lsoa21", "English Indices of Deprivation 2025, File 7 (scores, ranks, deciles)",
        _MHCLG, OGL, "2025", "lsoa21", _LSOA21,
        ("lsoa21_code", "imd_score", "imd_rank", "imd_decile"), _IOD2025,
        sources=(
            _asset("media/691ded56d140bbbaa59a2a7d/" + _F7_2025),
            _asset("media/68ff5daabcb10f6bf9bef911/" + _F7_2025),
        ),
        expected_rows=33755, numeric=_iod(IOD_DOMAINS),
    ),
    Dataset(
        "imd2025_lsoa21_subdomains", "English Indices of Deprivation 2025 (sub-domains)",
        _MHCLG, OGL, "2025", "lsoa21", _LSOA21, ("lsoa21_code",), _IOD2025,
        # File 7 holds the six sub-domain score/rank/decile triples in columns 35-52.
        sources=(
            _asset("media/691ded56d140bbbaa59a2a7d/" + _F7_2025, usecols="1,35-52"),
            _asset("media/68ff5daabcb10f6bf9bef911/" + _F7_2025, usecols="1,35-52"),
        ),
        expected_rows=33755,
    ),
    Dataset(
        "imd2015_lsoa11", "English Indices of Deprivation 2015, File 1 (IMD)",
        _MHCLG, OGL, "2015", "lsoa11", _LSOA11,
        ("lsoa11_code", "imd_score", "imd_rank", "imd_decile"), _IOD2015,
        sources=(
            _asset("media/5a7ffd55ed915d74e33f7ca4/" + _F7_2015),
            _asset("government/uploads/system/uploads/attachment_data/file/467774/" + _F7_2015),
        ),
        expected_rows=32844,
    ),
    Dataset(
        "imd2010_lsoa01", "English Indices of Deprivation 2010", "Department for Communities "
        "and Local Government", OGL, "2010", "lsoa01", _LSOA01,
        ("lsoa01_code", "imd_score", "imd_rank", "imd_decile"), _IOD_ARCHIVE,
        sources=(_asset("media/5a78b02440f0b62b22cbbfe9/1871702.csv"),), expected_rows=32482,
    ),
    Dataset(
        "imd2007_lsoa01", "English Indices of Deprivation 2007", "Department for Communities "
        "and Local Government", OGL, "2007", "lsoa01", _LSOA01,
        ("lsoa01_code", "imd_score", "imd_rank", "imd_decile"), _IOD_ARCHIVE,
        sources=(Source(f"{_UKGWA}/20100411141238mp_/http://www.communities.gov.uk/documents/communities/zip/"
                        "indices2007.zip", "zip", member="IMD 2007 for DCLG 4 dec.xls", sheet="IMD 2007"),),
        expected_rows=32482,
    ),
    Dataset(
        "imd2004_lsoa01", "English Indices of Deprivation 2004", "Office of the Deputy Prime "
        "Minister", OGL, "2004", "lsoa01", _LSOA01,
        ("lsoa01_code", "imd_score", "imd_rank", "imd_decile"), _IOD_ARCHIVE,
        sources=(Source(f"{_UKGWA}/20100407164233mp_/http://www.communities.gov.uk/documents/communities/zip/"
                        "soalevelid.zip", "zip", member="SOA levelid2004.xls", sheet="IMD 2004"),),
        expected_rows=32482,
    ),
    Dataset(
        "cni2019_ward17", "Community Needs Index 2019 (wards, 2017 boundaries)", _OCSI,
        "OCSI licence (not open data; research use)", "2019", "ward17", ("ward17_code",),
        ("ward17_code", "cni_score", "cni_rank"), _CNI, open_data=False,
        no_url_reason="not open data: OCSI publishes it only in Local Insight (subscription); supply your copy",
    ),
    Dataset(
        "cni2023_lsoa21", "Community Needs Index 2023 (LSOA 2021)", _OCSI,
        "OCSI licence (not open data; research use)", "2023", "lsoa21", _LSOA21,
        ("lsoa21_code", "cni_score", "cni_rank"), _CNI, open_data=False,
        no_url_reason="not open data: OCSI publishes it only in Local Insight (subscription); supply your copy",
    ),
    Dataset(
        "population2019_lsoa11", "Lower layer Super Output Area population estimates, mid-2019",
        _ONS, OGL, "2019", "lsoa11", _LSOA11, ("lsoa11_code", "population"), _SAPE,
        sources=(Source(_ONS_FILE + "mid2019sape22dt2/sape22dt2mid2019lsoasyoaestimatesunformatted.zip", "zip",
                        member="SAPE22DT2-mid-2019-lsoa-syoa-estimates-unformatted.xlsx",
                        sheet="Mid-2019 Persons", skip=4),),
        england_filter=True,
    ),
    Dataset(
        "population2020_lsoa11", "Lower layer Super Output Area population estimates, mid-2020",
        _ONS, OGL, "2020", "lsoa11", _LSOA11, ("lsoa11_code", "population"), _SAPE,
        sources=(Source(_ONS_FILE + "mid2020sape23dt2/sape23dt2mid2020lsoasyoaestimatesunformatted.xlsx", "xlsx",
                        sheet="Mid-2020 Persons", skip=4),),
        england_filter=True,
    ),
    Dataset(
        "census2021_population_lsoa21", "Census 2021 usual residents (TS001/TS021 totals)",
        _ONS, OGL, "2021", "lsoa21", _LSOA21, ("lsoa21_code", "population"), _CENSUS,
        sources=(Source("https://www.nomisweb.co.uk/output/census/2021/census2021-ts001.zip", "zip",
                        member="census2021-ts001-lsoa.csv"),),
        england_filter=True,
    ),
    Dataset(
        "census2021_household_deprivation_lsoa21", "Census 2021 household deprivation (TS011)",
        _ONS, OGL, "2021", "lsoa21", _LSOA21, ("lsoa21_code", "households_total"), _CENSUS,
        sources=(Source("https://www.nomisweb.co.uk/output/census/2021/census2021-ts011.zip", "zip",
                        member="census2021-ts011-lsoa.csv"),),
        england_filter=True,
    ),
    Dataset(
        "lookup_lsoa11_ward17", "LSOA (2011) to ward (2017) best-fit lookup", _ONS, OGL,
        "2017", "lsoa11", _LSOA11, ("lsoa11_code", "ward17_code"), _GEOPORTAL,
        england_only=False, sources=(_arcgis("LSOA11_WD17_EW_LU_c65dfe9ca2fa4b0fa578b65a4d5c9856"),),
        expected_rows=34753,
    ),
    Dataset(
        "lookup_lsoa11_msoa11", "LSOA (2011) to MSOA (2011) lookup", _ONS, OGL, "2011",
        "lsoa11", _LSOA11, ("lsoa11_code", "msoa11_code"), _GEOPORTAL, england_only=False,
        # An OA-level layer (181,408 rows): read its LSOA and MSOA columns, one row per LSOA.
        sources=(_arcgis("OA11_LSOA11_MSOA11_LAD11_EW_LUv2_b3fe7c68f4b2420185eaff6284d4c125", dedupe=True,
                         out_fields="LSOA11CD,LSOA11NM,MSOA11CD,MSOA11NM"),),
    ),
    Dataset(
        "lookup_lsoa11_lad19", "LSOA (2011) to local authority district (2019) lookup", _ONS,
        OGL, "2019", "lsoa11", _LSOA11, ("lsoa11_code", "lad19_code"), _GEOPORTAL,
        england_only=False, sources=(_arcgis("LSOA11_WD19_LAD19_EW_LU"),), expected_rows=34753,
    ),
    Dataset(
        "lookup_lad19_region19", "Local authority district (2019) to region lookup", _ONS, OGL,
        "2019", "lad19", ("lad19_code",), ("lad19_code", "region19_code", "region19_name"),
        _GEOPORTAL, sources=(_arcgis("LAD19_RGN19_EN_LU_948748b0eaa54fe888a604b126f5e672"),),
        expected_rows=317,
    ),
    Dataset(
        "lookup_lsoa21_ward24_lad24", "LSOA (2021) to ward (2024) to LAD (2024) lookup", _ONS,
        OGL, "2024", "lsoa21", _LSOA21, ("lsoa21_code", "ward24_code", "lad24_code"),
        _GEOPORTAL, england_only=False, sources=(_arcgis("LSOA21_WD24_LAD24_EW_LU"),), expected_rows=35672,
    ),
    Dataset(
        "lookup_lad24_region24", "Local authority district (2024) to region lookup", _ONS, OGL,
        "2024", "lad24", ("lad24_code",), ("lad24_code", "region24_code", "region24_name"),
        _GEOPORTAL,
        sources=(Source(f"{_HUB}/3959874c514b470e9dd160acdc00c97a/csv?layers=0"), _arcgis("LAD24_RGN24_EN_LU")),
        expected_rows=296,
    ),
    Dataset(
        "lookup_lsoa01_lsoa11", "LSOA (2001) to LSOA (2011) lookup with change codes", _ONS,
        OGL, "2011", "lsoa01", ("lsoa01_code", "lsoa11_code"),
        ("lsoa01_code", "lsoa11_code", "change_code"), _GEOPORTAL, england_only=False,
        sources=(_arcgis("LSOA01_LSOA11_LAD11_EW_LU_ddfe1cd1c2784c9b991cded95bc915a9"),),
    ),
    Dataset(
        "lookup_lsoa11_lsoa21_lad22", "LSOA (2011) to LSOA (2021) to LAD (2022) lookup with "
        "change codes", _ONS, OGL, "2021", "lsoa11", ("lsoa11_code", "lsoa21_code"),
        ("lsoa11_code", "lsoa21_code", "change_code"), _GEOPORTAL, england_only=False,
        sources=(Source(f"{_HUB}/cbfe64cc03d74af982c1afec639bafd1/csv?layers=0"),
                 _arcgis("LSOA11_LSOA21_LAD22_EW_LU_v5")),
        expected_rows=35796,
    ),
    Dataset(
        "ruc2011_lsoa11", "Rural-urban classification 2011 (LSOA)", _ONS, OGL, "2011",
        "lsoa11", _LSOA11, ("lsoa11_code", "ruc11_code"), _GEOPORTAL, england_only=False,
        sources=(_asset("media/611bc076e90e0705464fa420/Rural_Urban_Classification_2011_lookup_tables_for_small_"
                        "area_geographies.ods", "ods", sheet="LSOA11", skip=2),),
        expected_rows=34753,
    ),
    Dataset(
        "ruc2021_lsoa21", "Rural-urban classification 2021 (LSOA)", _ONS, OGL, "2021",
        "lsoa21", _LSOA21, ("lsoa21_code", "ruc21_code"), _GEOPORTAL, england_only=False,
        sources=(_arcgis("LSOA21_RUC21_EW_LU"),), expected_rows=35672,
    ),
    Dataset(
        "boundaries_lsoa11", "LSOA (December 2011) boundaries, generalised, England and Wales",
        _ONS, OGL + "; contains OS data (c) Crown copyright", "2011", "lsoa11", _LSOA11,
        ("lsoa11_code", "geometry"), _GEOPORTAL, england_only=False, geometry=True,
        sources=(_arcgis("LSOA_Dec_2011_Boundaries_Generalised_Clipped_BGC_EW_V3", geojson=True),
                 _arcgis("LSOA_Dec_2011_Boundaries_Generalised_Clipped_BGC_EW_V3_2022", geojson=True),
                 _arcgis("LSOA_2011_Boundaries_Super_Generalised_Clipped_BSC_EW_V4", geojson=True)),
        expected_rows=34753,
    ),
    Dataset(
        "boundaries_lsoa21", "LSOA (December 2021) boundaries, generalised, England and Wales",
        _ONS, OGL + "; contains OS data (c) Crown copyright", "2021", "lsoa21", _LSOA21,
        ("lsoa21_code", "geometry"), _GEOPORTAL, england_only=False, geometry=True,
        sources=(_arcgis("Lower_layer_Super_Output_Areas_December_2021_Boundaries_EW_BGC_V5", geojson=True),
                 _arcgis("Lower_layer_Super_Output_Areas_2021_EW_BGC_V3", geojson=True),
                 _arcgis("Lower_layer_Super_Output_Areas_December_2021_Boundaries_EW_BSC_V4", geojson=True)),
        expected_rows=35672,
    ),
    Dataset(
        "boundaries_lad24", "Local authority districts (May 2024) boundaries, UK", _ONS,
        OGL + "; contains OS data (c) Crown copyright", "2024", "lad24", ("lad24_code",),
        ("lad24_code", "geometry"), _GEOPORTAL, england_only=False, geometry=True,
        sources=(_arcgis("Local_Authority_Districts_May_2024_Boundaries_UK_BUC", geojson=True),
                 _arcgis("Local_Authority_Districts_May_2024_Boundaries_UK_BGC", geojson=True)),
        expected_rows=361,
    ),
]

# -- Outcome statistics (issue 18; official-sources.md, section 8) ------------------------
# Landing pages where no stable file address is known: the entry says why in no_url_reason.
_LANDING = "landing page; file link changes each release"
_FUEL = "https://www.gov.uk/government/collections/fuel-poverty-sub-regional-statistics"
_INSOLVENCY = ("https://www.gov.uk/government/statistics/individual-insolvencies-by-location-age-and-gender-"
               "england-and-wales-2022")
_CILIF = "https://www.gov.uk/government/collections/children-in-low-income-families-local-area-statistics"
_STATXPLORE = "https://stat-xplore.dwp.gov.uk/"
_DWP = "Department for Work and Pensions"
_NOMIS21 = "https://www.nomisweb.co.uk/output/census/2021"
_F8_2025 = "File_8_IoD2025_Underlying_Indicators.xlsx"

#: The outcome datasets, one contiguous block (see docs/outcomes.md for what each measures).
_OUTCOMES = [
    Dataset(
        "imd2025_lsoa21_indicators", "English Indices of Deprivation 2025, File 8 (underlying indicators)",
        _MHCLG, OGL, "2025", "lsoa21", _LSOA21, ("lsoa21_code",), _IOD2025,
        sources=(_asset("media/691dec012c6b98ecdbc500d4/" + _F8_2025, "xlsx"),
                 _asset("media/6900df8dab5cc9c8937994e6/" + _F8_2025, "xlsx")),
        expected_rows=33755,
    ),
    Dataset(
        "fuel_poverty_lsoa", "Sub-regional fuel poverty statistics, LSOA tables, data years 2011-2022 (long)",
        "Department for Energy Security and Net Zero", OGL, "2011-2022", "lsoa01/lsoa11/lsoa21",
        ("lsoa_code", "year"),
        ("year", "measure", "lsoa_vintage", "lsoa_code", "households", "fuel_poor_households"), _FUEL,
        no_url_reason=_LANDING + " (one workbook per data year, sheet 'Table 3'; measure LIHC to 2018, "
        "LILEE from 2019; LSOA 2001 codes for 2011, 2011 codes for 2012-2020, 2021 codes from 2021)",
    ),
    Dataset(
        "insolvencies_ward", "Individual insolvencies by ward (December 2021 wards), 2012-2022 (long)",
        "The Insolvency Service", OGL, "2022", "ward21", ("ward21_code", "year", "type"),
        ("ward21_code", "year", "type", "insolvencies"), _INSOLVENCY, england_only=False,
        no_url_reason=_LANDING + " (the ward CSV is linked from the release page; series at "
        "https://www.gov.uk/government/collections/individual-insolvency-statistics-releases)",
    ),
    Dataset(
        "children_low_income_msoa11", "Children in relative low income families by MSOA 2011, FYE 2015-2022",
        _DWP, OGL, "2022", "msoa11", ("msoa11_code", "year"),
        ("msoa11_code", "year", "children_relative_low_income"), _CILIF,
        no_url_reason="no file URL: a Stat-Xplore export (" + _STATXPLORE + ", needs an API key for the API); "
        + _LANDING + "; give your CSV export in a sources file (format = \"statxplore\") or with --file",
    ),
    Dataset(
        "uc_households_msoa11", "Households on Universal Credit by MSOA 2011, monthly 2015-08 to 2023-11",
        _DWP, OGL, "2023", "msoa11", ("msoa11_code", "month"), ("msoa11_code", "month", "households_on_uc"),
        _STATXPLORE,
        no_url_reason="no file URL: a Stat-Xplore export (dataset 'Households on Universal Credit'; the API "
        "needs a key); give your CSV export in a sources file (format = \"statxplore\") or with --file",
    ),
    Dataset(
        "census2011_household_deprivation_lsoa11", "Census 2011 households by deprivation dimensions (QS119EW)",
        _ONS, OGL, "2011", "lsoa11", _LSOA11, ("lsoa11_code", "households_total"),
        "https://www.nomisweb.co.uk/census/2011/qs119ew", england_only=False,
        # no bulk file: the Nomis API (official-sources.md section 8), paged past its 25,000-row cap
        sources=(Source("https://www.nomisweb.co.uk/api/v01/dataset/NM_519_1.data.csv?date=latest&geography=TYPE298"
                        "&rural_urban=0&c_deprived=0...5&measures=20100", "nomis"),),
        expected_rows=34753,
    ),
    Dataset(
        "census2021_disability_lsoa21", "Census 2021 disability under the Equality Act (TS038)",
        _ONS, OGL, "2021", "lsoa21", _LSOA21, ("lsoa21_code", "residents_total", "residents_disabled"),
        _CENSUS, england_only=False,
        sources=(Source(f"{_NOMIS21}/census2021-ts038.zip", "zip", member="census2021-ts038-lsoa.csv"),),
    ),
    Dataset(
        "census2021_overcrowding_lsoa21", "Census 2021 occupancy rating for bedrooms (TS052)",
        _ONS, OGL, "2021", "lsoa21", _LSOA21,
        ("lsoa21_code", "households_total", "households_occupancy_minus_1", "households_occupancy_minus_2_or_less"),
        _CENSUS, england_only=False,
        sources=(Source(f"{_NOMIS21}/census2021-ts052.zip", "zip", member="census2021-ts052-lsoa.csv"),),
    ),
    Dataset(
        "census2021_tenure_lsoa21", "Census 2021 tenure of households (TS054)",
        _ONS, OGL, "2021", "lsoa21", _LSOA21,
        ("lsoa21_code", "households_total", "households_social_rented_council", "households_social_rented_other"),
        _CENSUS, england_only=False,
        sources=(Source(f"{_NOMIS21}/census2021-ts054.zip", "zip", member="census2021-ts054-lsoa.csv"),),
    ),
    Dataset(
        "boundaries_ward21", "Wards (December 2021) boundaries, generalised, England and Wales",
        _ONS, OGL + "; contains OS data (c) Crown copyright", "2021", "ward21", ("ward21_code",),
        ("ward21_code", "geometry"), "https://geoportal.statistics.gov.uk/datasets/wards-december-2021-uk-bsc/explore",
        england_only=False, geometry=True,
        no_url_reason=_LANDING + " (ONS Open Geography Portal; FeatureServer service name not confirmed): give "
        "the GeoJSON download (or the hub download API's .../geojson form) in a sources file or with --file",
    ),
]
_ALL += _OUTCOMES

#: Every dataset, by id, in build order.
DATASETS: dict[str, Dataset] = {d.id: d for d in _ALL}


def get_dataset(dataset_id: str) -> Dataset:
    """Return the registry entry for ``dataset_id``, or raise :class:`~neighbourhood_lens.errors.UnknownNameError`
    (a ``KeyError``) in one line naming the closest ids, or all of them.

    >>> get_dataset("cni2019")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    neighbourhood_lens.errors.UnknownNameError: unknown dataset id 'cni2019'; did you mean cni2019_ward17? ...
    """
    try:
        return DATASETS[dataset_id]
    except KeyError:
        import difflib

        from ..errors import UnknownNameError

        text = str(dataset_id).lower()
        close = [d for d in DATASETS if d.startswith(text) or (len(text) >= 4 and text in d)]
        close += [d for d in difflib.get_close_matches(text, DATASETS, n=3, cutoff=0.6) if d not in close]
        hint = (f"did you mean {' or '.join(close[:4])}? (every id: `nlens data sources`)" if close
                else f"known ids: {', '.join(list(DATASETS)[:3])}, ... ({len(DATASETS)} in all: `nlens data sources`)")
        raise UnknownNameError(f"unknown dataset id {dataset_id!r}; {hint}") from None


def registry_frame() -> pd.DataFrame:
    """The registry as a table (one row per dataset), for ``nlens data sources``.

    ``direct_download`` says whether there is a machine address for the file itself (not a
    landing page); ``no_url_reason`` says why not where there is none.

    >>> frame = registry_frame()
    >>> bool((frame["direct_download"] | (frame["no_url_reason"] != "")).all())
    True
    """
    rows = [
        {
            "id": d.id,
            "title": d.title,
            "publisher": d.publisher,
            "licence": d.licence,
            "vintage": d.vintage,
            "geography": d.geography,
            "url": d.url or d.landing_page,
            "format": d.sources[0].format if d.sources else "",
            "fallbacks": " ".join(s.url for s in d.sources[1:]),
            "sha256": d.sources[0].sha256 or "" if d.sources else "",
            "expected_rows": d.expected_rows,
            "direct_download": d.url is not None,
            "no_url_reason": d.no_url_reason or "",
            "open_data": d.open_data,
            "required_columns": ",".join(d.required),
        }
        for d in _ALL
    ]
    frame = pd.DataFrame(rows)
    frame["expected_rows"] = frame["expected_rows"].astype("Int64")
    return frame
