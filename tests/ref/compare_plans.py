#!/usr/bin/python3
"""Plans against the single-device CPU run, for one model.

Writes plans the way a person would (tests/ref/prototxt.py reads the layer
names independently of het): all-cpu and all-gpu as plans, devices
alternating layer by layer (both phases), split ratios 0, 1 and odd values
on every layer, and random per-layer ratios; runs each with hetrun --plan on
real photos and checks the final and pre-softmax blobs against the CPU:
max|x - cpu| <= 1e-4 * max|cpu|, every image. One pipeline and image-parallel
run again on 16 synthetic images: a hang needs more than the photos' two,
and the GPU lane alternates its two workspaces only over several images.
Image-parallel also with two CPU lanes (two CPU backends on their own
cores), alone and beside the GPU: three devices.
Plans name the layers of the graph het runs: BatchNorm and Scale folded into
the convolutions (prototxt.folded_names), or with --no-fold all of them (then
without the 16-image runs, which the folded graph covers).
usage: compare_plans.py HETRUN MODEL_DIR IMAGES_DIR WORKDIR [--no-fold]
Exit: 0 pass, 1 mismatch, 77 skip (no OpenCL device or data; failure under CI=true).
"""
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prototxt import layers_of, checked_blobs, folded_names  # noqa: E402

CI = os.environ.get("CI") == "true"


def skip(msg):
    print("compare_plans: " + msg, file=sys.stderr)
    sys.exit(1 if CI else 77)


try:
    import numpy as np
except ImportError:
    skip("numpy missing")


# A streamed run that has not ended by then hangs (the longest, ResNet-50's
# one-layer stages under the sanitizers, takes well under a minute).
STREAM_TIMEOUT_S = 600


