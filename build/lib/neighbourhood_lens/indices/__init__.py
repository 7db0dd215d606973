"""Composite indices: build your own index of need, rebuild the IMD and CNI, and measure rank stability.

Stages follow the order a user works in (after COINr): :mod:`.spec` (what to combine),
:mod:`.transforms` (normalise: higher = more need), :mod:`.aggregate` (weight, combine, rank),
:mod:`.sensitivity` (Monte Carlo weight jitter, Sobol indices, left-behind stability) and
:mod:`.presets` (the published IMD 2019/2025 and CNI 2019/2023). See ``docs/indices.md``.
"""

from __future__ import annotations

from .aggregate import Plan, build_index, combine, evaluate, prepare
from .presets import PRESETS, compare_with_published, preset, published, top_decile_overlap
from .spec import IndexSpec, load_spec, parse_spec
from .transforms import exponential, transform, winsorise

__all__ = [
    "IndexSpec",
    "load_spec",
    "parse_spec",
    "transform",
    "exponential",
    "winsorise",
    "Plan",
    "prepare",
    "combine",
    "evaluate",
    "build_index",
    "PRESETS",
    "preset",
    "published",
    "compare_with_published",
    "top_decile_overlap",
]
