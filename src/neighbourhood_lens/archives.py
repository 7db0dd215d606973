"""Zip archives from users and publishers (``.xlsx`` files are zip files): bounded before a member is read.

A "zip bomb" is a small archive whose members unpack to gigabytes (a 1 MB workbook whose
``sheet1.xml`` is 1 GB of whitespace, say). :func:`check_zip` refuses an archive

1. whose central directory lists more than ``max_members`` members, or declares more than
   ``max_unpacked`` bytes unpacked in all - read from the directory alone, before any member
   is decompressed;
2. whose members, when actually decompressed (in 1 MB pieces, never held whole), do not match
   the directory: Python's :mod:`zipfile` stops a member at its declared size and then fails
   its CRC check, so a directory that understates the sizes ends in a clear error after at
   most ``max_unpacked`` bytes. The bytes read are also counted against ``max_unpacked``
   themselves, so the bound does not depend on that behaviour of :mod:`zipfile`.

:func:`read_member` reads one member of an archive already open under the same rules: its
declared size is checked against a limit first, and it is read in 1 MB pieces counted against
that limit, so a member that unpacks to more than it says stops there.

Every failure is a :class:`~neighbourhood_lens.errors.DataError` naming the file and the limit.
"""

from __future__ import annotations

import io
import zipfile

from .errors import DataError

__all__ = ["MAX_UNPACKED_BYTES", "MAX_MEMBERS", "check_zip", "read_member"]

#: Most bytes an archive may unpack to (a 10 MB upload of grants unpacks to well under this).
MAX_UNPACKED_BYTES = 50_000_000
#: Most members an archive may have (a workbook has about 10-20).
MAX_MEMBERS = 100
_CHUNK = 1 << 20


def check_zip(data: bytes, *, name: str, max_unpacked: int = MAX_UNPACKED_BYTES,
              max_members: int = MAX_MEMBERS) -> int:
    """Check a zip archive's size before it is opened for real; the bytes it unpacks to.

    Parameters
    ----------
    data
        The archive's bytes.
    name
        The file name shown in messages (the user's, never a temporary path).
    max_unpacked, max_members
        Limits on the unpacked size in bytes (declared, then actually read) and on the
        number of members.

    Raises
    ------
    DataError
        Not a zip archive, too many members, too large unpacked (declared or actual), or a
        member whose data does not match the directory.

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    ...     z.writestr("a.xml", " " * 10_000)
    >>> check_zip(buf.getvalue(), name="a.xlsx")
    10000
    >>> try:
    ...     check_zip(buf.getvalue(), name="a.xlsx", max_unpacked=5_000)
    ... except DataError as exc:
    ...     print(str(exc)[:73])
    a.xlsx: the archive unpacks to 10,000 bytes (its directory says); at most
    """
    advice = ("Save the workbook again without unused sheets, images or blank rows, or upload it as CSV")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise DataError(f"{name}: not a readable .xlsx workbook or zip archive: {str(exc)[:120]}") from None
    with archive:
        members = archive.infolist()
        if len(members) > max_members:
            raise DataError(f"{name}: the archive has {len(members):,} members; at most {max_members:,} are "
                            f"accepted. {advice}")
        declared = sum(m.file_size for m in members)
        if declared > max_unpacked:
            raise DataError(f"{name}: the archive unpacks to {declared:,} bytes (its directory says); at most "
                            f"{max_unpacked:,} are accepted. {advice}")
        total = 0
        for member in members:
            try:
                with archive.open(member) as stream:
                    while chunk := stream.read(_CHUNK):
                        total += len(chunk)
                        if total > max_unpacked:
                            raise DataError(f"{name}: the archive unpacks to more than {max_unpacked:,} bytes "
                                            f"(member {member.filename[:80]!r}; its directory said {declared:,}). "
                                            f"{advice}")
            except DataError:
                raise
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError) as exc:
                raise DataError(f"{name}: member {member.filename[:80]!r} of the archive is damaged or does not match "
                                f"its directory ({str(exc)[:120]}). Save the workbook again") from None
    return total


def read_member(archive: zipfile.ZipFile, member: str, *, name: str, max_bytes: int) -> bytes:
    """The bytes of ``member`` of ``archive``, refused when it unpacks to more than ``max_bytes``.

    The directory's size is checked before anything is decompressed; the member is then read in
    1 MB pieces whose total is counted against ``max_bytes`` too, so a directory that understates
    the size ends in an error (zipfile's CRC check, or the count) rather than in memory.

    Raises
    ------
    DataError
        Too large (declared or actual), or damaged (``name`` and the member are named).

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    ...     z.writestr("data.csv", "a,b\\n" * 1_000)
    >>> len(read_member(zipfile.ZipFile(buf), "data.csv", name="f.zip", max_bytes=10_000))
    4000
    >>> try:
    ...     read_member(zipfile.ZipFile(buf), "data.csv", name="f.zip", max_bytes=1_000)
    ... except DataError as exc:
    ...     print(str(exc)[:64])
    f.zip: member 'data.csv' unpacks to 4,000 bytes (the archive's d
    """
    info = archive.getinfo(member)
    if info.file_size > max_bytes:
        raise DataError(f"{name}: member {member[:80]!r} unpacks to {info.file_size:,} bytes (the archive's "
                        f"directory says); at most {max_bytes:,} are read from one member")
    out = io.BytesIO()
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                if out.tell() + len(chunk) > max_bytes:
                    raise DataError(f"{name}: member {member[:80]!r} unpacks to more than {max_bytes:,} bytes "
                                    f"(its directory said {info.file_size:,})")
                out.write(chunk)
    except DataError:
        raise
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise DataError(f"{name}: member {member[:80]!r} of the archive is damaged or does not match its "
                        f"directory ({str(exc)[:120]}); the download may be corrupt") from None
    return out.getvalue()
