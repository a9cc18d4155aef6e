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
import json
import os
import statistics
import subprocess
import sys
import tempfile

CV_CHILD = r"""
import sys, time, json
import numpy as np, cv2
proto, weights, inp, warmup, runs = sys.argv[1:6]
cv2.ocl.setUseOpenCL(True)
net = cv2.dnn.readNetFromCaffe(proto, weights)
net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
net.setPreferableTarget(cv2.dnn.DNN_TARGET_OPENCL)
x = np.load(inp)[:1]
for _ in range(int(warmup)):
    net.setInput(x); net.forward()
t = []
for _ in range(int(runs)):
    t0 = time.perf_counter(); net.setInput(x); net.forward(); t.append((time.perf_counter() - t0) * 1e3)
t.sort()
dev = cv2.ocl.Device.getDefault()
print(json.dumps({"median": t[len(t) // 2], "ocl": cv2.ocl.useOpenCL(), "device": dev.name() if dev else ""}))
"""


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
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    cv_env = dict(env, OPENCV_OPENCL_DEVICE=a.cv_device, OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES="1")
    import numpy as np
    import cv2
    work = tempfile.mkdtemp(prefix="het_bench_gpu_")
    img = cv2.resize(cv2.imread(os.path.join(a.shared, "images", "cat.jpg")), (227, 227)).astype(np.float32)
    inp = os.path.join(work, "x.npy")
    np.save(inp, np.ascontiguousarray((img - np.array([104, 117, 123], np.float32)).transpose(2, 0, 1)[None]))
    print("%-16s %10s %10s %7s  %s" % ("model", "het ms", "opencv ms", "ratio", "het device / opencv device"))
    for model in a.models.split(","):
        proto = os.path.join(a.shared, "models", model, "deploy.prototxt")
        weights = os.path.join(work, model + ".caffemodel")
        subprocess.run([a.hetrun, "--model", proto, "--save-weights", weights, "-q", "--top", "0"], check=True,
                       env=env, capture_output=True)
        het, cv = [], []
        for p in range(a.procs):
            for tool in (["het", "cv"] if p % 2 == 0 else ["cv", "het"]):
                if tool == "het":
                    js = os.path.join(work, "s.json")
                    subprocess.run([a.hetrun, "--model", proto, "--weights", weights, "--input", inp, "--device", "gpu",
                                    "--warmup", str(a.warmup), "--repeat", str(a.runs), "--top", "0", "-q",
                                    "--summary-json", js], check=True, env=env, capture_output=True)
                    het.append(json.load(open(js)))
                else:
                    r = subprocess.run(["/usr/bin/python3", "-c", CV_CHILD, proto, weights, inp, str(a.warmup),
                                        str(a.runs)], check=True, env=cv_env, capture_output=True, text=True)
                    cv.append(json.loads(r.stdout.strip().splitlines()[-1]))
        if not all(c["ocl"] for c in cv):
            print("warning: OpenCV did not use OpenCL; its figure is its CPU path", file=sys.stderr)
        hm = statistics.median(s["latency_ms"]["median"] for s in het)
        cm = statistics.median(c["median"] for c in cv)
        print("%-16s %10.3f %10.3f %7.3f  %s / %s" % (model, hm, cm, hm / cm, het[0]["backend"], cv[0]["device"]),
              flush=True)
    print("ratio = het / OpenCV median latency (end to end, input upload and output download included for het)")


if __name__ == "__main__":
    sys.exit(main())
