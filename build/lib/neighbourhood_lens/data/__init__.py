"""Data: the official files, from the publisher (or a mirror) to the DuckDB warehouse.

The lowest layer: it imports nothing from the other wings. The registry of datasets
(:mod:`.sources`), downloads into a checksummed cache (:mod:`.download`; atomic part files
and the orphan sweep in :mod:`.transfer`; :mod:`.http`; paged ArcGIS layers in :mod:`.arcgis`
and Nomis API tables in :mod:`.nomis`), reading each publisher's layout
(:mod:`.publisher_files`, and the wide or one-file-per-year outcome tables in :mod:`.layouts`),
header normalisers (:mod:`.normalise`), checks (:mod:`.validate`), the build itself
(:mod:`.build`, :mod:`.derive`), what a rebuild keeps (:mod:`.keep`), and the geography levels
the build writes (:mod:`.levels`).

Public functions, by module:

* :mod:`.sources`: ``DATASETS``, ``get_dataset``, ``registry_frame``
* :mod:`.download`: ``fetch``, ``cached_table``; :mod:`.sources_file`: ``load_sources_file``, ``write_sources_file``
* :mod:`.build`: ``build_warehouse``
* :mod:`.levels`: ``LEVELS``, ``level``, ``GSS_CODE``
"""

__all__: list[str] = []
