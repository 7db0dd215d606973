"""Write the SYNTHETIC 360Giving sample grants file used in demos, docs and tests.

    .venv/bin/python scripts/make_sample_grants.py OUT.csv [--n 5000] [--seed 1] [--db WAREHOUSE]

Same as ``nlens funding sample``. Identifiers start ``360G-SYNTHETIC-`` and titles say SYNTHETIC;
the area codes are real codes from the warehouse; about 1% of rows are deliberately bad.
"""

from __future__ import annotations

import argparse

from neighbourhood_lens.funding.reach import reach as funding
from neighbourhood_lens.warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a SYNTHETIC 360Giving grants file.")
    parser.add_argument("out", help=".csv, .xlsx or .json")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default=None, help="warehouse (default: NLENS_DB or the user data dir)")
    args = parser.parse_args()
    frame = funding.synthetic_grants(connect(args.db), args.n, seed=args.seed)
    path = funding.write_grants(frame, args.out)
    print(f"wrote {len(frame):,} SYNTHETIC grants to {path}")


if __name__ == "__main__":
    main()
