#!/usr/bin/python3
"""The study end to end on a small model: sweep, solve, replay every mode,
the results folder, and the figures (PNG and SVG, through gnuplot); and one
clear line for bad input. The figures of the real study are looked at by a
person (docs/RESULTS.md); here they must exist and be well-formed.
usage: test_study.py BIN_DIR SOURCE_DIR WORKDIR
"""
import csv
import importlib.util
import json
import os
import shutil
import sqlite3
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import check, finish, one_line_error, run, write_tiny_model  # noqa: E402

BIN, SRC, WORK = sys.argv[1:4]
if not shutil.which("gnuplot"):
    print("gnuplot is not installed (scripts/install-deps.sh installs gnuplot-nox)")
    sys.exit(1 if os.environ.get("CI") == "true" else 77)
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
STUDY = os.path.join(SRC, "experiments", "study.py")
FIGS = os.path.join(SRC, "plots", "figures.py")
MODEL = write_tiny_model(os.path.join(WORK, "tiny.prototxt"))

# The split limit with the merge paid, on two cases solved by hand: each
# part proportional, one copy overlapped with the other device's part;
# balancing the two sides of the cheaper merge gives the GPU share.
spec = importlib.util.spec_from_file_location("study", STUDY)
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)
# Only a whole network that moved makes the study sweep again, not a GPU
# stream alone (which the replays measure each round).
notes = [("cpu", "the network moved 1.40x across the sweep's 3 bursts (7.0, 8.0, 5.7 ms)"),
         ("gpu", "the stream moved 1.31x across the sweep's 3 bursts (0.45, 0.42, 0.34 ms an image)")]
check(study.network_drift(notes) == notes[:1] and study.network_drift(notes[1:]) == [],
      "a drifting stream alone does not count: %r" % study.network_drift(notes))
cpu, gpu, mb = 1.0, 0.1, 2.0
# Cheap uploads: the CPU's channels go to the GPU. cpu (1-s) + lat + r mb (1-s) = gpu s.
tm = {"d2h": (0.01, 0.02), "h2d": (0.001, 0.001)}
s_h = (cpu + 0.001 + 0.001 * mb) / (gpu + cpu + 0.001 * mb)
got = study.merge_bound(cpu, gpu, mb, tm)
check(abs(got[0] - gpu * s_h) < 2e-4 and abs(got[1] - s_h) < 2e-3, "merge limit, upload side: %r vs %.4f at %.3f" % (
    got, gpu * s_h, s_h))
# Cheap downloads: the GPU's channels come to the host. gpu s + lat + r mb s = cpu (1-s).
tm = {"d2h": (0.001, 0.001), "h2d": (0.05, 0.02)}
s_d = (cpu - 0.001) / (cpu + gpu + 0.001 * mb)
got = study.merge_bound(cpu, gpu, mb, tm)
check(abs(got[0] - cpu * (1 - s_d)) < 2e-3 and abs(got[1] - s_d) < 2e-3, "merge limit, download side: %r vs %.4f" % (
    got, cpu * (1 - s_d)))
RES = os.path.join(WORK, "test")  # figures name their folder after it
base = ["/usr/bin/python3", STUDY, "--bin", BIN, "--platform", "test", "--out", RES, "-q"]
r = run(*base, "--models", MODEL, "--images", 8, "--reps", 2, "--repeat", 2, "--warmup", 1, "--max-stages", 3,
        "--sweep-args", "--ratios 0.25,0.5,0.75 --reps 6 --min-reps 3 --max-time 0.05", "--no-figures", timeout=900)
check(r.returncode == 0, "study runs: %s" % (r.stdout[-800:] + r.stderr[-800:]))
M = os.path.join(RES, "tiny")
for f in ("summary.md", "machine.txt", "het.db", "csv/runs.csv", "csv/measurements.csv"):
    check(os.path.exists(os.path.join(RES, f)), "results have %s" % f)