def check_streams(hetrun, proto, images, work, names, fold, only=None):
    """Pipeline and image-parallel plans stream images and keep only the final
    blob, so they run on a copy of the model without its trailing Softmax
    (whose saturated output would hide errors): the final blob is then the
    logits. Compared image by image with the CPU. `only`: these plans alone."""
    text = open(proto).read()
    layers = layers_of(proto)
    if layers[-1][1] == "Softmax":
        i = text.rindex("layer")
        text = text[:i]
        names = names[:-1]
    trunc = os.path.join(work, "nosoftmax.prototxt")
    open(trunc, "w").write(text)
    cmd = [hetrun, "--model", trunc, "--seed", "5", "--images", images, "--top", "0", "-q", "--warmup", "0"]
    cmd += fold
    r = subprocess.run(cmd + ["--save-output", os.path.join(work, "s-cpu.npy"), "--summary-json",
                              os.path.join(work, "s-cpu.json")], capture_output=True, text=True)
    if r.returncode != 0:
        print("cpu run of the truncated model failed: " + r.stderr)
        return False
    ref = np.load(os.path.join(work, "s-cpu.npy"))
    h = json.load(open(os.path.join(work, "s-cpu.json")))["model_hash"]
    n = len(names)
    plans = {
        "pipeline-2": [(0, n // 2 - 1, "gpu"), (n // 2, n - 1, "cpu")],
        "pipeline-3-split": [(0, n // 3 - 1, "cpu"), (n // 3, 2 * n // 3 - 1, 0.41), (2 * n // 3, n - 1, "gpu")],
        "pipeline-1-layer-stages": [(i, i, "gpu" if i % 2 else "cpu") for i in range(n)],
        # Copied buffers, as on discrete GPUs (explicit reads and writes).
        "pipeline-1-layer-copy": [(i, i, "gpu" if i % 2 else "cpu") for i in range(n)],
        # A CPU-only stage hands each image to a stage that uses the CPU
        # and the GPU: the hang fixed in stream.c (a lock given back that
        # was never taken) needed this and many images.
        "pipeline-1-layer-3way": [(i, i, ("cpu", 0.5, "gpu")[i % 3]) for i in range(n)],
    }
    # Streams reuse their workspaces from the warm-up (every slot of every
    # lane once per --warmup) to the timed stream: the -warm runs check that
    # nothing of the warm-up's images leaks into the timed ones.
    plans["pipeline-2-warm"] = plans["pipeline-2"]
    # Copied buffers and a GPU first stage: the GPU reads each image where
    # the stream holds it (stream.c, copy_input), with the next one loaded
    # while the GPU runs.
    plans["pipeline-2-copy"] = plans["pipeline-2"]
    # A GPU stage before the last hands its image on without waiting where
    # the device runs images at once (a GPU; HET_CL_OVERLAP=1 makes PoCL
    # do it): the next stage waits for exactly what it reads.
    plans["pipeline-2-early"] = plans["pipeline-2"]
    plans["pipeline-2-early-copy"] = plans["pipeline-2"]
    plans["pipeline-1-layer-early"] = plans["pipeline-1-layer-stages"]
    # Copied buffers: each GPU stage's blobs for the next stage's CPU share
    # (a CPU or split stage) go back behind its kernels (prefetch_host).
    plans["pipeline-1-layer-3way-early-copy"] = plans["pipeline-1-layer-3way"]
    # --repeat 3: three timed streams back to back on the same slots; the
    # outputs and the timeline are the last stream's, the summary counts 3.
    plans["pipeline-2-repeat"] = plans["pipeline-2"]
    ok = True
    # Image-parallel as a GPU runs it (two images in flight in the GPU's
    # lane, lane_ahead), which PoCL does only when told to.
    # CPU lanes: two CPU backends, each on its own core group, alone and
    # beside the GPU (three devices: the GPU's host threads on the last core).
    cores = sorted(os.sched_getaffinity(0))
    all_cores = ",".join(map(str, cores))
    todo = list(plans.items()) + [("image-parallel", None), ("image-parallel-warm-copy", None),
                                  ("image-parallel-early", None), ("image-parallel-early-copy", None)]
    if len(cores) >= 2:
        todo += [("image-parallel-cpu-lanes", None), ("image-parallel-3dev", None)]
    lanes = {"image-parallel-cpu-lanes": ["cpu", "cpu"], "image-parallel-3dev": ["cpu", "cpu", "gpu"]}
    for tag, stages in [t for t in todo if only is None or t[0] in only]:
        if stages is None:
            plan = {"het_plan": 1, "model_hash": h, "mode": "image-parallel", "devices": lanes.get(tag, ["cpu", "gpu"])}
        else:
            plan = {"het_plan": 1, "model_hash": h, "mode": "pipeline",
                    "stages": [{"first": names[a], "last": names[b], "device": d} for a, b, d in stages]}
        path = os.path.join(work, tag + ".plan.json")
        json.dump(plan, open(path, "w"), indent=1)
        out = os.path.join(work, "s-%s.npy" % tag)
        extra = ["--gpu-buffers", "copy"] if tag.endswith("-copy") else []
        if tag in lanes:
            extra += ["--cpu-cores", all_cores] + (["--gpu-cores", str(cores[-1])] if "gpu" in lanes[tag] else [])
        env = dict(os.environ, HET_CL_OVERLAP="1") if "-early" in tag else None
        if "-warm" in tag:
            extra += ["--warmup", "2"]  # after cmd's --warmup 0: the last one counts
        streams = 3 if "-repeat" in tag else 1
        extra += ["--repeat", str(streams), "--summary-json", out + ".json"]
        try:
            r = subprocess.run(cmd + extra + ["--plan", path, "--save-output", out, "--timeline", out + ".csv"],
                               capture_output=True, text=True, timeout=STREAM_TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired:
            print("%-18s %-24s HUNG: not done after %d s" % (os.path.basename(os.path.dirname(proto)), tag,
                                                            STREAM_TIMEOUT_S))
            ok = False
            continue
        if r.returncode != 0:
            print("%-18s %-24s FAILED: %s" % (os.path.basename(os.path.dirname(proto)), tag, r.stderr.strip()))
            ok = False
            continue
        got = np.load(out)
        scale = float(np.abs(ref).max())
        e = float(np.abs(got - ref).max()) if np.isfinite(got).all() and got.shape == ref.shape else float("inf")
        rows = open(out + ".csv").read().strip().splitlines()[1:]
        events_ok = len(rows) == ref.shape[0] * (len(stages) if stages else 1)
        summary = json.load(open(out + ".json"))
        events_ok &= summary.get("streams") == streams and summary.get("images") == ref.shape[0]
        # One rate per stream, whose images over their summed time make the run's rate.
        sips = summary.get("stream_images_per_s", [])
        events_ok &= len(sips) == streams and all(x > 0 for x in sips) and abs(
            streams * ref.shape[0] / sum(ref.shape[0] / x for x in sips) / summary["images_per_s"] - 1) < 1e-3
        # Stages on the CPU alone take turns a whole stage at a time: their
        # busy intervals on the timeline (lane,name,image,start_ms,end_ms)
        # never overlap.
        spans = sorted((float(r.split(",")[3]), float(r.split(",")[4])) for r in rows
                       if stages and r.split(",")[1].endswith(":cpu"))
        overlaps = sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
        good = e <= 1e-4 * scale and events_ok and overlaps == 0
        ok &= good
        print("%-18s %-24s logits max|cpu| %.4g  max|plan-cpu| %.3g  rel %.2e  timeline %d rows, %d CPU overlaps  %s" % (
            os.path.basename(os.path.dirname(proto)), tag, scale, e, e / scale, len(rows), overlaps,
            "ok" if good else "MISMATCH"))
    return ok


def main():
    hetrun, model_dir, images, work = sys.argv[1:5]
    fold = sys.argv[5:6]
    if fold not in ([], ["--no-fold"]):
        print("compare_plans: unknown option %s (expected --no-fold)" % fold[0], file=sys.stderr)
        return 2
    proto = os.path.join(model_dir, "deploy.prototxt")
    if not os.path.exists(proto):
        skip("model %s not found" % proto)
    if subprocess.run([hetrun, "--list-gpus"], capture_output=True).returncode != 0:
        skip("no OpenCL device")
    os.makedirs(work, exist_ok=True)
    gone = set() if fold else folded_names(layers_of(proto))
    layers = [l for l in layers_of(proto) if l[1] != "Input" and l[0] not in gone]
    names = [l[0] for l in layers]
    blobs = checked_blobs(layers_of(proto))

    def run(extra, tag):
        cmd = [hetrun, "--model", proto, "--seed", "5", "--images", images, "--top", "0", "-q", "--warmup", "0",
               "--summary-json", os.path.join(work, tag + ".json")] + fold + extra
        for t, b in blobs.items():
            cmd += ["--save-blob", "%s=%s" % (b, os.path.join(work, "%s-%s.npy" % (tag, t)))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return None, r.stderr
        return {t: np.load(os.path.join(work, "%s-%s.npy" % (tag, t))) for t in blobs}, ""

    ref, err = run(["--device", "cpu"], "cpu")
    if ref is None:
        print("cpu run failed: " + err)
        return 1
    h = json.load(open(os.path.join(work, "cpu.json")))["model_hash"]
    rng = random.Random(7)
    plans = {
        "all-cpu": {"mode": "single", "device": "cpu"},
        "all-gpu": {"mode": "single", "device": "gpu"},
        "alternate-even": {"mode": "mapping", "layers": {n: ("gpu" if i % 2 == 0 else "cpu") for i, n in enumerate(names)}},
        "alternate-odd": {"mode": "mapping", "layers": {n: ("gpu" if i % 2 else "cpu") for i, n in enumerate(names)}},
        "split-0": {"mode": "split", "layers": {n: 0 for n in names}},
        "split-1": {"mode": "split", "layers": {n: 1 for n in names}},
        "split-0.37": {"mode": "split", "layers": {n: 0.37 for n in names}},
        "split-0.5": {"mode": "split", "layers": {n: 0.5 for n in names}},
        "split-random": {"mode": "split", "layers": {n: rng.choice([0, 1, 0.1, 0.29, 0.5, 0.77, 0.93]) for n in names}},
    }
    ok = True
    ok &= check_streams(hetrun, proto, images, work, names, fold)
    # The same three-way pipeline over 16 synthetic images: with the photos'
    # two the hang above showed in one CI run in many; with 10 images it
    # showed in 2 runs of 3, with 40 in every run (SqueezeNet v1.1). And
    # image-parallel over as many, so that the GPU lane takes several images
    # (image by image on PoCL, and alternating its two workspaces as on a
    # GPU with HET_CL_OVERLAP=1).
    stress = os.path.join(work, "stress")
    os.makedirs(stress, exist_ok=True)
    if not fold:
        ok &= check_streams(hetrun, proto, "16", stress, names, fold,
                            only={"pipeline-1-layer-3way", "image-parallel-warm-copy", "image-parallel-early-copy",
                                  "pipeline-2-early-copy", "image-parallel-3dev"})
    for tag, body in plans.items():
        plan = dict({"het_plan": 1, "model_hash": h}, **body)
        path = os.path.join(work, tag + ".plan.json")
        json.dump(plan, open(path, "w"), indent=1)
        got, err = run(["--plan", path], tag)
        if got is None:
            print("%-18s %-16s FAILED: %s" % (os.path.basename(model_dir), tag, err.strip()))
            ok = False
            continue
        for t in blobs:
            scale = float(np.abs(ref[t]).max())
            e = float(np.abs(got[t] - ref[t]).max()) if np.isfinite(got[t]).all() else float("inf")
            good = e <= 1e-4 * scale
            ok &= good
            print("%-18s %-16s %-12s max|cpu| %.4g  max|plan-cpu| %.3g  rel %.2e  %s" % (
                os.path.basename(model_dir), tag, t, scale, e, e / scale, "ok" if good else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
