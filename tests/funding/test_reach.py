"""Funding reach: reading 360Giving files, locating grants, reach metrics and the report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError, SchemaError
from neighbourhood_lens.funding import reach as funding
from neighbourhood_lens.funding.report import render_reach_html

HEADER = ("Identifier,Title,Currency,Amount Awarded,Award Date,Recipient Org:0:Postal Code,"
          "Beneficiary Location:0:Geographic Code,Beneficiary Location:0:Geographic Code Type\n")


def grants_csv(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


# ---------------------------------------------------------------- tiny, hand-checkable cases


def test_concentration_index_hand_cases() -> None:
    pop2, rank2 = np.array([1.0, 1.0]), np.array([1, 2])
    # All money in the more deprived of two equal areas: R = (1/4, 3/4), C = 2 * 2 * 1/4 / 2 - 1.
    assert funding.concentration_index(np.array([2.0, 0.0]), pop2, rank2) == -0.5
    assert funding.concentration_index(np.array([0.0, 2.0]), pop2, rank2) == 0.5
    # Equal per head: C = 0 whatever the populations.
    assert funding.concentration_index(np.array([5.0, 10.0, 20.0]), np.array([1.0, 2.0, 4.0]),
                                       np.array([3, 1, 2])) == pytest.approx(0.0, abs=1e-12)
    # Populations 1, 1, 2 ranked 1..3; all 4 units of money in the least deprived:
    # R = (0.125, 0.375, 0.75), C = 2 * 4 * 0.75 / 4 - 1 = 0.5.
    assert funding.concentration_index(np.array([0.0, 0.0, 4.0]), np.array([1.0, 1.0, 2.0]),
                                       np.array([1, 2, 3])) == pytest.approx(0.5)


def test_concentration_index_equals_covariance_definition() -> None:
    rng = np.random.default_rng(7)
    pop = rng.integers(500, 3000, 50).astype(float)
    amount = rng.gamma(2.0, 1000.0, 50)
    rank = rng.permutation(50) + 1
    order = np.argsort(rank)
    w, y = pop[order], (amount / pop)[order]
    r = (np.cumsum(w) - w / 2) / w.sum()
    mu = np.average(y, weights=w)
    cov = np.average((y - mu) * (r - np.average(r, weights=w)), weights=w)
    assert funding.concentration_index(amount, pop, rank) == pytest.approx(2 * cov / mu, rel=1e-9)


def test_split_pence_conserves_every_penny() -> None:
    rng = np.random.default_rng(3)
    weights = pd.DataFrame({"code": np.repeat(["A", "B", "C"], [3, 7, 1]), "lsoa_code": [f"L{i}" for i in range(11)],
                            "weight": np.concatenate([[1 / 3] * 3, rng.dirichlet(np.ones(7)), [1.0]])})
    totals = pd.DataFrame({"code": ["A", "B", "C"], "pence": [100, 123_456_789, 1]})
    out = funding.split_pence(totals, weights)
    assert out.groupby("code")["pence"].sum().to_dict() == {"A": 100, "B": 123_456_789, "C": 1}
    assert sorted(out.loc[out["code"] == "A", "pence"]) == [33, 33, 34]



@pytest.mark.parametrize("shuffle", [False, True])
def test_split_pence_by_integer_groups_equals_the_merge(shuffle) -> None:  # noqa: ANN001
    # Codes in runs (pandas sums by reduceat) or shuffled (compensated sums), with many tied remainders.
    from neighbourhood_lens.funding.locate import _split_merged

    rng = np.random.default_rng(0)
    weights = pd.DataFrame({"code": np.repeat([f"C{i}" for i in range(500)], 7),
                            "lsoa_code": [f"L{i}" for i in range(3500)],
                            "weight": rng.choice([1 / 3, 1 / 7, 0.25, 0.5], 3500)})
    if shuffle:
        weights = weights.sample(frac=1, random_state=1)
    totals = pd.DataFrame({"code": [f"C{i}" for i in range(499, -1, -1)] + ["unused"],
                           "pence": [*rng.integers(0, 10**7, 500), 0]})
    pd.testing.assert_frame_equal(funding.split_pence(totals, weights), _split_merged(totals, weights),
                                  check_exact=True)


def test_groups_and_ranks_are_those_of_pandas_on_the_text() -> None:
    from neighbourhood_lens.funding.locate import _groups, _rank_down

    codes = pd.Series(["b", "a", "b", "c", "a", "b"])
    assert _groups(codes).tolist() == pd.factorize(codes, sort=True)[0].tolist() == [1, 0, 1, 2, 0, 1]
    values = np.array([0.5, 0.2, 0.5, 0.5, 0.2, 0.1])
    expected = pd.Series(values).groupby(codes).rank(method="first", ascending=False).to_numpy()
    assert _rank_down(values, _groups(codes)).tolist() == expected.tolist() == [1.0, 1.0, 2.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("groups", [500, 70_000])  # below and above 2**16 groups: radix sort, then timsort
def test_ranks_within_many_groups_are_those_of_pandas(groups) -> None:  # noqa: ANN001
    from neighbourhood_lens.funding.locate import _rank_down

    rng = np.random.default_rng(groups)
    key = np.sort(rng.integers(0, groups, 200_000))
    values = rng.choice([0.0, 0.25, 0.5, 0.75], len(key)) + rng.integers(0, 3, len(key)) * 1e-9  # many ties
    expected = pd.Series(values).groupby(key).rank(method="first", ascending=False).to_numpy()
    np.testing.assert_array_equal(_rank_down(values, key), expected)

def test_validate_names_each_bad_row_and_keeps_the_good() -> None:
    data = grants_csv(
        "g1,ok,GBP,1000,2021-04-01,,E01000001,LSOA",
        "g2,bad amount,GBP,lots,2021-04-01,,E01000001,LSOA",
        "g3,negative,GBP,-50,2021-04-01,,E01000001,LSOA",
        "g4,dollars,USD,75,2021-04-01,,E01000001,LSOA",
        "g1,duplicate,GBP,10,2021-04-01,,E01000001,LSOA",
        "g6,bad date,GBP,10,2021-13-45,,E01000001,LSOA",
        'g7,pounds,GBP,"£1,250.50",01/02/2021,,E01000001,LSOA',
    )
    gi = funding.read_grants(data, filename="t.csv")
    assert gi.rows_in == 7 and gi.form == "360giving"
    assert gi.grants[["row", "amount_gbp"]].to_dict("records") == [{"row": 2, "amount_gbp": 1000.0},
                                                                     {"row": 8, "amount_gbp": 1250.5}]
    assert gi.rejected[["row", "reason"]].to_dict("records") == [
        {"row": 3, "reason": "Amount Awarded is not a number: 'lots'"},
        {"row": 4, "reason": "Amount Awarded is negative: '-50'"},
        {"row": 5, "reason": "Currency 'USD' is not GBP"},
        {"row": 6, "reason": "duplicate Identifier 'g1' (first at row 2)"},
        {"row": 7, "reason": "Award Date does not parse: '2021-13-45' (use YYYY-MM-DD)"},
    ]


def test_whole_file_problems_raise_clear_errors(tmp_path) -> None:
    with pytest.raises(DataError, match="the file is empty"):
        funding.read_grants(b"", filename="e.csv")
    with pytest.raises(DataError, match="header but no grants"):
        funding.read_grants(HEADER.encode(), filename="h.csv")
    latin = grants_csv("g1,Caf\xe9 grant,GBP,10,2021-04-01,,E01000001,LSOA").decode().encode("cp1252")
    with pytest.raises(DataError, match=r"not UTF-8 text: byte 0xe9 at line 2 .*--encoding cp1252"):
        funding.read_grants(latin, filename="latin.csv")
    assert funding.read_grants(latin, filename="latin.csv", encoding="cp1252").grants["title"][0] == "Café grant"
    with pytest.raises(SchemaError, match=r"header is not 360Giving: found columns name, value"):
        funding.read_grants(b"name,value\na,1\n", filename="x.csv")
    with pytest.raises(DataError, match="unknown file type '.pdf'"):
        funding.read_grants(b"%PDF", filename="x.pdf")


def test_allocation_table_is_recognised() -> None:
    gi = funding.read_grants(b"Area Code,Amount,Programme,Period\nE07000114,100,UKSPF,2022-25\n", filename="a.csv")
    assert gi.form == "allocation"
    assert gi.grants[["identifier", "geo_code", "amount_gbp", "programme", "period"]].iloc[0].tolist() == [
        "row-2", "E07000114", 100.0, "UKSPF", "2022-25"]


# ---------------------------------------------------------------- real national data


@pytest.fixture(scope="module")
def sample(con, tmp_path_factory):
    """A 3,000-row SYNTHETIC sample written as CSV, and its reach against IMD 2019."""
    path = tmp_path_factory.mktemp("funding") / "sample.csv"
    frame = funding.synthetic_grants(con, 3000, seed=11)
    funding.write_grants(frame, path)
    return frame, path, funding.reach(con, path, index="imd2019")


def test_sample_accounts_for_every_row_and_penny(con, sample) -> None:
    frame, path, result = sample
    s = result.summary
    assert s["rows_in"] == len(frame) == 3000
    assert s["located"] + s["unlocated"] + s["rejected"] == 3000 and s["balanced"]
    gi = funding.read_grants(path)
    loc = funding.locate_grants(con, gi, index="imd2019")
    pence_in = np.round(loc.grants["amount_gbp"] * 100).astype(np.int64).sum()
    pence_out = np.round(loc.allocations["amount_gbp"] * 100).astype(np.int64).sum()
    assert pence_in == pence_out
    assert result.deciles["amount"].sum() == pytest.approx(s["located_amount_gbp"], abs=0.005)
    assert result.deciles["share_of_amount"].sum() == pytest.approx(1.0)
    national = con.execute("SELECT sum(population) FROM hierarchy_lsoa11").fetchone()[0]
    assert result.deciles["population"].sum() == pytest.approx(national)
    assert list(result.deciles.columns) == ["decile", "amount", "population", "amount_per_capita",
                                            "share_of_amount"]
    assert result.deciles["decile"].tolist() == list(range(1, 11))


def test_sample_reports_every_kind_of_bad_row(sample) -> None:
    _, _, result = sample
    rejected = " | ".join(result.rejected["reason"])
    for text in ("is not a number: 'five thousand'", "is negative: '-2500'", "Currency 'USD' is not GBP",
                 "duplicate Identifier '360G-SYNTHETIC-", "Award Date does not parse: '31/02/2021'"):
        assert text in rejected
    unlocated = " | ".join(result.unlocated["reason"])
    for text in ("unknown lsoa code 'E01099999'", "outside England (W01000001)", "code type E47 (combined authority)",
                 "no postcode lookup supplied"):
        assert text in unlocated
    assert result.summary["type_overrides"] > 0 and result.summary["converted"] > 0
    # The sample favours deprived areas, so the money leans that way.
    assert result.concentration_index < 0
    assert result.summary["share_most_deprived_10"] > 0.1


def test_lad_grant_splits_pro_rata_to_the_penny(con) -> None:
    gi = funding.read_grants(grants_csv("g1,Thanet,GBP,1000.01,2021-04-01,,E07000114,"), filename="t.csv")
    loc = funding.locate_grants(con, gi, index="imd2019")
    pop = con.execute("SELECT lsoa11_code AS lsoa_code, population FROM hierarchy_lsoa11 "
                      "WHERE lad19_code = 'E07000114'").df()
    alloc = loc.allocations.merge(pop, on="lsoa_code", how="outer", validate="one_to_one")
    assert len(alloc) == len(pop) and alloc["population"].notna().all()
    assert round(alloc["amount_gbp"].sum() * 100) == 100001
    expected = 1000.01 * alloc["population"] / alloc["population"].sum()
    assert (alloc["amount_gbp"] - expected).abs().max() <= 0.01


def test_england_wide_grant_is_equal_per_head(con) -> None:
    gi = funding.read_grants(grants_csv("g1,All England,GBP,56000000,2021-04-01,,E92000001,CTRY"), filename="e.csv")
    result = funding.reach(con, gi, index="imd2019")
    per_head = result.deciles["amount_per_capita"]
    assert per_head.max() - per_head.min() < 1e-4
    assert result.concentration_index == pytest.approx(0.0, abs=1e-5)


def test_codes_of_the_other_vintage_are_converted(con) -> None:
    lsoa21_only = con.execute("SELECT lsoa21_code FROM hierarchy_lsoa21 WHERE lsoa21_code NOT IN "
                              "(SELECT lsoa11_code FROM hierarchy_lsoa11) ORDER BY 1 LIMIT 1").fetchone()[0]
    ward24_only = con.execute("SELECT ward24_code FROM hierarchy_lsoa21 WHERE ward24_code NOT IN "
                              "(SELECT ward17_code FROM hierarchy_lsoa11) ORDER BY 1 LIMIT 1").fetchone()[0]
    gi = funding.read_grants(grants_csv(f"a,x,GBP,100,,,{lsoa21_only},LSOA", f"b,x,GBP,100,,,{ward24_only},WD",
                                        "c,x,GBP,100,,,E01099999,LSOA"), filename="v.csv")
    loc19 = funding.locate_grants(con, gi, index="imd2019")
    assert loc19.grants["route"].tolist() == ["lsoa21 (converted LSOA 2021->2011)",
                                              "ward24 (converted LSOA 2021->2011)"]
    assert loc19.unlocated["reason"].tolist() == [
        "unknown lsoa code 'E01099999': not in the 2011 or 2021 geography (a code of another vintage?)"]
    assert loc19.allocations["amount_gbp"].sum() == pytest.approx(200.0)
    loc25 = funding.locate_grants(con, gi, index="imd2025")
    assert loc25.grants["route"].tolist() == ["lsoa21", "ward24"]


def _shares_by_pandas(frame: pd.DataFrame, by: str, value: str) -> pd.Series:
    total = frame.groupby(by)[value].transform("sum")
    return (frame[value] / total).where(total > 0, 1 / frame.groupby(by)[value].transform("size"))


@pytest.mark.parametrize("vintage", [2011, 2021])
def test_each_code_covers_its_lsoas_by_population_share_in_code_order(con, vintage) -> None:  # noqa: ANN001
    """The resolver (one DuckDB query) against the rule written out in pandas, for a tenth of the codes
    of every level of both vintages and England: codes found only in the other vintage are converted."""
    from neighbourhood_lens.funding.locate import _LEVELS, _resolver

    other = 2021 if vintage == 2011 else 2011
    yy, oy = str(vintage)[2:], str(other)[2:]

    def members(year: int) -> pd.DataFrame:
        h = con.execute(f"SELECT * FROM hierarchy_lsoa{str(year)[2:]}").df()
        return pd.concat([pd.DataFrame({"code": h[col] if col else "E92000001", "lsoa": h[f"lsoa{str(year)[2:]}_code"],
                                        "population": h["population"], "route": name})
                          for name, col in [*_LEVELS[year], ("country", None)]])

    own, theirs = members(vintage), members(other)
    codes = pd.concat([own["code"], theirs["code"]]).drop_duplicates()
    codes = codes[(np.arange(len(codes)) % 10 == 0) | (codes == "E92000001").to_numpy()]  # a tenth, and England
    own, theirs = own[own["code"].isin(codes)], theirs[theirs["code"].isin(codes)]
    got = _resolver(con, codes, vintage)
    assert got[["code", "lsoa_code"]].equals(got[["code", "lsoa_code"]].sort_values(["code", "lsoa_code"]))

    own["weight"] = _shares_by_pandas(own, "code", "population")
    own["code_population"] = own.groupby("code")["population"].transform("sum")
    theirs = theirs[~theirs["code"].isin(own["code"])].copy()
    theirs["share"] = _shares_by_pandas(theirs, "code", "population")
    theirs["code_population"] = theirs.groupby("code")["population"].transform("sum")
    conv = con.execute(f"SELECT DISTINCT l.lsoa{oy}_code AS lsoa, l.lsoa{yy}_code AS target, h.population AS tp "
                       f"FROM lookup_lsoa11_lsoa21_lad22 l JOIN hierarchy_lsoa{yy} h USING (lsoa{yy}_code)").df()
    conv["w2"] = _shares_by_pandas(conv, "lsoa", "tp")
    theirs = theirs.merge(conv, on="lsoa")
    theirs["weight"] = theirs["share"] * theirs["w2"]
    theirs["route"] = theirs["route"] + f" (converted LSOA {other}->{vintage})"
    theirs = theirs.groupby(["code", "target", "route"], as_index=False).agg(
        weight=("weight", "sum"), code_population=("code_population", "first")).rename(columns={"target": "lsoa"})
    want = pd.concat([own, theirs]).rename(columns={"lsoa": "lsoa_code"}).sort_values(["code", "lsoa_code"])
    assert len(theirs) and got["route"].str.contains("converted").sum() == len(theirs)
    pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                  want[list(got.columns)].reset_index(drop=True), check_dtype=False, rtol=1e-12)


def test_type_column_is_overridden_by_the_code_and_gla_is_london(con) -> None:
    gi = funding.read_grants(grants_csv("a,x,GBP,100,,,E01011949,MSOA", "b,x,GBP,900,,,E61000001,"),
                             filename="t.csv")
    loc = funding.locate_grants(con, gi, index="imd2019")
    assert loc.type_overrides == 1 and loc.override_examples == ["E01011949 declared MSOA"]
    assert loc.grants["kind"].tolist() == ["lsoa", "gla"]
    london = con.execute("SELECT lsoa11_code FROM hierarchy_lsoa11 WHERE region19_name = 'London'").df()
    gla = loc.allocations[loc.allocations["lsoa_code"] != "E01011949"]
    assert set(gla["lsoa_code"]) == set(london["lsoa11_code"])


def test_postcodes_are_located_with_an_onspd_lookup(con, tmp_path) -> None:
    lsoa21_only = con.execute("SELECT min(lsoa21_code) FROM hierarchy_lsoa21 WHERE lsoa21_code NOT IN "
                              "(SELECT lsoa11_code FROM hierarchy_lsoa11)").fetchone()[0]
    onspd = tmp_path / "onspd.csv"
    onspd.write_text("pcd,pcds,lsoa11,lsoa21\nCT9 1AA ,CT9 1AA,E01024440,E01024440\n"
                     f"ZZ1 1ZZ,ZZ1 1ZZ,,{lsoa21_only}\n")
    gi = funding.read_grants(grants_csv("a,x,GBP,100,,ct91aa,,", "b,x,GBP,50,,CT9 9XX,,", "c,x,GBP,25,,,,",
                                        "d,x,GBP,10,,zz1 1zz,,"), filename="p.csv")
    loc = funding.locate_grants(con, gi, index="imd2019", postcodes=onspd)
    assert loc.grants[["identifier", "code", "via"]].to_dict("records") == [
        {"identifier": "a", "code": "E01024440", "via": "postcode"},
        {"identifier": "d", "code": lsoa21_only, "via": "postcode"}]
    assert loc.grants["route"].tolist()[1] == "lsoa21 (converted LSOA 2021->2011)"
    assert loc.unlocated[["row", "reason"]].to_dict("records") == [
        {"row": 3, "reason": "postcode not found in the postcode lookup"},
        {"row": 4, "reason": "no location: Beneficiary Location code and Recipient Org postal code both empty"}]
    without = funding.locate_grants(con, gi, index="imd2019")
    assert without.unlocated["reason"].str.contains("no postcode lookup supplied").sum() == 3
    with pytest.raises(SchemaError, match="expected ONSPD columns"):
        funding.read_postcode_lookup(pd.DataFrame({"pc": ["x"]}))


def test_a_postcode_lookup_anywhere_is_read_and_a_bad_one_is_named(tmp_path) -> None:
    """A folder with a quote in its name is read; the ONSPD's own zip, a binary file and a CSV of
    other columns are each a DataError naming the file (DuckDB's errors used to escape)."""
    import zipfile

    folder = tmp_path / "O'Brien's data"
    folder.mkdir()
    (folder / "onspd.csv").write_text("pcds,lsoa11\nCT9 1AA,E01024440\n")
    assert funding.read_postcode_lookup(folder / "onspd.csv")["postcode"].tolist() == ["CT91AA"]
    with zipfile.ZipFile(tmp_path / "ONSPD_FEB_2024.zip", "w") as z:
        z.writestr("Data/ONSPD_FEB_2024_UK.csv", "pcds,lsoa11\nCT9 1AA,E01024440\n")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "other.csv").write_text("x" * 300 + ",y\n1,2\n")
    for name, message in (("ONSPD_FEB_2024.zip", "a ZIP archive; unzip it"), ("binary.csv", "not a readable CSV"),
                          ("other.csv", "expected ONSPD columns")):
        with pytest.raises(DataError, match=f"postcode lookup .*{name}: {message}") as err:
            funding.read_postcode_lookup(tmp_path / name)
        assert len(str(err.value)) < 400


