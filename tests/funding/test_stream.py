"""The DuckDB path of funding reach gives what the pandas path gives, row for row and message for message."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.funding import reach as funding
from neighbourhood_lens.funding.stream import _WHITESPACE, locate_csv

_FRAMES = ("deciles", "by_region", "by_left_behind_group", "curve", "need", "by_lad", "unlocated", "rejected")


def _both(con, path, index: str = "imd2019"):  # noqa: ANN001, ANN202
    """reach() on the file path (DuckDB) and on the file read by pandas first (the pandas path)."""
    return funding.reach(con, path, index=index), funding.reach(con, funding.read_grants(path), index=index)


def _assert_same(fast, slow) -> None:  # noqa: ANN001
    assert fast.summary == slow.summary and list(fast.summary) == list(slow.summary)
    for name in _FRAMES:
        pd.testing.assert_frame_equal(getattr(fast, name).reset_index(drop=True),
                                      getattr(slow, name).reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("index", ["imd2019", "imd2025"])
def test_synthetic_file_with_every_fault_is_read_the_same(con, tmp_path, index) -> None:  # noqa: ANN001
    path = funding.write_grants(funding.synthetic_grants(con, 3000, seed=4), tmp_path / "g.csv")
    assert locate_csv(con, path, index=index) is not None  # the DuckDB path is taken
    fast, slow = _both(con, path, index)
    _assert_same(fast, slow)
    assert fast.summary["rejected"] and fast.summary["unlocated"] and fast.summary["type_overrides"]


def test_rows_only_pandas_can_clear_and_odd_text_are_read_the_same(con, tmp_path) -> None:  # noqa: ANN001
    lsoa = con.execute("SELECT lsoa11_code FROM hierarchy_lsoa11 ORDER BY 1 LIMIT 3").fetchall()
    a, b, c = (r[0] for r in lsoa)
    rows = [
        f'g1,"a title, with a comma",GBP,"£1,250.50",2021-04-01,,{a},LSOA',  # pound sign and separators
        f"g2,t,gbp,  300 ,01/05/2021,,{b.lower()},",  # spaces, day-first date, lower-case code and currency
        f"g3,t,GBP,\u00a0400\u00a0,,,\t{c} ,MSOA",  # non-breaking spaces and a tab; type overridden
        f"g1,t,GBP,5,,,{a},LSOA",  # duplicate of g1 (the first is kept)
        "g4,t,GBP,5,2021-02-30,,E61000001,GLA",  # a date that does not exist
        "g5,t,GBP,7,,,E61000001,GLA",  # the GLA, located as London
        "g6,t,GBP,1e3,,,E92000001,CTRY",  # scientific notation
        "g7,t,EUR,10,,,E92000001,",  # not GBP
        f'g8,"two\nlines",GBP,10.005,,,{a},',  # a quoted newline; half a penny
        "g9,t,GBP,20,,SW1A 1AA,,",  # postcode only, no lookup
        "g10,t,GBP,-3,,,E01099999,LSOA",  # negative, and an unknown code
        "g11,t,GBP,30,,,w01000001,",  # outside England (lower case)
        ",t,GBP,40,,,E05000001,WD",  # no identifier
        "g12,t,GBP,50,,,E47000001,",  # unsupported code type
        "\u00a0g5 ,t,GBP,60,,,E92000001,",  # an identifier with spaces around it: a duplicate of g5
        "\u00e9t\u00e9,t,GBP,70,,,E92000001,",  # an identifier that is not ASCII
        "\u00e9t\u00e9\u2003,t,GBP,80,,,E92000001,",  # ... and its duplicate with an em space
    ]
    text = ("Identifier,Title,Currency,Amount Awarded,Award Date,Recipient Org:0:Postal Code,"
            "Beneficiary Location:0:Geographic Code,Beneficiary Location:0:Geographic Code Type\n"
            + "\n".join(rows) + "\n")
    path = tmp_path / "odd.csv"
    path.write_text(text, encoding="utf-8")
    assert locate_csv(con, path, index="imd2019") is not None
    fast, slow = _both(con, path)
    _assert_same(fast, slow)
    assert fast.summary["rows_in"] == len(rows) and fast.summary["balanced"]


def test_files_it_does_not_read_fall_back_to_pandas(con, tmp_path) -> None:  # noqa: ANN001
    alloc = tmp_path / "alloc.csv"
    alloc.write_text("area_code,amount\nE92000001,100\n", encoding="utf-8")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("Identifier,Amount Awarded,Beneficiary Location:0:Geographic Code\na,1,E92000001,x\n",
                      encoding="utf-8")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("Identifier,Amount Awarded,Beneficiary Location:0:Geographic Code\ncaf\xe9,1,E92000001\n"
                      .encode("latin-1"))
    for path in (alloc, ragged, latin):
        assert locate_csv(con, path, index="imd2019") is None
    assert funding.reach(con, alloc).summary["located"] == 1


def test_the_whitespace_trimmed_is_what_str_strip_removes() -> None:
    assert _WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def test_rows_are_taken_from_every_chunk_as_a_whole_take_would() -> None:
    import numpy as np
    import pyarrow as pa

    from neighbourhood_lens.funding.stream import _take

    chunks = pa.chunked_array([["a", "b"], [], ["c"], ["d", None, "f"]], pa.string())
    for at in ([], [0], [1, 2], [2, 3, 4, 5], [0, 1, 2, 3, 4, 5], [5]):
        whole = chunks.take(pa.array(at, pa.int64())).to_pylist()
        assert _take(chunks, np.array(at, dtype=np.int64)).to_pylist() == whole
    assert _take(chunks.combine_chunks(), np.array([3, 4])).to_pylist() == ["d", None]
