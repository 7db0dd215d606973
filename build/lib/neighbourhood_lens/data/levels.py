"""The warehouse's geography levels: which hierarchy table and columns hold each one.

The build (:mod:`neighbourhood_lens.data.derive`) writes two hierarchy tables,
``hierarchy_lsoa11`` and ``hierarchy_lsoa21``, one row per English LSOA; a :class:`Level`
names a level's code and label columns in them. This is part of the warehouse schema, so it
lives with the builder; :mod:`neighbourhood_lens.geo.geography` re-exports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from neighbourhood_lens.errors import DataError

__all__ = ["GSS_CODE", "Level", "LEVELS", "level"]


#: A GSS area code: a country letter (E, W, S, N, or K for UK-wide groupings) and 8 digits,
#: e.g. ``E01000001`` (LSOA), ``E05001645`` (ward), ``E08000021`` (LAD).
GSS_CODE = re.compile(r"^[EWSNK]\d{8}$")


@dataclass(frozen=True)
class Level:
    """A level of a hierarchy: its name (``ward17``), LSOA vintage, and columns."""

    name: str
    lsoa_vintage: int
    code: str
    label: str
    kind: str

    @property
    def table(self) -> str:
        return f"hierarchy_lsoa{str(self.lsoa_vintage)[2:]}"

    @property
    def lsoa_code(self) -> str:
        return f"lsoa{str(self.lsoa_vintage)[2:]}_code"


#: Every named level, by name. ``lsoa11`` and ``lsoa21`` are the base levels.
LEVELS: dict[str, Level] = {
    lv.name: lv
    for lv in (
        Level("lsoa11", 2011, "lsoa11_code", "lsoa11_name", "lsoa"),
        Level("msoa11", 2011, "msoa11_code", "msoa11_name", "msoa"),
        Level("ward17", 2011, "ward17_code", "ward17_name", "ward"),
        Level("lad19", 2011, "lad19_code", "lad19_name", "lad"),
        Level("region19", 2011, "region19_code", "region19_name", "region"),
        Level("lsoa21", 2021, "lsoa21_code", "lsoa21_name", "lsoa"),
        Level("ward24", 2021, "ward24_code", "ward24_name", "ward"),
        Level("lad24", 2021, "lad24_code", "lad24_name", "lad"),
        Level("region24", 2021, "region24_code", "region24_name", "region"),
    )
}


def level(name: str) -> Level:
    """Look up a level by name, with an error listing the valid names."""
    try:
        return LEVELS[name]
    except KeyError:
        raise DataError(
            f"unknown geography level {name!r}; valid levels: {', '.join(LEVELS)}"
        ) from None
