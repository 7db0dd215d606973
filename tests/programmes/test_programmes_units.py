"""Programme design, tier (a): tiny frames whose answers can be worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError
from neighbourhood_lens.programmes import combine_need, load_spec, objective, parse_spec, solve_optimal
from neighbourhood_lens.programmes.select import allocate, cap_groups, walk
from neighbourhood_lens.programmes.spec import Budget, Need, ProgrammeSpec

BASE = {"unit": "ward17", "need": {"indicators": ["imd2019"]}, "select": {"method": "top"}}


def _spec_error(tmp_path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        load_spec(path)
    msg = str(err.value)
    assert str(path) in msg
    return msg


def test_spec_errors_name_file_key_value_and_allowed(tmp_path):
    msg = _spec_error(tmp_path, 'unit = "ward17"\ncolour = "red"\n[need]\nindicators = ["imd2019"]\n'
                                '[select]\nmethod = "top"\n')
    assert "unknown key 'colour'" in msg and "'red'" in msg and "need" in msg and "select" in msg
    msg = _spec_error(tmp_path, 'unit = "ward99"\n[need]\nindicators = ["imd2019"]\n[select]\nmethod = "top"\n')
    assert "'ward99'" in msg and "ward17" in msg and "lsoa21" in msg
    msg = _spec_error(tmp_path, 'unit = "ward17"\n[need]\nindicators = ["imd2015"]\n[select]\nmethod = "top"\n')
    assert "need.indicators" in msg and "'imd2015'" in msg and "cni2023" in msg and "index:NAME" in msg
    msg = _spec_error(tmp_path, 'unit = "ward17"\n[need]\nindicators = ["imd2019"]\n[select]\nmethod = "best"\n')
    assert "select.method" in msg and "'best'" in msg and "'greedy'" in msg and "'optimal'" in msg
    msg = _spec_error(tmp_path, 'unit = "ward17"\n[need]\nindicators = ["imd2019"]\n[select]\ncount = 3\n')
    assert "missing required key 'select.method'" in msg
    msg = _spec_error(tmp_path, 'unit = "ward17"\n[need]\nindicators = ["imd2019"]\n[select]\nmethod = "greedy"\n')
    assert "[budget]" in msg
    msg = _spec_error(tmp_path, 'unit = "ward17"\n[need]\nindicators = ["imd2019"]\n[select]\nmethod = "two_stage"\n'
                                'parent = "lad19"\n')
    assert "parents_top" in msg and "per_parent" in msg
    msg = _spec_error(tmp_path, 'unit = "ward17"\n[need]\nindicators = ["imd2019", "cni2019"]\n'
                                'combine = "all_top_share"\n[select]\nmethod = "top"\n')
    assert "share" in msg


def test_spec_resolves_exclusion_relative_to_the_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('unit = "ward17"\n[need]\nindicators = ["imd2019"]\n[eligibility]\nexclude = "funded.csv"\n'
                    '[select]\nmethod = "top"\n')
    assert load_spec(path).eligibility.exclude == str(tmp_path / "funded.csv")
    schema = ProgrammeSpec.model_json_schema()
    assert {"unit", "need", "select", "budget", "eligibility"} <= set(schema["properties"])


def _frames(ranks: dict[str, list[float]], n: int) -> dict[str, pd.DataFrame]:
    out = {}
    for name, r in ranks.items():
        f = pd.DataFrame({"code": ["a", "b", "c", "d"][: len(r)], "score": [0.0] * len(r), "rank": r})
        f.attrs["n"] = n
        out[name] = f
    return out


def test_rank_mean_and_weighted_by_hand():
    frames = _frames({"imd2019": [1, 2, 3, 4], "cni2019": [4, 3, 2, np.nan]}, 4)
    out = combine_need(frames, Need(indicators=["imd2019", "cni2019"])).set_index("code")
    # a: (1/4 + 4/4)/2 = 0.625; b: (2/4 + 3/4)/2 = 0.625; c: 0.625; d lacks cni2019
    assert out.loc[["a", "b", "c"], "need_weight"].tolist() == [0.375, 0.375, 0.375]
    assert not out.loc["d", "complete"] and pd.isna(out.loc["d", "need_rank"])
    weighted = Need(indicators=["imd2019", "cni2019"], combine="weighted", weights=[3, 1])
    out = combine_need(frames, weighted).set_index("code")
    # a: (3 x 0.25 + 1.0)/4 = 0.4375; c: (3 x 0.75 + 0.5)/4 = 0.6875
    assert out.loc["a", "rank_ratio"] == pytest.approx(0.4375)
    assert out.loc["c", "rank_ratio"] == pytest.approx(0.6875)
    assert out.loc[["a", "b", "c"], "need_rank"].tolist() == [1, 2, 3]


def test_walk_skips_what_does_not_fit_and_respects_caps_and_count():
    cost = np.array([6.0, 5.0, 3.0, 1.0, 1.0])
    assert walk(cost, budget=8.0).tolist() == [True, False, False, True, True]
    assert walk(cost, budget=8.0, count=2).tolist() == [True, False, False, True, False]
    frame = pd.DataFrame({"lad_code": ["L1", "L1", "L2", "L2", "L3"], "region_code": ["R", "R", "R", "S", "S"]})
    caps = cap_groups(frame, {"lad_code": 1, "region_code": 1})
    assert walk(cost, caps=caps).tolist() == [True, False, False, True, False]


def test_optimal_beats_greedy_when_costs_differ_and_matches_brute_force():
    # Greedy takes the neediest big area (cost 10) and cannot afford the two others (cost 6 each).
    pop = np.array([1000.0, 900.0, 900.0])
    need = np.array([0.9, 0.8, 0.8])
    cost = np.array([10.0, 6.0, 6.0])
    greedy = walk(cost, budget=12.0)
    chosen, info = solve_optimal(pop, need, cost, budget=12.0, mip_gap=0)
    assert greedy.tolist() == [True, False, False] and objective(pop, need, greedy) == 900.0
    assert chosen.tolist() == [False, True, True] and info["objective"] == pytest.approx(1440.0)
    assert info["mip_gap"] == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(7)
    n = 12
    pop, need, cost = rng.integers(1000, 9000, n).astype(float), rng.random(n), rng.integers(1, 20, n).astype(float)
    lad = rng.integers(0, 4, n)
    caps = [(lad, 2, "lad_code")]
    best = 0.0
    for mask in itertools.product([False, True], repeat=n):
        m = np.array(mask)
        if cost[m].sum() <= 40 and np.bincount(lad[m], minlength=4).max(initial=0) <= 2:
            best = max(best, objective(pop, need, m))
    chosen, info = solve_optimal(pop, need, cost, budget=40.0, caps=caps, mip_gap=0)
    assert info["objective"] == pytest.approx(best)
    assert cost[chosen].sum() <= 40 and np.bincount(lad[chosen], minlength=4).max() <= 2


def test_allocation_rules_share_the_total_in_whole_pence():
    f = pd.DataFrame({"population": [1000.0, 2000.0, 7000.0], "need_weight": [1.0, 0.5, 0.1], "cost": [1.0] * 3})
    eq, note = allocate(f, Budget(total=100.0, allocation="equal"))
    assert eq.tolist() == [33.34, 33.33, 33.33] and note["unallocated"] == 0
    ph, _ = allocate(f, Budget(total=1000.0, allocation="per_head", floor=200.0))
    # per head gives 100, 200, 700; the floor lifts the first to 200, the other two share 800 as 2:7, which
    # puts the second at 177.78 < 200, so it is floored too and the third takes the remaining 600
    assert ph.tolist() == [200.0, 200.0, 600.0]
    assert round(ph.sum(), 2) == 1000.0
    nw, _ = allocate(f, Budget(total=2700.0, allocation="need_weighted"))
    # population x need = 1000, 1000, 700
    assert nw.tolist() == [1000.0, 1000.0, 700.0]
    with pytest.raises(DataError, match="floor"):
        allocate(f, Budget(total=100.0, allocation="equal", floor=50.0))
    assert allocate(f, Budget(total=5.0))[0].tolist() == [1.0, 1.0, 1.0]


def test_parse_spec_rejects_inconsistent_need_rules():
    with pytest.raises(DataError, match="weights"):
        parse_spec({**BASE, "need": {"indicators": ["imd2019", "cni2019"], "combine": "weighted", "weights": [1]}})
    with pytest.raises(DataError, match="floor and ceiling"):
        parse_spec({**BASE, "budget": {"total": 10, "floor": 1}})


def _instance(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    pop = rng.integers(1000, 3000, n).astype(float)
    need = rng.random(n)
    lad = rng.integers(0, n // 20, n)
    region = lad % 9  # every LAD inside one region
    return pop, need, 25_000 + 10 * pop, lad, region


def test_redundant_rows_are_left_out_and_the_rest_kept():
    from neighbourhood_lens.programmes.optimise import model_rows

    lad = np.array([0, 0, 0, 1, 2, 2])
    region = np.array([0, 0, 0, 0, 1, 1])
    caps = [(lad, 2, "lad_code"), (region, 3, "region_code")]
    rows, dropped = model_rows(np.ones(6), budget=4.0, caps=caps, count=5)
    # Only LAD 0 (3 areas, cap 2) can bind: LADs 1 and 2 have at most 2 areas; region 0 holds at
    # most 2 (LAD 0) + 1 (LAD 1) = 3 areas and region 1 at most 2, both within the cap of 3. The
    # count of 5 cannot bind either: the budget of 4 affords at most 4 areas. The budget binds (6 > 4).
    assert [(r.tolist(), k) for r, k in rows] == [([0, 1, 2], 2.0)]
    assert dropped == {"cap": 4, "count": 1, "budget": 0}
    rows, dropped = model_rows(np.ones(6), budget=10.0, caps=caps, count=2)
    assert [(r.tolist(), k) for r, k in rows][-1] == (list(range(6)), 2.0) and dropped["budget"] == 1


def test_mip_gap_stops_within_the_gap_and_zero_proves_the_optimum():
    pop, need, cost, lad, region = _instance(4000, 3)
    caps = [(lad, 2, "lad_code"), (region, 60, "region_code")]
    budget = 8_000_000.0
    greedy = walk(cost[np.argsort(-need, kind="stable")], caps=[(g[np.argsort(-need, kind="stable")], k, c)
                                                                for g, k, c in caps], budget=budget)
    start = np.zeros(len(pop), bool)
    start[np.argsort(-need, kind="stable")[greedy]] = True
    fast, f = solve_optimal(pop, need, cost, budget=budget, caps=caps, mip_gap=1e-4, start=start)
    exact, e = solve_optimal(pop, need, cost, budget=budget, caps=caps, mip_gap=0, start=start)
    assert e["mip_gap"] == 0.0 and e["proof"] == "branch and bound"
    assert f["mip_gap"] <= 1e-4 and f["objective"] >= e["objective"] * (1 - 1e-4)
    assert f["objective"] <= e["objective"] + 1e-6 <= f["bound"] + 1e-6  # the bound is a true bound
    assert f["objective"] >= objective(pop, need, start) == pytest.approx(f["start_objective"])
    for chosen in (fast, exact):
        assert cost[chosen].sum() <= budget
        assert np.bincount(lad[chosen]).max() <= 2 and np.bincount(region[chosen]).max() <= 60


def test_the_solver_writes_nothing_to_the_terminal(capfd):
    pop, need, cost, lad, region = _instance(4000, 5)
    caps = [(lad, 2, "lad_code"), (region, 60, "region_code")]
    for gap in (1e-4, 0.0):
        solve_optimal(pop, need, cost, budget=8_000_000.0, caps=caps, mip_gap=gap)
    print("after the solves")  # Python's own output still reaches the terminal afterwards
    out, err = capfd.readouterr()
    assert out == "after the solves\n" and err == ""
