"""The outcome catalogue: one row per outcome the warehouse holds, with what it counts.

Every outcome is aggregated as a **ratio of sums**, :math:`\\sum_i n_i / \\sum_i d_i \\times s`:

* counted and modelled **shares and rates** (fuel poverty, insolvencies, children in low income
  families, Census tables): :math:`n_i` the LSOA's numerator count (fuel-poor households),
  :math:`d_i` its denominator count (households), :math:`s` the scale (1 for a share, 10,000 for a
  rate per 10,000). This is the official way to summarise a rate over areas (never the mean of
  area percentages);
* published **scores, ratios and rates** of the IoD underlying indicators: a population-weighted
  mean, :math:`n_i = P_i v_i`, :math:`d_i = P_i` with :math:`P_i` the LSOA's residents (ONS mid-2019
  estimates on LSOA 2011, Census 2021 usual residents on LSOA 2021), the convention MHCLG uses for
  area summaries of IoD scores. The weights are named in :attr:`Outcome.weights`.

References
----------
MHCLG (2019, 2025), *English Indices of Deprivation: Technical report*, section 3 (indicators)
and File 8 (underlying indicators). DESNZ, *Sub-regional fuel poverty statistics: methodology*.
The Insolvency Service (2023), *Individual insolvencies by location, age and gender, England and
Wales, 2022*. DWP, *Children in low income families: local area statistics*, background notes.
ONS, Census 2011 QS119EW; Census 2021 TS011, TS038, TS052, TS054.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from neighbourhood_lens.errors import DataError

__all__ = ["Outcome", "OUTCOMES", "UNITS", "get_outcome", "parse_outcomes", "catalogue", "KNOWN_GAPS"]

#: Units: ``share`` (0-1), ``rate`` (per :attr:`Outcome.per`), ``score``, ``ratio`` (100 = England), ``km``.
UNITS = ("share", "rate", "score", "ratio", "km")

#: Outcomes the paper cites that the data do not hold.
KNOWN_GAPS = {
    "life_expectancy": "life expectancy at birth is published for MSOAs and wards only by some LAs and the OHID "
                       "Fingertips tool; not in the data (years of potential life lost is the nearest measure)",
    "school_attainment": "Key Stage 2/4 attainment by LSOA is not in the data (the IoD education domain's "
                         "attainment indicators are not in File 8's copy used here)",
    "police_recorded_crime": "police-recorded crime counts (data.police.uk) are not in the data; the IoD2025 crime "
                             "indicators are rates per 1,000 at-risk population, 2019 has none in File 8",
}


@dataclass(frozen=True)
class Outcome:
    """One outcome statistic.

    Attributes
    ----------
    id : str
        Readable id used on the command line (``fuel_poverty``).
    numerator, denominator : str
        What is counted (for scores: the score, and the population weights).
    unit : str
        One of :data:`UNITS`; shares are 0-1.
    per : int
        Scale of a rate (10,000 for "per 10,000 residents"); 1 otherwise.
    higher_is_worse : bool
        Direction: ``True`` when a higher value is a worse outcome.
    years : tuple of int
        Years held (data years; for IoD indicators, the edition).
    geography : str
        Geography the publisher gives it on (``lsoa11``, ``msoa11``, ``ward21``, ``lsoa01/11/21``).
    datasets : tuple of str
        Warehouse tables read (for provenance); the population and lookup tables used to place
        or weight it are added by :func:`neighbourhood_lens.outcomes.values.outcome_datasets`.
    kind : str
        ``counted`` (administrative or census counts), ``modelled`` (model-based estimates) or
        ``indicator`` (a published IoD indicator, itself often modelled or shrunk).
    aggregation : str
        ``ratio_of_sums`` (shares, rates) or ``weighted_mean`` (scores, ratios, published rates).
    weights : str
        For ``weighted_mean``: the weights used.
    caveats : str
        Measure breaks, modelling, disclosure control.
    column : str
        For IoD indicators and single-column census shares: the source column(s).
    """

    id: str
    label: str
    numerator: str
    denominator: str
    unit: str
    higher_is_worse: bool
    years: tuple[int, ...]
    geography: str
    datasets: tuple[str, ...]
    kind: str
    caveats: str = ""
    per: int = 1
    aggregation: str = "ratio_of_sums"
    weights: str = ""
    column: str = ""
    group: str = ""

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"outcome {self.id}: unknown unit {self.unit!r}; use one of {', '.join(UNITS)}")

    @property
    def scale(self) -> int:
        """Multiplier of ``numerator / denominator``: ``per`` for a counted rate, 1 otherwise (a published
        IoD rate is already per 1,000)."""
        return self.per if self.aggregation == "ratio_of_sums" else 1

    @property
    def unit_label(self) -> str:
        """``share``, ``rate per 10,000`` ..."""
        return f"rate per {self.per:,}" if self.unit == "rate" else self.unit


_POP_W = "residents (ONS mid-2019 estimates on LSOA 2011; Census 2021 usual residents on LSOA 2021)"
_I19, _I25 = "imd2019_lsoa11_indicators", "imd2025_lsoa21_indicators"
_IOD_CAVEAT = ("published IoD indicator (File 8); the data behind it are mostly 2-4 years older than the edition; "
               "aggregated as a population-weighted mean")


def _iod(id_: str, label: str, unit: str, *, cols: dict[int, str], worse: bool = True, caveat: str = "",
         group: str = "", per: int = 1) -> Outcome:
    """An IoD File 8 indicator: ``cols`` maps the edition year to the column in that edition's table."""
    years = tuple(sorted(cols))
    ds = tuple(_I19 if y == 2019 else _I25 for y in years)
    return Outcome(
        id_, label, label, "population weights", unit, worse, years,
        "/".join("lsoa11" if y == 2019 else "lsoa21" for y in years), ds, "indicator",
        "; ".join(c for c in (_IOD_CAVEAT, caveat) if c), per=per, aggregation="weighted_mean",
        weights=_POP_W, column=";".join(f"{y}:{c}" for y, c in sorted(cols.items())), group=group,
    )


