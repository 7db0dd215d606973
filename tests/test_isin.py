"""neighbourhood_lens._isin.isin answers exactly as pandas' own ``isin``, on real codes and on odd input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_series_equal

from neighbourhood_lens._isin import isin

CODES = pd.Series(["E01000001", None, "E01000003", "W01000001", "E01000001"], name="code", index=[4, 3, 9, 1, 0])

WANTED = [
    ["E01000001"], {"E01000003", "W01000001"}, ("E01000001",), [], set(), [None], [np.nan], [pd.NA],
    ["E01000001", 1], [1, 2], [1.5, None], np.array(["E01000003", "x"]), np.array([], dtype=object),
    pd.Series(["W01000001", None]), pd.Index(["E01000003"]), pd.Series(["E01000001"], dtype="string[pyarrow]"),
    pd.Series(["E01000001"], dtype="string[python]"), pd.Series(["E01000001"], dtype=object),
    {"E01000001": 1}.keys(), pd.Series([1.0, np.nan]), pd.Categorical(["E01000003"]), [("E01000001", "x")],
    [b"E01000001"],
]


# ids by position and type: a set's repr changes with the hash seed, and pytest-xdist's workers must agree
@pytest.mark.parametrize("wanted", WANTED, ids=[f"{i}-{type(w).__name__}" for i, w in enumerate(WANTED)])
@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", object])
def test_same_answer_as_pandas_for_every_kind_of_wanted_values(wanted, dtype):
    codes = CODES.astype(dtype)
    assert_series_equal(isin(codes, wanted), codes.isin(wanted))
    index = pd.Index(codes)
    np.testing.assert_array_equal(isin(index, wanted), index.isin(wanted))


def test_a_generator_is_read_once_and_answered_like_its_list():
    assert_series_equal(isin(CODES, (c for c in ["E01000003", None])), CODES.isin(["E01000003", None]))


def test_scalars_raise_pandas_own_error_and_frames_go_to_pandas():
    for bad in ("E01000001", 1, None):
        with pytest.raises(TypeError, match="only list-like"):
            isin(CODES, bad)
    frame = pd.DataFrame({"code": CODES})
    pd.testing.assert_frame_equal(isin(frame, ["E01000001"]), frame.isin(["E01000001"]))


def test_real_codes_every_lsoa_against_half_and_a_few_strangers(mirror):
    lsoa11 = pd.read_parquet(mirror / "lookup_lsoa11_lsoa21_lad22.parquet")["lsoa11_code"].astype("str")
    assert lsoa11.str.match(r"^[EW]01\d{6}$").all() and len(lsoa11) > 30_000
    wanted = set(lsoa11.iloc[::2]) | {"E99999999", "", "e01000001"}
    got = isin(lsoa11, wanted)
    assert_series_equal(got, lsoa11.isin(wanted))
    assert 0 < got.sum() < len(lsoa11)


def test_the_package_calls_isin_through_the_helper():
    """No ``.isin(...)`` method call in the package outside ``_isin.py`` (NumPy's ``np.isin`` is fine)."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "neighbourhood_lens"
    calls = []
    for path in sorted(src.rglob("*.py")):
        if path.name == "_isin.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "isin"
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("np", "numpy"))):
                calls.append(f"{path.relative_to(src)}:{node.lineno}")
    assert not calls, f"use neighbourhood_lens._isin.isin(obj, values) instead of obj.isin(values) at: {calls}"
