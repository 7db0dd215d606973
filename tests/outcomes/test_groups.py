"""Groups of an outcome comparison: the paper's defaults, list files, and bad codes refused."""

from __future__ import annotations

import pandas as pd
import pytest

from neighbourhood_lens.deprivation.left_behind import left_behind, left_behind_scores
from neighbourhood_lens.errors import DataError, VintageError
from neighbourhood_lens.outcomes.groups import (
    Group,
    default_groups,
    group_from_codes,
    read_code_list,
    resolve_groups,
)


@pytest.mark.parametrize("vintage", [2019, 2023])
def test_default_groups_are_exactly_what_left_behind_finds(con, vintage):
    groups = default_groups(con, vintage=vintage)
    lb = left_behind(con, vintage=vintage)
    assert set(groups["left_behind"].members["cluster"]) == set(lb["code"])
    scores = left_behind_scores(con, vintage=vintage)
    deprived = scores[scores["in_imd_share"] & ~scores["left_behind"]]
    assert groups["other_deprived"].n_areas == len(deprived)
    assert set(groups["other_deprived"].members["cluster"]).isdisjoint(groups["left_behind"].members["cluster"])
    if vintage == 2019:
        assert groups["left_behind"].n_areas == 225 and groups["england"].n_areas == 7427
    else:
        assert groups["england"].n_areas == 33755
        assert groups["other_deprived"].n_areas + groups["left_behind"].n_areas == (scores["imd_decile"] == 1).sum()


def test_a_list_of_codes_of_mixed_levels_becomes_areas_of_lsoas(con):
    ward, n = con.execute("SELECT ward17_code, count(*) FROM hierarchy_lsoa11 WHERE lad19_name = 'Manchester' "
                          "GROUP BY 1 ORDER BY 1 LIMIT 1").fetchall()[0]
    g = group_from_codes(con, pd.Series(["E01000001", ward]), vintage=2019, name="x")
    assert g.n_areas == 2 and g.members.columns.tolist() == ["lsoa11_code", "cluster"]
    assert g.members.loc[g.members["cluster"] == "E01000001", "lsoa11_code"].tolist() == ["E01000001"]
    assert (g.members["cluster"] == ward).sum() == n


def test_codes_of_the_other_vintage_unknown_repeated_or_overlapping_codes_are_refused(con):
    new21 = con.execute("SELECT lsoa21_code FROM hierarchy_lsoa21 EXCEPT SELECT lsoa11_code FROM hierarchy_lsoa11 "
                        "ORDER BY 1 LIMIT 2").df()["lsoa21_code"]
    with pytest.raises(VintageError, match=r"2 code\(s\) belong to the 2021-based geography .* Use --vintage 2023"):
        group_from_codes(con, new21, vintage=2019, name="mine")
    with pytest.raises(DataError, match=r"group 'mine': 1 code\(s\) are not English area codes .*: E01999999"):
        group_from_codes(con, pd.Series(["E01000001", "E01999999"]), vintage=2019, name="mine")
    with pytest.raises(DataError, match=r"1 code\(s\) repeat: E01000001"):
        group_from_codes(con, pd.Series(["E01000001", "E01000001"]), vintage=2019, name="mine")
    lad = con.execute("SELECT lad19_code FROM hierarchy_lsoa11 WHERE lsoa11_code = 'E01000001'").fetchall()[0][0]
    with pytest.raises(DataError, match="area\\(s\\) overlap"):
        group_from_codes(con, pd.Series(["E01000001", lad]), vintage=2019, name="mine")


def test_list_files_csv_with_code_column_or_plain_lines(tmp_path, con):
    (tmp_path / "a.csv").write_text("name,code\nx,E01000001\ny,E01000002\n")
    (tmp_path / "b.txt").write_text("E01000001\n\nE01000002\n")
    assert read_code_list(tmp_path / "a.csv").tolist() == ["E01000001", "E01000002"]
    assert read_code_list(tmp_path / "b.txt").tolist() == ["E01000001", "E01000002"]
    (tmp_path / "c.txt").write_text("hello\nworld\n")
    with pytest.raises(DataError, match="no column holds area codes"):
        read_code_list(tmp_path / "c.txt")
    got = resolve_groups(con, [str(tmp_path / "a.csv")], vintage=2019)
    assert list(got) == ["a", "other_deprived", "england"]
    with pytest.raises(DataError, match="unknown group 'nonsense'"):
        resolve_groups(con, ["nonsense"], vintage=2019)
    with pytest.raises(DataError, match="does not exist"):
        resolve_groups(con, [str(tmp_path / "missing.csv")], vintage=2019)


def test_a_stored_programme_is_a_group_and_one_of_the_other_vintage_is_refused(warehouse_path, tmp_path):
    import shutil

    from neighbourhood_lens.store import save_result
    from neighbourhood_lens.warehouse import connect

    db = tmp_path / "w.duckdb"
    shutil.copy(warehouse_path, db)
    rw = connect(db, read_only=False)
    try:
        wards = rw.execute("SELECT DISTINCT ward17_code AS code FROM hierarchy_lsoa11 ORDER BY 1 LIMIT 3").df()
        save_result(rw, wards.assign(amount=1.0), kind="programme", name="pilot", unit="ward17",
                    value_column="amount")
        lsoas = rw.execute("SELECT lsoa21_code AS code FROM hierarchy_lsoa21 ORDER BY 1 LIMIT 2").df()
        save_result(rw, lsoas.assign(amount=1.0), kind="programme", name="p21", unit="lsoa21", value_column="amount")
        got = resolve_groups(rw, ["programme:pilot"], vintage=2019)["programme:pilot"]
        assert got.n_areas == 3 and set(got.members["cluster"]) == set(wards["code"])
        with pytest.raises(VintageError, match="is on LSOA 2021 \\(lsoa21\\); the 2019 comparison is on LSOA 2011"):
            resolve_groups(rw, ["programme:p21"], vintage=2019)
    finally:
        rw.close()


def test_a_group_built_by_the_caller_is_taken_as_it_is(con):
    one = Group("my_area", pd.DataFrame({"lsoa21_code": ["E01000001", "E01000002"], "cluster": ["A", "A"]}))
    got = resolve_groups(con, [one], vintage=2023)
    assert got["my_area"] is one and list(got) == ["my_area", "other_deprived", "england"]