_CRIME = (
    ("violence_with_injury", "violence with injury", "violence_with_injury_rate_per_1000_at_risk_population"),
    ("violence_without_injury", "violence without injury",
     "violence_without_injury_rate_per_1000_at_risk_population"),
    ("stalking_harassment", "stalking and harassment", "stalking_and_harassment_rate_per_1000_at_risk_population"),
    ("burglary", "burglary (per 1,000 at-risk properties)", "burglary_rate_per_1000_at_risk_properties"),
    ("theft", "theft", "theft_rate_per_1000_at_risk_population"),
    ("criminal_damage", "criminal damage", "criminal_damage_rate_per_1000_at_risk_population"),
    ("public_order", "public order and possession of weapons",
     "public_order_and_possession_of_weapons_rate_per_1000_at_risk_population"),
    ("anti_social_behaviour", "anti-social behaviour", "anti_social_behaviour_rate_per_1000_at_risk_population"),
)

_ALL: list[Outcome] = [
    Outcome("fuel_poverty", "Fuel poverty", "fuel-poor households (modelled)", "households", "share", True,
            tuple(range(2011, 2023)), "lsoa01/11/21", ("fuel_poverty_lsoa",), "modelled",
            "measure break: LIHC for data years 2011-2018, LILEE from 2019 (not comparable; England 10.3% in 2018 "
            "LIHC, 13.4% in 2019 LILEE); LSOA 2001 codes for 2011, 2011 codes 2012-2020, 2021 codes from 2021; "
            "modelled: DESNZ advises against trends within one LSOA", group="poverty and debt"),
    Outcome("insolvency", "Individual insolvencies", "individual insolvencies (bankruptcies, DROs, IVAs)",
            "residents (all ages)", "rate", True, tuple(range(2012, 2023)), "ward21",
            ("insolvencies_ward", "boundaries_ward21"), "counted",
            "counts by December 2021 ward, apportioned to LSOAs by population within the ward (LSOAs placed in "
            "wards by interior point); the Insolvency Service publishes rates per 10,000 adults, but adults by "
            "LSOA are not held for 2021, so all residents are the denominator (rates are about a fifth lower than per "
            "adult); Welsh ward figures fall short of the Wales totals", per=10_000, group="poverty and debt"),
    Outcome("child_low_income", "Children in relative low income families",
            "children aged 0-15 in relative low income families (before housing costs)",
            "children aged 0-15 (ONS mid-2019 estimates; mid-2020 for 2020 onwards)", "share", True,
            tuple(range(2015, 2023)), "msoa11", ("children_low_income_msoa11", "population2019_lsoa11",
                                                 "population2020_lsoa11"), "counted",
            "DWP counts children under 16 (and 16-19 in education) in families claiming Child Benefit and at least "
            "one other benefit, so it is a share of children aged 0-15 only approximately; MSOA counts "
            "apportioned to LSOAs by children aged 0-15; year = financial year ending (2015 = 2014/15), 2022 "
            "provisional; disclosure control", group="poverty and debt"),
    Outcome("uc_households", "Households on Universal Credit", "households on Universal Credit (mean of the "
            "year's months)", "households (Census 2021, TS011 total)", "share", True, tuple(range(2016, 2024)),
            "msoa11", ("uc_households_msoa11", "census2021_household_deprivation_lsoa21"), "counted",
            "UC replaced legacy benefits gradually (full service by end 2018, managed migration from 2022), so "
            "rises before 2019 are rollout, not need; 2023 is November only; MSOA counts apportioned to LSOAs by "
            "households; '..' (nil or negligible) counted as 0; disclosure control", group="poverty and debt"),
    Outcome("household_deprivation", "Households deprived in at least one dimension",
            "households deprived in 1-4 dimensions (employment, education, health and disability, housing)",
            "households", "share", True, (2011, 2021), "lsoa11/lsoa21",
            ("census2011_household_deprivation_lsoa11", "census2021_household_deprivation_lsoa21"), "counted",
            "Census 2011 QS119EW and Census 2021 TS011 use the same four dimensions but the housing dimension "
            "changed (2011: overcrowded, shared or no central heating; 2021: overcrowded or no central heating); "
            "2021 counts perturbed by ONS", group="census"),
    Outcome("household_deprivation_2plus", "Households deprived in two or more dimensions",
            "households deprived in 2-4 dimensions", "households", "share", True, (2011, 2021), "lsoa11/lsoa21",
            ("census2011_household_deprivation_lsoa11", "census2021_household_deprivation_lsoa21"), "counted",
            "as household_deprivation", group="census"),
    Outcome("disability", "Residents disabled under the Equality Act", "usual residents disabled under the "
            "Equality Act (day-to-day activities limited a lot or a little)", "usual residents", "share", True,
            (2021,), "lsoa21", ("census2021_disability_lsoa21",), "counted",
            "Census 2021 TS038; not age-standardised, so older areas score higher", group="census"),
    Outcome("overcrowding", "Overcrowded households (bedrooms)", "households with an occupancy rating for "
            "bedrooms of -1 or less", "households", "share", True, (2021,), "lsoa21",
            ("census2021_overcrowding_lsoa21",), "counted", "Census 2021 TS052 (bedroom standard)", group="census"),
    Outcome("social_renting", "Households renting socially", "households renting from a council or housing "
            "association (social rented)", "households", "share", True, (2021,), "lsoa21",
            ("census2021_tenure_lsoa21",), "counted",
            "Census 2021 TS054; a context measure rather than an outcome: 'higher is worse' only in the sense "
            "that it marks low-income housing", group="census"),
    _iod("years_of_potential_life_lost", "Years of potential life lost", "score",
         cols={2019: "years_of_potential_life_lost_indicator", 2025: "years_of_potential_life_lost_indicator"},
         caveat="age- and sex-standardised years lost before 75", group="health"),
    _iod("illness_disability_ratio", "Comparative illness and disability ratio", "ratio",
         cols={2019: "comparative_illness_and_disability_ratio_indicator",
               2025: "comparative_illness_and_disability_ratio_indicator"},
         caveat="age- and sex-standardised ratio of benefit claimants for illness and disability (100 = England)",
         group="health"),
    _iod("acute_morbidity", "Acute morbidity", "ratio",
         cols={2019: "acute_morbidity_indicator", 2025: "acute_morbidity_indicator"},
         caveat="standardised ratio of emergency hospital admissions (100 = England)", group="health"),
    _iod("mood_anxiety", "Mood and anxiety disorders (2025: mental health)", "score",
         cols={2019: "mood_and_anxiety_disorders_indicator", 2025: "mental_health_indicator"},
         caveat="measure break: IoD2019 'mood and anxiety disorders', IoD2025 'mental health indicator' "
                "(different inputs); a combined z-score (0 = England mean)", group="health"),
    *[_iod(f"crime_{cid}", f"Crime: {label}", "rate", cols={2025: col}, per=1000, group="crime",
           caveat="recorded crime rate per 1,000 at-risk population (2025 only; IoD2019 File 8 has no crime "
                  "indicators in this copy)") for cid, label, col in _CRIME],
    _iod("staying_on_education", "Not staying on in education post-16", "share",
         cols={2019: "staying_on_in_education_post_16_indicator"},
         caveat="proportion of young people not staying on in education after 16 (2019 only)", group="education"),
    _iod("entry_higher_education", "Entry to higher education indicator", "score",
         cols={2019: "entry_to_higher_education_indicator", 2025: "entry_to_higher_education_indicator"},
         caveat="modelled measure of young people under 21 not entering higher education (higher = fewer enter)",
         group="education"),
    _iod("adult_skills", "Adults with low or no qualifications or English", "share",
         cols={2019: "adult_skills_and_english_language_proficiency_indicator",
               2025: "adult_skills_and_english_language_proficiency_indicator"},
         caveat="share of adults 25-64 (2019; 25-66 in 2025) with no or low qualifications or little English",
         group="education"),
    _iod("broadband", "Slow broadband (digital connectivity)", "score",
         cols={2025: "digital_connectivity_broadband_download_and_upload_speeds"},
         caveat="IoD2025 score of download and upload speeds; higher = slower (more deprived)", group="services"),
    _iod("distance_post_office", "Road distance to a post office", "km",
         cols={2019: "road_distance_to_a_post_office_indicator_km"}, group="services",
         caveat="2019 only; rural areas are far, so deprived urban areas usually do better"),
    _iod("distance_primary_school", "Road distance to a primary school", "km",
         cols={2019: "road_distance_to_a_primary_school_indicator_km"}, group="services", caveat="2019 only"),
    _iod("distance_general_store", "Road distance to a general store or supermarket", "km",
         cols={2019: "road_distance_to_general_store_or_supermarket_indicator_km"}, group="services",
         caveat="2019 only"),
    _iod("distance_gp", "Road distance to a GP surgery", "km",
         cols={2019: "road_distance_to_a_gp_surgery_indicator_km"}, group="services", caveat="2019 only"),
    _iod("connectivity", "Connectivity to services (IoD2025)", "score", cols={2025: "connectivity_score"},
         worse=False, group="services",
         caveat="IoD2025 replaced road distances with a connectivity score; higher = better connected "
                "(it moves exactly opposite to the geographical barriers sub-domain)"),
    _iod("homelessness", "Homelessness (acceptances per 1,000 households)", "rate",
         cols={2019: "homelessness_indicator_rate_per_1000_households",
               2025: "homelessness_indicator_rate_per_1000_households"}, per=1000, group="housing",
         caveat="a local authority figure given to every LSOA of the LA, so it cannot tell neighbourhoods apart "
                "within an LA"),
]

