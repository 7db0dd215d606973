"""Geography: areas, hierarchies, code vintages, units, boundaries, adjacency and maps.

Everything about *where*: the LSOA hierarchies and population-weighted aggregation
(:mod:`.geography`), carrying values across LSOA vintages (:mod:`.vintages`), units of
analysis including stored neighbourhood sets (:mod:`.units`, :mod:`.neighbourhood_sets`),
finding places by code or name (:mod:`.places`), polygons (:mod:`.boundaries`), contiguity
(:mod:`.adjacency`) and static choropleth maps of any of them (:mod:`.maps`).

Public functions, by module:

* :mod:`.geography`: ``hierarchy``, ``weighted_mean``, ``equal_count_decile``, ``share_rank``
* :mod:`.vintages`: ``convert``, ``lookup``
* :mod:`.units`: ``resolve_unit``, ``unit_areas``, ``aggregate_to_unit``, ``unit_adjacency``
* :mod:`.places`: ``search``, ``resolve_place``, ``resolve_lad``
* :mod:`.boundaries`: ``lsoa_boundaries``, ``area_boundaries``
* :mod:`.adjacency`: ``ensure_adjacency``, ``load_adjacency``
* :mod:`.neighbourhood_sets`: ``store_neighbourhoods``, ``load_neighbourhoods``, ``neighbourhood_sets``
* :mod:`.maps`: ``choropleth``
"""

__all__: list[str] = []