rows = list(csv.DictReader(open(os.path.join(M, "modes.csv")))) if os.path.exists(os.path.join(M, "modes.csv")) else []
keys = [x["key"] for x in rows]
SOLVED = ["mapping", "split", "pipeline2", "pipelineK", "image-parallel"]
# Each device alone at its best (the CPU on every core), the CPU on the
# plans' cores (the calibration point), the solved modes, and the peer
# (OpenCV DNN, which CI has).
check(keys == ["cpu-all", "cpu-lanes", "gpu", "cpu"] + SOLVED + ["opencv"], "every mode and the peer: %r" % keys)
check(all(float(x["measured_ips"]) > 0 and len(x["ips_runs"].split()) == 2 for x in rows),
      "each mode measured twice: %r" % [x["ips_runs"] for x in rows])
check(all(x["predicted_ips"] for x in rows if x["key"] not in ("opencv", "cpu-lanes")),
      "each mode has a prediction (CPU lanes and the peer are measured only)")
pl = json.load(open(os.path.join(M, "plans", "cpu-lanes.json"))) if os.path.exists(os.path.join(M, "plans")) else {}
ncores = len(os.sched_getaffinity(0))
check(pl.get("mode") == "image-parallel" and pl.get("devices") == ["cpu"] * (ncores // 2 if ncores >= 4 else ncores),
      "CPU lanes of two cores, or of one on fewer than four: %r" % pl)
# The CPU alone on every core this process may use, as its plan says.
pa = json.load(open(os.path.join(M, "plans", "cpu-all.json"))) if os.path.exists(os.path.join(M, "plans")) else {}
named = [int(c) for part in pa.get("platform", {}).get("cpu_cores", "").split(",") if part
         for c in range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1)]
check(named == sorted(os.sched_getaffinity(0)), "the CPU alone runs on every core: %r" % pa.get("platform"))
check(os.path.isdir(os.path.join(M, "plans")) and not [f for f in os.listdir(os.path.join(M, "plans"))
                                                      if f.startswith(".peer")],
      "the peer's weights and input are removed once the rounds are done")
# Steal per replay: a share of the machine's CPU time in percent (Linux has
# /proc/stat; a machine without a hypervisor reports 0).
steals = [x["steal_runs"].split() for x in rows]
check(all(len(v) == 2 and all(0 <= float(t) <= 100 for t in v) for v in steals), "steal per replay: %r" % steals)
# Recalibrated predictions: every solved mode, not the calibration points.
check([x["key"] for x in rows if x["recal_ips"]] == SOLVED and
      all(float(x["recal_ips"]) > 0 and abs(float(x["recal_error"])) < 10 for x in rows if x["key"] in SOLVED),
      "recalibrated predictions for the solved modes only: %r" % [(x["key"], x["recal_ips"]) for x in rows])
if rows:
    # Every ratio recomputed from the rows: against the CPU on every core,
    # the GPU at its best (no stream on PoCL: one image at a time), the best
    # device alone per objective, and the bound from those best rates.
    by = {x["key"]: x for x in rows}
    cpu = max(float(by[k]["measured_ips"]) for k in ("cpu-all", "cpu-lanes"))
    gpu = float(by["gpu"]["measured_ips"])
    best_lat = min(float(by[k]["measured_latency_ms"]) for k in ("cpu-all", "gpu"))
    for x in rows:
        ips, lat = float(x["measured_ips"]), float(x["measured_latency_ms"])
        check(abs(float(x["vs_cpu"]) - ips / cpu) < 1e-9 and abs(float(x["vs_gpu"]) - ips / gpu) < 1e-9 and
              abs(float(x["vs_best_ips"]) - ips / max(cpu, gpu)) < 1e-9 and
              abs(float(x["vs_best_latency"]) - best_lat / lat) < 1e-9 and
              abs(float(x["vs_bound"]) - ips / (cpu + gpu)) < 1e-9, "ratios of %s" % x["key"])
