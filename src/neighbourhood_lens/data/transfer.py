"""Atomic file downloads into the cache: stream to a temporary name beside the target, verify, rename.

A download is written to ``<target>.<pid>.part`` in the target's own folder (so the final
:func:`os.replace` is atomic on every file system), its SHA-256 is computed while it streams,
and its size is checked against the server's ``Content-Length``. The caller reads and checks
the part file (layout, columns, rows) and only then calls :func:`commit`, which renames it over
the target; until then an older copy at the target is untouched, so a failed refresh loses
nothing. A process killed mid-transfer leaves a ``.part`` file whose process is gone:
:func:`sweep_orphans` removes those (and the ``tmpXXXXXXXX`` files left by earlier versions,
which downloaded through pooch) when the next fetch starts.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from neighbourhood_lens.data.http import connection_reason
from neighbourhood_lens.errors import ChecksumError, DataError, SourceUnavailableError

__all__ = ["PART_SUFFIX", "download_part", "commit", "sweep_orphans"]

PART_SUFFIX = ".part"
_PART = re.compile(r"^(?P<name>.+)\.(?P<pid>\d+)\.part$")
_POOCH_TMP = re.compile(r"^tmp[a-z0-9_]{8}$")
Transfer = Callable[[int, int | None], None]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(cache_dir: Path) -> list[Path]:
    """Delete part files left by killed downloads (their process is gone) under ``cache_dir``.

    Returns the paths removed. A part file of a download still running (its process is alive)
    is left alone.
    """
    removed: list[Path] = []
    if not cache_dir.is_dir():
        return removed
    for sub in [cache_dir, *(p for p in cache_dir.iterdir() if p.is_dir())]:
        for p in sub.iterdir():
            if not p.is_file():
                continue
            m = _PART.match(p.name)
            orphan = (m is not None and not _alive(int(m.group("pid")))) or _POOCH_TMP.match(p.name) is not None
            if orphan or p.name.endswith(".nlens.parquet.tmp"):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def download_part(
    session: object,
    url: str,
    target: Path,
    *,
    timeout: float,
    sha256: str | None = None,
    transfer: Transfer | None = None,
    chunk: int = 1 << 16,
) -> tuple[Path, str]:
    """Stream ``url`` into ``<target>.<pid>.part``; return the part file and its SHA-256.

    Raises :class:`SourceUnavailableError` (HTTP error, no connection),
    :class:`DataError` (connection ended early, fewer bytes than ``Content-Length``, empty
    body) or :class:`ChecksumError` (``sha256`` given and different); the part file is
    removed in every case. ``transfer(bytes_so_far, total_or_None)`` is called as bytes arrive.
    """
    import requests

    part = target.with_name(f"{target.name}.{os.getpid()}{PART_SUFFIX}")
    digest = hashlib.sha256()
    done = 0
    try:
        try:
            resp = session.get(url, stream=True, timeout=timeout)  # type: ignore[attr-defined]
        except requests.RequestException as exc:
            raise SourceUnavailableError(connection_reason(url, exc)) from None
        with resp:
            if resp.status_code >= 400:
                raise SourceUnavailableError(f"{url}: HTTP {resp.status_code} {resp.reason}")
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if transfer:
                transfer(0, total)
            try:
                with open(part, "wb") as out:
                    for block in resp.iter_content(chunk):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if transfer:
                            transfer(done, total)
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
                    requests.exceptions.ConnectionError) as exc:
                raise DataError(f"{url}: download incomplete after {done:,} bytes (the connection ended early: "
                                f"{type(exc).__name__})") from None
            except requests.exceptions.Timeout:
                raise SourceUnavailableError(f"{url}: cannot connect to the server (timed out)") from None
        if total is not None and done != total:
            raise DataError(f"{url}: download incomplete: {done:,} of {total:,} bytes arrived")
        if done == 0:
            raise DataError(f"{url}: the server sent an empty file")
        hexdigest = digest.hexdigest()
        if sha256 and hexdigest != sha256.lower():
            raise ChecksumError(f"{url}: SHA-256 {hexdigest} does not match the pinned {sha256}; the file "
                                "changed or is corrupt")
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return part, hexdigest


def commit(part: Path, target: Path) -> Path:
    """Rename a verified part file over ``target`` (atomic: same folder)."""
    os.replace(part, target)
    return target
