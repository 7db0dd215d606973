"""The per-connection cache of an index build's fixed look-ups, and the rank order of the scores.

Tiny warehouses written to ``tmp_path``: four LSOAs in ``hierarchy_lsoa11`` and a table ``x`` of two
components, so every answer can be read off by hand.
"""

from __future__ import annotations

import gc

import duckdb
import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.errors import JoinError
from neighbourhood_lens.geo.geography import equal_count_decile
from neighbourhood_lens.geo.units import resolve_unit
from neighbourhood_lens.indices import _cache, build_index, parse_spec
from neighbourhood_lens.indices._data import _columns, _unit_codes
from neighbourhood_lens.indices.aggregate import _rank_and_order, rank_scores
from neighbourhood_lens.indices.transforms import _EXP_CONST, exponential, need_rank

CODES = ["E01000001", "E01000002", "E01000003", "E01000004"]
SPEC = parse_spec({"name": "t", "unit": "lsoa11", "component": [
    {"name": "a", "table": "x", "column": "v", "need": "high", "transform": "exponential"},
    {"name": "b", "table": "x", "column": "w", "need": "low", "transform": "rank"}]})


def _warehouse(path, codes=CODES, v=(4.0, 3.0, 2.0, 1.0)):
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE OR REPLACE TABLE hierarchy_lsoa11 (lsoa11_code VARCHAR)")
        con.executemany("INSERT INTO hierarchy_lsoa11 VALUES (?)", [[c] for c in codes])
        con.execute("CREATE OR REPLACE TABLE x (lsoa11_code VARCHAR, v DOUBLE, w DOUBLE)")
        rows = [[c, a, float(i)] for i, (c, a) in enumerate(zip(codes, v, strict=True))]
        con.executemany("INSERT INTO x VALUES (?, ?, ?)", rows)
    return path


@pytest.fixture(autouse=True)
def _empty_cache():
    _cache.clear()
    yield
    _cache.clear()


def test_a_hit_gives_the_same_frame_and_the_same_codes(tmp_path):
    con = duckdb.connect(str(_warehouse(tmp_path / "w.duckdb")), read_only=True)
    first = build_index(con, SPEC)
    assert _cache.size(con) == 2  # the unit's codes and the schema of x
    second = build_index(con, SPEC)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert first.attrs == second.attrs
    assert first["code"].tolist() == CODES  # v = 4, 3, 2, 1: the first code has most need
    unit = resolve_unit(con, "lsoa11")
    assert _unit_codes(con, unit) is _unit_codes(con, unit)
    assert _columns(con, "x", where="w") == {"lsoa11_code": "VARCHAR", "v": "DOUBLE", "w": "DOUBLE"}
    _columns(con, "x", where="w")["v"] = "changed"  # each call gets its own copy of the schema
    assert _columns(con, "x", where="w")["v"] == "DOUBLE"


def test_a_temporary_table_or_a_registered_frame_is_seen_at_once(tmp_path):
    con = duckdb.connect(str(_warehouse(tmp_path / "w.duckdb")), read_only=True)
    unit = resolve_unit(con, "lsoa11")
    build_index(con, SPEC)
    # the unit loses an LSOA that x has: the build must see it, not the cached codes
    con.execute("CREATE TEMP TABLE hierarchy_lsoa11 AS SELECT * FROM main.hierarchy_lsoa11 "
                "WHERE lsoa11_code <> 'E01000004'")
    assert _unit_codes(con, unit).to_pylist() == CODES[:3]
    with pytest.raises(JoinError, match="1 code\\(s\\) are not areas of unit lsoa11: E01000004"):
        build_index(con, SPEC)
    assert _cache.size(con) == 0  # the old values went with the catalog version; nothing new kept
    con.execute("INSERT INTO hierarchy_lsoa11 VALUES ('E01000004')")
    assert _unit_codes(con, unit).to_pylist() == CODES
    con.execute("DROP TABLE hierarchy_lsoa11")
    con.register("hierarchy_lsoa11", pd.DataFrame({"lsoa11_code": CODES[1:]}))
    assert _unit_codes(con, unit).to_pylist() == CODES[1:]
    assert _cache.size(con) == 0  # a registered frame: nothing is kept
    con.unregister("hierarchy_lsoa11")
    assert _unit_codes(con, unit).to_pylist() == CODES
    assert _cache.size(con) == 1  # the warehouse's own table again, kept again


def test_a_writable_connection_is_never_cached(tmp_path):
    con = duckdb.connect(str(_warehouse(tmp_path / "w.duckdb")))
    first = build_index(con, SPEC)
    assert _cache.size(con) == 0
    con.execute("UPDATE x SET v = 5 - v")  # the order turns round
    con.execute("DELETE FROM hierarchy_lsoa11 WHERE lsoa11_code = 'E01000001'")
    con.execute("DELETE FROM x WHERE lsoa11_code = 'E01000001'")
    second = build_index(con, SPEC)
    assert first["code"].tolist() == CODES
    assert second["code"].tolist() == CODES[:0:-1]
    assert _cache.size(con) == 0


