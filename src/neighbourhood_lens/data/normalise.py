"""Normalisers: map each official file's headers to our snake_case columns.

One normaliser per dataset id (``NORMALISERS``). Each takes the list of headers found in
the file and returns ``{header: canonical_name}``. They accept both the publisher's own
headers (e.g. IoD2019 File 7: ``LSOA code (2011)``,
``Index of Multiple Deprivation (IMD) Score``) and the column names used by the Parquet
mirror (``IMD_score``), so a file from either source lands in the same warehouse columns.
Unrecognised headers are kept, converted to snake_case, so no data is lost.

Canonical columns
-----------------
``<geo><yy>_code`` / ``<geo><yy>_name``
    Area codes and names with vintage, e.g. ``lsoa11_code``, ``ward17_name``, ``region24_code``.
``<domain>_score``, ``<domain>_rank``, ``<domain>_decile``
    IoD measures; domain in :data:`neighbourhood_lens.data.sources.IOD_DOMAINS` (``imd`` is the
    overall index, ``housing`` the Barriers to Housing and Services domain) plus the
    supplementary ``idaci`` and ``idaopi``. Higher score = more deprived; rank 1 = most
    deprived; decile 1 = most deprived 10% of LSOAs.
``denominator_*``
    The IoD population denominators where the edition's File 7 publishes them.
``cni_score``, ``cni_rank`` and ``civic_assets_*``, ``connectedness_*``, ``engaged_community_*``
    OCSI Community Needs Index: higher score = higher need; rank 1 = highest need.
``population``, ``age_0`` ... ``age_90``
    Residents (ONS mid-year estimates or Census 2021 usual residents).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["NORMALISERS", "normalise_headers", "snake"]

Normaliser = Callable[[Sequence[str]], dict[str, str]]
NORMALISERS: dict[str, Normaliser] = {}


def snake(header: str) -> str:
    """Convert any header to snake_case.

    >>> snake("Income Score (rate)")
    'income_score_rate'
    >>> snake("LSOA11CD")
    'lsoa11cd'
    """
    s = re.sub(r"[^0-9a-zA-Z]+", "_", header.strip()).strip("_").lower()
    return s or "column"


_GEO_WORDS = {
    "lsoa": "lsoa",
    "lower layer super output area": "lsoa",
    "msoa": "msoa",
    "middle layer super output area": "msoa",
    "ward": "ward",
    "wd": "ward",
    "electoral ward": "ward",
    "local authority district": "lad",
    "local authority": "lad",
    "lad": "lad",
    "la": "lad",
    "region": "region",
    "rgn": "region",
}


def _geo_column(header: str) -> str | None:
    """Recognise area code/name columns in ONS and MHCLG styles.

    >>> _geo_column("LSOA code (2011)")
    'lsoa11_code'
    >>> _geo_column("Local Authority District name (2019)")
    'lad19_name'
    >>> _geo_column("WD17CD")
    'ward17_code'
    >>> _geo_column("lsoa21_code")
    'lsoa21_code'
    """
    h = header.strip().lower()
    m = re.fullmatch(r"(lsoa|msoa|wd|lad|rgn|ward|region)(\d\d)(cd|nm|_code|_name)", h)
    if m:
        geo = _GEO_WORDS[m.group(1)]
        kind = "code" if m.group(3) in ("cd", "_code") else "name"
        return f"{geo}{m.group(2)}_{kind}"
    m = re.fullmatch(r"([a-z ]+?)\s+(code|name)\s*\((?:\w+\s+)?(\d{4})\)", h)
    if m and m.group(1).strip() in _GEO_WORDS:
        return f"{_GEO_WORDS[m.group(1).strip()]}{m.group(3)[2:]}_{m.group(2)}"
    return None


_IOD_DOMAIN_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"income deprivation affecting children|\bidaci\b", "idaci"),
    (r"income deprivation affecting older|\bidaopi\b", "idaopi"),
    (r"index of multiple deprivation|\bimd\b", "imd"),
    (r"\bincome\b", "income"),
    (r"\bemployment\b", "employment"),
    (r"\beducation\b", "education"),
    (r"\bhealth\b", "health"),
    (r"\bcrime\b", "crime"),
    (r"\bhousing\b", "housing"),
    (r"\benvironment\b", "environment"),
)
_DENOMINATORS: tuple[tuple[str, str], ...] = (
    (r"working age", "denominator_working_age"),
    (r"dependent children", "denominator_children_0_15"),
    (r"older population", "denominator_older_60_plus"),
    (r"aged 16.59", "denominator_16_59"),
    (r"total population", "denominator_total"),
)


def _iod_column(header: str) -> str | None:
    """Recognise an IoD score/rank/decile or denominator column.

    >>> _iod_column("Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)")
    'imd_rank'
    >>> _iod_column("Income Decile (where 1 is most deprived 10% of LSOAs)")
    'income_decile'
    >>> _iod_column("Barriers to Housing and Services Score")
    'housing_score'
    >>> _iod_column("Housing_and_Access_decile")
    'housing_decile'
    >>> _iod_column("Total population: mid 2015 (excluding prisoners)")
    'denominator_total'
    """
    h = re.sub(r"[_\s]+", " ", header.strip().lower())
    for pattern, name in _DENOMINATORS:
        if re.search(pattern, h):
            return name
    if "decile" in h:
        measure = "decile"
    elif "rank" in h:
        measure = "rank"
    elif "score" in h:
        measure = "score"
    else:
        return None
    for pattern, name in _IOD_DOMAIN_PATTERNS:
        if re.search(pattern, h):
            return f"{name}_{measure}"
    return None


def _mapping(headers: Sequence[str], *rules: Callable[[str], str | None]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in headers:
        name = None
        for rule in rules:
            name = rule(h)
            if name:
                break
        out[h] = name or snake(h)
    return out


def _aliases(table: dict[str, str]) -> Callable[[str], str | None]:
    low = {k.lower(): v for k, v in table.items()}
    return lambda h: low.get(h.strip().lower())


def _register(*ids: str) -> Callable[[Normaliser], Normaliser]:
    def deco(fn: Normaliser) -> Normaliser:
        for i in ids:
            NORMALISERS[i] = fn
        return fn

    return deco


# -- Indices of Deprivation -------------------------------------------------------------
@_register("imd2019_lsoa11", "imd2025_lsoa21", "imd2015_lsoa11")
def _iod_file7(headers: Sequence[str]) -> dict[str, str]:
    """IoD File 7 (2019, 2025) and the 2015 File 1: area columns plus IoD measures."""
    return _mapping(headers, _geo_column, _iod_column)


@_register("imd2010_lsoa01", "imd2007_lsoa01", "imd2004_lsoa01")
def _iod_archive(headers: Sequence[str]) -> dict[str, str]:
    """Archived IoD 2004-2010 tables on LSOA 2001 (``LSOA CODE``, ``IMD SCORE`` ...)."""
    alias = _aliases({"lsoa code": "lsoa01_code", "lsoa": "lsoa01_code", "soa": "lsoa01_code"})
    return _mapping(headers, _geo_column, alias, _iod_column)


@_register("imd2019_lsoa11_indicators", "imd2019_lsoa11_subdomains", "imd2025_lsoa21_subdomains",
           "imd2025_lsoa21_indicators")
def _iod_supplementary(headers: Sequence[str]) -> dict[str, str]:
    """IoD indicator (File 8) and sub-domain files: area columns, then snake_case."""
    return _mapping(headers, _geo_column)


# -- Community Needs Index --------------------------------------------------------------
def _cni_column(header: str) -> str | None:
    h = header.strip().lower()
    if not ("score" in h or "rank" in h):
        return None
    measure = "rank" if "rank" in h else "score"
    for key, name in (
        ("community needs index", "cni"),
        ("civic assets", "civic_assets"),
        ("connectedness", "connectedness"),
        ("engaged community", "engaged_community"),
    ):
        if key in h:
            return f"{name}_{measure}"
    return None


@_register("cni2019_ward17")
def _cni2019(headers: Sequence[str]) -> dict[str, str]:
    """OCSI CNI 2019 for wards (2017 codes)."""
    alias = _aliases(
        {"ward code": "ward17_code", "ward name": "ward17_name", "la code": "lad19_code",
         "la name": "lad19_name"}
    )
    return _mapping(headers, _geo_column, alias, _cni_column)


@_register("cni2023_lsoa21")
def _cni2023(headers: Sequence[str]) -> dict[str, str]:
    """OCSI CNI 2023 for LSOAs (2021 codes)."""
    alias = _aliases({"lsoa code": "lsoa21_code", "lsoa name": "lsoa21_name"})
    return _mapping(headers, _geo_column, alias, _cni_column)


# -- Population -------------------------------------------------------------------------
def _age_column(header: str) -> str | None:
    h = header.strip().lower()
    if re.fullmatch(r"\d{1,2}\+?", h):
        return f"age_{int(h.rstrip('+'))}"
    if h in ("all ages", "total_population", "total population", "total_residents",
             "usual residents", "observation"):
        return "population"
    return None


@_register("population2019_lsoa11", "population2020_lsoa11")
def _sape(headers: Sequence[str]) -> dict[str, str]:
    """ONS small-area mid-year estimates (``LSOA Code``, ``All Ages``, ``0`` ... ``90+``)."""
    alias = _aliases({"lsoa code": "lsoa11_code", "lsoa name": "lsoa11_name"})
    return _mapping(headers, _geo_column, alias, _age_column)


def _nomis_total(header: str) -> str | None:
    """Nomis bulk-file totals: ``Residence type: Total; measures: Value`` (TS001).

    >>> _nomis_total("Residence type: Total; measures: Value")
    'population'
    """
    h = header.strip().lower()
    if h.endswith("measures: value") and (h.startswith("residence type: total") or h.startswith("total:")):
        return "population"
    return None


@_register("census2021_population_lsoa21")
def _census_population(headers: Sequence[str]) -> dict[str, str]:
    """Census 2021 usual residents by LSOA 2021 (the mirror, or Nomis's TS001 bulk CSV)."""
    alias = _aliases({"geography code": "lsoa21_code", "geography": "lsoa21_name"})
    return _mapping(headers, _geo_column, alias, _age_column, _nomis_total)


def _census_household_deprivation(headers: Sequence[str], yy: str = "21") -> dict[str, str]:
    """Census 2021 TS011 and Census 2011 QS119EW households by dimensions of deprivation.

    ``households_total`` and ``households_deprived_<n>_dimensions`` for n = 0..4. A Nomis
    ``geography code`` column is the LSOA code of the file's vintage (2011 codes start the
    same way, so the vintage is told apart by the dataset, and checked by the build).
    """
    words = {"not deprived": 0, "one": 1, "two": 2, "three": 3, "four": 4}

    def rule(h: str) -> str | None:
        low = h.lower()
        if low in ("total_households", "total: all households", "total") or "total: all households" in low:
            return "households_total"
        if "deprived" in low:
            for w, n in words.items():
                if w in low:
                    return f"households_deprived_{n}_dimensions"
        return None

    alias = _aliases({"geography code": f"lsoa{yy}_code", "geography": f"lsoa{yy}_name"})
    return _mapping(headers, _geo_column, alias, rule)


NORMALISERS["census2021_household_deprivation_lsoa21"] = _census_household_deprivation
NORMALISERS["census2011_household_deprivation_lsoa11"] = lambda h: _census_household_deprivation(h, "11")


# -- Outcome statistics (issue 18) ------------------------------------------------------
_TOTALS = {"total_households": "households_total", "total: all households": "households_total",
           "total_residents": "residents_total", "total: all usual residents": "residents_total"}


def _strip_topic(header: str) -> str:
    """``Disability: Disabled under the Equality Act; measures: Value`` -> ``disabled under the equality act``."""
    h = header.strip().lower()
    h = re.sub(r";\s*measures:\s*value$", "", h)
    for topic in ("disability: ", "occupancy rating for bedrooms: ", "tenure of household: "):
        h = h.removeprefix(topic)
    return h


def _total_rule(header: str) -> str | None:
    return _TOTALS.get(_strip_topic(header))


@_register("census2021_disability_lsoa21")
def _census_disability(headers: Sequence[str]) -> dict[str, str]:
    """Census 2021 TS038 (top level): ``residents_total``, ``residents_disabled``, ``residents_not_disabled``
    (disabled under the Equality Act 2010: day-to-day activities limited a lot or a little)."""

    def rule(h: str) -> str | None:
        low = _strip_topic(h)
        if low.startswith("not disabled under the equality act"):
            return "residents_not_disabled"
        if low.startswith("disabled under the equality act"):
            return "residents_disabled"
        return None

    alias = _aliases({"geography code": "lsoa21_code", "geography": "lsoa21_name"})
    return _mapping(headers, _geo_column, alias, _total_rule, rule)


@_register("census2021_overcrowding_lsoa21")
def _census_overcrowding(headers: Sequence[str]) -> dict[str, str]:
    """Census 2021 TS052 occupancy rating for bedrooms: ``households_total`` and
    ``households_occupancy_{plus_2_or_more, plus_1, 0, minus_1, minus_2_or_less}``; a negative
    rating means fewer bedrooms than the household needs (overcrowded)."""

    def rule(h: str) -> str | None:
        low = _strip_topic(h)
        m = re.match(r"([+-]?)(\d)\s*(or more|or less)?", low)
        if not m:
            return None
        sign = {"+": "plus_", "-": "minus_", "": ""}[m.group(1)]
        more = "_" + m.group(3).replace(" ", "_") if m.group(3) else ""
        return f"households_occupancy_{sign}{m.group(2)}{more}"

    alias = _aliases({"geography code": "lsoa21_code", "geography": "lsoa21_name"})
    return _mapping(headers, _geo_column, alias, _total_rule, rule)


_TENURE = (
    ("owns outright", "households_owned_outright"),
    ("owns with a mortgage or loan", "households_owned_mortgage"),
    ("shared ownership", "households_shared_ownership"),
    ("rents from council or local authority", "households_social_rented_council"),
    ("other social rented", "households_social_rented_other"),
    ("private landlord or letting agency", "households_private_rented_landlord"),
    ("other private rented", "households_private_rented_other"),
    ("lives rent free", "households_rent_free"),
)


@_register("census2021_tenure_lsoa21")
def _census_tenure(headers: Sequence[str]) -> dict[str, str]:
    """Census 2021 TS054 tenure (8 detailed categories): ``households_total``, ``households_owned_outright``,
    ``households_owned_mortgage``, ``households_shared_ownership``, ``households_social_rented_council``,
    ``households_social_rented_other``, ``households_private_rented_landlord``,
    ``households_private_rented_other``, ``households_rent_free``. Nomis subtotals (``Owned``,
    ``Social rented`` ...) are kept under snake_case names."""

    def rule(h: str) -> str | None:
        low = _strip_topic(h)
        for words, name in _TENURE:
            if low.endswith(words):
                return name
        return None

    alias = _aliases({"geography code": "lsoa21_code", "geography": "lsoa21_name"})
    return _mapping(headers, _geo_column, alias, _total_rule, rule)


@_register("fuel_poverty_lsoa", "children_low_income_msoa11", "uc_households_msoa11", "boundaries_ward21")
def _outcome_long(headers: Sequence[str]) -> dict[str, str]:
    """Long outcome tables in the mirror's layout, already canonical: fuel poverty
    (``year, measure, lsoa_vintage, lsoa_code, households, fuel_poor_households, fuel_poor_share``),
    DWP Stat-Xplore series (``msoa11_code, msoa11_name, year|month, status, <count>``) and ward
    boundaries (``WD21CD`` or ``ward21_code``)."""
    return _mapping(headers, _geo_column)


@_register("insolvencies_ward")
def _insolvencies(headers: Sequence[str]) -> dict[str, str]:
    """Insolvency Service ward table made long: ``year, ward21_code, ward21_name, type, insolvencies``
    (``type`` is bankruptcy, dro, iva or total; ``insolvencies`` the count of individuals)."""
    alias = _aliases({"count": "insolvencies", "ward_code": "ward21_code", "ward_name": "ward21_name",
                      "insolvency_type": "type"})
    return _mapping(headers, _geo_column, alias)


# -- Lookups, classifications, boundaries -----------------------------------------------
@_register(
    "lookup_lsoa11_ward17", "lookup_lsoa11_msoa11", "lookup_lsoa11_lad19",
    "lookup_lad19_region19", "lookup_lsoa21_ward24_lad24", "lookup_lad24_region24",
    "boundaries_lsoa11", "boundaries_lsoa21", "boundaries_lad24",
)
def _ons_lookup(headers: Sequence[str]) -> dict[str, str]:
    """ONS Open Geography lookups and boundaries (``LSOA11CD``, ``WD17CD``, ``RGN19NM``)."""
    return _mapping(headers, _geo_column)


@_register("lookup_lsoa01_lsoa11", "lookup_lsoa11_lsoa21_lad22")
def _ons_change_lookup(headers: Sequence[str]) -> dict[str, str]:
    """ONS best-fit lookups between LSOA vintages with change indicators (``CHGIND``)."""
    alias = _aliases({"chgind": "change_code", "change_code": "change_code"})
    return _mapping(headers, _geo_column, alias)


@_register("ruc2011_lsoa11")
def _ruc2011(headers: Sequence[str]) -> dict[str, str]:
    """ONS/Defra rural-urban classification 2011 (``RUC11CD``, ``RUC11``)."""
    alias = _aliases(
        {"ruc11cd": "ruc11_code", "ruc11_code": "ruc11_code", "ruc11": "ruc11_class",
         "classification": "ruc11_class", "ruc": "ruc11_broad",
         # Defra's ODS lookup tables, sheet LSOA11
         "lower super output area 2011 code": "lsoa11_code", "lower super output area 2011 name": "lsoa11_name",
         "rural urban classification 2011 code": "ruc11_code",
         "rural urban classification 2011 (10 fold)": "ruc11_class",
         "rural urban classification 2011 (2 fold)": "ruc11_broad"}
    )
    return _mapping(headers, _geo_column, alias)


@_register("ruc2021_lsoa21")
def _ruc2021(headers: Sequence[str]) -> dict[str, str]:
    """ONS rural-urban classification 2021 (``RUC21CD``, ``RUC21NM``, ``Urban_rural_flag``)."""
    alias = _aliases(
        {"ruc21cd": "ruc21_code", "ruc21_code": "ruc21_code", "ruc21nm": "ruc21_class",
         "classification": "ruc21_class", "ruc": "ruc21_broad", "urban_rural_flag": "ruc21_broad"}
    )
    return _mapping(headers, _geo_column, alias)


def normalise_headers(dataset_id: str, headers: Sequence[str]) -> dict[str, str]:
    """Map ``headers`` of a file for ``dataset_id`` to canonical names.

    Raises ``ValueError`` if two headers map to the same canonical name, since one would
    silently shadow the other.

    >>> normalise_headers("imd2019_lsoa11", ["LSOA code (2011)", "Index of Multiple Deprivation (IMD) Score"])
    {'LSOA code (2011)': 'lsoa11_code', 'Index of Multiple Deprivation (IMD) Score': 'imd_score'}
    """  # noqa: E501
    mapping = NORMALISERS[dataset_id](headers)
    seen: dict[str, str] = {}
    for header, name in mapping.items():
        if name in seen:
            raise ValueError(
                f"{dataset_id}: headers {seen[name]!r} and {header!r} both map to column "
                f"{name!r}; remove one of them from the file"
            )
        seen[name] = header
    return mapping
