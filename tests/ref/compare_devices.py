#!/usr/bin/python3
"""GPU (OpenCL) output against CPU output for one model, both buffer modes.

Same weights (seed), same photos; the final blob and the last blob before
the Softmax must agree: max|gpu - cpu| <= 1e-4 * max|cpu|.
usage: compare_devices.py HETRUN MODEL_DIR IMAGES_DIR WORKDIR
Exit: 0 pass, 1 mismatch; no OpenCL device or shared data: 77 (skip), or
a failure under CI=true.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prototxt import layers_of, checked_blobs  # noqa: E402

CI = os.environ.get("CI") == "true"


def skip(msg):
    print("compare_devices: " + msg, file=sys.stderr)
    sys.exit(1 if CI else 77)


try:
    import numpy as np
except ImportError:
    skip("numpy missing for /usr/bin/python3")


def main():
    hetrun, model_dir, images, work = sys.argv[1:5]
    proto = os.path.join(model_dir, "deploy.prototxt")
    if not os.path.exists(proto):
        skip("model %s not found" % proto)
    os.makedirs(work, exist_ok=True)
    r = subprocess.run([hetrun, "--list-gpus"], capture_output=True, text=True)
    if r.returncode != 0:
        skip("no OpenCL device: " + (r.stdout + r.stderr).strip())
    blobs = checked_blobs(layers_of(proto))
    runs = {"cpu": ["--device", "cpu"], "gpu-copy": ["--device", "gpu", "--gpu-buffers", "copy"],
            "gpu-zero-copy": ["--device", "gpu", "--gpu-buffers", "zero-copy"]}
    out = {}
    for name, dev in runs.items():
        cmd = [hetrun, "--model", proto, "--seed", "3", "--images", images, "--top", "0", "-q", "--warmup", "0"] + dev
        for tag, b in blobs.items():
            cmd += ["--save-blob", "%s=%s" % (b, os.path.join(work, "%s-%s.npy" % (name, tag)))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print("%s failed (%d): %s" % (name, r.returncode, r.stderr))
            return 1
        out[name] = {t: np.load(os.path.join(work, "%s-%s.npy" % (name, t))) for t in blobs}
    ok = True
    for name in ("gpu-copy", "gpu-zero-copy"):
        for tag, b in blobs.items():
            ref, got = out["cpu"][tag], out[name][tag]
            scale = float(np.abs(ref).max())
            err = float(np.abs(got - ref).max()) if np.isfinite(got).all() else float("inf")
            sane = np.isfinite(ref).all() and float(ref.max() - ref.min()) > 0
            good = sane and err <= 1e-4 * scale
            print("%-16s %-14s %-12s %-24s max|cpu| %.4g  max|gpu-cpu| %.3g  rel %.2e  %s" % (
                os.path.basename(model_dir), name, tag, b, scale, err, err / scale if scale else float("inf"),
                "ok" if good else "MISMATCH"))
            ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
