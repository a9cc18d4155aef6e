#!/usr/bin/env python3
"""BatchNorm and Scale folded into the convolutions against run as layers: A/B in one run.

For each model and device, hetrun runs the model folded (the default) and
with --no-fold in alternating fresh processes, R rounds; each process
reports the median latency of N timed images after warm-up. The figure is
the ratio of the medians over rounds (unfolded / folded: above 1, folding
is faster), with each side's range. Weights are the fillers' (seed 1);
latency does not depend on them.

usage: fold_ab.py HETRUN SHARED_DIR OUT_JSON [--models mobilenet_v1,...]
       [--devices cpu,gpu] [--rounds 5] [--images 100] [--gpu NAME]
       [--cpu-cores LIST] [--gpu-cores LIST]
Run with OPENBLAS_CORETYPE unset on AVX-512 machines (set to Haswell it
halves OpenBLAS there).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def one(hetrun, proto, device, fold, a):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [hetrun, "--model", proto, "--device", device, "--images", str(a.images), "--top", "0", "-q",
               "--warmup", str(a.warmup), "--summary-json", f.name]
        cmd += [] if fold else ["--no-fold"]
        if device == "gpu" and a.gpu:
            cmd += ["--gpu", a.gpu]
        if device == "cpu" and a.cpu_cores:
            cmd += ["--cpu-cores", a.cpu_cores]
        if device == "gpu" and a.gpu_cores:
            cmd += ["--gpu-cores", a.gpu_cores]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("fold_ab: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
        return json.load(open(f.name))["latency_ms"]["median"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("hetrun")
    ap.add_argument("shared")
    ap.add_argument("out")
    ap.add_argument("--models", default="mobilenet_v1,mobilenet_v2,resnet50")
    ap.add_argument("--devices", default="cpu,gpu")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--gpu")
    ap.add_argument("--cpu-cores")
    ap.add_argument("--gpu-cores")
    a = ap.parse_args()
    rows = []
    for m in a.models.split(","):
        proto = os.path.join(a.shared, "models", m, "deploy.prototxt")
        for dev in a.devices.split(","):
            t = {True: [], False: []}
            for r in range(a.rounds):
                for fold in ((True, False) if r % 2 == 0 else (False, True)):
                    t[fold].append(one(a.hetrun, proto, dev, fold, a))
            f, u = statistics.median(t[True]), statistics.median(t[False])
            row = {"model": m, "device": dev, "folded_ms": f, "unfolded_ms": u, "speedup": u / f,
                   "folded_range": [min(t[True]), max(t[True])], "unfolded_range": [min(t[False]), max(t[False])]}
            rows.append(row)
            print("%-14s %-3s folded %8.3f ms [%.3f-%.3f]  unfolded %8.3f ms [%.3f-%.3f]  %.2fx" % (
                m, dev, f, *row["folded_range"], u, *row["unfolded_range"], u / f), flush=True)
    json.dump({"rounds": a.rounds, "images": a.images, "rows": rows}, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
