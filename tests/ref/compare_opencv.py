#!/usr/bin/python3
"""Compares het's CPU output with OpenCV DNN's on the same model, weights and input.

het draws weights from the prototxt's fillers (--seed), saves them as a
.caffemodel, and runs two real photos; OpenCV reads the same prototxt and
.caffemodel and runs the same input tensor. The final blob and the last
blob before the Softmax must agree: max|het - ref| <= 1e-4 * max|ref|.
The outputs must also be meaningful: finite, and not all equal. A model
with BatchNorm or Scale layers runs twice: as het runs it by default, with
them folded into the convolutions, and with --no-fold, layer by layer.

usage: compare_opencv.py HETRUN MODEL_DIR IMAGES_DIR WORKDIR
Exit status: 0 pass, 1 mismatch, 2 set-up error (a missing OpenCV or model
is a failure under CI=true and a skip (77) otherwise).
"""
import os
import re
import subprocess
import sys

SKIP = 77


def setup_missing(msg):
    print("compare_opencv: " + msg, file=sys.stderr)
    sys.exit(2 if os.environ.get("CI") == "true" else SKIP)


try:
    import cv2
    import numpy as np
except ImportError as e:
    setup_missing("OpenCV/numpy for /usr/bin/python3 missing (%s): apt-get install python3-opencv" % e)

TOL = 1e-4
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prototxt import layers_of, checked_blobs  # noqa: E402


def input_shape(prototxt):
    text = open(prototxt).read()
    dims = re.findall(r"\bdim\s*:\s*(\d+)", text) or re.findall(r"input_dim\s*:\s*(\d+)", text)
    return [int(d) for d in dims[:4]]


def main():
    hetrun, model_dir, images_dir, work = sys.argv[1:5]
    proto = os.path.join(model_dir, "deploy.prototxt")
    if not os.path.exists(proto):
        setup_missing("model %s not found (../shared/models beside the checkout?)" % proto)
    os.makedirs(work, exist_ok=True)
    _, c, h, w = input_shape(proto)

    # The input: two real photos, resized and mean-subtracted by OpenCV.
    imgs = []
    for f in sorted(os.listdir(images_dir)):
        if f.lower().endswith((".jpg", ".jpeg", ".png")):
            im = cv2.imread(os.path.join(images_dir, f))
            im = cv2.resize(im, (w, h)).astype(np.float32) - np.array([104, 117, 123], np.float32)
            imgs.append(im.transpose(2, 0, 1))
    if not imgs:
        setup_missing("no images in %s" % images_dir)
    x = np.ascontiguousarray(np.stack(imgs).astype(np.float32))
    np.save(os.path.join(work, "input.npy"), x)

    layers = layers_of(proto)
    checks = list(checked_blobs(layers).items())

    # The OpenCV output of a blob is that of the last layer that writes it.
    def producer(blob):
        return [l for l in layers if blob in l[3]][-1][0]

    variants = [""]
    if any(l[1] in ("BatchNorm", "Scale") for l in layers):
        variants.append("--no-fold")
    for v in variants:
        cmd = [hetrun, "--model", proto, "--seed", "7", "--input", os.path.join(work, "input.npy"),
               "--save-weights", os.path.join(work, "w.caffemodel"), "--top", "0", "-q", "--warmup", "0"]
        cmd += [v] if v else []
        for tag, blob in checks:
            cmd += ["--save-blob", "%s=%s" % (blob, os.path.join(work, tag + v + ".npy"))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print("hetrun %s failed (%d):\n%s%s" % (v, r.returncode, r.stdout, r.stderr))
            return 1

    net = cv2.dnn.readNetFromCaffe(proto, os.path.join(work, "w.caffemodel"))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    names = [producer(b) for _, b in checks]
    ok = True
    for i in range(x.shape[0]):
        net.setInput(x[i:i + 1])
        refs = net.forward(names)
        for (tag, blob), ref in zip(checks, refs):
            for v in variants:
                het = np.load(os.path.join(work, tag + v + ".npy"))[i]
                ref = ref.reshape(het.shape)
                scale = float(np.abs(ref).max())
                err = float(np.abs(het - ref).max())
                sane = np.isfinite(het).all() and np.isfinite(ref).all() and float(ref.max() - ref.min()) > 0 \
                    and float(het.max() - het.min()) > 0
                good = sane and err <= TOL * scale
                print("%-22s image %d %-12s %-24s %-9s max|ref| %.4g  max|het-ref| %.3g  rel %.2e  %s" % (
                    os.path.basename(model_dir), i, tag, blob, v or "folded" if len(variants) > 1 else "", scale,
                    err, err / scale if scale else float("inf"),
                    "ok" if good else ("DEGENERATE" if not sane else "MISMATCH")))
                ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