#: Every outcome, by id.
OUTCOMES: dict[str, Outcome] = {o.id: o for o in _ALL}


def get_outcome(outcome_id: str) -> Outcome:
    """The catalogue entry for ``outcome_id``; an unknown id is a :class:`DataError` listing the valid ones.

    >>> get_outcome("fuel_poverty").unit
    'share'
    """
    try:
        return OUTCOMES[outcome_id]
    except KeyError:
        near = [o for o in OUTCOMES if outcome_id.split("_")[0] in o] if outcome_id else []
        hint = f" Did you mean {', '.join(near[:3])}?" if near else ""
        raise DataError(f"unknown outcome {outcome_id!r}.{hint} Valid outcomes: {', '.join(OUTCOMES)} "
                        "(see `nlens outcomes list`)") from None


def parse_outcomes(spec: str | list[str] | None) -> list[Outcome]:
    """``"all"``/``None`` -> every outcome; ``"a,b"`` or ``["a", "b"]`` -> those (each checked).

    >>> [o.id for o in parse_outcomes("fuel_poverty,insolvency")]
    ['fuel_poverty', 'insolvency']
    """
    if spec is None or spec == "all" or spec == ["all"]:
        return list(_ALL)
    ids = [s.strip() for part in ([spec] if isinstance(spec, str) else spec) for s in part.split(",") if s.strip()]
    if not ids:
        raise DataError("no outcome given; pass --outcome ID[,ID...] or --outcome all")
    return [get_outcome(i) for i in dict.fromkeys(ids)]


