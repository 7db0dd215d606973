"""Programme design: choose neighbourhoods and share a budget under explicit rules.

A programme is written once as a TOML spec (:mod:`.spec`) and run on the warehouse:

1. **need** (:mod:`.need`): indicators (IMD 2019/2025, CNI 2019/2023, a stored composite
   index) scored on the unit, ranked, and combined (double disadvantage, mean rank ratio or a
   weighted mean);
2. **eligibility** (:mod:`.eligibility`): population range, rural-urban class, regions and
   LADs in or out, places already funded, minimum need, every removal counted;
3. **selection** (:mod:`.select`, :mod:`.optimise`): ``top``, ``greedy`` (rank then cap),
   ``two_stage`` (parents first, as the New Deal for Communities did) or ``optimal`` (an exact
   mixed-integer program solved by HiGHS, reported against the greedy rule);
4. **money and reach** (:mod:`.select`, :mod:`.compare`): amounts per area, and the reach of
   the money measured exactly as ``nlens funding reach`` measures grants, with a built-in
   LA-level baseline for comparison; :mod:`.report` writes the HTML report.

>>> from neighbourhood_lens.programmes import parse_spec
>>> parse_spec({"unit": "ward17", "need": {"indicators": ["imd2019"]}, "select": {"method": "top"}}).unit
'ward17'
"""

from __future__ import annotations

from .compare import COMPARE_COLUMNS, compare_table, la_baseline, reach_measures
from .design import OUTPUT_COLUMNS, Design, design, design_sources, missed_areas, store_design
from .need import combine_need, indicator_scores, need_table
from .optimise import objective, solve_optimal
from .spec import ProgrammeSpec, load_spec, parse_spec

__all__ = [
    "ProgrammeSpec", "load_spec", "parse_spec",
    "indicator_scores", "combine_need", "need_table",
    "objective", "solve_optimal",
    "OUTPUT_COLUMNS", "Design", "design", "design_sources", "missed_areas", "store_design",
    "COMPARE_COLUMNS", "compare_table", "la_baseline", "reach_measures",
]
