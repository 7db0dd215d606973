"""Programme design, tier (b): the shipped examples and the rules on the real national data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.programmes import OUTPUT_COLUMNS, compare_table, design, load_spec, parse_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "programmes"
BUDGET = {"unit": "ward17", "need": {"indicators": ["imd2019", "cni2019"]},
          "eligibility": {"min_population": 3000},
          "budget": {"total": 500_000_000, "per_area_fixed": 1_000_000, "per_head": 100},
          "select": {"method": "greedy", "per_lad": 1, "per_region": 40}}


@pytest.fixture(scope="module")
def context(con):
    from neighbourhood_lens.programmes.compare import reach_context

    return reach_context(con, "imd2019")


@pytest.fixture(scope="module")
def designs(con, context):
    return {name: design(con, load_spec(EXAMPLES / f"{name}.toml"), context=context)
            for name in ("left_behind_2019", "ndc_style", "budget_greedy", "budget_optimal")}


def test_left_behind_example_gives_the_225_wards_of_nlens_left_behind(con, designs):
    from neighbourhood_lens.deprivation.left_behind import left_behind

    d = designs["left_behind_2019"]
    official = left_behind(con, vintage=2019)
    assert list(d.selection.columns) == OUTPUT_COLUMNS
    assert sorted(d.selection["code"]) == sorted(official["code"])
    assert len(d.selection) == 225 and d.selection["population"].sum() == 2_370_413
    # the six City of London wards have no CNI 2019: reported, not dropped silently
    assert d.summary["missing_indicator"]["count"] == 6 and any("lack a need indicator" in n for n in d.notes)


def test_ward_ranks_are_those_of_left_behind(con):
    from neighbourhood_lens.deprivation.left_behind import left_behind_scores
    from neighbourhood_lens.programmes import indicator_scores

    lb = left_behind_scores(con, vintage=2019).set_index("code")
    imd = indicator_scores(con, "ward17", "imd2019").set_index("code")
    cni = indicator_scores(con, "ward17", "cni2019")
    assert imd.attrs["n"] == 7427 and cni.attrs["n"] == 7433
    assert (imd["rank"] == lb.loc[imd.index, "imd_rank"]).all()


def test_ndc_style_takes_the_neediest_ward_of_each_of_the_39_most_deprived_lads(con, designs):
    from neighbourhood_lens.deprivation.summaries import summarise

    d = designs["ndc_style"]
    sel = d.selection
    assert len(sel) == 39 and sel["lad_code"].is_unique
    lads = summarise(con, index="imd2019", by="lad19").nsmallest(39, "rank_of_average_score")
    assert set(sel["lad_code"]) == set(lads["code"])
    areas = d.areas[d.areas["lad_code"].isin(lads["code"]) & d.areas["eligible"]]
    best = areas.sort_values(["need_weight", "code"], ascending=[False, True]).drop_duplicates("lad_code")
    assert set(best["code"]) == set(sel["code"])


def test_budgeted_examples_obey_the_rules_and_optimal_is_no_worse(designs):
    g, o = designs["budget_greedy"], designs["budget_optimal"]
    for d in (g, o):
        s = d.selection
        assert s["amount"].sum() <= 500_000_000
        assert np.allclose(s["amount"], 1_000_000 + 100 * s["population"])
        assert s["population"].min() >= 3000 and s["lad_code"].is_unique
        assert s.groupby("region_name").size().max() <= 40
    assert g.selection["code"].iloc[0] == g.areas[g.areas["eligible"]].sort_values(
        ["need_weight", "code"], ascending=[False, True])["code"].iloc[0]
    info = o.summary
    assert info["greedy_objective"] == pytest.approx(g.summary["people_x_need"])
    assert info["objective"] >= info["greedy_objective"] and info["mip_gap"] <= o.spec.select.mip_gap == 1e-4
    assert info["objective"] <= info["bound"] <= info["objective"] * (1 + 1e-4)
    assert info["objective"] == pytest.approx(o.summary["people_x_need"])
    assert info["n_binaries"] == g.summary["eligible"]
    from neighbourhood_lens.programmes import missed_areas

    missed = missed_areas(g, limit=50)
    capped = missed[missed["why"] == "per_lad cap full (1)"]
    assert len(capped) and set(capped["lad_name"]) <= set(g.selection["lad_name"])
    assert (missed["need_rank"].diff().dropna() >= 0).all()


def test_compare_puts_the_examples_beside_the_la_baseline(con, designs, context):
    table, deciles = compare_table(con, list(designs.values()), labels=list(designs), context=context)
    assert list(table["design"]) == [*designs, "baseline_la_per_head"]
    base = table.iloc[-1]
    assert base["money"] == pytest.approx(500_000_000, abs=0.01) and base["areas"] == 317
    assert base["left_behind_covered_share"] == 1.0 and base["decile1_residents_covered_share"] == 1.0
    lb = table.set_index("design").loc["left_behind_2019"]
    assert lb["money_rule"].startswith("notional") and lb["money_share_left_behind"] == pytest.approx(1.0)
    # targeting neighbourhoods puts more of the money in decile-1 LSOAs than spreading it across LAs
    assert (table["money_share_decile1"].iloc[:-1] > base["money_share_decile1"]).all()
    assert deciles["baseline_la_per_head"]["amount"].sum() == pytest.approx(500_000_000, abs=0.01)


def test_infeasible_designs_say_which_rule_binds(con, context):
    spec = parse_spec({**BUDGET, "budget": {"total": 1_000_000, "per_area_fixed": 1_000_000, "per_head": 100}})
    with pytest.raises(DataError, match=r"nothing can be funded: the smallest cost of an eligible area is "
                                        r"1,\d{3},\d{3} .*above budget.total = 1,000,000") as err:
        design(con, spec)
    assert "binds" not in str(err.value)
    spec = parse_spec({**BUDGET, "eligibility": {"min_population": 50_000}})
    with pytest.raises(DataError, match=r"no area of 7,427 is eligible.*min_population removes 7,427"):
        design(con, spec)


def test_exclusions_convert_vintages_and_report_unknown_codes(con, context, tmp_path):
    h11 = con.execute("SELECT lsoa11_code, ward17_code FROM hierarchy_lsoa11").df()
    new21 = con.execute("SELECT min(lsoa21_code) FROM lookup_lsoa11_lsoa21_lad22 WHERE lsoa21_code LIKE 'E%' AND "
                        "lsoa21_code NOT IN (SELECT lsoa11_code FROM hierarchy_lsoa11)").fetchone()[0]
    lk = con.execute("SELECT lsoa11_code, lsoa21_code FROM lookup_lsoa11_lsoa21_lad22 WHERE lsoa21_code = ?",
                     [new21]).df()
    lsoa11 = h11["lsoa11_code"].iloc[100]
    ward = h11["ward17_code"].iloc[20000]
    path = tmp_path / "funded.csv"
    pd.DataFrame({"code": [lsoa11, ward, lk["lsoa21_code"].iloc[0], "E01999999", "E05999999"]}).to_csv(path,
                                                                                                  index=False)
    spec = parse_spec({"unit": "ward17", "need": {"indicators": ["imd2019"]},
                       "eligibility": {"exclude": str(path)}, "select": {"method": "top"}})
    d = design(con, spec, context=context)
    rep = d.summary["exclude"]
    assert rep["codes"] == 5 and rep["unknown"] == 2 and "E01999999" in rep["unknown_examples"]
    assert rep["converted"] == 1
    expected = {h11.set_index("lsoa11_code").loc[lsoa11, "ward17_code"], ward,
                *h11.set_index("lsoa11_code").loc[lk["lsoa11_code"], "ward17_code"]}
    excluded = set(d.areas.loc[d.areas["reason"] == "exclude", "code"])
    assert excluded == expected
    assert not set(d.selection["code"]) & expected
    assert any("2 of 5 code(s)" in n for n in d.notes)


def test_a_stored_index_can_be_a_need_indicator(warehouse_path, tmp_path):
    from neighbourhood_lens.programmes import indicator_scores
    from neighbourhood_lens.store import save_result
    from neighbourhood_lens.warehouse import connect

    copy = tmp_path / "w.duckdb"
    shutil.copy(warehouse_path, copy)
    con = connect(copy, read_only=False)
    lsoa = con.execute("SELECT lsoa11_code AS code, imd_score AS score, imd_rank AS rank, imd_decile AS decile "
                       "FROM imd2019_lsoa11").df()
    save_result(con, lsoa, kind="index", name="my_imd", unit="lsoa11", value_column="score")
    via_index = indicator_scores(con, "ward17", "index:my_imd").set_index("code")
    official = indicator_scores(con, "ward17", "imd2019").set_index("code")
    assert (via_index["rank"] == official.loc[via_index.index, "rank"]).all()
    wards = official.reset_index()[["code", "score", "rank"]].assign(rank=lambda f: f["rank"].max() + 1 - f["rank"])
    save_result(con, wards, kind="index", name="reversed", unit="ward17", value_column="score")
    d = design(con, parse_spec({"unit": "ward17", "need": {"indicators": ["index:reversed"]},
                                "select": {"method": "top", "count": 5}}))
    assert (d.selection["need_rank"] == [1, 2, 3, 4, 5]).all()
    assert set(d.selection["code"]) == set(official.nsmallest(5, "score").index)
    from neighbourhood_lens.programmes import store_design
    from neighbourhood_lens.store import load_result

    assert store_design(con, d, name="top5") == "programme_top5"
    frame, meta = load_result(con, kind="programme", name="top5")
    assert list(frame.columns) == OUTPUT_COLUMNS and meta["value_column"] == "amount" and meta["unit"] == "ward17"
    with pytest.raises(Exception, match="no stored index called 'nope'"):
        indicator_scores(con, "ward17", "index:nope")
    con.close()


def test_cli_design_writes_the_table_sidecar_and_report(warehouse_path, tmp_path):
    from neighbourhood_lens.cli import app

    out, report = tmp_path / "sel.csv", tmp_path / "r.html"
    res = CliRunner().invoke(app, ["programme", "design", str(EXAMPLES / "ndc_style.toml"), "--db", str(warehouse_path),
                                   "--out", str(out), "--report", str(report)])
    assert res.exit_code == 0, res.output
    assert "39 areas" in res.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == OUTPUT_COLUMNS and len(frame) == 39
    prov = json.loads((tmp_path / "sel.csv.provenance.json").read_text())
    assert prov["command"] == "programme design" and prov["parameters"]["select"]["parents_top"] == 39
    assert "NDC-style two-stage" in report.read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text('unit = "ward17"\n[need]\nindicators = ["imd2019"]\n[select]\nmethod = "random"\n')
    res = CliRunner().invoke(app, ["programme", "design", str(bad), "--db", str(warehouse_path)])
    assert res.exit_code == 2 and "select.method" in res.output and "'random'" in res.output


def test_lsoa21_double_disadvantage_matches_left_behind_2023(con):
    from neighbourhood_lens.deprivation.left_behind import left_behind

    d = design(con, parse_spec({"unit": "lsoa21", "need": {"indicators": ["imd2025", "cni2023"],
                                                            "combine": "all_top_share", "share": 0.1},
                                "select": {"method": "top"}}))
    assert sorted(d.selection["code"]) == sorted(left_behind(con, vintage=2023)["code"])
    assert len(d.selection) == 1262


def test_rural_urban_and_region_filters(con, context):
    d = design(con, parse_spec({"unit": "ward17", "need": {"indicators": ["imd2019"]},
                                "eligibility": {"rural_urban": ["rural"], "exclude_regions": ["London"]},
                                "select": {"method": "top", "count": 20}}), context=context)
    assert len(d.selection) == 20 and "London" not in set(d.selection["region_name"])
    rules = d.eligibility.set_index("rule")
    assert rules.loc["rural_urban", "removes_alone"] > 5000 and rules.loc["exclude_regions", "removes_alone"] > 600
    with pytest.raises(DataError, match="rural_urban.*suburban.*Rural village"):
        design(con, parse_spec({"unit": "ward17", "need": {"indicators": ["imd2019"]},
                                "eligibility": {"rural_urban": ["suburban"]}, "select": {"method": "top"}}))


def test_docs_document_every_key_of_the_schema():
    from neighbourhood_lens.programmes import ProgrammeSpec

    text = (Path(__file__).resolve().parents[2] / "docs" / "programmes.md").read_text()
    schema = ProgrammeSpec.model_json_schema()
    keys = set(schema["properties"]) | {k for d in schema["$defs"].values() for k in d["properties"]}
    assert all(f"| `{k}` |" in text for k in keys)