p2 = json.load(open(os.path.join(M, "plans", "pipeline2.json"))) if os.path.exists(os.path.join(M, "plans")) else {}
check(p2.get("mode") == "pipeline" and len(p2.get("stages", [])) == 2, "the thesis' mode has two stages: %r" % p2)
layers = list(csv.DictReader(open(os.path.join(M, "layers.csv")))) if os.path.exists(os.path.join(M, "layers.csv")) else []
check([x["unit"] for x in layers] == ["conv1+relu", "a", "b", "cat", "pool", "prob"], "units: %r" %
      [x["unit"] for x in layers])
summary = open(os.path.join(RES, "summary.md")).read() if os.path.exists(os.path.join(RES, "summary.md")) else ""
check("over 8 images (each image, or each stream of them, 2 times, measured over all)" in summary,
      "the summary says how each replay was timed")
check("| two-group pipeline (thesis)" in summary and "1.97x" in summary and "Recalibrated: median" in summary
      and "(/proc/stat steal): median" in summary and "vs best single device, latency" in summary
      and "The peer, OpenCV" in summary, "summary table")
# The verdict per objective, said plainly either way.
for obj in ("Latency", "Throughput"):
    said = ["%s: no plan that uses both devices beat the best device alone" % obj in summary,
            "%s: the best plan that uses both devices" % obj in summary,
            "%s: every solved plan runs on one device alone" % obj in summary]
    check(said.count(True) == 1, "%s verdict: %r" % (obj, said))
# The all-models line, recomputed from modes.csv (one model here: its five
# solved plans; nearest-rank 90th percentile of 5 values is the largest).
errs = sorted(abs(float(x["ips_error"])) for x in rows if x["key"] in SOLVED)
if errs:
    want_line = "- raw: median %.1f%%, 90th percentile %.1f%%, max %.1f%% (5 plans)" % (
        errs[2] * 100, errs[4] * 100, errs[4] * 100)
    check("## All models" in summary and want_line in summary, "all-models errors: %r" % want_line)
# Replay noise, recomputed from modes.csv: each plan's two rounds apart, over
# its median (of two: their mean), for all ten rows.
spreads = sorted(abs(float(a) - float(b)) / float(x["measured_ips"])
                 for x in rows for a, b in [x["ips_runs"].split()])
if len(spreads) == 10:
    want_noise = "- one plan's rounds, (max - min) / median: median %.0f%%, max %.0f%% (10 plans" % (
        (spreads[4] + spreads[5]) / 2 * 100, spreads[9] * 100)
    check("Replay noise" in summary and want_noise in summary, "replay noise: %r" % want_noise)
# merge_errors.py over the one study folder gives the summary's own lines;
# a folder without studies is one clear line.
MERGE = os.path.join(SRC, "experiments", "merge_errors.py")
r = run("/usr/bin/python3", MERGE, RES)
merged = [l for l in r.stdout.splitlines() if l.startswith("- ")]
check(r.returncode == 0 and len(merged) >= 3 and all(l in summary for l in merged),
      "merge_errors agrees with the summary: %r" % r.stdout[-400:])
one_line_error(run("/usr/bin/python3", MERGE, WORK + "/none"), "merge_errors, no folder", "not a folder")
# The split table: each heavy layer's row recomputed from splits.csv (the
# sweep's points: share 0 is the CPU alone, 1 the GPU alone) and, for the
# limit with the merge paid, from the database's transfer model and blobs.
srows = list(csv.DictReader(open(os.path.join(M, "splits.csv")))) if os.path.exists(os.path.join(M, "splits.csv")) else []
con = sqlite3.connect(os.path.join(RES, "het.db"))
tm = dict((d, (a, b)) for d, a, b in con.execute(
    "SELECT direction, latency_ms, ms_per_mb FROM transfer_models WHERE sweep_id = (SELECT MAX(id) FROM sweeps)"))
