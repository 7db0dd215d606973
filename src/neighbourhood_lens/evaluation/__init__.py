"""Evaluation: did the treated neighbourhoods change more than matched comparators?

Stages in the order a user works:

:mod:`.panel`
    the outcome panel ``code, year, value`` (a user's CSV, or an IMD domain across the
    editions 2004-2025 on one boundary vintage) and the treated areas ``code, start``.
:mod:`.outcome_panel`
    annual outcome series (fuel poverty, insolvency, child poverty, Universal Credit,
    household deprivation) as ratio-of-sums panels at any unit, across LSOA vintages.
:mod:`.match`
    k-nearest-neighbour comparators on the pre-period level and trend, with replacement,
    within a caliper, the halo ring excluded; the balance table.
:mod:`.did`
    stacked difference-in-differences ATT with cluster-robust intervals, the event study,
    the naive comparison and the minimum detectable effect.
:mod:`.run`
    :func:`evaluate`: all of the above plus the halo estimate and placebo inference.
:mod:`.report`
    the HTML report and charts.
"""

from __future__ import annotations

from .did import EFFECT_COLUMNS, event_study, fit_did, min_detectable_effect, naive_did, stack_panel
from .match import Matching, balance_table, match, pre_features
from .outcome_panel import SERIES, outcome_lsoa_counts, outcome_panel, outcome_series
from .panel import (
    IMD_CAVEAT,
    Outcome,
    detect_unit,
    imd_panel,
    parse_outcome,
    read_panel,
    read_treated,
    validate_panel,
    validate_treated,
)
from .run import Evaluation, evaluate, evaluate_in_warehouse, halo_ring, roles_table, trends_table

__all__ = [
    "EFFECT_COLUMNS",
    "IMD_CAVEAT",
    "Evaluation",
    "Matching",
    "Outcome",
    "SERIES",
    "balance_table",
    "detect_unit",
    "evaluate",
    "evaluate_in_warehouse",
    "event_study",
    "fit_did",
    "halo_ring",
    "imd_panel",
    "match",
    "min_detectable_effect",
    "naive_did",
    "outcome_lsoa_counts",
    "outcome_panel",
    "outcome_series",
    "parse_outcome",
    "pre_features",
    "read_panel",
    "read_treated",
    "roles_table",
    "stack_panel",
    "trends_table",
    "validate_panel",
    "validate_treated",
]
