#!/usr/bin/python3
"""het CPU against OpenCV DNN CPU, batch 1, same threads, in one run.

For each model and thread count, several fresh processes of each tool run
alternately (het, OpenCV, het, ...); each process warms up, then times R
runs and reports its median; the figure is the median of those medians.
Both read the same prototxt, the same .caffemodel (het's seeded fillers)
and the same input tensor (a real photo). OPENBLAS_CORETYPE is removed from
the environment: set to Haswell it halves OpenBLAS on AVX-512 cores.

usage: bench_cpu.py [--hetrun build/bin/hetrun] [--shared ../shared] [--procs 5] [--runs 30]
                    [--warmup 10] [--threads 1,N] [--models squeezenet_v1.1,squeezenet_v1.0]
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hetrun", default="build/bin/hetrun")
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--procs", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", default="1,%d" % os.cpu_count())
    ap.add_argument("--models", default="squeezenet_v1.1,squeezenet_v1.0")
    a = ap.parse_args()
    env = benchlib.bench_env()
    import cv2
    work = tempfile.mkdtemp(prefix="het_bench_")
    inp = benchlib.photo_input(a.shared, work)
    print("machine: %s, %d cores; OPENBLAS_CORETYPE unset; OpenCV %s" % (
        os.uname().machine, os.cpu_count(), cv2.__version__))
    print("%-16s %7s %10s %10s %7s %9s %10s %10s" % ("model", "threads", "het ms", "opencv ms", "ratio",
                                                     "GFLOP/s", "het RSS", "cv RSS"))
    rows = []
    for model in a.models.split(","):
        proto = os.path.join(a.shared, "models", model, "deploy.prototxt")
        weights = os.path.join(work, model + ".caffemodel")
        benchlib.save_weights(a.hetrun, proto, weights, env)
        for t in [int(v) for v in a.threads.split(",")]:
            het, cv = [], []
            for p in range(a.procs):
                order = ["het", "cv"] if p % 2 == 0 else ["cv", "het"]
                for tool in order:
                    if tool == "het":
                        het.append(benchlib.het_summary(a.hetrun, proto, weights, inp, ["--threads", str(t)], a.warmup,
                                                        a.runs, work, env))
                    else:
                        cv.append(benchlib.opencv_median(proto, weights, inp, "cpu", t, a.warmup, a.runs, env))
            hm = statistics.median(s["latency_ms"]["median"] for s in het)
            cm = statistics.median(s["median"] for s in cv)
            gf = het[0]["gflop_per_image"] / (hm / 1e3)
            row = (model, t, hm, cm, hm / cm, gf, max(s["peak_rss_kb"] for s in het) / 1024,
                   max(s["rss_kb"] for s in cv) / 1024)
            rows.append(row)
            print("%-16s %7d %10.3f %10.3f %7.3f %9.1f %8.1f M %8.1f M" % row, flush=True)
    print("ratio = het median latency / OpenCV median latency (lower is better; goal <= 0.7)")


if __name__ == "__main__":
    sys.exit(main())
