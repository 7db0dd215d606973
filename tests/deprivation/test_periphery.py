"""Centre vs periphery: centres, distance bands, and where the most deprived decile lives."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from neighbourhood_lens.deprivation import periphery as pp
from neighbourhood_lens.errors import DataError, JoinError

# --- tiny frames ----------------------------------------------------------------------------------


def test_centre_is_weighted_centroid_of_densest_near_the_peak():
    # a (density 10,000/km2) is the peak; b (5,000) lies 1 km away; c (1,000) 1 km away; d is dense
    # but 50 km off and so excluded by the 3 km radius.
    f = pd.DataFrame({"code": list("abcd"), "lad_code": ["L"] * 4, "x": [0.0, 1000.0, 0.0, 50000.0],
                      "y": [0.0, 0.0, 1000.0, 0.0], "area_km2": [0.1, 0.2, 1.0, 0.125],
                      "population": [1000.0, 1000.0, 1000.0, 1000.0]})
    c = pp.lad_centres(f, n_densest=2, radius_km=3.0).iloc[0]
    assert c["peak_code"] == "a" and (c["centre_x"], c["centre_y"]) == (500.0, 0.0)
    c3 = pp.lad_centres(f, n_densest=3, radius_km=3.0).iloc[0]
    assert c3["centre_x"] == pytest.approx(1000 / 3) and c3["centre_y"] == pytest.approx(1000 / 3)
    with pytest.raises(DataError, match="n_densest must be >= 1"):
        pp.lad_centres(f, n_densest=0)


def test_bands_and_quantiles():
    f = pd.DataFrame({"lad_code": ["L"] * 4, "x": [0.0, 1999.0, 2000.0, 9000.0], "y": [0.0] * 4})
    c = pd.DataFrame({"lad_code": ["L"], "centre_x": [0.0], "centre_y": [0.0]})
    out = pp.classify_distance(f, c, bands_km=[2, 5])
    assert out["band"].astype(str).tolist() == ["0-2 km", "0-2 km", "2-5 km", "5+ km"]
    assert out["distance_quantile"].tolist() == [0.25, 0.5, 0.75, 1.0]
    with pytest.raises(DataError, match="increasing positive"):
        pp.classify_distance(f, c, bands_km=[5, 2])
    with pytest.raises(JoinError, match="1 LSOA\\(s\\) have a LAD without a centre: M"):
        pp.classify_distance(f.assign(lad_code=["L", "L", "L", "M"]), c)


def test_location_shares_sum_to_one():
    f = pd.DataFrame({"band": ["c", "c", "o", "o"], "ruc_broad": ["Urban", "Urban", "Rural", "Urban"],
                      "population": [10.0, 30.0, 20.0, 40.0], "deprived": [True, False, True, False]})
    t = pp.deprivation_location(f)
    assert t["deprived_share"].sum() == pytest.approx(1) and t["population_share"].sum() == pytest.approx(1)
    cell = t[(t["band"] == "o") & (t["ruc_broad"] == "Rural")].iloc[0]
    assert cell["deprived_share"] == pytest.approx(20 / 30) and cell["ratio"] == pytest.approx((20 / 30) / 0.2)


# --- real data ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def national(con):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table, frames = pp.decentralisation(con)
    return table, frames, caught


def test_real_2004_conversion_reports_unmatched_codes(national):
    _, frames, caught = national
    msgs = [str(w.message) for w in caught]
    assert any("have no LSOA 2001 parent" in m and "left out of imd2004" in m for m in msgs)
    assert len(frames["imd2004"]) > 32800


def test_real_deprived_counts_match_the_published_deciles(con, national):
    table, _, _ = national
    for ed, tbl in (("imd2019", "imd2019_lsoa11"), ("imd2025", "imd2025_lsoa21")):
        n = con.execute(f"SELECT count(*) FROM {tbl} WHERE imd_decile = 1").fetchall()[0][0]
        assert table.loc[table["edition"] == ed, "deprived_lsoas"].sum() == n
    for ed in pp.EDITIONS:
        part = table[table["edition"] == ed]
        assert part["deprived_share"].sum() == pytest.approx(1) and part["population_share"].sum() == pytest.approx(1)


def test_real_centres_of_big_cities_are_near_their_city_centres(national):
    _, frames, _ = national
    centres = pp.lad_centres(frames["imd2019"])
    # Ordnance Survey grid references of the civic centres: Manchester Town Hall (SJ 838 981),
    # Birmingham Victoria Square (SP 068 869), Leeds City Square (SE 299 334).
    town_halls = {"E08000003": (383800, 398100), "E08000025": (406800, 286900), "E08000035": (429900, 433400)}
    for lad, (x, y) in town_halls.items():
        c = centres.set_index("lad_code").loc[lad]
        assert np.hypot(c["centre_x"] - x, c["centre_y"] - y) < 2500, lad


def test_real_deprivation_is_urban_and_central_more_than_people(national):
    table, _, _ = national
    for ed in pp.EDITIONS:
        part = table[table["edition"] == ed]
        rural = part[part["ruc_broad"] == "Rural"]
        assert rural["deprived_share"].sum() < rural["population_share"].sum()
        centre = part[part["band"] == "0-2 km"]
        assert centre["deprived_share"].sum() > centre["population_share"].sum()


def test_cli_periphery(warehouse_path, tmp_path):
    from neighbourhood_lens.cli import app

    out, png = tmp_path / "per.csv", tmp_path / "per.png"
    res = CliRunner().invoke(app, ["periphery", "--editions", "imd2019", "--lad", "York", "--db",
                                   str(warehouse_path), "--out", str(out), "--map", str(png)])
    assert res.exit_code == 0, res.output
    written = pd.read_csv(out)
    assert list(written.columns) == pp.LOCATION_COLUMNS and set(written["edition"]) == {"imd2019"}
    assert png.stat().st_size > 10_000
    bad = CliRunner().invoke(app, ["periphery", "--editions", "imd1999", "--db", str(warehouse_path)])
    assert bad.exit_code == 2 and "unknown edition 'imd1999'" in bad.output
