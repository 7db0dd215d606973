"""Stored results: saved, listed, loaded, dropped; names and codes checked."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError, WarehouseError
from neighbourhood_lens.store import drop_result, list_results, load_result, save_result, user_tables


def test_round_trip_and_registry(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    frame = pd.DataFrame({"code": ["E05000026", "E05000027"], "score": [1.5, 2.5]})
    table = save_result(con, frame, kind="index", name="my_need", unit="ward17", value_column="score",
                        sources=["imd2019_lsoa11"])
    assert table == "index_my_need"
    back, row = load_result(con, kind="index", name="my_need")
    pd.testing.assert_frame_equal(back, frame)
    assert row["unit"] == "ward17" and row["n_rows"] == 2
    assert list(list_results(con)["name"]) == ["my_need"]
    assert user_tables(con) == ["index_my_need", "stored_results"]
    drop_result(con, kind="index", name="my_need")
    with pytest.raises(WarehouseError, match="no stored index called 'my_need'"):
        load_result(con, kind="index", name="my_need")


def test_bad_names_kinds_and_duplicate_codes_are_refused(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    frame = pd.DataFrame({"code": ["A", "A"], "v": [1, 2]})
    with pytest.raises(DataError, match="name 'Bad Name' is not allowed"):
        save_result(con, frame, kind="index", name="Bad Name", unit="ward17", value_column="v")
    with pytest.raises(DataError, match="unknown kind"):
        save_result(con, frame, kind="map", name="x", unit="ward17", value_column="v")
    with pytest.raises(DataError, match="1 code\\(s\\) repeat: A"):
        save_result(con, frame, kind="index", name="x", unit="ward17", value_column="v")
