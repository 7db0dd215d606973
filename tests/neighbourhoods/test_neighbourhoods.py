"""Custom neighbourhoods: the regionalisation on hand-made grids, then the national build."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neighbourhood_lens.errors import DataError, JoinError, WarehouseError
from neighbourhood_lens.neighbourhoods import build as nb
from neighbourhood_lens.neighbourhoods.regionalise import regionalise


def grid_links(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Rook links of a rows x cols grid, nodes numbered row by row."""
    idx = np.arange(rows * cols).reshape(rows, cols)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return a, b


# --- tier (a): tiny problems with answers worked out by hand ------------------------------


def test_two_homogeneous_halves_are_found():
    # 2 x 4 grid: left half x = 0, right half x = 10; 1,000 people each; max 4,000 -> two
    # regions of 4 nodes, and the only zero-SSD split is left | right.
    a, b = grid_links(2, 4)
    x = np.array([0, 0, 10, 10, 0, 0, 10, 10], dtype=float)
    labels = regionalise(x, np.full(8, 1000.0), a, b, np.zeros(8, int), max_population=4000, min_population=1000)
    assert labels.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]


def test_regions_never_cross_groups_and_respect_the_maximum():
    a, b = grid_links(6, 6)
    rng = np.random.default_rng(3)
    groups = (np.arange(36) % 6 >= 3).astype(int)  # left and right halves are two LADs
    pop = rng.integers(800, 1500, 36).astype(float)
    labels = regionalise(rng.normal(size=(36, 2)), pop, a, b, groups, max_population=4000, min_population=1500)
    frame = pd.DataFrame({"label": labels, "group": groups, "pop": pop})
    per = frame.groupby("label").agg(groups=("group", "nunique"), pop=("pop", "sum"))
    assert (per["groups"] == 1).all()
    assert (per["pop"] <= 4000).all()


def test_single_lsoa_above_the_maximum_stands_alone():
    a, b = grid_links(1, 3)
    labels = regionalise(np.zeros(3), np.array([500.0, 12000.0, 500.0]), a, b, np.zeros(3, int),
                         max_population=10000, min_population=0)
    assert len(set(labels.tolist())) == 3


def test_cut_separates_the_dissimilar_end_unless_the_minimum_forbids_it():
    # Path A - B - C, x = 0, 0.1, 5, people 3,000 / 3,000 / 1,000, max 6,500. Cutting B-C
    # removes C's deviation (the bigger fall in SSD); with min 2,000 that leaves C too
    # small, so the only feasible cut is A-B.
    a, b = np.array([0, 1]), np.array([1, 2])
    x, pop = np.array([0.0, 0.1, 5.0]), np.array([3000.0, 3000.0, 1000.0])
    free = regionalise(x, pop, a, b, np.zeros(3, int), max_population=6500, min_population=500)
    bounded = regionalise(x, pop, a, b, np.zeros(3, int), max_population=6500, min_population=2000)
    assert free.tolist() == [0, 0, 1]
    assert bounded.tolist() == [0, 1, 1]


def test_small_region_joins_the_neighbour_with_the_nearest_mean():
    from neighbourhood_lens.neighbourhoods.regionalise import _merge_small

    # Region 1 (500 people, x = 0) touches region 0 (x = 0) and region 2 (x = 5): it joins 0.
    labels = np.array([0, 0, 1, 2])
    merged = _merge_small(labels, np.array([[0.0], [0.0], [0.0], [5.0]]), np.array([2000.0, 2000.0, 500.0, 3000.0]),
                          np.array([0, 1, 2]), np.array([1, 2, 3]), max_population=10000, min_population=1000)
    assert merged.tolist() == [0, 0, 0, 2]
    # With a maximum of 4,000 it cannot join 0 (4,500) and joins 2 instead (3,500).
    merged = _merge_small(labels, np.array([[0.0], [0.0], [0.0], [5.0]]), np.array([2000.0, 2000.0, 500.0, 3000.0]),
                          np.array([0, 1, 2]), np.array([1, 2, 3]), max_population=4000, min_population=1000)
    assert merged.tolist() == [0, 0, 2, 2]


