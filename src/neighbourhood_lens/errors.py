"""Error hierarchy for neighbourhood-lens.

Every error says what was wrong, where, and how to fix it. Messages list a count and the
first few offending values, never the whole column.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "NeighbourhoodLensError",
    "DataError",
    "SchemaError",
    "VintageError",
    "JoinError",
    "SourceUnavailableError",
    "ChecksumError",
    "WarehouseError",
    "UnknownNameError",
    "CoverageNote",
    "examples",
    "first_line",
]


def examples(values: Iterable[object], *, limit: int = 5) -> str:
    """Format the first few values for an error message.

    >>> examples(["E01000001", "E01000002"])
    'E01000001, E01000002'
    >>> examples(range(10), limit=3)
    '0, 1, 2, ... (10 in all)'
    """
    items = list(values)
    shown = ", ".join(str(v) for v in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items)} in all)"
    return shown


def first_line(text: str, limit: int = 200) -> str:
    r"""The first line of ``text`` (a library's error message), cut to ``limit`` characters.

    >>> first_line("bad header\n  at line 3")
    'bad header'
    """
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


class NeighbourhoodLensError(Exception):
    """Base class of every error the package raises on purpose."""


class DataError(NeighbourhoodLensError):
    """Input data are unusable: unreadable files, bad values, duplicates."""


class SchemaError(DataError):
    """A file lacks columns a dataset needs, or has columns of the wrong type."""


class VintageError(DataError):
    """Codes belong to another geography vintage (e.g. LSOA 2021 where 2011 is expected)."""


class JoinError(DataError):
    """A join left rows unmatched where every row must match."""


class SourceUnavailableError(NeighbourhoodLensError):
    """Neither a mirror, a cache nor a download could supply a dataset."""


class ChecksumError(DataError):
    """A downloaded or mirrored file does not match its recorded SHA-256."""


class WarehouseError(NeighbourhoodLensError):
    """The warehouse is missing, not built, or lacks a table a command needs."""


class UnknownNameError(DataError, KeyError):
    """A name (a dataset id, a preset) that is not one of the known ones; also a ``KeyError``."""

    def __str__(self) -> str:  # a KeyError would quote its message
        return str(self.args[0]) if self.args else ""


class CoverageNote(UserWarning):
    """A warning category for an expected coverage difference (e.g. LSOAs new in 2011 that have no
    2001 parent): the command line shows it as ``note:``, not as a warning."""
