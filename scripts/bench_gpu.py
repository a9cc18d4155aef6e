#!/usr/bin/python3
"""het's OpenCL backend against OpenCV DNN's OpenCL target, batch 1, in one run.

For each model, several fresh processes of each tool run alternately; each
warms up (first runs build kernels), times R runs and reports its median;
the figure is the median of the medians. OpenCV is pointed at the same
OpenCL device with OPENCV_OPENCL_DEVICE and OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES
(without them it silently falls back to its CPU path); the script checks
that OpenCV really runs on OpenCL. OPENBLAS_CORETYPE is removed.

usage: bench_gpu.py [--hetrun build/bin/hetrun] [--shared ../shared] [--procs 3] [--runs 20]
                    [--warmup 5] [--cv-device :CPU:] [--models squeezenet_v1.1,squeezenet_v1.0]
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
    ap.add_argument("--procs", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--cv-device", default=":CPU:", help="OPENCV_OPENCL_DEVICE for OpenCV")
    ap.add_argument("--models", default="squeezenet_v1.1,squeezenet_v1.0")
    a = ap.parse_args()
    env = benchlib.bench_env()
    cv_env = dict(env, OPENCV_OPENCL_DEVICE=a.cv_device, OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES="1")
    work = tempfile.mkdtemp(prefix="het_bench_gpu_")
    inp = benchlib.photo_input(a.shared, work)
    print("%-16s %10s %10s %7s  %s" % ("model", "het ms", "opencv ms", "ratio", "het device / opencv device"))
    for model in a.models.split(","):
        proto = os.path.join(a.shared, "models", model, "deploy.prototxt")
        weights = os.path.join(work, model + ".caffemodel")
        benchlib.save_weights(a.hetrun, proto, weights, env)
        het, cv = [], []
        for p in range(a.procs):
            for tool in (["het", "cv"] if p % 2 == 0 else ["cv", "het"]):
                if tool == "het":
                    het.append(benchlib.het_summary(a.hetrun, proto, weights, inp, ["--device", "gpu"], a.warmup, a.runs,
                                                    work, env))
                else:
                    cv.append(benchlib.opencv_median(proto, weights, inp, "opencl", 0, a.warmup, a.runs, cv_env))
        if not all(c["ocl"] for c in cv):
            print("warning: OpenCV did not use OpenCL; its figure is its CPU path", file=sys.stderr)
        hm = statistics.median(s["latency_ms"]["median"] for s in het)
        cm = statistics.median(c["median"] for c in cv)
        print("%-16s %10.3f %10.3f %7.3f  %s / %s" % (model, hm, cm, hm / cm, het[0]["backend"], cv[0]["device"]),
              flush=True)
    print("ratio = het / OpenCV median latency (end to end, input upload and output download included for het)")


if __name__ == "__main__":
    sys.exit(main())
