"""Benchmark: matched DiD for 120 treated LSOAs on a 10-year national LSOA panel.

Usage: .venv/bin/python benchmarks/bench_evaluation.py [--db WAREHOUSE] [--placebo 99]

The panel has every English LSOA 2011 (32,844) for 2011-2020 (328,440 rows), built from the
real IoD2019 IMD scores with a deprivation-linked trend and noise (as in
tests/test_evaluation_simulation.py); 120 treated LSOAs from the most deprived decile start in
2016 with an injected effect of -2. Times the whole :func:`evaluate` (matching, stacked DiD,
event study, halo ring from the LSOA adjacency, naive DiD, placebo re-runs) and reports each stage,
then the reference measured in the same run: the same :func:`evaluate` with ``n_placebo=0`` (the
single estimate), and the ratio (target: the full run <= 5x the single estimate).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from neighbourhood_lens.evaluation import evaluate, fit_did, match, stack_panel
from neighbourhood_lens.evaluation.run import halo_ring
from neighbourhood_lens.geo.units import unit_adjacency
from neighbourhood_lens.warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="warehouse (default: NLENS_DB or the user data dir)")
    parser.add_argument("--placebo", type=int, default=99)
    args = parser.parse_args()
    con = connect(args.db)
    base = con.execute("SELECT lsoa11_code AS code, imd_score AS s FROM imd2019_lsoa11 ORDER BY 1").df()
    rng = np.random.default_rng(7)
    years = np.arange(2011, 2021)
    s = base["s"].to_numpy(float)
    z = (s - s.mean()) / s.std()
    y = s[:, None] + 0.4 * z[:, None] * (years - 2011) + rng.normal(0, 1, (len(s), len(years)))
    tix = rng.choice(np.flatnonzero(z > np.quantile(z, 0.9)), 120, replace=False)
    y[np.ix_(tix, np.flatnonzero(years >= 2016))] -= 2.0
    panel = pd.DataFrame({"code": np.repeat(base["code"].to_numpy(), len(years)), "year": np.tile(years, len(s)),
                          "value": y.ravel()})
    treated = pd.DataFrame({"code": base["code"].to_numpy()[tix], "start": 2016})
    t0 = time.perf_counter()
    adj = unit_adjacency(con, "lsoa11")
    t_adj = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = match(panel, treated, exclude=halo_ring(adj, treated)["code"].tolist())
    t_match = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit_did(stack_panel(panel, m.pairs))
    t_did = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = evaluate(panel, treated, adjacency=adj, halo=True, n_placebo=0)
    t_single = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = evaluate(panel, treated, adjacency=adj, halo=True, n_placebo=args.placebo)
    total = time.perf_counter() - t0
    att = ev.effects.set_index("effect").loc["att"]
    assert att["estimate"] == single.effects.set_index("effect").loc["att", "estimate"]
    print(f"panel: {len(panel):,} rows ({panel['code'].nunique():,} LSOAs x {len(years)} years); "
          f"120 treated, {int(att['n_treated'])} matched, {int(att['n_comparators'])} comparators")
    print(f"adjacency {t_adj:.2f} s; matching {t_match:.2f} s; stacked DiD + clustered CI {t_did:.2f} s")
    pl = ev.effects.set_index("effect").loc["placebo"]
    print(f"single estimate (ATT, event study, halo, naive; --placebo 0): {t_single:.1f} s")
    print(f"full evaluate (the same + {args.placebo} placebo re-runs): {total:.1f} s; "
          f"ATT {att['estimate']:.3f} [{att['ci_low']:.3f}, {att['ci_high']:.3f}] (injected -2); "
          f"placebo p = {pl['p_value']:.4f}")
    ratio = total / t_single
    print(f"ratio full / single: {ratio:.1f}x (target <= 5x: {'PASS' if ratio <= 5 else 'FAIL'})")


if __name__ == "__main__":
    main()
