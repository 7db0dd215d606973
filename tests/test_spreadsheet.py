"""Formula injection: text a spreadsheet would run is written as text, numbers stay numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens._spreadsheet import is_risky, neutralise_frame

ATTACKS = ['=HYPERLINK("http://x","y")', "=1+1", "+1", "@SUM(A1)", "\t=1", "\r=1", "-5 apples", "-2+3"]


@pytest.mark.parametrize("text", ATTACKS)
def test_each_risky_start_gets_a_quote(text):
    out = neutralise_frame(pd.DataFrame({"name": [text, "Leeds"], "amount_gbp": [-5.0, 10.0]}))
    assert out["name"].tolist() == ["'" + text, "Leeds"]
    assert out["amount_gbp"].tolist() == [-5.0, 10.0] and out["amount_gbp"].dtype.kind == "f"


def test_only_text_changes_and_the_input_is_not_modified():
    frame = pd.DataFrame({"mixed": ["=1", -5.0, None], "n": [-1, 2, 3], "s": pd.array(["@a", None, "b"], "string"),
                          "c": pd.Categorical(["+x", "y", "+x"])})
    out = neutralise_frame(frame)
    assert out["mixed"].tolist()[:2] == ["'=1", -5.0] and out["mixed"].isna().tolist()[2]
    assert out["n"].tolist() == [-1, 2, 3] and out["n"].dtype == frame["n"].dtype
    assert out["s"].tolist()[0] == "'@a" and out["c"].tolist() == ["'+x", "y", "'+x"]
    assert frame["mixed"].tolist()[0] == "=1"  # a copy, not in place


def test_column_names_from_a_user_file_are_neutralised_too():
    assert list(neutralise_frame(pd.DataFrame({"=cmd": [1], "ok": [2]})).columns) == ["'=cmd", "ok"]


def test_safe_text_is_left_alone():
    assert not any(is_risky(v) for v in ["Leeds", "a=1", "E01000001", "", 5, -5.0, None])


def test_a_negative_number_as_text_stays_a_number():
    out = neutralise_frame(pd.DataFrame({"amount_as_given": ["-2500", "-5.0", "-5 apples", "-2+3", "-1e3"]}))
    assert out["amount_as_given"].tolist() == ["-2500", "-5.0", "'-5 apples", "'-2+3", "'-1e3"]


@pytest.mark.parametrize("dtype", ["str", "string", object])
def test_text_columns_are_checked_cell_by_cell_alike_in_every_dtype(dtype):
    cells = ["=1+1", "+1", "@SUM(A1)", "\t=1", "\r=1", "-5 apples", "-2+3", "-2500", "-5.0", "-5.", "-", "--1",
             "-1.2.3", "-٣", "Leeds", "", None, "x=1", " =1", "'=1"]
    out = neutralise_frame(pd.DataFrame({"name": pd.Series(cells, dtype=dtype)}))["name"]
    expected = ["'" + c if isinstance(c, str) and is_risky(c) else c for c in cells]
    assert [None if pd.isna(v) else v for v in out] == expected
    assert expected[:5] == ["'=1+1", "'+1", "'@SUM(A1)", "'\t=1", "'\r=1"] and expected[7:9] == ["-2500", "-5.0"]
    assert expected[13] == "'-٣"  # only ASCII digits make a negative number
