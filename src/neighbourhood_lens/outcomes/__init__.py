"""Outcomes: how places fare on health, crime, education, work, fuel poverty and debt.

* :mod:`.catalogue`: the outcomes held (``OUTCOMES``, ``catalogue``, ``get_outcome``);
* :mod:`.values`: LSOA numerators and denominators of an outcome on a vintage (``outcome_values``);
* :mod:`.carry`: counts carried across vintages and from MSOAs and wards (``apportion``);
* :mod:`.groups`: the groups compared (left behind, other deprived, England, list files, stored sets);
* :mod:`.compare`: the comparison with cluster-bootstrap CIs (``compare_outcomes``) and its chart.
"""

from neighbourhood_lens.outcomes.catalogue import OUTCOMES, catalogue, get_outcome, parse_outcomes
from neighbourhood_lens.outcomes.values import check_year, default_year, outcome_datasets, outcome_values

__all__ = ["OUTCOMES", "catalogue", "get_outcome", "parse_outcomes", "outcome_values", "outcome_datasets",
           "check_year", "default_year"]
