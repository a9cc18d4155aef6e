#!/usr/bin/python3
"""How well hetpart's predictions match hetrun's measurements.

For each model: hetprof sweep (kept in DB between runs), hetpart solve for
each objective, hetrun --plan over --images images recording into the same
DB, then |measured - predicted| / measured of the throughput (images/s) and
of the latency (p50) for each plan. Goal (issue 6): median <= 5%, 90th
percentile <= 10%. OPENBLAS_CORETYPE is unset (see benchlib.bench_env).
usage: validate_part.py [--models m1,m2] [--images 100] [--db DB] [--max-stages K]
"""
import argparse
import os
import sqlite3
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import bench_env  # noqa: E402

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--bin", default=os.path.join(root, "build", "bin"))
ap.add_argument("--shared", default=os.path.join(root, "..", "shared"))
ap.add_argument("--models", default="squeezenet_v1.1,squeezenet_v1.0")
ap.add_argument("--images", type=int, default=100)
ap.add_argument("--max-stages", type=int, default=2)
ap.add_argument("--db", default="/tmp/het_validate.db")
ap.add_argument("--work", default="/tmp/het_validate")
a = ap.parse_args()
os.makedirs(a.work, exist_ok=True)
env = bench_env()


def model_path(m):
    own = os.path.join(root, "models", m, "deploy.prototxt")
    return own if os.path.exists(own) else os.path.join(a.shared, "models", m, "deploy.prototxt")


def tool(name, *args):
    r = subprocess.run([os.path.join(a.bin, name)] + [str(x) for x in args], env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit("%s failed: %s" % (name, r.stderr[-1000:]))
    return r


errs_t, errs_l, rows = [], [], []
for m in a.models.split(","):
    proto = model_path(m)
    tool("hetprof", "sweep", "--model", proto, "--db", a.db, "-q")
    for obj in ("latency", "throughput"):
        plan = os.path.join(a.work, "%s_%s.json" % (m, obj))
        tool("hetpart", "solve", "--db", a.db, "--model", proto, "--objective", obj, "--max-stages", a.max_stages,
             "--out", plan)
        tool("hetrun", "--model", proto, "--plan", plan, "--images", a.images, "-q", "--db", a.db)
        con = sqlite3.connect(a.db)
        mode, pl, pi, ml, mi = con.execute("SELECT mode, predicted_latency_ms, predicted_images_per_s, latency_p50_ms,"
                                           " images_per_s FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        con.close()
        et, el = abs(mi - pi) / mi, abs(ml - pl) / ml
        errs_t.append(et)
        errs_l.append(el)
        rows.append((m, obj, mode, pi, mi, et, pl, ml, el))
print("| model | objective | plan | predicted img/s | measured img/s | error | predicted ms | measured p50 ms | error |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| %s | %s | %s | %.1f | %.1f | %.0f%% | %.3f | %.3f | %.0f%% |" % (r[0], r[1], r[2], r[3], r[4], r[5] * 100,
                                                                       r[6], r[7], r[8] * 100))
q = lambda v, p: sorted(v)[min(len(v) - 1, int(p * len(v)))]
print("throughput error: median %.1f%%, p90 %.1f%%; latency error: median %.1f%%, p90 %.1f%% (goal 5%% / 10%%)"
      % (statistics.median(errs_t) * 100, q(errs_t, 0.9) * 100, statistics.median(errs_l) * 100, q(errs_l, 0.9) * 100))
