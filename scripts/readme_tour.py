"""Run the README's CLI tour as a person would: each line in a pseudo-terminal 80 columns wide.

    .venv/bin/python scripts/readme_tour.py --db nlens.duckdb --workdir /tmp/tour

Copies the warehouse into WORKDIR (the tour builds neighbourhoods into it), runs every line there
(the lines tests/test_cli_tour.py checks with --help only are run with --help), writes each
command's screen output to WORKDIR/tour.log and prints one line per command: exit code, seconds,
widest line and whether any "…" (a cut cell or word) appeared. Needs util-linux ``script``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_cli_tour import HELP_ONLY, tour_lines  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=ROOT / "nlens.duckdb")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/nlens-tour"))
    ap.add_argument("--mirror", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.db, work / "tour.duckdb")
    import duckdb

    con = duckdb.connect(str(work / "tour.duckdb"), read_only=True)
    con.execute("SELECT lsoa21_code, 'G_' || lad24_code AS neighbourhood_code FROM hierarchy_lsoa21").df().to_csv(
        work / "my_groups.csv", index=False)
    con.close()
    env = dict(os.environ, COLUMNS="80", NLENS_DB=str(work / "tour.duckdb"), NO_COLOR="1", TERM="dumb",
               PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    failed = 0
    with open(work / "tour.log", "w", encoding="utf-8") as log:
        for line in tour_lines():
            cmd = line.replace("../shared/data", str(args.mirror))
            words = shlex.split(line.partition("|")[0])[1:]
            if any(tuple(words[: len(k)]) == k for k in HELP_ONLY):
                cmd = " ".join(["nlens", *words[: 2 if words[0] == "data" else 1], "--help"])
            t0 = time.time()
            run = subprocess.run(["script", "-qec", f"stty cols 80; {cmd}", "/dev/null"], env=env, cwd=work,
                                 capture_output=True, text=True)
            out = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", run.stdout).replace("\r", "")
            cut = "…" in out
            widest = max((len(x) for x in out.splitlines()), default=0)
            failed += bool(cut or run.returncode)
            log.write(f"$ {cmd}\n{out}\n[exit {run.returncode}; {time.time() - t0:.1f} s; widest {widest}]\n\n")
            print(f"exit {run.returncode} {time.time() - t0:5.1f}s widest {widest:3d} cut {cut!s:5}  {cmd}")
    print(f"{failed} command(s) failed or cut something; outputs in {work / 'tour.log'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