def test_same_seed_same_result_and_contiguity_on_a_grid():
    a, b = grid_links(20, 20)
    rng = np.random.default_rng(0)
    x, pop = rng.normal(size=(400, 3)), rng.integers(1000, 2000, 400).astype(float)
    codes = [f"L{i:03d}" for i in range(400)]
    lsoas = pd.DataFrame({"c": codes, "lad": "A", "population": pop, "v1": x[:, 0], "v2": x[:, 1], "v3": x[:, 2]})
    links = pd.DataFrame({"a": np.array(codes)[a], "b": np.array(codes)[b]})
    first, _ = nb.assign_neighbourhoods(lsoas, links, key="c", lad="lad", variables=["v1", "v2", "v3"], seed=7)
    again, _ = nb.assign_neighbourhoods(lsoas, links, key="c", lad="lad", variables=["v1", "v2", "v3"], seed=7)
    assert first.tolist() == again.tolist()
    assignment = lsoas.assign(neighbourhood_code=first.astype(str))
    checks = nb.check_neighbourhoods(assignment, links, key="c", lad="lad", max_population=10000,
                                     min_population=3000, expected=lsoas["c"])
    assert checks[checks["severity"] == "error"].empty


def test_check_finds_each_kind_of_violation():
    f = pd.DataFrame({"c": ["A", "B", "C", "C", "D"], "neighbourhood_code": ["n1", "n1", "n2", "n3", "n4"],
                      "l": ["L", "M", "L", "L", "L"], "population": [6000.0, 5000.0, 4000.0, 4000.0, 4000.0]})
    links = pd.DataFrame({"a": ["B"], "b": ["C"]})
    checks = nb.check_neighbourhoods(f, links, key="c", lad="l", max_population=10000, min_population=3000,
                                     expected=pd.Series(["A", "B", "C", "D", "E"]))
    assert sorted(checks["check"]) == ["duplicate", "duplicate", "missing", "not_contiguous", "over_max",
                                       "several_lads"]


# A valid assignment on the chain A-B-C-D-E (LAD L) + F (LAD M): n1 = {A, B}, n2 = {C, D, E}, n3 = {F}.
_VALID = pd.DataFrame({"c": list("ABCDEF"), "neighbourhood_code": ["n1", "n1", "n2", "n2", "n2", "n3"],
                       "l": ["L"] * 5 + ["M"], "population": [2000.0] * 6})
_CHAIN = pd.DataFrame({"a": list("ABCDE"), "b": list("BCDEF")})


@pytest.mark.parametrize("change, check, where", [
    (lambda f: f.drop(index=4), "missing", None),                                   # E left out
    (lambda f: pd.concat([f, f.iloc[[2]].assign(neighbourhood_code="n1")]), "duplicate", "n2"),  # C in n2 and n1
    (lambda f: pd.concat([f, pd.DataFrame({"c": ["Z"], "neighbourhood_code": ["n4"], "l": ["M"],
                                           "population": [1000.0]})]), "unexpected", "n4"),
    (lambda f: f.assign(neighbourhood_code=f["neighbourhood_code"].where(f["c"] != "E", None)),
     "unassigned", None),
    (lambda f: f.assign(population=f["population"].where(f["c"] != "C", 9000.0)), "over_max", "n2"),
    (lambda f: f.assign(l=f["l"].where(f["c"] != "A", "M")), "several_lads", "n1"),
    (lambda f: f.assign(neighbourhood_code=f["neighbourhood_code"].where(f["c"] != "A", "n2")),  # A apart from C-E
     "not_contiguous", "n2"),
])
def test_check_detects_each_violation_on_its_own(change, check, where):
    clean = nb.check_neighbourhoods(_VALID, _CHAIN, key="c", lad="l", max_population=10000, min_population=1000,
                                    expected=_VALID["c"])
    assert clean.empty  # the starting point breaks nothing
    broken = change(_VALID.copy())
    found = nb.check_neighbourhoods(broken, _CHAIN, key="c", lad="l", max_population=10000, min_population=1000,
                                    expected=_VALID["c"])
    errors = found[found["severity"] == nb.SEVERITY_ERROR]
    assert set(errors["check"]) == {check}, found
    assert errors["neighbourhood_code"].iloc[0] == where


def test_check_warns_under_the_minimum_only():
    small = _VALID.assign(population=_VALID["population"].where(_VALID["c"] != "F", 100.0))
    found = nb.check_neighbourhoods(small, _CHAIN, key="c", lad="l", max_population=10000, min_population=1000)
    assert found[["check", "severity", "neighbourhood_code"]].values.tolist() == [["under_min", "warning", "n3"]]


