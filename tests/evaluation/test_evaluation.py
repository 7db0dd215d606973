"""Evaluation: hand-checkable frames, bad input, and the CLI on the real warehouse."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError, VintageError
from neighbourhood_lens.evaluation import (
    EFFECT_COLUMNS,
    evaluate,
    fit_did,
    halo_ring,
    imd_panel,
    match,
    parse_outcome,
    pre_features,
    stack_panel,
    validate_panel,
    validate_treated,
)
from neighbourhood_lens.evaluation.run import check_treated_unit


def _panel(values: dict[str, list[float]], years: list[int]) -> pd.DataFrame:
    return pd.DataFrame([{"code": c, "year": y, "value": v} for c, vs in values.items() for y, v in zip(years, vs,
                                                                                                        strict=True)])


# ---------------------------------------------------------------- tier (a): worked by hand

def test_two_by_two_did_is_the_difference_of_differences() -> None:
    # treated a: 1 -> 4 (+3); comparators b: 1 -> 2 (+1) and c: 2 -> 3 (+1), weights 1/2 each: ATT = 3 - 1 = 2
    p = _panel({"a": [1, 4], "b": [1, 2], "c": [2, 3]}, [2018, 2020])
    pairs = pd.DataFrame({"treated": ["a", "a"], "comparator": ["b", "c"], "start": [2020, 2020],
                          "weight": [0.5, 0.5]})
    r = fit_did(stack_panel(p, pairs), clustered=False)
    assert r["estimate"] == pytest.approx(2.0)
    assert (r["n_treated"], r["n_comparators"]) == (1, 2)


def test_comparator_weights_make_the_weighted_mean_counterfactual() -> None:
    # comparator b changes +1, c changes +3; b matched twice (to a1 and a2), c once (to a2):
    # weights b = 1 + 1/2, c = 1/2 -> counterfactual change (1.5*1 + 0.5*3)/2 = 1.5; treated change 4 -> ATT 2.5
    p = _panel({"a1": [0, 4], "a2": [0, 4], "b": [0, 1], "c": [0, 3]}, [1, 2])
    pairs = pd.DataFrame({"treated": ["a1", "a2", "a2"], "comparator": ["b", "b", "c"], "start": 2,
                          "weight": [1.0, 0.5, 0.5]})
    assert fit_did(stack_panel(p, pairs), clustered=False)["estimate"] == pytest.approx(2.5)


def test_pre_features_level_is_mean_and_trend_is_slope() -> None:
    p = _panel({"a": [1.0, 3.0, 5.0, 100.0]}, [2000, 2001, 2002, 2003])
    f = pre_features(p, start=2003)
    assert f["level"].iloc[0] == pytest.approx(3.0) and f["trend"].iloc[0] == pytest.approx(2.0)


def test_match_takes_k_nearest_within_caliper_and_excludes_halo() -> None:
    # treated t has pre-values (10, 11); a, b near it; c far; h identical but in the halo ring
    p = _panel({"t": [10, 11, 20], "a": [10, 11.2, 12], "b": [10.2, 11.1, 12], "c": [0, 0, 0], "h": [10, 11, 12],
                "d": [5, 6, 7]}, [1, 2, 3])
    m = match(p, pd.DataFrame({"code": ["t"], "start": [3]}), exclude=["h"], k=3, caliper=0.5)
    assert set(m.pairs["comparator"]) == {"a", "b"}
    assert m.pairs["weight"].tolist() == [0.5, 0.5]
    assert m.status.loc[0, "n_comparators"] == 2
    assert (m.balance["smd_after"].abs() < m.balance["smd_before"].abs()).all()


def test_halo_ring_takes_earliest_start() -> None:
    adj = pd.DataFrame({"a": ["t1", "t2", "n"], "b": ["n", "n", "t1"]})
    ring = halo_ring(adj, pd.DataFrame({"code": ["t1", "t2"], "start": [2021, 2019]}))
    assert ring.to_dict("records") == [{"code": "n", "start": 2019}]


def test_parse_outcome() -> None:
    assert parse_outcome("imd:employment").measure == "score"
    assert parse_outcome("imd:imd").measure == "percentile"
    with pytest.raises(DataError, match="imd:DOMAIN"):
        parse_outcome("crime")


# ---------------------------------------------------------------- bad input

def test_duplicate_code_year_names_rows() -> None:
    f = pd.DataFrame({"code": ["a", "a", "b"], "year": [2019, 2019, 2019], "value": [1, 2, 3]})
    with pytest.raises(DataError, match=r"2 row\(s\) repeat a \(code, year\) pair: row 2 \(a\), row 3 \(a\)"):
        validate_panel(f)


def test_bad_values_and_treated_rows_are_named() -> None:
    with pytest.raises(DataError, match=r"row 3 \(b: value 'x'\)"):
        validate_panel(pd.DataFrame({"code": ["a", "b"], "year": [1, 1], "value": [1, "x"]}))
    with pytest.raises(DataError, match=r"year that is not a whole number: row 2 \(a: year 'twenty'\)"):
        validate_panel(pd.DataFrame({"code": ["a"], "year": ["twenty"], "value": [1]}))
    with pytest.raises(DataError, match=r"start that is not a year: row 2 \(a: start 'soon'\)"):
        validate_treated(pd.DataFrame({"code": ["a"], "start": ["soon"]}))
    with pytest.raises(DataError, match="repeat a code"):
        validate_treated(pd.DataFrame({"code": ["a", "a"], "start": [1, 2]}))


def _toy(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = [2010, 2012, 2014, 2016, 2018]
    return _panel({f"x{i:02d}": list(rng.normal(i / 10, 0.1, len(years))) for i in range(n)}, years)


def test_unusable_treated_areas_are_counted_with_reasons() -> None:
    p = _toy()
    p.loc[p["code"] == "x29", "value"] += 5.0  # far above every other area
    t = pd.DataFrame({"code": ["x05", "x06", "x07", "x29"], "start": [2030, 2012, 2016, 2016]})
    ev = evaluate(p, t, caliper=0.6, n_placebo=0, naive=False)
    reasons = ev.matching.status.set_index("code")["reason"]
    assert reasons["x05"].startswith("start year outside the panel years (2010-2018)")
    assert reasons["x06"].startswith("too few pre-period years (1 before 2012, need 2)")
    assert reasons["x07"] == ""
    assert reasons["x29"].startswith("no comparator within the caliper")  # the most extreme area
    assert any("x29" in n for n in ev.notes)
    with pytest.raises(DataError, match="strict"):
        evaluate(p, t, caliper=0.6, n_placebo=0, naive=False, strict=True)
    with pytest.raises(DataError, match="no treated area could be matched"):
        evaluate(p, t.iloc[:2], n_placebo=0, naive=False)


def test_treated_codes_missing_from_panel_name_rows() -> None:
    with pytest.raises(VintageError, match=r"row 3 \(zz\)"):
        evaluate(_toy(), pd.DataFrame({"code": ["x01", "zz"], "start": [2016, 2016]}), n_placebo=0)


# ---------------------------------------------------------------- tier (b): the real warehouse

def test_treated_codes_of_another_unit(con) -> None:  # noqa: ANN001
    t = pd.DataFrame({"code": ["E05000770", "E01000001"], "start": [2020, 2020]})
    with pytest.raises(VintageError, match=r"not areas of the panel's unit ward17; they are lsoa11 codes: row 3"):
        check_treated_unit(con, t, "ward17")


def test_imd_panel_rates_are_on_one_scale(con) -> None:  # noqa: ANN001
    p = imd_panel(con, "lad19", outcome="imd:income", years=[2010, 2019, 2025])
    assert sorted(p["year"].unique()) == [2010, 2019, 2025]
    means = p.groupby("year")["value"].mean()
    # IoD2019 rates are stored as percentages in the mirror: converted, every edition is a 0-1 share
    assert means.between(0.05, 0.35).all()
    sizes = p.groupby("year").size()
    assert sizes[2019] == sizes[2025] == 317
    # four English LSOA 2011 codes are not in the ONS 2001->2011 lookup: their LADs have no 2010 value, and say so
    assert sizes[2010] == 313
    assert "IoD2010: 4 area(s) without complete LSOA coverage have no value" in p.attrs["notes"]
    assert "relative measure" in p.attrs["notes"][0]


@pytest.mark.slow
def test_cli_evaluate_lads_end_to_end(con, warehouse_path, tmp_path) -> None:  # noqa: ANN001
    import shutil

    from typer.testing import CliRunner

    from neighbourhood_lens.cli import app

    db = tmp_path / "w.duckdb"
    shutil.copy(warehouse_path, db)
    lads = con.execute("SELECT lad19_code FROM lookup_lad19_region19 WHERE lad19_code LIKE 'E08%' ORDER BY 1 LIMIT 8"
                       ).df()["lad19_code"]
    treated = tmp_path / "t.csv"
    pd.DataFrame({"code": lads, "start": 2020}).to_csv(treated, index=False)
    out, report = tmp_path / "effects.csv", tmp_path / "r.html"
    res = CliRunner().invoke(app, ["evaluate", "--treated", str(treated), "--outcome", "imd:income", "--years",
                                   "2010,2019,2025", "--db", str(db), "--out", str(out), "--halo", "--report",
                                   str(report), "--placebo", "3", "--caliper", "2", "--store", "lads_test"])
    assert res.exit_code == 0, res.output
    eff = pd.read_csv(out)
    assert list(eff.columns) == EFFECT_COLUMNS
    assert {"att", "event_-10", "event_5", "halo", "naive", "placebo", "mde"} <= set(eff["effect"])
    assert json.loads((tmp_path / "effects.csv.provenance.json").read_text())["command"] == "evaluate"
    text = report.read_text()
    assert "relative measure" in text and "Treated areas in and out" in text and "<img" in text
    import duckdb

    with duckdb.connect(str(db), read_only=True) as c:
        roles = c.execute("SELECT role, count(*) FROM evaluation_lads_test GROUP BY 1").df().set_index("role")
    assert roles.loc["treated"].iloc[0] == 8 and "comparator" in roles.index


def test_read_treated_fills_a_common_start(tmp_path) -> None:  # noqa: ANN001
    from neighbourhood_lens.evaluation import read_treated

    path = tmp_path / "lb.csv"
    pd.DataFrame({"code": ["E05000770", "E05000771"], "name": ["x", "y"]}).to_csv(path, index=False)
    assert read_treated(path, start=2020)["start"].tolist() == [2020, 2020]
    with pytest.raises(DataError, match="needs columns code, start"):
        read_treated(path)


def _placebo_reference(panel, matched, *, exclude, n, candidates, seed, k=5, caliper=0.5, covariates=None,
                       exact=(), min_pre=2):  # noqa: ANN001, ANN202
    """The placebo loop written out plainly: each draw re-runs match() and fit_did(stack_panel())."""
    rng = np.random.default_rng(seed)
    cand = match(panel, matched, exclude=exclude, k=candidates, caliper=np.inf, covariates=covariates,
                 exact=exact, min_pre=min_pre).pairs
    firsts = cand.groupby("treated", sort=True).indices
    out = np.full(n, np.nan)
    for r in range(n):
        pick = np.array([rng.choice(ix) for ix in firsts.values()])
        fake = (cand.iloc[pick][["comparator", "start"]].rename(columns={"comparator": "code"})
                .drop_duplicates("code").reset_index(drop=True))
        m = match(panel, fake, exclude=exclude, k=k, caliper=caliper, covariates=covariates, exact=exact,
                  min_pre=min_pre)
        if len(m.pairs):
            out[r] = fit_did(stack_panel(panel, m.pairs), clustered=False)["estimate"]
    return out[np.isfinite(out)]


def test_placebo_draws_and_p_value_equal_rerunning_the_design_for_each_draw() -> None:
    # Staggered starts, an unbalanced panel (a few values missing after the start), a covariate
    # matched on and one matched exactly: the shared matching and the direct least squares must
    # give the same draws as re-running match() and fit_did() from scratch.
    rng = np.random.default_rng(11)
    years = list(range(2010, 2020))
    p = _panel({f"x{i:03d}": list(rng.normal(i / 40, 0.3, len(years)) + 0.05 * np.arange(len(years)))
                for i in range(160)}, years)
    p = p.drop(index=rng.choice(p.index[p["year"] >= 2016], 25, replace=False)).reset_index(drop=True)
    t = pd.DataFrame({"code": [f"x{i:03d}" for i in range(60, 72)], "start": [2015] * 6 + [2017] * 6})
    p.loc[p["code"].isin(t["code"]) & (p["year"] >= p["code"].map(t.set_index("code")["start"])), "value"] -= 0.8
    cov = pd.DataFrame({"code": [f"x{i:03d}" for i in range(160)], "size": rng.normal(0, 1, 160),
                        "region": np.where(np.arange(160) % 2, "R1", "R2")})
    opts = dict(covariates=cov, exact=["region"], caliper=3.0, k=3)
    ev = evaluate(p, t, n_placebo=25, placebo_candidates=6, naive=False, seed=5, **opts)
    matched = ev.matching.status.loc[ev.matching.status["status"] == "matched", ["code", "start"]]
    ref = _placebo_reference(p, matched.reset_index(drop=True), exclude=set(t["code"]), n=25, candidates=6, seed=5,
                             **opts)
    assert len(ref) == len(ev.placebo) > 20
    np.testing.assert_allclose(ev.placebo, ref, rtol=1e-8, atol=1e-10)
    att = ev.effects.set_index("effect").loc["att", "estimate"]
    p_ref = (1 + np.sum(np.abs(ref) >= abs(att))) / (1 + len(ref))
    assert ev.effects.set_index("effect").loc["placebo", "p_value"] == p_ref
    assert 0 < p_ref < 1
