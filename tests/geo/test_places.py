"""Place resolver and search: codes or names, any case and vintage, with "did you mean"."""

from __future__ import annotations

import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.geo.places import resolve_lad, resolve_place, search


def test_search_jaywick_finds_its_2024_ward(con):
    found = search(con, "jaywick")
    assert found[["code", "name", "type", "vintage", "lad_name", "match"]].values.tolist() == [
        ["E05011963", "West Clacton & Jaywick Sands", "ward", "2024", "Tendring", "word"]]


def test_search_orders_exact_names_first_and_falls_back_to_similar_spellings(con):
    found = search(con, "Barnet", limit=None)
    assert found.iloc[0][["code", "type", "match"]].tolist() == ["E09000003", "lad", "name"]
    assert set(found["match"]) <= {"name", "prefix", "word", "contains"}
    assert (search(con, "Jaywik")["match"] == "similar").all()
    assert search(con, "E0500077", types=["ward"])["code"].str.startswith("E0500077").all()


def test_resolve_a_code_or_name_in_any_case(con):
    assert resolve_place(con, "e05000770").name == "Ordsall"
    ordsall = resolve_place(con, "ORDSALL", types=("ward",), prefer="oldest")
    assert (ordsall.code, ordsall.vintage) == ("E05000770", "2017")
    newcastle = resolve_lad(con, "newcastle upon tyne", vintage=2024)
    assert (newcastle.code, newcastle.vintage, str(newcastle)) == (
        "E08000021", "2024", "Newcastle upon Tyne (E08000021, LAD 2024)")


def test_a_2019_lad_is_carried_to_2024_through_its_lsoas(con):
    # Corby (E07000150) merged into North Northamptonshire (E06000061) in 2021.
    assert resolve_lad(con, "Corby", vintage=2024).code == "E06000061"
    assert resolve_lad(con, "E07000150", vintage=2024).code == "E06000061"
    with pytest.raises(DataError, match=r"North Northamptonshire \(E06000061, LAD 2024\) has no single 2019 LAD.*"
                                        r"Corby \(E07000150\).*Kettering"):
        resolve_lad(con, "North Northamptonshire", vintage=2019)


def test_unknown_and_ambiguous_names_say_what_to_do(con):
    with pytest.raises(DataError, match=r"--lad 'Newcstle': no LAD has that code or name; did you mean "
                                        r"Newcastle upon Tyne \(E08000021\)"):
        resolve_lad(con, "Newcstle")
    with pytest.raises(DataError, match=r"wards 2024 have that name \(E05001260 in Sandwell;.*give the code"):
        resolve_place(con, "abbey", types=("ward",))
    with pytest.raises(DataError, match="unknown area type"):
        search(con, "x", types=["county"])
    with pytest.raises(DataError, match="search text is empty"):
        search(con, "  ")


def test_lsoas_within_jaywicks_ward(con):
    from neighbourhood_lens.geo.places import lsoas_within

    inside = lsoas_within(con, ["E05011963"])
    assert set(inside["within_code"]) == {"E05011963"} and (inside["vintage"] == "2021").all()
    # Tendring 018A (Jaywick) was the most deprived LSOA in England in IoD2015 and IoD2019 (MHCLG).
    assert inside.set_index("code").loc["E01021988", ["name", "imd_decile"]].tolist() == ["Tendring 018A", 1]
    assert inside["imd_decile"].is_monotonic_increasing


def test_names_outside_ascii_match_by_casefold_as_before_the_prefilter():
    # The DuckDB prefilter compares ASCII text by upper/lower; a name or code outside ASCII is
    # always a candidate, so Python's casefold still decides ("strasse" is "Straße" casefolded,
    # so "Strasse" names two wards, not just the one in ASCII).
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE areas (code VARCHAR, name VARCHAR, type VARCHAR, vintage INTEGER, "
                "lad_code VARCHAR, lad_name VARCHAR)")
    con.execute("INSERT INTO areas VALUES ('E05000001', 'Straße', 'ward', 2024, 'E06000001', 'A'), "
                "('E05000002', 'Ynys Môn', 'ward', 2024, 'E06000001', 'A'), "
                "('E05000003', 'Abbey', 'ward', 2024, 'E06000001', 'A'), "
                "('E05000004', 'Strasse', 'ward', 2024, 'E06000001', 'A')")
    with pytest.raises(DataError, match=r"2 wards 2024 have that name \(E05000001 in A; E05000004 in A\)"):
        resolve_place(con, "STRASSE")
    assert resolve_place(con, "ynys MÔN").code == "E05000002"
    assert resolve_place(con, " abbey ").code == "E05000003"
    assert resolve_place(con, "e05000003").name == "Abbey"
    with pytest.raises(DataError, match="no area has that code or name"):
        resolve_place(con, "Abbe")
