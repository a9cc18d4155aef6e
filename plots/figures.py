#!/usr/bin/python3
"""Draws the study's figures with gnuplot, as PNG and SVG.

For each results folder made by experiments/study.py (default: every
results/*/ that has a summary.md), into plots/PLATFORM/:

  MODEL-layers     per-unit CPU vs GPU time, grouped bars in network order
  MODEL-splits     split-ratio curves of the heaviest layers, chosen share marked
  MODEL-modes      images/s of every mode, measured and predicted, and the
                   speedups over CPU alone and GPU alone next to the thesis'
  MODEL-gantt-KEY  the timeline of each streamed mode (pipelines, image-parallel)
  MODEL-papi       PAPI counters per layer, where the machine had them
  predicted        predicted vs measured images/s of every solved plan

The gnuplot scripts are plots/*.gp; this script prepares their data.
usage: figures.py [--results DIR ...] [--out plots]
"""
import argparse
import csv
import glob
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GANTT_IMAGES = 16  # images shown in a timeline: enough to see the steady state


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(x):
    try:
        v = float(x)
        return v if math.isfinite(v) else None
    except (TypeError, ValueError):
        return None


def cell(v):
    return "?" if v is None else ("%.6g" % v if isinstance(v, float) else str(v))


def write_tsv(path, rows, header=None):
    with open(path, "w") as f:
        if header:
            f.write("\t".join(header) + "\n")
        for r in rows:
            if r is None:  # block separator
                f.write("\n\n")
            else:
                f.write("\t".join(cell(x) for x in r) + "\n")


def pretty(model):
    return {"squeezenet_v1.1": "SqueezeNet v1.1", "squeezenet_v1.0": "SqueezeNet v1.0", "bvlc_googlenet": "GoogLeNet",
            "bvlc_alexnet": "AlexNet", "mobilenet_v1": "MobileNet v1", "mobilenet_v2": "MobileNet v2",
            "resnet50": "ResNet-50"}.get(model, model)


class Plotter:
    def __init__(self, out_dir, work):
        self.out_dir, self.work, self.made = out_dir, work, []

    def draw(self, script, name, w, h, **var):
        """Runs plots/SCRIPT for PNG and SVG with the given variables."""
        out = os.path.join(self.out_dir, name)
        for fmt in ("png", "svg"):
            args = ["gnuplot"]
            for k, v in dict(var, fmt=fmt, out=out, w=w, h=h).items():
                args += ["-e", "%s=%s" % (k, gp_value(v))]
            r = subprocess.run(args + [script], cwd=HERE, capture_output=True, text=True)
            if r.returncode != 0 or not os.path.exists(out + "." + fmt):
                sys.exit("figures: gnuplot %s for %s failed: %s" % (script, name, r.stderr.strip()[-600:]))
            # gnuplot warns and goes on where data are unusable: treat that as a failure too.
            if "warning" in r.stderr.lower() and "empty" in r.stderr.lower():
                sys.exit("figures: gnuplot %s for %s: %s" % (script, name, r.stderr.strip()[-600:]))
        self.made.append(name)

    def tmp(self, name):
        return os.path.join(self.work, name)


def gp_value(v):
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    return '"%s"' % str(v).replace("\\", "\\\\").replace('"', '\\"')