def test_lsoa_without_neighbour_is_warned_and_stands_alone():
    lsoas = pd.DataFrame({"c": ["A", "B", "C"], "lad": "L", "population": [1000.0] * 3, "v": [0.0, 0.0, 0.0]})
    labels, warnings = nb.assign_neighbourhoods(lsoas, pd.DataFrame({"a": ["A"], "b": ["B"]}), key="c",
                                                lad="lad", variables=["v"])
    assert labels.tolist() == [0, 0, 1]
    assert warnings and warnings[0].startswith("1 LSOA(s) have no neighbour in their LAD") and "C" in warnings[0]


def test_minimum_above_maximum_is_refused_with_the_remedy():
    lsoas = pd.DataFrame({"c": ["A"], "lad": "L", "population": [1.0], "v": [0.0]})
    with pytest.raises(DataError, match=r"--min-population \(12,000\) is above --max-population \(10,000\); lower"):
        nb.assign_neighbourhoods(lsoas, pd.DataFrame({"a": [], "b": []}), key="c", lad="lad", variables=["v"],
                                 min_population=12000)


def test_pocket_preservation_and_within_share_by_hand():
    # Ten groups of two LSOAs. The one decile-1 LSOA (pop 1) is in group a; in the first
    # grouping a is the most deprived group (its mean 30 > 10), so the pocket is kept.
    f = pd.DataFrame({"g": list("abcdefghij") * 2, "imd_score": [50.0] + [10.0] * 19,
                      "imd_decile": [1] + [5] * 19, "population": [1.0] * 20})
    assert nb.pocket_preservation(f, by="g") == 1.0
    # within share: a holds 50 and 10 (SSD 800 around 30); total SSD = 1600 * 19/20 = 1520.
    assert nb.within_variance_share(f, value="imd_score", weight="population", by="g") == pytest.approx(800 / 1520)


# --- tier (b): the real national data -------------------------------------------------------


@pytest.fixture(scope="module")
def national(con):
    """The national 2021 build, once (about a second)."""
    return nb.build_neighbourhoods(con, vintage=2021)


@pytest.fixture(scope="module")
def links21(con):
    from neighbourhood_lens.geo.adjacency import load_adjacency

    return load_adjacency(con, 2021)


def test_national_build_breaks_no_constraint(con, national, links21):
    expected = con.execute("SELECT lsoa21_code FROM hierarchy_lsoa21").df()["lsoa21_code"]
    assert len(national) == len(expected) == 33755
    checks = nb.check_neighbourhoods(national, links21, key="lsoa21_code", lad="lad24_code",
                                     max_population=10000, min_population=3000, expected=expected)
    assert checks[checks["severity"] == "error"].empty, checks.head()
    # The only neighbourhoods below the minimum may be in LADs too small or too fragmented; few.
    assert (checks["check"] == "under_min").sum() < 20
    pops = national.groupby("neighbourhood_code")["population"].sum()
    assert 3000 <= pops.median() <= 10000


def test_national_codes_and_names(national):
    codes = national["neighbourhood_code"]
    assert codes.str.fullmatch(r"NE0\d{7}_\d{3}").all()
    assert (codes.str[1:10] == national["lad24_code"]).all()
    names = national.drop_duplicates("neighbourhood_code")
    assert not names.duplicated(["lad24_code", "neighbourhood_name"]).any()


def test_more_homogeneous_and_better_pocket_preservation_than_wards(con, national):
    report = nb.homogeneity_report(con, national, vintage=2021).set_index("unit")
    assert report.loc["neighbourhoods", "within_share_imd"] < report.loc["ward24", "within_share_imd"]
    assert report.loc["neighbourhoods", "within_share_variables"] < report.loc["ward24", "within_share_variables"]
    assert report.loc["neighbourhoods", "pocket_preservation"] > report.loc["ward24", "pocket_preservation"]


