#!/usr/bin/env python3
"""The CPU's two convolution paths, im2col + sgemm against direct: A/B in one run.

For each layer and CPU channel count k, `hetprof parts --devices cpu` times
the CPU on output channels [0, k) with HET_CPU_CONV=gemm and with the
default choice (which runs the direct path where it expects it to win), in
alternating fresh processes, R rounds; each process reports the median of
its repetitions. The figure is the ratio of the medians over rounds
(gemm / the other: above 1, the other is faster), with each side's median.

usage: cpu_conv_ab.py HETPROF MODEL.prototxt [--layers conv2/3x3,...]
       [--channels 8,16,32,64] [--rounds 5] [--max-time S] [--cpu-cores LIST]
       [--against default|direct] [--out FILE.csv]
Run with OPENBLAS_CORETYPE unset on AVX-512 machines (set to Haswell it
halves OpenBLAS there).
"""
import argparse
import csv
import io
import os
import statistics
import subprocess
import sys


def one(a, path):
    env = dict(os.environ)
    if path == "default":
        env.pop("HET_CPU_CONV", None)
    elif path == "direct":
        env["HET_CPU_CONV"] = "direct"
    else:
        env["HET_CPU_CONV"] = path
    cmd = [a.hetprof, "parts", "--model", a.model, "--devices", "cpu", "--format", "csv", "-q",
           "--channels", a.channels, "--max-time", str(a.max_time)]
    if a.layers:
        cmd += ["--layer", a.layers]
    if a.cpu_cores:
        cmd += ["--cpu-cores", a.cpu_cores]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("cpu_conv_ab: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    out = {}
    for row in csv.DictReader(io.StringIO(r.stdout)):
        if row["cpu_ms"]:
            out[(row["layer"], int(row["cpu_channels"]))] = float(row["cpu_ms"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("hetprof")
    ap.add_argument("model")
    ap.add_argument("--layers", default="", help="default: hetprof parts' four heaviest")
    ap.add_argument("--channels", default="8,16,32,64", help="CPU channel counts (each layer's whole C is added)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-time", type=float, default=0.5, help="hetprof's limit per measurement, seconds")
    ap.add_argument("--cpu-cores", default="")
    ap.add_argument("--against", choices=("default", "direct"), default="default",
                    help="what sgemm is compared with (default: the default choice)")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    if a.rounds < 1:
        sys.exit("cpu_conv_ab: --rounds must be at least 1")
    other = a.against
    samples = {"gemm": {}, other: {}}
    for r in range(a.rounds):
        for path in ("gemm", other) if r % 2 == 0 else (other, "gemm"):
            for key, ms in one(a, path).items():
                samples[path].setdefault(key, []).append(ms)
        print("cpu_conv_ab: round %d of %d done" % (r + 1, a.rounds), file=sys.stderr)
    rows = []
    for key in sorted(samples["gemm"], key=lambda k: (k[0], k[1])):
        g = statistics.median(samples["gemm"][key])
        d = statistics.median(samples[other].get(key, [float("nan")]))
        rows.append((key[0], key[1], g, d, g / d))
    w = csv.writer(open(a.out, "w", newline="") if a.out else sys.stdout)
    w.writerow(["layer", "cpu_channels", "gemm_ms", other + "_ms", "gemm_over_" + other])
    for row in rows:
        w.writerow([row[0], row[1], "%.4f" % row[2], "%.4f" % row[3], "%.2f" % row[4]])


if __name__ == "__main__":
    main()