def test_thanet_vs_gla_flags_the_authority_far_below_the_line(con) -> None:
    """An allocation table paying £10 + £0.5 x IMD average score per head, ±3% noise, but Thanet half."""
    lads = con.execute("SELECT h.lad19_code AS code, sum(population) AS population, "
                       "sum(population * imd_score) / sum(population) AS score FROM hierarchy_lsoa11 h "
                       "JOIN imd2019_lsoa11 USING (lsoa11_code) GROUP BY 1 ORDER BY 1").df()
    noise = 1 + 0.03 * np.random.default_rng(5).standard_normal(len(lads))
    per_head = (10 + 0.5 * lads["score"]) * noise * np.where(lads["code"] == "E07000114", 0.5, 1.0)
    table = pd.DataFrame({"area_code": lads["code"], "amount": (per_head * lads["population"]).round(2)})
    gi = funding.read_grants(table.to_csv(index=False).encode(), filename="alloc.csv")
    result = funding.reach(con, gi, index="imd2019")
    need = result.need.set_index("code")
    assert need.loc["E07000114", "flag"] == "below" and need.loc["E07000114", "name"] == "Thanet"
    assert need["robust_z"].idxmin() == "E07000114"
    assert need.loc["E07000114", "imd_average_score"] == pytest.approx(
        lads.set_index("code").loc["E07000114", "score"])
    # With normal noise about 1.2% of authorities pass |z| >= 2.5 by chance; allow up to 3%.
    assert (need["flag"] != "").sum() <= 0.03 * len(need)


