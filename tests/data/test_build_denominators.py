"""IoD File 7 population denominators are loaded and used by `summarise` (as MHCLG's File 10 uses them).

The mirror lacks the denominators, so this test adds them to a copy of File 7 (publisher headers)
and checks the summaries against sums and weighted means computed by hand with pandas.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd

from neighbourhood_lens.data.build import build_warehouse
from neighbourhood_lens.deprivation.summaries import summarise
from neighbourhood_lens.warehouse import connect

TOTAL = "Total population: mid 2015 (excluding prisoners)"
WORKING = "Working age population 18-59/64: for use with Employment Deprivation Domain (excluding prisoners)"


def test_summarise_weights_by_the_file7_denominators_when_present(warehouse_path, mirror, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(warehouse_path, db)
    f7 = pd.read_parquet(mirror / "imd2019_lsoa11.parquet")
    rng = np.random.default_rng(7)
    f7[TOTAL] = rng.integers(1000, 3000, len(f7)).astype(float)
    f7[WORKING] = (f7[TOTAL] * rng.uniform(0.5, 0.7, len(f7))).round()
    f7.to_csv(tmp_path / "File_7.csv", index=False)
    build_warehouse(db, files={"imd2019_lsoa11": tmp_path / "File_7.csv"})
    con = connect(db)
    cols = {r[0] for r in con.execute("DESCRIBE imd2019_lsoa11").fetchall()}
    assert {"denominator_total", "denominator_working_age"} <= cols

    out = summarise(con, index="imd2019", by="lad19").set_index("code")
    assert any("official imd2019 File 7 population denominators" in n for n in out.attrs["notes"])
    h = con.execute("SELECT lsoa11_code, lad19_code FROM hierarchy_lsoa11").df().merge(
        f7[["lsoa11_code", "IMD_score", TOTAL, WORKING, "Employment_score"]], on="lsoa11_code")
    by = h.groupby("lad19_code")
    pd.testing.assert_series_equal(out["population"], by[TOTAL].sum(), check_names=False)
    mean = by.apply(lambda g: np.average(g["IMD_score"], weights=g[TOTAL]), include_groups=False)
    np.testing.assert_allclose(out["average_score"], mean.loc[out.index], rtol=1e-9)

    emp = summarise(con, index="imd2019", by="lad19", domain="employment").set_index("code")
    rate = h["Employment_score"] / (100 if h["Employment_score"].max() > 1 else 1)  # mirror stores percentages
    h["rate"] = rate
    want = h.groupby("lad19_code").apply(lambda g: np.average(g["rate"], weights=g[WORKING]), include_groups=False)
    np.testing.assert_allclose(emp["average_score"], want.loc[emp.index], rtol=1e-9)
    assert any("official working-age denominator" in n for n in emp.attrs["notes"])
