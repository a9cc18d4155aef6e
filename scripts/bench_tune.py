#!/usr/bin/python3
"""hetpart tune, measured the way a user meets it: on a fresh database (the
sweep included), for each model and objective, how long it takes and what
it answers; then an independent replay of its answer against the best
device alone from its own table, alternating, ROUNDS rounds, medians.

The goals (issue: the user's question in one command): tune finishes
within 2 minutes for SqueezeNet v1.1 and 6 for GoogLeNet on the build
machine, and its answer measures >= 1.0x the best device alone in its own
table and in the independent replay.

usage: bench_tune.py [--bin build/bin] [--models a,b] [--rounds 3] [--images 30] [--out FILE.json]
OPENBLAS_CORETYPE is unset for every tool (benchlib.bench_env).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchlib import bench_env  # noqa: E402


def replay(hetrun, proto, plan, images, objective, env, work, gpu):
    js = os.path.join(work, "r.json")
    subprocess.run([hetrun, "--model", proto, "--plan", plan, "--images", str(images), "--warmup", "2", "--top",
                    "0", "-q", "--json", js] + (["--gpu", gpu] if gpu else []), check=True, env=env, capture_output=True)
    s = json.load(open(js))
    return s["latency_ms"]["median"] if objective == "latency" else s["images_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    ap.add_argument("--models", default="squeezenet_v1.1,bvlc_googlenet")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=30)
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--gpu", help="OpenCL device for tune and the replays (index or name substring)")
    a = ap.parse_args()
    env = bench_env()
    hetpart, hetrun = os.path.join(a.bin, "hetpart"), os.path.join(a.bin, "hetrun")
    results = []
    with tempfile.TemporaryDirectory(prefix="het_bench_tune_") as work:
        for m in a.models.split(","):
            proto = os.path.join(a.shared, "models", m, "deploy.prototxt")
            db = os.path.join(work, m + ".db")  # fresh: the first tune sweeps
            for obj in ("latency", "throughput"):
                plans = os.path.join(work, "%s-%s" % (m, obj))
                t0 = time.time()
                r = subprocess.run([hetpart, "tune", "--model", proto, "--db", db, "--objective", obj, "--json", "-q",
                                    "--keep-plans", plans, "--out", os.path.join(work, "answer.json"),
                                    "--images", str(a.images)] + (["--gpu", a.gpu] if a.gpu else []),
                               env=env, capture_output=True, text=True)
                took = time.time() - t0
                if r.returncode:
                    sys.exit("bench_tune: tune %s %s failed: %s" % (m, obj, r.stderr[-800:]))
                rep = json.loads(r.stdout)
                ans = rep["answer"]
                single = ans["best_single"]
                # The independent replay: the answer and the best device alone, alternating.
                by = {c["name"]: c for c in rep["candidates"]}
                path = lambda name: os.path.join(plans, (by[name].get("same_as") or name).replace(" ", "-") + ".json")
                # And the obvious run, the CPU backend alone on every core
                # (hetrun --device cpu), where it is neither.
                names = list(dict.fromkeys([ans["name"], single, "cpu alone"]))
                runs = {k: [] for k in names}
                for rd in range(a.rounds):
                    for name in names[rd % len(names):] + names[:rd % len(names)]:
                        runs[name].append(replay(hetrun, proto, path(name), a.images, obj, env, work, a.gpu))
                med = {k: statistics.median(v) for k, v in runs.items()}
                vs = lambda k: (med[k] / med[ans["name"]]) if obj == "latency" else (med[ans["name"]] / med[k])
                ratio, vs_cpu = vs(single), vs("cpu alone")
                row = {"model": m, "objective": obj, "seconds": took, "sweep_median_cv": rep.get("sweep_median_cv"),
                       "answer": ans["name"], "answer_plan": ans["plan"], "in_table": ans["vs_best_single"],
                       "best_single": single, "replay": runs, "replay_ratio": ratio, "replay_vs_cpu_alone": vs_cpu,
                       "unit": rep["unit"],
                       "machine": rep["machine"], "candidates": rep["candidates"]}
                results.append(row)
                print("%-16s %-10s %5.0f s  answer %-16s %.2fx %s in its table; replayed %.2fx it, %.2fx cpu alone (%s)"
                      % (m, obj, took, ans["name"], ans["vs_best_single"], single, ratio, vs_cpu, "; ".join(
                          "%s: %s" % (k, " ".join("%.3f" % x for x in v)) for k, v in runs.items())), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"when": time.strftime("%Y-%m-%d %H:%M"), "rounds": a.rounds, "images": a.images,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
