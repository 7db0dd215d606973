"""Custom neighbourhoods: contiguous groups of LSOAs of about 10,000 people or fewer.

The inputs (:mod:`.inputs`), the size-constrained SKATER core (:mod:`.regionalise`), the
build with its checks (:mod:`.build`) and the measures of a built set (:mod:`.measures`).
Stored sets live in :mod:`neighbourhood_lens.geo.neighbourhood_sets`, so that every wing can
use them as a unit.

Public functions, by module:

* :mod:`.build`: ``build_neighbourhoods``, ``assign_neighbourhoods``,
  ``check_neighbourhoods``, ``neighbourhood_boundaries``
* :mod:`.measures`: ``neighbourhood_summary``, ``homogeneity_report``, ``left_behind_for_neighbourhoods``
"""

__all__: list[str] = []