def test_xlsx_and_json_read_like_csv(sample, tmp_path) -> None:
    frame = sample[0].head(40)
    csv = funding.read_grants(funding.write_grants(frame, tmp_path / "g.csv"))
    for name in ("g.xlsx", "g.json"):
        other = funding.read_grants(funding.write_grants(frame, tmp_path / name))
        assert other.rows_in == 40
        assert other.grants["identifier"].tolist() == csv.grants["identifier"].tolist()
        assert other.grants["amount_gbp"].tolist() == csv.grants["amount_gbp"].tolist()
    doc = json.loads((tmp_path / "g.json").read_text())
    assert doc["grants"][0]["id"].startswith("360G-SYNTHETIC-")


def test_report_is_self_contained(sample) -> None:
    page = render_reach_html(sample[2])
    assert page.startswith("<!DOCTYPE html>") and "SYNTHETIC DATA" in page
    assert page.count("data:image/png;base64,") == 3  # decile chart, concentration curve, map
    for external in ("http://", "https://", "<script", "<link", "src=\"//"):
        assert external not in page
    assert "Data quality" in page and "Currency is not GBP" in page


def test_cli_reach_writes_table_and_lists(sample, warehouse_path, tmp_path) -> None:
    from typer.testing import CliRunner

    from neighbourhood_lens.cli import app

    out, unl = tmp_path / "reach.csv", tmp_path / "unlocated.csv"
    res = CliRunner().invoke(app, ["funding", "reach", str(sample[1]), "--index", "imd2019", "--db",
                                   str(warehouse_path), "--out", str(out), "--unlocated", str(unl)],
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    s = sample[2].summary
    assert f"Rows in {s['rows_in']:,} = located {s['located']:,}" in res.output
    assert pd.read_csv(out).columns.tolist() == ["decile", "amount", "population", "amount_per_capita",
                                                 "share_of_amount"]
    assert len(pd.read_csv(unl)) == s["unlocated"]
    bad = CliRunner().invoke(app, ["funding", "reach", str(tmp_path / "none.csv"), "--db", str(warehouse_path)])
    assert bad.exit_code == 2 and "does not exist" in bad.output


def test_funding_import_stays_light() -> None:
    code = "import sys, neighbourhood_lens.funding.reach; print("
    code += "'matplotlib' in sys.modules, 'geopandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


# ---------------------------------------------------------------- review: inputs in every form


def test_xlsx_with_numeric_and_date_cells(tmp_path) -> None:
    """A workbook typed by hand: amounts as numbers, dates as date cells, a numeric identifier."""
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Identifier", "Currency", "Amount Awarded", "Award Date", "Beneficiary Location:0:Geographic Code"])
    sheet.append(["a", "GBP", 5000, dt.datetime(2021, 4, 1), "E01000001"])
    sheet.append(["b", "gbp", 1250.5, dt.date(2021, 4, 2), "E01000002"])
    sheet.append([123, "GBP", -3, "2021-04-03", "E01000003"])
    sheet.append(["d", "EUR", 10, "not a date", "E01000003"])
    sheet.append(["e", None, None, None, "E01000003"])
    book.save(tmp_path / "typed.xlsx")
    gi = funding.read_grants(tmp_path / "typed.xlsx")
    assert gi.rows_in == 5 and gi.form == "360giving"
    assert gi.grants[["row", "identifier", "amount_gbp"]].to_dict("records") == [
        {"row": 2, "identifier": "a", "amount_gbp": 5000.0}, {"row": 3, "identifier": "b", "amount_gbp": 1250.5}]
    assert gi.rejected[["row", "reason"]].to_dict("records") == [
        {"row": 4, "reason": "Amount Awarded is negative: '-3'"},
        {"row": 5, "reason": "Currency 'EUR' is not GBP; Award Date does not parse: 'not a date' (use YYYY-MM-DD)"},
        {"row": 6, "reason": "Amount Awarded is empty"}]
    with pytest.raises(DataError, match="not a readable .xlsx workbook"):
        funding.read_grants(b"PK\x03\x04 not really a zip", filename="broken.xlsx")


def test_json_keeps_every_entry_and_its_position(tmp_path) -> None:
    doc = {"grants": [
        {"id": "a", "amountAwarded": 10, "currency": "GBP", "beneficiaryLocation": [{"geoCode": "E01000001"}]},
        "not an object",
        {"id": "b", "amountAwarded": None},
        {"id": "c", "amountAwarded": 12.5, "beneficiaryLocation": {"geoCode": "E01000002"}},  # one object, no list
    ]}
    gi = funding.read_grants(json.dumps(doc).encode(), filename="g.json")
    assert gi.rows_in == 4
    assert gi.grants[["row", "identifier", "amount_gbp", "geo_code"]].to_dict("records") == [
        {"row": 1, "identifier": "a", "amount_gbp": 10.0, "geo_code": "E01000001"},
        {"row": 4, "identifier": "c", "amount_gbp": 12.5, "geo_code": "E01000002"}]
    assert gi.rejected["row"].tolist() == [2, 3]
    assert gi.rejected["reason"].tolist() == ["Amount Awarded is empty; Identifier is empty", "Amount Awarded is empty"]
    with pytest.raises(SchemaError, match="expected an object with a 'grants' list"):
        funding.read_grants(b"[1, 2]", filename="list.json")
    with pytest.raises(DataError, match="not valid JSON"):
        funding.read_grants(b"{'grants': }", filename="bad.json")


@pytest.mark.parametrize("amount", ["inf", "Infinity", "-inf", "1e30"])
def test_infinite_or_absurd_amounts_are_rejected(amount) -> None:
    gi = funding.read_grants(grants_csv(f"g1,x,GBP,{amount},2021-04-01,,E01000001,LSOA"), filename="a.csv")
    assert gi.grants.empty and gi.rejected["row"].tolist() == [2]
    assert f"not a plausible amount (over £1 trillion): '{amount}'" in gi.rejected["reason"][0]


def test_ragged_csv_rows_are_named_by_row() -> None:
    data = grants_csv("g1,x,GBP,10,2021-04-01,,E01000001,LSOA", "g2,x,GBP,1,250,2021-04-01,,E01000001,LSOA")
    with pytest.raises(DataError, match=r"1 row\(s\) do not have one field per header column: row 3 has 9 fields, "
                                        r"not 8: 'g2,x,GBP,1,250.*Quote fields"):
        funding.read_grants(data, filename="r.csv")


def test_rows_in_is_counted_from_the_file_and_pennies_are_conserved(con) -> None:
    rows = [f"g{i},x,GBP,{amt},2021-04-01,,{code}," for i, (amt, code) in enumerate(
        [("0.01", "E07000114"), ("1000.01", "E02000001"), ("333.33", "E12000007"), ("7", "E05000026"),
         ("-1", "E01000001"), ("12", "W01000001"), ("5", "E01099999")])]
    result = funding.reach(con, funding.read_grants(grants_csv(*rows), filename="c.csv"), index="imd2025")
    s = result.summary
    assert (s["rows_in"], s["located"], s["unlocated"], s["rejected"]) == (7, 4, 2, 1)
    assert s["balanced"] and s["amount_conserved"]
    assert round(result.deciles["amount"].sum() * 100) == 1 + 100001 + 33333 + 700
    # A frame that lost a row after reading is caught: rows_in stays what the file had.
    gi = funding.read_grants(grants_csv(*rows), filename="c.csv")
    gi.grants = gi.grants.iloc[1:]
    assert funding.reach(con, gi, index="imd2025").summary["balanced"] is False


def test_a_file_where_no_grant_can_be_located_is_reported_not_crashed(con) -> None:
    gi = funding.read_grants(grants_csv("a,x,GBP,100,,,E01099999,LSOA", "b,x,GBP,200,,,,"), filename="none.csv")
    result = funding.reach(con, gi, index="imd2019")
    assert result.summary["converted"] == 0
    assert len(result.unlocated) == 2 and result.unlocated["amount_gbp"].sum() == pytest.approx(300.0)
