"""Reading a user's TOML file (programme and index specs, sources files) with one error style."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .errors import DataError


def read_toml(path: str | Path, *, what: str, hint: str = "") -> dict[str, Any]:
    """The parsed TOML document at ``path``; a :class:`DataError` naming ``what`` (e.g.
    "programme spec") and the file when it is missing, not UTF-8 or not valid TOML.

    >>> read_toml("no-such.toml", what="index spec", hint="; pass a TOML file or --preset NAME")
    Traceback (most recent call last):
    ...
    neighbourhood_lens.errors.DataError: index spec no-such.toml does not exist; pass a TOML file or --preset NAME
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{what} {p} does not exist{hint}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} {p} is not UTF-8 text (byte 0x{exc.object[exc.start:exc.start + 1].hex()} at "
                        f"position {exc.start}); is it a binary file? A {what} is a TOML text file") from None
    if not text.strip():
        raise DataError(f"{what} {p} is empty; a {what} is a TOML text file{hint}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{what} {p} is not valid TOML: {exc}") from None
