#!/usr/bin/python3
"""How long a full hetprof sweep takes, and how stable its timings are.

Runs `hetprof sweep` (both devices, 9 ratios, transfers, co-run) into a
fresh database --runs times, OPENBLAS_CORETYPE unset, and reports each
run's wall time and the median coefficient of variation of its layer
timings, read back from the database. Goal (issue 5): SqueezeNet v1.1 in at
most 60 s on the 2-core build machine with CPU + PoCL.
usage: bench_prof.py [--hetprof build/bin/hetprof] [--model M] [--runs 3] [--work DIR]
"""
import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import bench_env  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap.add_argument("--hetprof", default=os.path.join(root, "build", "bin", "hetprof"))
ap.add_argument("--model", default=os.path.join(root, "models", "squeezenet_v1.1", "deploy.prototxt"))
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--work", default="/tmp/het_bench_prof")
ap.add_argument("extra", nargs="*", help="more hetprof sweep options")
a = ap.parse_args()
os.makedirs(a.work, exist_ok=True)
walls, cvs = [], []
for i in range(a.runs):
    db = os.path.join(a.work, "run%d.db" % i)
    for s in ("", "-wal", "-shm"):
        if os.path.exists(db + s):
            os.remove(db + s)
    t0 = time.perf_counter()
    r = subprocess.run([a.hetprof, "sweep", "--model", a.model, "--db", db, "-q"] + a.extra, env=bench_env(),
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode:
        sys.exit("hetprof failed: " + r.stderr)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT cv, ci_rel, converged FROM measurements WHERE status = 'ok'").fetchall()
    cv = [c for c, _, _ in rows]
    ci = statistics.median(r[1] for r in rows)
    conv = sum(r[2] for r in rows) / len(rows)
    n = sum(con.execute("SELECT count(*) FROM " + t).fetchone()[0]
            for t in ("measurements", "split_measurements", "transfers", "corun", "networks"))
    con.close()
    walls.append(wall)
    cvs.append(statistics.median(cv))
    print("run %d: %.1f s wall for %d measurements; layer timings: median CV %.1f%%, median CI of the median "
          "+-%.1f%%, %.0f%% converged" % (i + 1, wall, n, cvs[-1] * 100, ci * 100, conv * 100))
print("median of %d runs: %.1f s (goal <= 60 s), median CV %.1f%%" % (a.runs, statistics.median(walls),
                                                                    statistics.median(cvs) * 100))
