"""Deprivation: what the Indices of Deprivation and the CNI say about places.

Official summary measures for any grouping (:mod:`.summaries`), inequality within and
between areas (:mod:`.inequality`), hidden pockets and next-door gaps (:mod:`.pockets`),
centre against periphery (:mod:`.periphery`), change across the editions
(:mod:`.trajectories`) and double disadvantage, the left-behind neighbourhoods
(:mod:`.left_behind`).

Public functions, by module:

* :mod:`.summaries`: ``summarise``, ``summary_measures``
* :mod:`.inequality`: ``decompose_index``, ``theil_t``, ``theil_l``, ``gini``
* :mod:`.pockets`: ``hidden_pockets``, ``next_door_pairs``
* :mod:`.periphery`: ``deprivation_location``, ``decentralisation``
* :mod:`.trajectories`: ``trajectory``, ``movers``, ``entrenched``
* :mod:`.left_behind`: ``left_behind``, ``left_behind_scores``, ``double_disadvantage``
"""

__all__: list[str] = []
