#!/usr/bin/python3
"""Every execution mode over N images on one machine, in one run.

Measures Tcpu and Tgpu (single device, each on its own core set when the
"GPU" is PoCL on the CPU), then: the example per-layer mapping, a split
plan, the balanced two-stage pipeline (the thesis' layer-group pipelining:
the cut and the order chosen from per-layer profiles of both devices so
that the slower stage is as short as possible), and image-parallel. Goals
(issue 4): the two-stage pipeline and image-parallel reach >= 0.9 x
(1/Tcpu + 1/Tgpu) images/s; the best split of a large convolution beats the
faster device alone on that layer (measured as the whole network on the
faster device, with and without that one layer split, transfers included).

usage: bench_modes.py [--hetrun build/bin/hetrun] [--model models/squeezenet_v1.1/deploy.prototxt]
                      [--images 100] [--cpu-cores 0] [--gpu-cores 1] [--big-layer conv10] [--out-db FILE]
Core sets: by default the first half of the cores for the CPU and the second
half for the OpenCL device (one each on a 2-core machine).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from prototxt import layers_of  # noqa: E402


def main():
    n = os.cpu_count()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hetrun", default="build/bin/hetrun")
    ap.add_argument("--model", default="models/squeezenet_v1.1/deploy.prototxt")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--cpu-cores", default="0-%d" % (n // 2 - 1) if n > 2 else "0")
    ap.add_argument("--gpu-cores", default="%d-%d" % (n // 2, n - 1) if n > 2 else "1")
    ap.add_argument("--big-layer", default="conv10", help="the large convolution whose split is measured")
    ap.add_argument("--out-db", help="also record every run in this results database")
    ap.add_argument("--out-json", help="write the table as JSON")
    a = ap.parse_args()
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    work = tempfile.mkdtemp(prefix="het_modes_")
    cores = ["--cpu-cores", a.cpu_cores, "--gpu-cores", a.gpu_cores]
    extra = ["--db", a.out_db] if a.out_db else []

    def hetrun(args, tag):
        js = os.path.join(work, tag + ".json")
        r = subprocess.run([a.hetrun, "--model", a.model, "--top", "0", "-q", "--summary-json", js] + cores + extra +
                           args, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit("hetrun %s failed: %s" % (" ".join(args), r.stderr.strip()))
        return json.load(open(js)), r.stdout

    def profile(device):
        _, text = hetrun(["--device", device, "--images", "1", "--warmup", "5", "--repeat", "20", "--profile"],
                         "profile-" + device)
        t = {}
        for line in text.splitlines():
            f = line.split()
            if len(f) >= 5 and f[0] in names:
                t[f[0]] = float(f[2])
        return [t[x] for x in names]

    layers = [l for l in layers_of(a.model) if l[1] != "Input"]
    names = [l[0] for l in layers]
    kinds = {l[0]: l[1] for l in layers}
    h = hetrun(["--images", "1"], "hash")[0]["model_hash"]

    def plan(tag, body):
        p = os.path.join(work, tag + ".plan.json")
        json.dump(dict({"het_plan": 1, "model_hash": h}, **body), open(p, "w"), indent=1)
        return p

    def single(device):
        s, _ = hetrun(["--device", device, "--images", str(a.images), "--warmup", "5"], "single-" + device)
        return s["images_per_s"], s["latency_ms"]["median"]

    def stream(tag, body):
        s, _ = hetrun(["--plan", plan(tag, body), "--images", str(a.images), "--warmup", "5"], tag)
        return s["images_per_s"], s["latency_ms"]["p50"]

    def per_image(tag, body):
        s, _ = hetrun(["--plan", plan(tag, body), "--images", str(a.images), "--warmup", "5"], tag)
        return s["images_per_s"], s["latency_ms"]["median"]

    rows = []
    cpu_ips, cpu_lat = single("cpu")
    gpu_ips, gpu_lat = single("gpu")
    bound = cpu_ips + gpu_ips
    rows.append(("cpu alone", cpu_ips, cpu_lat))
    rows.append(("gpu alone", gpu_ips, gpu_lat))
    # The balanced two-stage cut from per-layer profiles (each device alone).
    tc, tg = profile("cpu"), profile("gpu")
    best = None
    for cut in range(1, len(names)):
        for first in ("cpu", "gpu"):
            a_t = sum((tc if first == "cpu" else tg)[:cut])
            b_t = sum((tg if first == "cpu" else tc)[cut:])
            if best is None or max(a_t, b_t) < best[0]:
                best = (max(a_t, b_t), cut, first)
    _, cut, first = best
    second = "gpu" if first == "cpu" else "cpu"
    pipe = {"mode": "pipeline", "stages": [{"first": names[0], "last": names[cut - 1], "device": first},
                                           {"first": names[cut], "last": names[-1], "device": second}]}
    faster = "cpu" if cpu_ips >= gpu_ips else "gpu"
    mapping = {n_: ("gpu" if (tg[i] < tc[i]) else "cpu") for i, n_ in enumerate(names)}
    rows.append(("mapping (each layer on its faster device)", *per_image("mapping", {"mode": "mapping", "layers": mapping})))
    rows.append(("split (every conv at 0.5)", *per_image("split", {"mode": "split", "layers": {
        n_: (0.5 if kinds[n_] == "Convolution" else faster) for n_ in names}})))
    rows.append(("pipeline, 2 stages (%s up to %s, then %s)" % (first, names[cut - 1], second), *stream("pipeline", pipe)))
    rows.append(("image-parallel (cpu + gpu)", *stream("image-parallel", {"mode": "image-parallel",
                                                                         "devices": ["cpu", "gpu"]})))
    # The split of one large convolution against the faster device alone.
    base = per_image("split-base", {"mode": "single", "device": faster})
    split_rows = []
    for r in (0.05, 0.1, 0.15, 0.2, 0.35, 0.5, 0.8):
        lay = {n_: faster for n_ in names}
        lay[a.big_layer] = r
        split_rows.append((r, *per_image("split-%g" % r, {"mode": "split", "layers": lay})))
    print("model %s, %d images; CPU backend on cores %s, OpenCL device on cores %s; OPENBLAS_CORETYPE unset"
          % (a.model, a.images, a.cpu_cores, a.gpu_cores))
    print("%-52s %10s %11s %9s %9s %9s" % ("mode", "images/s", "latency ms", "vs cpu", "vs gpu", "vs bound"))
    for name, ips, lat in rows:
        print("%-52s %10.2f %11.3f %9.2f %9.2f %9.2f" % (name, ips, lat, ips / cpu_ips, ips / gpu_ips, ips / bound))
    print("bound = 1/Tcpu + 1/Tgpu = %.2f images/s; goal for the pipeline and image-parallel: >= 0.9 x bound" % bound)
    print("\n%s split between the devices, the rest of the network on the %s (latency per image):" % (a.big_layer, faster))
    print("  %-10s %10.3f ms" % ("not split", base[1]))
    for r, ips, lat in split_rows:
        print("  gpu %4.2f   %10.3f ms  %s" % (r, lat, "faster than %s alone" % faster if lat < base[1] else ""))
    if a.out_json:
        json.dump({"rows": rows, "bound": bound, "split": split_rows, "split_base_ms": base[1], "cut": names[cut - 1],
                   "first": first}, open(a.out_json, "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