want = []
for name in dict.fromkeys(x["layer"] for x in srows):
    pts = {float(x["gpu_share"]): float(x["wall_ms"]) for x in srows if x["layer"] == name}
    inner = min(((ms, s) for s, ms in pts.items() if 0 < s < 1), default=None)
    if inner is None or 0.0 not in pts or 1.0 not in pts:
        continue  # no split measured (too few channels at these shares): no row
    c, g = pts[0.0], pts[1.0]
    B = con.execute("SELECT b.bytes FROM layers l JOIN blobs b ON b.model_id = l.model_id AND b.name = l.tops"
                    " WHERE l.name = ?", (name,)).fetchone()[0] / 1e6
    # Either the GPU's part copied to the host after it, or the CPU's part
    # copied to the GPU after it, each while the other device computes.
    bound = min((min(max(c * (1 - s), g * s + tm["d2h"][0] + tm["d2h"][1] * B * s),
                     max(c * (1 - s) + tm["h2d"][0] + tm["h2d"][1] * B * (1 - s), g * s)), s)
                for s in (i / 1000 for i in range(1, 1000)))
    check(bound[0] >= 1 / (1 / c + 1 / g) - 1e-12, "the merge-paid limit is never below the ideal")
    want.append("| %s | %.3f | %.3f | %.3f (%.2f) | %.3f | %.3f (%.2f) | %.2fx | %.2fx |" % (
        name, c, g, inner[0], inner[1], 1 / (1 / c + 1 / g), bound[0], bound[1], min(c, g) / inner[0],
        min(c, g) / bound[0]))
con.close()
check(want and all(w in summary for w in want), "split table rows: %r" % want)
# The runs went into the database (9 het rows x 2; the peer is not het's),
# with their predictions but for the CPU lanes'.
con_rows = list(csv.DictReader(open(os.path.join(RES, "csv", "runs.csv")))) if os.path.exists(
    os.path.join(RES, "csv", "runs.csv")) else []
check(len(con_rows) == 18 and sum(1 for x in con_rows if not x["predicted_images_per_s"]) == 2,
      "runs: %d" % len(con_rows))
check(not os.path.exists(os.path.join(M, "gpu_stream.csv")) and "GPU alone streaming" not in summary,
      "no GPU-stream reference where the GPU runs images one at a time (PoCL)")

# A GPU that runs images at once (PoCL made to, as the H100's): each round
# also replays the GPU alone streaming, the reference of the recalibration
# (hetpart predict --gpu-stream-ms), reported apart from the modes. Its
# sweeps all count as drifting (--drift-limit 1: any two bursts spread by
# 1x or more), so the study sweeps twice more (--resweeps 2) and says so.
RES2 = os.path.join(WORK, "overlap")
r = run(*base[:7], RES2, "-q", "--no-peers", "--models", MODEL, "--images", 8, "--reps", 2, "--warmup", 1, "--max-stages", 2,
        "--resweeps", 2, "--sweep-args", "--ratios 0.5 --reps 6 --min-reps 3 --max-time 0.05 --drift-limit 1",
        "--no-figures", timeout=900, env=dict(os.environ, HET_CL_OVERLAP="1"))
check(r.returncode == 0, "study with a GPU that streams: %s" % (r.stdout[-800:] + r.stderr[-800:]))
check((r.stdout + r.stderr).count("sweeping again") == 2, "two sweeps again after drift: %s" % r.stdout[-1500:])
M2 = os.path.join(RES2, "tiny")
srows = list(csv.DictReader(open(os.path.join(M2, "gpu_stream.csv")))) if os.path.exists(
    os.path.join(M2, "gpu_stream.csv")) else []
check(len(srows) == 2 and all(float(x["images_per_s"]) > 0 and float(x["sweep_ms_per_image"]) > 0 and
                              abs(float(x["ms_per_image"]) * float(x["images_per_s"]) - 1000) < 1e-6 for x in srows),
      "the GPU stream replayed each round: %r" % srows)