def test_a_new_connection_to_a_rebuilt_file_reads_it_afresh(tmp_path):
    path = _warehouse(tmp_path / "w.duckdb")
    for v in [(4.0, 3.0, 2.0, 1.0), (1.0, 2.0, 3.0, 4.0), (2.0, 1.0, 4.0, 3.0)]:
        _warehouse(path, codes=CODES, v=v)  # rewrite the file, then a new read-only connection (its id may repeat)
        con = duckdb.connect(str(path), read_only=True)
        built = build_index(con, SPEC)
        assert _cache.size(con) == 2
        expected = [c for _, c in sorted(zip(v, CODES, strict=True), reverse=True)]
        assert built["code"].tolist() == expected
        con.close()
        del con
        gc.collect()
    _warehouse(path, codes=CODES[:2], v=(1.0, 2.0))
    con = duckdb.connect(str(path), read_only=True)
    assert build_index(con, SPEC)["code"].tolist() == CODES[1::-1]


def test_no_catalog_version_means_no_cache_and_errors_are_not_kept(tmp_path):
    calls = []

    class Bare:  # a connection without DuckDB's catalog version
        pass

    bare = Bare()
    for _ in range(2):
        assert _cache.cached(bare, "k", lambda: calls.append(1) or len(calls), tables=["t"]) == len(calls)
    assert len(calls) == 2 and _cache.size(bare) == 0
    con = duckdb.connect(str(_warehouse(tmp_path / "w.duckdb")), read_only=True)
    for _ in range(2):
        with pytest.raises(Exception, match="table = 'nope' is not in the warehouse"):
            _columns(con, "nope", where="component 'a'")
    assert _cache.size(con) == 0
    con.close()  # a closed connection raises as before, not from the cache
    with pytest.raises(duckdb.Error, match="closed"):
        _unit_codes(con, resolve_unit(None, "lsoa11"))


def test_at_most_limit_values_per_connection(tmp_path):
    con = duckdb.connect(str(_warehouse(tmp_path / "w.duckdb")), read_only=True)
    for i in range(_cache.LIMIT + 5):
        assert _cache.cached(con, ("k", i), lambda i=i: i, tables=["x"]) == i
    assert _cache.size(con) == _cache.LIMIT
    assert _cache.cached(con, ("k", 0), lambda: "again", tables=["x"]) == "again"  # the oldest went first


# ---------------------------------------------------------------- rank order


def _stable(s):
    order = np.argsort(-s, kind="stable")
    ordered = s[order]
    run_start = np.r_[True, ordered[1:] != ordered[:-1]] if len(s) else np.zeros(0, dtype=bool)
    rank = np.empty(len(s), dtype=int)
    rank[order] = (np.flatnonzero(run_start) + 1)[np.cumsum(run_start) - 1]
    return rank, order


@pytest.mark.parametrize("scores", [
    np.array([]),
    np.array([3.0]),
    np.array([5.0, 9.0, 5.0, 1.0]),
    np.full(1000, 7.0),  # one run of ties
    np.array([0.0, -0.0, 1.0, -0.0, 0.0]),  # -0.0 and 0.0 tie
    np.random.default_rng(1).integers(0, 20, 5000).astype(float),  # many runs of many ties
    np.random.default_rng(2).integers(0, 3000, 5000).astype(float),  # many short runs
    np.random.default_rng(3).normal(size=33755),  # no ties
    np.r_[np.random.default_rng(4).normal(size=2000), np.zeros(17), np.full(3, np.inf), np.full(2, -np.inf)],
])
def test_the_rank_order_is_that_of_a_stable_sort(scores):
    rank, order = _rank_and_order(scores)
    stable_rank, stable_order = _stable(scores)
    np.testing.assert_array_equal(order, stable_order)
    np.testing.assert_array_equal(rank, stable_rank)
    assert rank.dtype == stable_rank.dtype


def test_ties_follow_the_given_order_inside_each_run():
    s = np.array([2.0, 5.0, 2.0, 5.0, 2.0, 9.0])
    rank, order = _rank_and_order(s)
    assert order.tolist() == [5, 1, 3, 0, 2, 4]
    assert rank.tolist() == [4, 2, 4, 2, 4, 1] == rank_scores(s).tolist()


def test_exponential_in_place_is_the_formula_to_the_bit():
    rng = np.random.default_rng(5)
    for v in (rng.integers(1, 500, 2000).astype(float), rng.normal(size=3000), rng.normal(size=(400, 3))):
        v[rng.random(v.shape) < 0.05] = np.nan
        n = np.sum(~np.isnan(v), axis=0)
        expected = -23 * np.log(1 - (n - need_rank(v) + 1) / n * _EXP_CONST)
        got = exponential(v)
        np.testing.assert_array_equal(got.view(np.uint64), expected.view(np.uint64))


def test_equal_count_decile_leaves_its_input_alone():
    r = np.array([1.0, 5.0, 10.0, np.nan])
    assert equal_count_decile(r, 10).tolist() == [1, 5, 10, pd.NA]
    assert np.isnan(r[3]) and r[:3].tolist() == [1.0, 5.0, 10.0]
    ranks = np.random.default_rng(6).permutation(32844) + 1
    np.testing.assert_array_equal(equal_count_decile(ranks, 32844), np.ceil(ranks * 10 / 32844).astype(int))
