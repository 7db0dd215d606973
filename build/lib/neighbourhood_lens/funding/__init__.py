"""Funding: where grants went, and whether they reached the places that need them.

Reading and validating grants files (:mod:`.grants`: 360Giving CSV/XLSX/JSON), pulling a
funder's grants from 360Giving (:mod:`.fetch`), locating and measuring reach (:mod:`.reach`)
and the HTML reach report (:mod:`.report`).

Public functions, by module:

* :mod:`.grants`: ``read_grants``, ``synthetic_grants``, ``write_grants``
* :mod:`.fetch`: ``fetch_grants``
* :mod:`.reach`: ``reach``, ``locate_grants``, ``reach_table``, ``concentration_index``
* :mod:`.report`: ``render_reach_html``
"""

__all__: list[str] = []
