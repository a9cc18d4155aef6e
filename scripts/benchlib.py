"""What het's benchmark scripts share: the input tensor, the weights, and
OpenCV DNN timed in a fresh process on its CPU or OpenCL target."""
import json
import os
import subprocess

# Runs in a child process: loads the net, warms up, times `runs` forwards,
# prints {"median", "rss_kb", "ocl", "device"} as JSON.
CV_CHILD = r"""
import sys, time, resource, json
import numpy as np, cv2
proto, weights, inp, target, threads, warmup, runs = sys.argv[1:8]
if int(threads) > 0:
    cv2.setNumThreads(int(threads))
cv2.ocl.setUseOpenCL(target == "opencl")
net = cv2.dnn.readNetFromCaffe(proto, weights)
net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
net.setPreferableTarget(cv2.dnn.DNN_TARGET_OPENCL if target == "opencl" else cv2.dnn.DNN_TARGET_CPU)
x = np.load(inp)[:1]
for _ in range(int(warmup)):
    net.setInput(x); net.forward()
t = []
for _ in range(int(runs)):
    t0 = time.perf_counter(); net.setInput(x); net.forward(); t.append((time.perf_counter() - t0) * 1e3)
t.sort()
dev = cv2.ocl.Device.getDefault() if target == "opencl" else None
print(json.dumps({"median": t[len(t) // 2], "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "ocl": cv2.ocl.useOpenCL(), "device": dev.name() if dev else "cpu"}))
"""


def bench_env():
    """The environment for both tools: OPENBLAS_CORETYPE removed (this
    workplace sets it to Haswell, which halves OpenBLAS on AVX-512 cores)."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    return env


def photo_input(shared, work, size=227):
    """A real photo, resized and mean-subtracted as Caffe deploy models expect,
    saved as [1,3,size,size] float32; returns its path."""
    import cv2
    import numpy as np
    img = cv2.resize(cv2.imread(os.path.join(shared, "images", "cat.jpg")), (size, size)).astype(np.float32)
    x = np.ascontiguousarray((img - np.array([104, 117, 123], np.float32)).transpose(2, 0, 1)[None])
    path = os.path.join(work, "x.npy")
    np.save(path, x)
    return path


def save_weights(hetrun, proto, path, env):
    """het's seeded filler weights as a .caffemodel both tools read."""
    subprocess.run([hetrun, "--model", proto, "--seed", "1", "--save-weights", path, "--top", "0", "-q",
                    "--warmup", "0"], check=True, env=env, capture_output=True)


def opencv_median(proto, weights, inp, target, threads, warmup, runs, env):
    r = subprocess.run(["/usr/bin/python3", "-c", CV_CHILD, proto, weights, inp, target, str(threads), str(warmup),
                        str(runs)], check=True, env=env, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def het_summary(hetrun, proto, weights, inp, extra, warmup, runs, work, env):
    js = os.path.join(work, "s.json")
    subprocess.run([hetrun, "--model", proto, "--weights", weights, "--input", inp, "--warmup", str(warmup),
                    "--repeat", str(runs), "--top", "0", "-q", "--summary-json", js] + extra, check=True, env=env,
                   capture_output=True)
    return json.load(open(js))