rows2 = list(csv.DictReader(open(os.path.join(M2, "modes.csv")))) if os.path.exists(os.path.join(M2, "modes.csv")) else []
check([x["key"] for x in rows2] == ["cpu-all", "cpu-lanes", "gpu", "gpu-stream", "cpu"] + SOLVED and
      all(x["recal_ips"] for x in rows2 if x["key"] in SOLVED),
      "the GPU streaming is a baseline row; the solved modes recalibrated: %r" % [(x["key"], x["recal_ips"]) for x in rows2])
by2 = {x["key"]: x for x in rows2}
if len(by2) == len(rows2) and "gpu-stream" in by2:
    g2 = max(float(by2[k]["measured_ips"]) for k in ("gpu", "gpu-stream"))
    check(all(abs(float(x["vs_gpu"]) - float(x["measured_ips"]) / g2) < 1e-9 for x in rows2),
          "vs the GPU at its best: the faster of one at a time and streaming")
    check([float(x["images_per_s"]) for x in srows] == [float(v) for v in by2["gpu-stream"]["ips_runs"].split()] or
          all(abs(float(x["images_per_s"]) - float(v)) < 0.01 for x, v in zip(srows, by2["gpu-stream"]["ips_runs"].split())),
          "gpu_stream.csv is the stream row's rounds")
plan = json.load(open(os.path.join(M2, "plans", "gpu-stream.json"))) if os.path.exists(
    os.path.join(M2, "plans", "gpu-stream.json")) else {}
check(plan.get("mode") == "image-parallel" and plan.get("devices") == ["gpu"], "the reference plan: %r" % plan)
summary2 = open(os.path.join(RES2, "summary.md")).read() if os.path.exists(os.path.join(RES2, "summary.md")) else ""
check("GPU alone streaming" in summary2, "the summary gives the reference")
check("Swept again (1 of at most 2, `--resweeps`): in the sweep before, the whole network on the CPU: the network "
      "moved" in summary2 and "Swept again (2 of at most 2" in summary2 and
      "The sweep's whole network on the CPU: the network moved" in summary2,
      "the summary names each sweep again and the last one's drift")
con = sqlite3.connect(os.path.join(RES2, "het.db"))
check(con.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == 1, "sweeps again replace the sweep in place")
con.close()

# Figures.
PL = os.path.join(WORK, "plots")
r = run("/usr/bin/python3", FIGS, "--results", RES, "--out", PL, timeout=300)
check(r.returncode == 0, "figures: %s" % r.stderr[-800:])
for name in ("tiny-layers", "tiny-splits", "tiny-modes", "tiny-gantt-pipeline2", "tiny-gantt-image-parallel",
             "predicted"):
    png, svg = (os.path.join(PL, "test", name + e) for e in (".png", ".svg"))
    ok_png = os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 5000
    check(ok_png, "%s.png is a PNG" % name)
    try:
        root = ET.parse(svg).getroot()
        check(root.tag.endswith("svg") and len(list(root.iter())) > 20, "%s.svg has content" % name)
    except (OSError, ET.ParseError) as e:
        check(False, "%s.svg: %s" % (name, e))

# Bad input: one line, non-zero exit, nothing written.
one_line_error(run(*base, "--models", os.path.join(WORK, "none.prototxt")), "missing model", "no such file")
one_line_error(run(*base, "--models", MODEL, "--images", 0), "zero images", "--images")
one_line_error(run(*base, "--models", MODEL, "--resweeps", -1), "negative resweeps", "--resweeps")
one_line_error(run("/usr/bin/python3", STUDY, "--bin", BIN, "--platform", "a/b", "--models", MODEL), "bad platform",
               "names a folder")
one_line_error(run(*base[:-1], "--bin", WORK, "--models", MODEL), "no binaries", "build first")
one_line_error(run("/usr/bin/python3", FIGS, "--results", WORK, "--out", PL), "figures without results",
               "no study results")
check(not os.path.exists(os.path.join(PL, os.path.basename(WORK))), "no figure folder for a failed platform")
finish("test_study")
