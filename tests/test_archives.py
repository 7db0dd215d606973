"""Zip archives are bounded before any member is read: member count, declared and actual unpacked size."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from neighbourhood_lens.archives import check_zip, read_member
from neighbourhood_lens.data.publisher_files import zip_member
from neighbourhood_lens.errors import DataError


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _lie(data: bytes, size: int) -> bytes:
    """The archive with every member's uncompressed size (local and central headers) replaced by ``size``."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset:at + offset + 4] = struct.pack("<I", size)
            at = out.find(signature, at + 4)
    return bytes(out)


def test_a_small_archive_passes_and_its_unpacked_size_is_counted():
    assert check_zip(_zip({"a.xml": b"x" * 1000, "b.xml": b"y" * 500}), name="ok.xlsx") == 1500


def test_too_many_members_are_refused_from_the_directory():
    data = _zip({f"m{i}.xml": b"" for i in range(101)})
    with pytest.raises(DataError, match=r"^many.xlsx: the archive has 101 members; at most 100"):
        check_zip(data, name="many.xlsx")


def test_a_zip_bomb_is_refused_from_its_declared_size():
    bomb = _zip({"xl/worksheets/sheet1.xml": b" " * 60_000_000})
    assert len(bomb) < 100_000  # 60 MB of whitespace packs into a few tens of kB
    with pytest.raises(DataError, match="unpacks to 60,000,000 bytes .its directory says.; at most 50,000,000"):
        check_zip(bomb, name="bomb.xlsx")


def test_a_directory_that_understates_the_size_does_not_get_past_the_read():
    liar = _lie(_zip({"xl/worksheets/sheet1.xml": b" " * 60_000_000}), 1000)
    assert zipfile.ZipFile(io.BytesIO(liar)).infolist()[0].file_size == 1000
    with pytest.raises(DataError, match="liar.xlsx: member 'xl/worksheets/sheet1.xml' .* does not match"):
        check_zip(liar, name="liar.xlsx")


def test_not_a_zip_is_a_clear_error():
    with pytest.raises(DataError, match="not.xlsx: not a readable .xlsx workbook or zip archive"):
        check_zip(b"PK but not really", name="not.xlsx")


def test_a_publisher_archive_member_is_read_within_its_bound(tmp_path):
    path = tmp_path / "census.zip"
    path.write_bytes(_zip({"census2021-ts001-lsoa.csv": b"a,b\n" * 1000, "readme.txt": b"notes"}))
    assert zip_member(path, None) == ("census2021-ts001-lsoa.csv", b"a,b\n" * 1000)
    with pytest.raises(DataError, match=r"https://example.org/census.zip: member 'census2021-ts001-lsoa.csv' "
                                        r"unpacks to 4,000 bytes .the archive's directory says.; at most 1,000"):
        zip_member(path, None, label="https://example.org/census.zip", max_bytes=1000)


def test_a_member_whose_directory_understates_its_size_is_refused_not_read_on():
    liar = zipfile.ZipFile(io.BytesIO(_lie(_zip({"big.csv": b" " * 60_000_000}), 1000)))
    with pytest.raises(DataError, match="liar.zip: member 'big.csv' of the archive is damaged or does not match"):
        read_member(liar, "big.csv", name="liar.zip", max_bytes=50_000_000)
    honest = zipfile.ZipFile(io.BytesIO(_zip({"big.csv": b" " * 3_000_000})))
    with pytest.raises(DataError, match="unpacks to 3,000,000 bytes"):
        read_member(honest, "big.csv", name="f.zip", max_bytes=2_000_000)
