#!/usr/bin/python3
"""hetpart end to end: solve from a real sweep, the plan replays in hetrun
with the prediction recorded next to the measurement, explain, and one
clear line for each bad input. (The solvers' optimality is checked against
brute force in tests/unit/test_partition.c.)
usage: test_hetpart.py HETPART HETPROF HETRUN SOURCE_DIR WORKDIR
"""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import TINY_MODEL, check, finish, one_line_error, run, write_tiny_model  # noqa: E402

HETPART, HETPROF, HETRUN, SRC, WORK = sys.argv[1:6]
os.makedirs(WORK, exist_ok=True)


def out(name):
    return os.path.join(WORK, name)


MODEL = write_tiny_model(out("tiny.prototxt"))
OTHER = write_tiny_model(out("other.prototxt"),
                         TINY_MODEL.replace("num_output: 8 kernel_size: 1", "num_output: 4 kernel_size: 1"))
DB = out("het.db")
for db in (DB, out("runs.db")):  # left by an earlier run of this test
    for s in ("", "-wal", "-shm"):
        if os.path.exists(db + s):
            os.remove(db + s)
r = run(HETPROF, "sweep", "--model", MODEL, "--db", DB, "--ratios", "0.25,0.5,0.75", "--reps", "6", "--min-reps", "3",
        "--max-time", "0.05", "-q")
check(r.returncode == 0, "sweep for the partitioner: %s" % r.stderr[-500:])

for obj in ("latency", "throughput"):
    plan = out("plan_%s.json" % obj)
    r = run(HETPART, "solve", "--db", DB, "--model", MODEL, "--objective", obj, "--out", plan)
    check(r.returncode == 0 and os.path.exists(plan), "solve %s: %s %s" % (obj, r.stdout, r.stderr))
    if r.returncode:
        continue
    p = json.load(open(plan))
    pred = p.get("predicted", {})
    check(p.get("het_plan") == 1 and pred.get("latency_ms", 0) > 0 and pred.get("images_per_s", 0) > 0,
          "%s plan carries its prediction: %r" % (obj, pred))
    r = run(HETRUN, "--model", MODEL, "--plan", plan, "--images", 20, "-q", "--db", out("runs.db"))
    check(r.returncode == 0 and "predicted by hetpart" in r.stdout, "hetrun replays the %s plan: %s" % (obj, r.stderr[-300:]))
    r = run(HETPART, "explain", plan)
    check(r.returncode == 0 and "predicted" in r.stdout, "explain %s: %s" % (obj, r.stderr))
    if p.get("mode") != "image-parallel":
        check(all(n in r.stdout for n in ("conv1+relu1", "cat", "prob")), "explain lists the layers: %s" % r.stdout)
# Exactly two stages (the thesis' two layer groups), even if fewer were better.
plan = out("plan_two.json")
r = run(HETPART, "solve", "--db", DB, "--model", MODEL, "--objective", "throughput", "--modes", "pipeline",
        "--min-stages", 2, "--max-stages", 2, "--out", plan)
p = json.load(open(plan)) if r.returncode == 0 else {}
check(p.get("mode") == "pipeline" and len(p.get("stages", [])) == 2 and
      len(p["predicted"].get("stage_ms", [])) == 2, "--min-stages 2 --max-stages 2: two stages: %r %s" % (p, r.stderr))

con = sqlite3.connect(out("runs.db"))
rows = con.execute("SELECT predicted_latency_ms, predicted_images_per_s, images_per_s FROM runs").fetchall()
con.close()
check(len(rows) == 2 and all(a > 0 and b > 0 and c > 0 for a, b, c in rows), "runs record predicted next to measured: %r" % rows)

# Bad input: one line, non-zero exit, no plan written.
base = ["solve", "--db", DB, "--model", MODEL]
one_line_error(run(HETPART, *base, "--objective", "speed"), "unknown objective", "unknown objective 'speed'")
one_line_error(run(HETPART, *base), "no objective", "needs --objective")
one_line_error(run(HETPART, "solve", "--db", DB, "--model", OTHER, "--objective", "latency", "--out", out("x.json")),
               "model not in the database", "no CPU+GPU sweep")
check(not os.path.exists(out("x.json")), "no plan written for a model not in the database")
one_line_error(run(HETPART, *base, "--objective", "latency", "--platform", "Cray-1"), "another platform", "Cray-1")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--max-stages", "0"), "K < 1", "--max-stages")
one_line_error(run(HETPART, *base, "--objective", "latency", "--modes", "pipeline"), "infeasible constraint",
               "needs mapping or split")
one_line_error(run(HETPART, *base, "--objective", "latency", "--modes", "warp"), "unknown mode", "'warp'")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--modes", "pipeline", "--min-stages", 3,
                   "--max-stages", 2), "min > max stages", "--min-stages is larger")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--min-stages", 2), "min stages without pipeline only",
               "--modes pipeline alone")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--modes", "pipeline", "--min-stages", 9,
                   "--max-stages", 9), "more stages than units", "has 6 units")
one_line_error(run(HETPART, "solve", "--db", out("none.db"), "--model", MODEL, "--objective", "latency"),
               "missing database", "does not exist")
one_line_error(run(HETPART, "explain", os.path.join(SRC, "experiments", "plans", "squeezenet_v1.1", "mapping.json")),
               "explain of a hand-written plan", "without a \"predicted\" block")
finish("test_hetpart")