def test_same_seed_identical_on_a_lad_subset(con):
    lads = ["E06000001", "E06000002", "E08000021"]  # Hartlepool, Middlesbrough, Newcastle
    first = nb.build_neighbourhoods(con, vintage=2011, lads=lads, seed=3)
    again = nb.build_neighbourhoods(con, vintage=2011, lads=lads, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert set(first["lad19_code"]) == set(lads)


def test_bad_inputs_are_named(con):
    with pytest.raises(DataError, match="unknown LSOA vintage 2015; valid vintages: 2011, 2021"):
        nb.build_neighbourhoods(con, vintage=2015)
    with pytest.raises(JoinError, match="1 code\\(s\\) are not lad24_code codes: E99999999"):
        nb.build_neighbourhoods(con, vintage=2021, lads=["E99999999"])
    with pytest.raises(DataError, match="--lads: no local authority given; list lad24_code codes"):
        nb.build_neighbourhoods(con, vintage=2021, lads=[])
    with pytest.raises(DataError, match="variables imd_scor are not columns of imd2025_lsoa21"):
        nb.build_neighbourhoods(con, vintage=2021, variables=["imd_scor"])


def test_store_load_and_left_behind(warehouse_path, tmp_path, national):
    import shutil

    from neighbourhood_lens.warehouse import connect

    db = tmp_path / "w.duckdb"
    shutil.copy(warehouse_path, db)
    rw = connect(db, read_only=False)
    nb.store_neighbourhoods(rw, "test_set", national, vintage=2021, parameters={"max_population": 10000})
    assignment, vintage = nb.load_neighbourhoods(rw, "test_set")
    assert vintage == 2021 and len(assignment) == len(national)
    assert list(assignment.columns) == ["lsoa21_code", "neighbourhood_code", "neighbourhood_name", "lad24_code"]
    sets = nb.neighbourhood_sets(rw)
    assert sets.loc[0, "n_neighbourhoods"] == national["neighbourhood_code"].nunique()
    lb = nb.left_behind_for_neighbourhoods(rw, "test_set")
    n = len(lb)
    # IMD decile 1 among neighbourhoods is exactly ranks 1..n/10, and left behind needs both flags.
    assert lb["in_imd_share"].sum() == int(n * 0.1)
    assert (lb["left_behind"] == (lb["in_imd_share"] & lb["in_cni_share"])).all()
    assert 0 < lb["left_behind"].sum() < lb["in_imd_share"].sum()
    with pytest.raises(WarehouseError, match="no neighbourhood set 'nope'"):
        nb.load_neighbourhoods(rw, "nope")
    with pytest.raises(DataError, match="is not allowed"):
        nb.store_neighbourhoods(rw, "Bad Name;", national, vintage=2021)
    rw.close()


def test_cli_build_writes_csv_and_feeds_left_behind(warehouse_path, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from neighbourhood_lens.cli import app

    db = tmp_path / "w.duckdb"
    shutil.copy(warehouse_path, db)
    out = tmp_path / "nb.csv"
    runner = CliRunner()
    result = runner.invoke(app, ["neighbourhoods", "build", "--vintage", "2011", "--lads", "E06000001,E06000002",
                                 "--name", "tees", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "stored as tees" in result.output and "0 constraint violation(s)" in result.output
    frame = pd.read_csv(out)
    assert frame["lsoa11_code"].is_unique and frame["lsoa11_code"].str.startswith("E01").all()
    assert set(frame["lad19_code"]) == {"E06000001", "E06000002"}
    assert (out.parent / "nb.csv.provenance.json").exists()
    result = runner.invoke(app, ["left-behind", "--neighbourhoods", "tees", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "left-behind neighbourhoods of set tees" in result.output
    result = runner.invoke(app, ["neighbourhoods", "build", "--min-population", "12000", "--db", str(db)])
    assert result.exit_code == 2
    assert "--min-population (12,000) is above --max-population (10,000)" in result.output


def test_missing_population_or_boundary_is_named(con, monkeypatch):
    from neighbourhood_lens.geo import geography

    real = geography.hierarchy

    def holed(con, vintage, population=None):
        h = real(con, vintage)
        return h.assign(population=h["population"].where(h["lsoa21_code"] != "E01000001"))

    monkeypatch.setattr(geography, "hierarchy", holed)
    with pytest.raises(DataError, match=r"1 LSOA\(s\) have no \(or a negative\) population: E01000001"):
        nb.lsoa_inputs(con, vintage=2021, lads=["E09000001"])
    monkeypatch.undo()
    assignment = pd.DataFrame({"lsoa21_code": ["E01000001", "E01999999"], "neighbourhood_code": ["n1", "n1"]})
    with pytest.raises(JoinError, match=r"1 LSOA\(s\) have no boundary: E01999999"):
        nb.neighbourhood_boundaries(con, assignment, vintage=2021)
    with pytest.raises(DataError, match=r"--min-population \(5,000\) is above --max-population \(4,000\)"):
        nb.build_neighbourhoods(con, vintage=2021, min_population=5000, max_population=4000, lads=["E09000001"])
