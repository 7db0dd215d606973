"""Outputs: result files with provenance, area profiles and HTML reports.

Tables written by suffix with a provenance sidecar (:mod:`.tables`), area profiles that
gather every analysis for one place (:mod:`.profiles`) and the self-contained local
authority report (:mod:`.report`). Static maps are drawn by
:mod:`neighbourhood_lens.geo.maps`, lower down, so that programme and evaluation reports can
use them.

Public functions, by module:

* :mod:`.tables`: ``write_table``, ``provenance_record``, ``write_sidecar``
* :mod:`.profiles`: ``area_profile``, ``load_store``, ``custom_area_profile``
* :mod:`.report`: ``lad_report``, ``write_lad_report``
"""

__all__: list[str] = []