def model_figures(P, platform, mdir, model):
    title = "%s on %s" % (pretty(model), platform)
    # Per-layer times.
    layers = [r for r in read_csv(os.path.join(mdir, "layers.csv"))
              if max(num(r["cpu_ms"]) or 0, num(r["gpu_ms"]) or 0) >= 1e-3]
    d = P.tmp(model + "-layers.tsv")
    write_tsv(d, [(r["unit"], num(r["cpu_ms"]), num(r["gpu_ms"])) for r in layers], ["unit", "CPU", "GPU"])
    bm = bottom_margin(r["unit"] for r in layers)
    P.draw("layers.gp", model + "-layers", max(900, 22 * len(layers) + 200), 520 + 9 * bm, data=d, bm=bm,
           ttl="%s: time of each unit alone on each device (hetprof sweep medians)" % title)
    # Split curves.
    splits = read_csv(os.path.join(mdir, "splits.csv"))
    names = []
    for r in splits:
        if r["layer"] not in names:
            names.append(r["layer"])
    if names:
        d, c = P.tmp(model + "-splits.tsv"), P.tmp(model + "-chosen.tsv")
        rows, chosen = [], []
        for n in names:
            pts = sorted((num(r["gpu_share"]), num(r["wall_ms"])) for r in splits if r["layer"] == n)
            rows += [p for p in pts] + [None]
            ch = num(next(r["chosen_share"] for r in splits if r["layer"] == n))
            if ch is None:
                chosen += [(None, None), None]
            else:  # the time at the chosen share, interpolated between measured shares
                t = interp(pts, ch)
                chosen += [(ch, t), None]
        write_tsv(d, rows)
        write_tsv(c, chosen)
        P.draw("splits.gp", model + "-splits", 1100, 600, data=d, chosen=c, names=" ".join(names),
               ttl="%s: the heaviest layers split between CPU and GPU" % title)
    # Modes.
    modes = read_csv(os.path.join(mdir, "modes.csv"))
    d = P.tmp(model + "-modes.tsv")
    write_tsv(d, [(r["label"], num(r["measured_ips"]), num(r["predicted_ips"]), num(r["vs_cpu"]), num(r["vs_gpu"]))
                  for r in modes])
    # Each device at its best: the CPU on every core, the GPU one image at a
    # time or streaming (the rows vs_cpu and vs_gpu are set against).
    by = {r["key"]: r for r in modes}
    cpu = num(by["cpu-all"]["measured_ips"]) if "cpu-all" in by else num(modes[0]["measured_ips"])
    gpu = max(num(by[k]["measured_ips"]) for k in ("gpu", "gpu-stream") if k in by)
    P.draw("modes.gp", model + "-modes", 1300, 900, data=d, n=len(modes), bound_cpu=1 + gpu / cpu, bound_gpu=1 + cpu / gpu,
           ttl="%s: every mode, %s images a run, median of %d runs" % (
               title, modes[0].get("images", "?"), len(modes[0]["ips_runs"].split())))
    # Timelines.
    for tl in sorted(glob.glob(os.path.join(mdir, "timeline_*.csv"))):
        key = os.path.basename(tl)[len("timeline_"):-4]
        ev = read_csv(tl)
        lanes = []
        for e in ev:
            if (int(e["lane"]), e["name"]) not in lanes:
                lanes.append((int(e["lane"]), e["name"]))
        lanes.sort()
        shown = [e for e in ev if int(e["image"]) < GANTT_IMAGES]
        if not shown:
            continue
        d = P.tmp("%s-gantt-%s.tsv" % (model, key))
        write_tsv(d, [(int(e["lane"]), int(e["image"]), num(e["start_ms"]), num(e["end_ms"])) for e in shown])
        label = next((r["label"] for r in modes if r["key"] == key), key)
        tmax = max(num(e["end_ms"]) for e in shown) * 1.02
        P.draw("gantt.gp", "%s-gantt-%s" % (model, key), 1200, 160 + 70 * len(lanes), data=d,
               lanes=" ".join(n for _, n in lanes), n_lanes=len(lanes), tmax=tmax,
               ttl="%s: %s, the first %d images (box: one image on one stage)" % (title, label, GANTT_IMAGES))
    # PAPI counters.
    cpath = os.path.join(mdir, "counters.csv")
    if os.path.exists(cpath):
        per = {}
        order = []
        for r in read_csv(cpath):
            if r["layer"] not in per:
                per[r["layer"]] = {}
                order.append(r["layer"])
            per[r["layer"]][r["event"]] = num(r["value"])
        rows = []
        for n in order:
            cyc, ins = per[n].get("PAPI_TOT_CYC"), per[n].get("PAPI_TOT_INS")
            if cyc:
                rows.append((n, ins / cyc if ins is not None else None, cyc))
        if rows:
            d = P.tmp(model + "-papi.tsv")
            write_tsv(d, rows)
            bm = bottom_margin(r[0] for r in rows)
            P.draw("papi.gp", model + "-papi", max(900, 22 * len(rows) + 200), 520 + 9 * bm, data=d, bm=bm,
                   ttl="%s: PAPI counters of each layer on the CPU" % title)


def bottom_margin(names):
    """Character rows below the plot for tic labels turned 90 degrees (in a
    font 8/11 of the base, about 0.36 row a character) and the axis label."""
    return int(7 + 0.36 * max((len(n) for n in names), default=10))


def interp(pts, x):
    pts = [p for p in pts if p[0] is not None and p[1] is not None]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return None


def platform_figures(res_dir, out_root):
    platform = os.path.basename(os.path.normpath(res_dir))
    out_dir = os.path.join(out_root, platform)
    models = sorted(d for d in os.listdir(res_dir) if os.path.exists(os.path.join(res_dir, d, "modes.csv")))
    if not models:
        sys.exit("figures: %s has no study results (MODEL/modes.csv): run experiments/study.py first" % res_dir)
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="het_fig_") as work:
        P = Plotter(out_dir, work)
        pred_rows, pred_names, vals = [], [], []
        mode_keys = ["mapping", "split", "pipeline2", "pipelineK", "image-parallel"]
        for m in models:
            model_figures(P, platform, os.path.join(res_dir, m), m)
            pts = []
            for r in read_csv(os.path.join(res_dir, m, "modes.csv")):
                if r["key"] not in mode_keys:
                    continue  # CPU and GPU alone: their "prediction" is the sweep's own measurement
                me, pr = num(r["measured_ips"]), num(r["predicted_ips"])
                if me and pr:
                    pts.append((me, pr, mode_keys.index(r["key"])))
                    vals += [me, pr]
            if pts:
                pred_rows += pts + [None]
                pred_names.append(pretty(m).replace(" ", "_"))
        if pred_rows:
            d = P.tmp("predicted.tsv")
            write_tsv(d, pred_rows)
            P.draw("predicted.gp", "predicted", 1000, 800, data=d, names=" ".join(pred_names),
                   modes=" ".join(mode_keys),
                   lo=min(vals) / 1.3, hi=max(vals) * 1.3, log=int(max(vals) / min(vals) > 10),
                   ttl="%s: hetpart's predictions against hetrun's measurements" % platform)
    print("figures: %d in %s (PNG and SVG)" % (len(P.made), os.path.relpath(out_dir, ROOT)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", action="append", help="a results/PLATFORM folder (repeatable; default: all)")
    ap.add_argument("--out", default=HERE, help="where the PLATFORM folders of figures go (default plots/)")
    a = ap.parse_args()
    if subprocess.run(["gnuplot", "--version"], capture_output=True).returncode != 0:
        sys.exit("figures: gnuplot not found (Debian: apt-get install gnuplot-nox)")
    dirs = a.results or sorted(os.path.dirname(p) for p in glob.glob(os.path.join(ROOT, "results", "*", "summary.md")))
    if not dirs:
        sys.exit("figures: no study results under results/: run `make study` first")
    for d in dirs:
        platform_figures(d, a.out)


if __name__ == "__main__":
    main()