def catalogue() -> pd.DataFrame:
    """The catalogue as a table, one row per outcome, for ``nlens outcomes list``.

    Columns: ``id, label, group, numerator, denominator, unit, higher_is_worse, years,
    geography, kind, aggregation, weights, source, caveats``.

    >>> cat = catalogue()
    >>> bool(cat["id"].is_unique), "fuel_poverty" in set(cat["id"])
    (True, True)
    """
    rows = [{
        "id": o.id, "label": o.label, "group": o.group, "numerator": o.numerator, "denominator": o.denominator,
        "unit": o.unit_label, "higher_is_worse": o.higher_is_worse,
        "years": _years(o.years), "geography": o.geography, "kind": o.kind, "aggregation": o.aggregation,
        "weights": o.weights, "source": ", ".join(dict.fromkeys(o.datasets)), "caveats": o.caveats,
    } for o in _ALL]
    return pd.DataFrame(rows)


def _years(years: tuple[int, ...]) -> str:
    """``(2011, ..., 2022)`` -> ``2011-2022``; gaps listed.

    >>> _years((2019, 2025)), _years((2012, 2013, 2014))
    ('2019, 2025', '2012-2014')
    """
    if len(years) > 2 and years == tuple(range(years[0], years[-1] + 1)):
        return f"{years[0]}-{years[-1]}"
    return ", ".join(str(y) for y in years)
