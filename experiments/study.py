#!/usr/bin/python3
"""The thesis' study, end to end, on this machine: sweep -> solve -> replay.

For each model: `hetprof sweep` measures every layer on each device, split
ratios, transfers, co-run and the whole network into results/PLATFORM/het.db;
`hetpart solve` finds the best plan of each execution mode; `hetrun --plan`
replays every plan over --images images (--reps times, the modes alternating,
median kept) and records measured next to predicted. Writes, under
results/PLATFORM/:

  machine.txt            what ran: CPU, cores, OpenCL devices, core sets
  het.db, csv/           the database (sweeps and runs) and one CSV per table
  summary.md             every model's table of modes, speedups and errors
  MODEL/modes.csv        mode, plan, predicted and measured images/s and latency
  MODEL/layers.csv       per-unit CPU and GPU time (conv+ReLU fused as run)
  MODEL/splits.csv       split-ratio curves of the heaviest layers
  MODEL/timeline_*.csv   (stage, image, start, end) of the streamed modes
  MODEL/counters.csv     PAPI counters per layer, where the machine has them
  MODEL/plans/*.json     the plans replayed

then draws the figures (plots/figures.py, gnuplot) unless --no-figures.
OPENBLAS_CORETYPE is unset for every tool (see scripts/benchlib.py).
"""
import argparse
import csv
import json
import math
import os
import platform as pyplatform
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchlib import bench_env, opencv_median  # noqa: E402

# The modes of the study, in the order they are shown. Each: key, label,
# how its plan is made (a single device, or hetpart solve arguments).
MODES = [
    ("cpu-all", "CPU alone, every core", {"single": "cpu", "every_core": True}),
    ("cpu-lanes", "CPU alone, in lanes", {"lanes": True}),
    ("gpu", "GPU alone", {"single": "gpu"}),
    ("cpu", "CPU on the plans' cores", {"single": "cpu"}),
    ("mapping", "best per-layer mapping", {"objective": "latency", "modes": "mapping"}),
    ("split", "best intra-layer split", {"objective": "latency", "modes": "mapping,split"}),
    ("pipeline2", "two-group pipeline (thesis)", {"objective": "throughput", "modes": "pipeline", "stages": 2,
                                                        "min_stages": 2}),
    ("pipelineK", "best K-stage pipeline", {"objective": "throughput", "modes": "pipeline", "stages": "K"}),
    ("image-parallel", "image-parallel", {"objective": "throughput", "modes": "image-parallel"}),
]
MODES_BY_KEY = {k: how for k, _, how in MODES}
LABELS = {k: label for k, label, _ in MODES}
LABELS["gpu-stream"] = "GPU alone, streaming"
LABELS["opencv"] = "OpenCV DNN, CPU (peer)"
# The obvious runs: each device alone at its best resources. A mode is set
# against the best of them for its objective; "cpu" (the CPU on the cores a
# plan gives it) is the cost model's calibration point, not a baseline.
SINGLE = ("cpu-all", "cpu-lanes", "gpu", "gpu-stream")
SOLVED = [k for k, _, how in MODES if "objective" in how]
EVERY_CORE = ("cpu-all", "cpu-lanes")  # replayed on the cores their plans name, not on --cpu-cores
STREAMED = ("pipeline", "image-parallel")  # plan modes whose runs have a timeline
THESIS = {"vs_gpu": 1.97, "vs_cpu": 1.7}   # layer-group pipelining on the Exynos 5422, 100 images


def log(msg):
    print("[study %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def fail(msg):
    sys.exit("study: " + msg)


def platform_slug():
    """A folder name for this machine: architecture, cores and OpenCL device."""
    return "%s-%dcores" % (pyplatform.machine(), os.cpu_count())


def model_name(m):
    """A model's folder name in the results: its name, or a prototxt's stem."""
    return os.path.splitext(os.path.basename(m))[0] if m.endswith(".prototxt") else m


def model_path(shared, name):
    """The upstream deploy file in ../shared/models, else het's own models/;
    or a .prototxt path as given."""
    if name.endswith(".prototxt"):
        if not os.path.exists(name):
            fail("model %s: no such file" % name)
        return os.path.abspath(name)
    for d in (os.path.join(shared, "models", name), os.path.join(ROOT, "models", name)):
        p = os.path.join(d, "deploy.prototxt")
        if os.path.exists(p):
            return p
    fail("model %s: no deploy.prototxt in %s/models/%s or models/%s" % (name, shared, name, name))


def default_core_sets():
    """As het's executors divide the cores when both devices work: the first
    half for the CPU backend, the second for the OpenCL host threads (and
    PoCL's workers). The study gives every mode the same sets, single-device
    ones too, so that modes compare on equal hardware."""
    n = os.cpu_count() or 1
    if n < 2:
        fail("the study needs at least 2 cores (one for each device's host side)")
    h = n // 2
    fmt_ = lambda lo, hi: str(lo) if lo == hi else "%d-%d" % (lo, hi)
    return fmt_(0, h - 1), fmt_(h, n - 1)


class Tools:
    def __init__(self, a, env):
        self.a, self.env = a, env
        self.gpu = ["--gpu", a.gpu] if a.gpu else []
        self.cores = ["--cpu-cores", a.cpu_cores, "--gpu-cores", a.gpu_cores] + self.gpu

    def run(self, name, *args, show=False):
        cmd = [os.path.join(self.a.bin, name)] + [str(x) for x in args]
        with subprocess.Popen(cmd, env=self.env, text=True, stdout=subprocess.PIPE,
                              stderr=None if show else subprocess.PIPE) as p:
            self.child = p
            out, err = p.communicate()
            self.child = None
        if p.returncode:
            fail("%s failed (exit %d): %s\n  command: %s" % (name, p.returncode, (err or "").strip()[-800:],
                                                              " ".join(cmd)))
        return out

    def stop_on_term(self):
        """SIGTERM (from `timeout`, a batch system) stops the tool the study
        waits for as well: left running, it kept a core busy and halved the
        next run's CPU timings. (Ctrl-C reaches the tool by itself: it is in
        the same foreground process group.)"""
        def handler(signum, _frame):
            if self.child and self.child.poll() is None:
                self.child.kill()
            fail("stopped by signal %d; the models finished before it are complete" % signum)
        self.child = None
        signal.signal(signal.SIGTERM, handler)


class Peer:
    """OpenCV DNN on the CPU, every core (its default), with het's seeded
    weights and one random input of the model's shape: called with a count
    of images, it times that many forwards after the study's warm-up and
    returns the median ms of one."""
    def __init__(self, a, tools, proto, weights, inp):
        self.a, self.tools, self.proto, self.weights, self.inp = a, tools, proto, weights, inp
        self.what = "OpenCV %s DNN, CPU target, every core" % self.version()

    def version(self):
        r = subprocess.run(["/usr/bin/python3", "-c", "import cv2; print(cv2.__version__)"], capture_output=True,
                           text=True, env=self.tools.env)
        return r.stdout.strip()

    def remove(self):
        """The weights and input are scratch: gone once the rounds are."""
        for f in (self.weights, self.inp):
            if os.path.exists(f):
                os.remove(f)

    def __call__(self, images):
        return opencv_median(self.proto, self.weights, self.inp, "cpu", 0, self.a.warmup, images,
                             self.tools.env)["median"]


def opencv_peer(a, tools, proto, mdir, shape):
    """The peer, or None (with a line saying why) where /usr/bin/python3 has
    no OpenCV, or OpenCV cannot read the model."""
    r = subprocess.run(["/usr/bin/python3", "-c", "import cv2, numpy"], capture_output=True, env=tools.env)
    if r.returncode or not shape:
        log("no OpenCV DNN peer: %s" % ("/usr/bin/python3 has no cv2 or numpy" if r.returncode else
                                         "hetrun did not report the input's shape"))
        return None
    weights, inp = os.path.join(mdir, "plans", ".peer.caffemodel"), os.path.join(mdir, "plans", ".peer_input.npy")
    tools.run("hetrun", "--model", proto, "--save-weights", weights, "--images", "1", "--warmup", "0", "--top", "0",
              "-q")
    subprocess.run(["/usr/bin/python3", "-c", "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(1)"
                    ".uniform(-100, 100, [int(x) for x in sys.argv[2:]]).astype(np.float32))", inp] +
                   [str(x) for x in shape], check=True, env=tools.env)
    p = Peer(a, tools, proto, weights, inp)
    try:
        p(1)
    except subprocess.CalledProcessError as e:
        log("no OpenCV DNN peer: OpenCV cannot run %s (%s)" % (proto, (e.stderr or "").strip()[-200:]))
        return None
    return p


def latest_sweep(db, proto_hash):
    con = sqlite3.connect(db)
    row = con.execute("SELECT s.id FROM sweeps s JOIN models m ON m.id = s.model_id WHERE m.hash = ? AND"
                      " s.cpu_device_id IS NOT NULL AND s.gpu_device_id IS NOT NULL ORDER BY s.id DESC LIMIT 1",
                      (proto_hash,)).fetchone()
    con.close()
    if not row:
        fail("no CPU+GPU sweep of model %s in %s" % (proto_hash, db))
    return row[0]


def cpu_baseline(db, sweep):
    """The sweep's CPU backend on every core (baselines): (ms, core list), or None."""
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT median_ms, cores FROM baselines WHERE sweep_id = ? AND device = 'cpu' AND"
                          " status = 'ok'", (sweep,)).fetchone()
    except sqlite3.Error:
        row = None
    con.close()
    return row


def network_ms(db, sweep, device):
    con = sqlite3.connect(db)
    row = con.execute("SELECT median_ms FROM networks WHERE sweep_id = ? AND device = ? AND status = 'ok'",
                      (sweep, device)).fetchone()
    con.close()
    return row[0] if row else None


def drift_notes(db, sweep):
    """hetprof's notes on the sweep's whole networks: (device, note) where
    a device's bursts moved by its --drift-limit or more (default 1.2x;
    docs/hetprof.md)."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT device, note FROM networks WHERE sweep_id = ? AND status = 'ok' AND note IS NOT NULL"
                       " ORDER BY device", (sweep,)).fetchall()
    con.close()
    return rows


def network_drift(notes):
    """The drift notes that say a whole network moved (hetprof writes "the
    network moved ..." or "the stream moved ..."): what makes the study
    sweep again."""
    return [(d, n) for d, n in notes if n.startswith("the network moved")]


def gpu_stream(db, sweep):
    """The sweep's GPU stream: (ms an image, images in flight), or None."""
    con = sqlite3.connect(db)
    row = con.execute("SELECT median_ms, in_flight FROM network_streams WHERE sweep_id = ? AND device = 'gpu' AND"
                      " status = 'ok'", (sweep,)).fetchone()
    con.close()
    return row


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def layer_rows(db, sweep):
    """Per executor unit (a layer, or a conv with the ReLU fused into it):
    index, name, kind, CPU ms, GPU ms, GFLOP."""
    con = sqlite3.connect(db)
    layers = con.execute("SELECT l.idx, l.name, l.kind, l.fused_relu, l.flops FROM layers l JOIN sweeps s ON"
                         " s.model_id = l.model_id WHERE s.id = ? ORDER BY l.idx", (sweep,)).fetchall()
    t = {}
    for idx, dev, fused, ms in con.execute("SELECT layer_idx, device, fused, median_ms FROM measurements"
                                           " WHERE sweep_id = ? AND status = 'ok'", (sweep,)):
        t[(idx, dev, fused)] = ms
    con.close()
    folded = {f for _, _, _, f, _ in layers if f is not None}
    rows = []
    for idx, name, kind, fr, flops in layers:
        if idx in folded or kind in ("Input",):
            continue
        fused = 1 if fr is not None else 0
        label = name + ("+relu" if fused else "")
        rows.append((idx, label, kind, t.get((idx, "cpu", fused)), t.get((idx, "gpu", fused)), (flops or 0) / 1e9))
    return rows


def split_rows(db, sweep, plan_layers, n_heavy):
    """Wall time of the n_heavy slowest splittable layers at each ratio, with
    ratio 0 (all CPU) and 1 (all GPU) from the single-device measurements,
    and the ratio the split plan chose for each."""
    con = sqlite3.connect(db)
    heavy = con.execute(
        "SELECT l.idx, l.name, l.fused_relu IS NOT NULL FROM layers l JOIN sweeps s ON s.model_id = l.model_id"
        " JOIN measurements m ON m.sweep_id = s.id AND m.layer_idx = l.idx AND m.fused = (l.fused_relu IS NOT NULL)"
        " WHERE s.id = ? AND l.splittable AND m.status = 'ok' GROUP BY l.idx ORDER BY MIN(m.median_ms) DESC LIMIT ?",
        (sweep, n_heavy)).fetchall()
    rows = []
    for idx, name, fused in heavy:
        pts = {}
        for dev, r in (("cpu", 0.0), ("gpu", 1.0)):
            x = con.execute("SELECT median_ms FROM measurements WHERE sweep_id = ? AND layer_idx = ? AND device = ?"
                            " AND fused = ? AND status = 'ok'", (sweep, idx, dev, fused)).fetchone()
            if x:
                pts[r] = x[0]
        for r, ms in con.execute("SELECT ratio, median_ms FROM split_measurements WHERE sweep_id = ? AND"
                                 " layer_idx = ? AND fused = ? AND status = 'ok'", (sweep, idx, fused)):
            pts[r] = ms
        chosen = plan_layers.get(name, "")
        chosen = {"cpu": 0.0, "gpu": 1.0}.get(chosen, chosen)
        for r in sorted(pts):
            rows.append((name, r, pts[r], "" if chosen == "" else chosen))
    con.close()
    return rows


def transfer_model(db, sweep):
    """{direction: (latency_ms, ms_per_mb)} of the sweep's fitted copies."""
    con = sqlite3.connect(db)
    tm = {d: (lat, mpm) for d, lat, mpm in con.execute(
        "SELECT direction, latency_ms, ms_per_mb FROM transfer_models WHERE sweep_id = ?", (sweep,))}
    con.close()
    return tm


def out_mb(db, sweep, layer):
    """Megabytes (1e6 bytes) of a layer's output blob."""
    con = sqlite3.connect(db)
    x = con.execute("SELECT b.bytes FROM layers l JOIN sweeps s ON s.model_id = l.model_id JOIN blobs b ON"
                    " b.model_id = l.model_id AND b.name = l.tops WHERE s.id = ? AND l.name = ?",
                    (sweep, layer)).fetchone()
    con.close()
    return x[0] / 1e6 if x else None


def merge_bound(cpu, gpu, mb, tm):
    """The fastest any output-channel split could run, given the two
    devices' whole-layer times and the sweep's copy model: each part's
    compute exactly proportional to its channels, and the one copy a merge
    needs overlapped with the other part's compute (the GPU's channels to
    the host after it finishes, or the CPU's to the GPU). Returns (ms,
    GPU share). Where this exceeds the faster device's time, no split can
    beat that device unless a part runs faster than its share of the whole
    layer or a copy faster than the fitted model."""
    best = None
    for i in range(1, 1000):
        s = i / 1000.0
        d2h = tm["d2h"][0] + tm["d2h"][1] * mb * s
        h2d = tm["h2d"][0] + tm["h2d"][1] * mb * (1 - s)
        t = min(max(cpu * (1 - s), gpu * s + d2h), max(cpu * (1 - s) + h2d, gpu * s))
        if best is None or t < best[0]:
            best = (t, s)
    return best


def best_splits(srows, db, sweep):
    """Per layer of split_rows: CPU alone, GPU alone, the fastest measured
    split (0 < share < 1) and its share, what two devices sharing the work
    perfectly would take (1 / (1/cpu + 1/gpu)), the same with the merge's
    copy paid (merge_bound), and the split's speedup over the faster device
    alone (issue 4: it should exceed 1 on a large conv)."""
    tm = transfer_model(db, sweep)
    out = []
    for name in dict.fromkeys(r[0] for r in srows):
        pts = {r[1]: r[2] for r in srows if r[0] == name}
        inner = [(ms, s) for s, ms in pts.items() if 0 < s < 1]
        if 0.0 not in pts or 1.0 not in pts or not inner:
            continue
        ms, share = min(inner)
        cpu, gpu = pts[0.0], pts[1.0]
        mb = out_mb(db, sweep, name)
        bound = merge_bound(cpu, gpu, mb, tm) if mb is not None and "d2h" in tm and "h2d" in tm else None
        out.append({"layer": name, "cpu_ms": cpu, "gpu_ms": gpu, "split_ms": ms, "share": share,
                    "ideal_ms": 1 / (1 / cpu + 1 / gpu), "bound_ms": bound and bound[0],
                    "bound_share": bound and bound[1], "gain": min(cpu, gpu) / ms})
    return out


def counter_rows(db, sweep):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT l.name, c.event, c.value FROM counters c JOIN sweeps s ON s.id = c.sweep_id JOIN layers"
                       " l ON l.model_id = s.model_id AND l.idx = c.layer_idx WHERE c.sweep_id = ? AND c.value IS NOT"
                       " NULL ORDER BY c.layer_idx, c.event", (sweep,)).fetchall()
    con.close()
    return rows


def describe(p, cpu_cores):
    """The plan in a few words; `cpu_cores`: the CPU's cores where the plan
    names none (the study's --cpu-cores), so that two plans described alike
    ran alike."""
    m = p["mode"]
    if m == "single":
        cores = p.get("platform", {}).get("cpu_cores") or cpu_cores
        return "all on " + p["device"] + (", cores " + cores if p["device"] == "cpu" else "")
    if m == "pipeline":
        return " | ".join("%s..%s on %s" % (s["first"], s["last"],
                                            s["device"] if isinstance(s["device"], str) else "split %.2f" % s["device"])
                          for s in p["stages"])
    if m == "image-parallel":
        n_cpu = p["devices"].count("cpu")
        if n_cpu > 1:
            return "whole images on %d CPU lanes (cores %s)%s" % (n_cpu, p.get("platform", {}).get("cpu_cores", "?"),
                                                                " and the gpu" if "gpu" in p["devices"] else "")
        return "whole images on " + " and ".join(p["devices"])
    vals = list(p["layers"].values())
    n_gpu = sum(1 for v in vals if v == "gpu")
    n_split = sum(1 for v in vals if not isinstance(v, str))
    return "%d of %d layers on gpu, %d split" % (n_gpu, len(vals), n_split)


def study_model(a, tools, model, out, db):
    proto, name = model_path(a.shared, model), model_name(model)
    mdir = os.path.join(out, name)
    os.makedirs(os.path.join(mdir, "plans"), exist_ok=True)
    log("%s: sweep (%s)" % (name, proto))
    t0 = time.time()
    # Measured again unless resuming: a sweep already in the database may
    # come from older tools (it would be reused silently).
    again = [] if a.resume else ["--force"]
    sweep_cmd = ("hetprof", "sweep", "--model", proto, "--db", db, *tools.cores, *a.sweep_args.split())
    tools.run(*sweep_cmd, *again, show=not a.quiet)
    # The model's hash, from a one-image run (it selects the sweep).
    js = os.path.join(mdir, "plans", ".hash.json")
    tools.run("hetrun", "--model", proto, "--images", "1", "--warmup", "0", "--top", "0", "-q", "--json", js)
    first = json.load(open(js))
    model_hash = first["model_hash"]
    os.remove(js)
    sweep = latest_sweep(db, model_hash)
    # A sweep during which a device's speed moved (hetprof's drift note)
    # prices every plan at a mixture of speeds: measured again, in place,
    # up to --resweeps times (not when resuming, which keeps what is there).
    # On the build machine the flagged sweeps were the ones with the
    # largest raw errors (GoogLeNet: CPU bursts 32.7, 47.3, 47.5 ms). Only
    # the whole network's bursts count ("the network moved"): the GPU's
    # stream on the H100 moved 1.2-1.5x in every sweep, again after each
    # sweep done again, and the replays measure it each round anyway.
    moved = []
    while not a.resume and len(moved) < a.resweeps:
        notes = network_drift(drift_notes(db, sweep))
        if not notes:
            break
        moved.append(notes)
        log("%s: the machine's speed moved during sweep %d (%s); sweeping again (%d of at most %d)" % (
            name, sweep, "; ".join("%s: %s" % (d, n) for d, n in moved[-1]), len(moved), a.resweeps))
        tools.run(*sweep_cmd, "--force", show=not a.quiet)
    sweep_s = time.time() - t0
    # One plan per mode.
    plans = {}
    for key, label, how in MODES:
        path = os.path.join(mdir, "plans", key + ".json")
        if how.get("lanes"):
            # The CPU alone for throughput as several lanes, each the CPU
            # backend on its own cores and images: lanes of two cores (of
            # one on fewer than 4), every core. Measured, not priced.
            cores = sorted(os.sched_getaffinity(0))
            k = len(cores) // 2 if len(cores) >= 4 else len(cores)
            p = {"het_plan": 1, "model_hash": model_hash, "mode": "image-parallel", "devices": ["cpu"] * k,
                 "platform": {"cpu_cores": ",".join(map(str, cores))}}
            json.dump(p, open(path, "w"), indent=1)
        elif "single" in how:
            ms = network_ms(db, sweep, how["single"])
            p = {"het_plan": 1, "model_hash": model_hash, "mode": "single", "device": how["single"]}
            if how.get("every_core"):
                # Every core this process may use, as the sweep's baseline had.
                base = cpu_baseline(db, sweep)
                p["platform"] = {"cpu_cores": base[1] if base else ",".join(map(str, sorted(os.sched_getaffinity(0))))}
                ms = base[0] if base else None
            if ms:
                p["predicted"] = {"objective": "latency", "latency_ms": ms, "images_per_s": 1000.0 / ms,
                                  "from": "the sweep's whole-network measurement", "sweep": sweep}
            json.dump(p, open(path, "w"), indent=1)
        else:
            k = a.max_stages if how.get("stages") == "K" else how.get("stages", 2)
            t = time.time()
            tools.run("hetpart", "solve", "--db", db, "--model", proto, "--sweep", sweep, "--objective",
                      how["objective"], "--modes", how["modes"], "--min-stages", how.get("min_stages", 1),
                      "--max-stages", k, "--out", path)
            log("%s: solved %s in %.2f s" % (name, key, time.time() - t))
        plans[key] = json.load(open(path))
    # hetpart's choice for each objective: the best prediction among the
    # solved modes, which is what `hetpart solve` over those modes returns.
    # (Not a solve over every mode at once: pipelines with split stages make
    # the pipeline search slow on large networks; see docs/hetpart.md.)
    pred = lambda k, f: plans[k].get("predicted", {}).get(f)
    solved = list(SOLVED)
    picks = {"latency": min((k for k in solved if MODES_BY_KEY[k]["objective"] == "latency"),
                            key=lambda k: pred(k, "latency_ms")),
             "throughput": max(solved, key=lambda k: pred(k, "images_per_s"))}
    sweep_stream = gpu_stream(db, sweep)
    stream_plan = None
    if sweep_stream and sweep_stream[1] > 1:
        # The GPU's best for throughput where it runs images at once: a
        # baseline row, and the recalibration's reference for plans that
        # stream the GPU.
        stream_plan = os.path.join(mdir, "plans", "gpu-stream.json")
        json.dump({"het_plan": 1, "model_hash": model_hash, "mode": "image-parallel", "devices": ["gpu"],
                   "predicted": {"objective": "throughput", "latency_ms": network_ms(db, sweep, "gpu"),
                                 "images_per_s": 1000.0 / sweep_stream[0], "sweep": sweep,
                                 "from": "the sweep's stream measurement"}},
                  open(stream_plan, "w"), indent=1)
        items = list(plans.items())
        plans = dict(items[:3] + [("gpu-stream", json.load(open(stream_plan)))] + items[3:])
    stream_ips = []

    def replay(path, *extra, cores=True):
        """One hetrun replay of plan `path` (the study's images, repeats and,
        unless the plan names its own, cores): its --json summary."""
        js = os.path.join(mdir, "plans", ".run.json")
        tools.run("hetrun", "--model", proto, "--plan", path, "--images", a.images, "--repeat", a.repeat,
                  "--warmup", a.warmup, "--top", "0", "-q", "--json", js, *(tools.cores if cores else tools.gpu),
                  *extra)
        s = json.load(open(js))
        os.remove(js)
        return s

    # The peer a user would run instead on the CPU: OpenCV DNN on every
    # core, the same weights and input, where this Python has cv2.
    peer = opencv_peer(a, tools, proto, mdir, first.get("input", {}).get("shape")) if a.peers else None

    # Replays, the modes alternating within each repetition.
    keys = list(plans) + (["opencv"] if peer else [])
    meas = {k: [] for k in keys}
    steal = {k: [] for k in keys}
    recal = {k: [] for k in keys}
    for rep in range(a.reps):
        for k in keys:
            c0 = cpu_jiffies()
            if k == "opencv":
                ms = peer(a.images)
                steal[k].append(steal_share(c0, cpu_jiffies()))
                meas[k].append((1000.0 / ms, ms))
                continue
            extra = ["--db", db]
            if plans[k]["mode"] in STREAMED and rep == a.reps - 1:
                extra += ["--timeline", os.path.join(mdir, "timeline_%s.csv" % k)]
            # The CPU alone on every core runs on the cores its plan names.
            s = replay(os.path.join(mdir, "plans", k + ".json"), *extra, cores=k not in EVERY_CORE)
            steal[k].append(steal_share(c0, cpu_jiffies()))
            lat = s["latency_ms"].get("p50", s["latency_ms"].get("median"))
            meas[k].append((s["images_per_s"], lat))
        if stream_plan:
            stream_ips.append(meas["gpu-stream"][-1][0])
        # The cost model again, calibrated to this round's CPU and GPU alone:
        # what it predicts when the machine's present speed is known, so its
        # own error shows apart from the drift since the sweep.
        for k in keys:
            if k not in SOLVED:
                continue
            path = os.path.join(mdir, "plans", k + ".json")
            now = ["--gpu-stream-ms", "%.6f" % (1000.0 / stream_ips[-1])] if stream_plan else []
            js = json.loads(tools.run("hetpart", "predict", "--db", db, "--model", proto, "--sweep", sweep,
                                      "--plan", path, "--json", "--cpu-ms", "%.6f" % meas["cpu"][-1][1],
                                      "--gpu-ms", "%.6f" % meas["gpu"][-1][1], *now))
            recal[k].append((js["images_per_s"], (js["images_per_s"] - meas[k][-1][0]) / meas[k][-1][0]))
        log("%s: replays %d/%d done (%s)" % (name, rep + 1, a.reps, ", ".join(
            "%s %.1f/s" % (k, meas[k][-1][0]) for k in keys)))
    if peer:
        peer.remove()
    # The table.
    rows = []
    for k in keys:
        label = LABELS[k]
        ips = statistics.median(x[0] for x in meas[k])
        lat = statistics.median(x[1] for x in meas[k])
        pr = plans[k].get("predicted", {}) if k in plans else {}
        rows.append({"key": k, "label": label, "images": a.images, "plan_mode": plans[k]["mode"] if k in plans else "peer",
                     "plan": describe(plans[k], a.cpu_cores) if k in plans else peer.what,
                     "measured_ips": ips, "measured_latency_ms": lat,
                     "predicted_ips": pr.get("images_per_s"), "predicted_latency_ms": pr.get("latency_ms"),
                     "ips_runs": " ".join("%.2f" % x[0] for x in meas[k]),
                     "steal_runs": " ".join("-" if x is None else "%.1f" % (x * 100) for x in steal[k]),
                     # Per round: the recalibrated prediction and its error; the median of each.
                     "recal_ips": statistics.median(x[0] for x in recal[k]) if recal[k] else None,
                     "recal_error": statistics.median(x[1] for x in recal[k]) if recal[k] else None})
    # Each device at its best for throughput (the CPU on every core; the
    # GPU one image at a time or streaming, whichever measured faster), and
    # the best device alone for each objective: what every mode is set
    # against, and what the bound is built from.
    by = {r["key"]: r for r in rows}
    cpu_ips = max(by[k]["measured_ips"] for k in ("cpu-all", "cpu-lanes") if k in by)
    gpu_ips = max(by[k]["measured_ips"] for k in ("gpu", "gpu-stream") if k in by)
    best_lat = min(by[k]["measured_latency_ms"] for k in ("cpu-all", "gpu"))
    best_ips = max(by[k]["measured_ips"] for k in SINGLE if k in by)
    for r in rows:
        r["vs_cpu"] = r["measured_ips"] / cpu_ips
        r["vs_gpu"] = r["measured_ips"] / gpu_ips
        r["vs_best_ips"] = r["measured_ips"] / best_ips
        r["vs_best_latency"] = best_lat / r["measured_latency_ms"]
        r["vs_bound"] = r["measured_ips"] / (cpu_ips + gpu_ips)
        r["objective"] = MODES_BY_KEY.get(r["key"], {}).get("objective", "")
        p = r["predicted_ips"]
        r["ips_error"] = (p - r["measured_ips"]) / r["measured_ips"] if p else None
    fields = ["key", "label", "objective", "images", "plan_mode", "plan", "predicted_ips", "measured_ips", "ips_error",
              "predicted_latency_ms", "measured_latency_ms", "vs_cpu", "vs_gpu", "vs_best_ips", "vs_best_latency",
              "vs_bound", "ips_runs", "recal_ips", "recal_error", "steal_runs"]
    write_csv(os.path.join(mdir, "modes.csv"), fields, [[r[f] if r[f] is not None else "" for f in fields]
                                                         for r in rows])
    sfile = os.path.join(mdir, "gpu_stream.csv")
    if stream_plan:
        write_csv(sfile, ["round", "images_per_s", "ms_per_image", "sweep_ms_per_image"],
                  [[i + 1, x, 1000.0 / x, sweep_stream[0]] for i, x in enumerate(stream_ips)])
    elif os.path.exists(sfile):
        os.remove(sfile)
    write_csv(os.path.join(mdir, "layers.csv"), ["idx", "unit", "kind", "cpu_ms", "gpu_ms", "gflop"],
              [[x if x is not None else "" for x in r] for r in layer_rows(db, sweep)])
    split_layers = plans["split"].get("layers", {})
    srows = split_rows(db, sweep, split_layers, a.split_layers)
    write_csv(os.path.join(mdir, "splits.csv"), ["layer", "gpu_share", "wall_ms", "chosen_share"], srows)
    cr = counter_rows(db, sweep)
    if cr:
        write_csv(os.path.join(mdir, "counters.csv"), ["layer", "event", "value"], cr)
    elif os.path.exists(os.path.join(mdir, "counters.csv")):
        os.remove(os.path.join(mdir, "counters.csv"))
    return {"name": name, "proto": proto, "hash": model_hash, "sweep": sweep, "sweep_s": sweep_s, "rows": rows,
            "picks": picks, "counters": bool(cr), "splits": best_splits(srows, db, sweep),
            "stream": (stream_ips, sweep_stream[0]) if stream_plan else None, "drift": drift_notes(db, sweep), "moved": moved}


def fmt(x, f="%.1f"):
    return "-" if x is None else f % x


def verdict(rows):
    """One line per objective: the best plan that uses both devices against
    the best device alone, said plainly when none beats it."""
    L = []
    for obj, col, better in (("latency", "measured_latency_ms", min), ("throughput", "measured_ips", max)):
        # One image at a time for latency; lanes and streams too for a rate.
        single = [r for r in rows if r["key"] in (SINGLE if obj == "throughput" else ("cpu-all", "gpu"))]
        # The solved modes whose plan uses both devices (a mode may solve to
        # one device alone: it is then no heterogeneous plan).
        cands = [r for r in rows if r["objective"] == obj and r["plan_mode"] != "single"]
        if not cands:
            L.append("%s: every solved plan runs on one device alone; the best device alone is %s." % (
                obj.capitalize(), better(single, key=lambda r: r[col])["label"]))
            continue
        b, s = better(cands, key=lambda r: r[col]), better(single, key=lambda r: r[col])
        ratio = b["vs_best_latency"] if obj == "latency" else b["vs_best_ips"]
        unit = "ms" if obj == "latency" else "images/s"
        if ratio > 1:
            L.append("%s: the best plan that uses both devices, %s, measured %.2fx the best device alone (%s, "
                     "%.3f %s)." % (obj.capitalize(), b["label"], ratio, s["label"], s[col], unit))
        else:
            L.append("%s: no plan that uses both devices beat the best device alone, %s (%.3f %s); the best of them, "
                     "%s, measured %.2fx it." % (obj.capitalize(), s["label"], s[col], unit, b["label"], ratio))
    peer = next((r for r in rows if r["key"] == "opencv"), None)
    if peer:
        L.append("The peer, %s: %.1f images/s, %.3f ms an image." % (peer["plan"], peer["measured_ips"],
                                                                    peer["measured_latency_ms"]))
    return [" ".join(L), ""] if L else []


def summary_md(a, out, machine, results, elapsed, db):
    L = ["# het study: %s" % a.platform, "",
         "Generated by `experiments/study.py` on %s (tools built from git %s), %.0f s in all." % (
             time.strftime("%Y-%m-%d %H:%M"), git_rev(db), elapsed), "",
         "```", machine.strip(), "```", "",
         "Command: `%s`" % " ".join(["experiments/study.py"] + sys.argv[1:]), "",
         "Each mode's plan was replayed over %d images%s, %d times with the modes alternating; the median run is "
         "shown. Predicted: hetpart's cost model (CPU and GPU alone: the sweep's whole-network measurement). "
         "Error: (predicted - measured) / measured images/s. Recalibrated: the same cost model with each device's "
         "layer times scaled to the CPU-alone and GPU-alone latency measured in the same round (`hetpart predict "
         "--cpu-ms --gpu-ms`; where the GPU streams images, its stream too, replayed alone in the same round: "
         "`--gpu-stream-ms`), the median over rounds; it separates the model's error from the machine's drift "
         "since the sweep, and CPU and GPU alone, its calibration points, are left out of it. Every mode is set "
         "against the best device alone, measured in the same rounds: the CPU backend on every core, one image at "
         "a time or in lanes (each lane the CPU backend on its own cores and images; measured, not predicted), the "
         "GPU one image at a time and, where it runs images at once, streaming; for latency the faster per image, for "
         "images/s the higher rate (a mode's objective says which column is its own). Bound: 1/T_cpu + 1/T_gpu "
         "images/s with each device at its best rate, what two devices that never wait could reach. The CPU on "
         "the plans' cores (the half a plan gives it) is the cost model's calibration point, not a baseline; the "
         "peer is what a user would run instead." % (
             a.images, " (each image, or each stream of them, %d times, measured over all)" % a.repeat
             if a.repeat > 1 else "", a.reps), ""]
    for res in results:
        rows = res["rows"]
        by = {r["key"]: r for r in rows}
        cpu = max(by[k]["measured_ips"] for k in ("cpu-all", "cpu-lanes") if k in by)
        gpu = max(by[k]["measured_ips"] for k in ("gpu", "gpu-stream") if k in by)
        L += ["## %s" % res["name"], "",
              "`%s`, model hash %s, sweep %d (%.0f s)." % (os.path.relpath(res["proto"], ROOT), res["hash"],
                                                         res["sweep"], res["sweep_s"]), "",
              "| mode | objective | plan | predicted img/s | measured img/s | error | error, recalibrated | "
              "latency ms (p50) | vs best single device, latency | vs best single device, img/s | of bound |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            mark = "".join(" (hetpart's %s pick)" % o for o, k in res["picks"].items() if k == r["key"])
            L.append("| %s%s | %s | %s | %s | %.1f | %s | %s | %.3f | %.2fx | %.2fx | %.0f%% |" % (
                r["label"], mark, r["objective"] or "-", r["plan"], fmt(r["predicted_ips"]), r["measured_ips"],
                fmt(r["ips_error"] and r["ips_error"] * 100, "%+.0f%%") if r["ips_error"] is not None else "-",
                fmt(r["recal_error"] * 100, "%+.0f%%") if r["recal_error"] is not None else "-",
                r["measured_latency_ms"], r["vs_best_latency"], r["vs_best_ips"], r["vs_bound"] * 100))
        L += [""] + verdict(rows)
        p2 = next(r for r in rows if r["key"] == "pipeline2")
        L += ["Two-group pipeline: %.2fx the GPU alone at its best and %.2fx the CPU alone at its best "
              "(thesis, Exynos 5422: %.2fx and %.2fx). "
              "Best possible with these two devices: %.2fx GPU alone and %.2fx CPU alone (1 + T_gpu/T_cpu and "
              "1 + T_cpu/T_gpu); the pipeline reached %.0f%% of it." % (
                  p2["vs_gpu"], p2["vs_cpu"], THESIS["vs_gpu"], THESIS["vs_cpu"], 1 + cpu / gpu, 1 + gpu / cpu,
                  p2["vs_bound"] * 100), ""]
        if res["splits"]:
            L += ["Intra-layer split of the heaviest layers, one layer alone (the sweep's medians; a split's "
                  "time includes bringing the GPU's channels to the host):", "",
                  "| layer | CPU ms | GPU ms | best split ms (GPU share) | ideal ms | best possible ms, merge paid "
                  "(GPU share) | vs faster device | best possible vs faster device |",
                  "|---|---|---|---|---|---|---|---|"]
            for s in res["splits"]:
                fast = min(s["cpu_ms"], s["gpu_ms"])
                L.append("| %s | %.3f | %.3f | %.3f (%.2f) | %.3f | %s | %.2fx | %s |" % (
                    s["layer"], s["cpu_ms"], s["gpu_ms"], s["split_ms"], s["share"], s["ideal_ms"],
                    "%.3f (%.2f)" % (s["bound_ms"], s["bound_share"]) if s["bound_ms"] else "-", s["gain"],
                    "%.2fx" % (fast / s["bound_ms"]) if s["bound_ms"] else "-"))
            L += ["", "Ideal: 1 / (1/CPU + 1/GPU), both devices busy all the time and nothing else paid. Best "
                  "possible, merge paid: the same with the one copy a merge needs (the sweep's fitted transfer "
                  "model), overlapped with the other device's part. Where even that is slower than the faster "
                  "device, no split whose parts each take at least their share of the whole layer can beat it "
                  "(docs/study.md).", ""]
        for key, what in (("ips_error", "Prediction error of the solved plans (|error|, images/s)"),
                          ("recal_error", "Recalibrated")):
            errs = [abs(r[key]) for r in rows if r["key"] in SOLVED and r[key] is not None]
            if errs:
                L += ["%s: median %.0f%%, max %.0f%%." % (what, statistics.median(errs) * 100, max(errs) * 100), ""]
        for i, notes in enumerate(res["moved"]):
            L += ["Swept again (%s of at most %d, `--resweeps`): in the sweep before, %s." % (
                i + 1, a.resweeps, "; ".join("the whole network on the %s: %s" % (d.upper(), n) for d, n in notes)), ""]
        for dev, note in res["drift"]:
            L += ["The sweep's whole network on the %s: %s (hetprof's warning: the machine's speed moved while it "
                  "was measured, and the predictions carry it)." % (dev.upper(), note), ""]
        if res["stream"]:
            ips, sweep_ms = res["stream"]
            L += ["GPU alone streaming (two images in flight; a baseline, and the recalibration's reference for "
                  "plans that stream the GPU): median %.1f images/s (runs %s); the sweep's stream: %.1f images/s." % (
                      statistics.median(ips), " ".join("%.1f" % x for x in ips), 1000.0 / sweep_ms), ""]
        st = [float(x) for r in rows for x in r["steal_runs"].split() if x != "-"]
        if st:
            worst = max(((float(x), r["key"], i + 1) for r in rows for i, x in enumerate(r["steal_runs"].split())
                         if x != "-"))
            L += ["CPU time the hypervisor gave to other guests during the replays (/proc/stat steal): median "
                  "%.1f%%, max %.1f%%%s." % (statistics.median(st), worst[0],
                                            " (%s, round %d)" % worst[1:] if worst[0] > 0 else ""), ""]
        if not res["counters"]:
            L += ["No PAPI counters on this machine (see the sweeps table's counters_note).", ""]
    L += all_models_errors(results)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(L))


def nearest_rank(values, q):
    """The q-quantile by nearest rank (the 90th percentile of 20 values is the 18th)."""
    v = sorted(values)
    return v[max(0, math.ceil(q * len(v)) - 1)]


def all_models_errors(results):
    """The issue's measure over every model at once: |error| of the solved
    plans (every mode but CPU and GPU alone), median and 90th percentile."""
    L = []
    for key, what in (("ips_error", "raw"), ("recal_error", "recalibrated")):
        errs = [abs(r[key]) for res in results for r in res["rows"] if r["key"] in SOLVED and r[key] is not None]
        if errs:
            L.append("- %s: median %.1f%%, 90th percentile %.1f%%, max %.1f%% (%d plans)" % (
                what, statistics.median(errs) * 100, nearest_rank(errs, 0.9) * 100, max(errs) * 100, len(errs)))
    if not L:
        return []
    return ["## All models", "", "Prediction error of the solved plans, |predicted - measured| / measured images/s "
            "(goal: median at most 5%, 90th percentile at most 10%):", ""] + L + [""] + replay_noise(results)


def replay_noise(results):
    """How far the measurement itself moves, which no prediction can beat:
    each plan's rounds, (max - min) / median, and the medians of two modes
    that replayed the same plan in the same rounds (a K-stage pipeline that
    solved to the two-group one, say)."""
    spreads = []
    for res in results:
        for r in res["rows"]:
            runs = [float(x) for x in r["ips_runs"].split()]
            if len(runs) > 1 and r["measured_ips"] > 0:
                spreads.append((max(runs) - min(runs)) / r["measured_ips"])
    if not spreads:
        return []
    L = ["Replay noise, the floor under any prediction's error:", "",
         "- one plan's rounds, (max - min) / median: median %.0f%%, max %.0f%% (%d plans, CPU and GPU alone included)" % (
             statistics.median(spreads) * 100, max(spreads) * 100, len(spreads))]
    for res in results:
        same = {}
        for r in res["rows"]:
            same.setdefault((r["plan_mode"], r["plan"]), []).append(r)
        for group in same.values():
            if len(group) < 2:
                continue
            ips = [r["measured_ips"] for r in group]
            names = [r["label"] for r in group]
            L.append("- %s: %s replayed the same plan: %s images/s (%.0f%% apart)" % (
                res["name"], ", ".join(names[:-1]) + " and " + names[-1], ", ".join("%.1f" % x for x in ips),
                (max(ips) - min(ips)) / min(ips) * 100))
    return L + [""]


def cpu_jiffies():
    """(steal, total) of the machine's CPU time so far, from /proc/stat's
    first line, or None where there is none (not Linux)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice]:
    # guest time is counted in user already.
    return (v[7] if len(v) > 7 else 0, sum(v[:8]))


def steal_share(a, b):
    """The share of the machine's CPU time between two cpu_jiffies() that the
    hypervisor gave to other guests (0 where it reports none), or None."""
    if a is None or b is None or b[1] <= a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def git_rev(db):
    """The revision the tools were built from, as they recorded it in the
    runs (a bundle has no repository, and a checkout may be ahead of its
    build)."""
    try:
        con = sqlite3.connect(db)
        row = con.execute("SELECT git_rev FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        con.close()
        return row[0] if row else "unknown"
    except sqlite3.Error:
        return "unknown"


def machine_text(tools, a):
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "\n".join([
        "platform: %s" % a.platform,
        "cpu: %s, %d cores online (%s)" % (cpu, os.cpu_count(), pyplatform.machine()),
        "core sets: cpu backend %s, OpenCL host threads %s" % (a.cpu_cores, a.gpu_cores),
        "opencl devices:", tools.run("hetrun", "--list-gpus").rstrip(),
        "OPENBLAS_CORETYPE: unset for the study (was %s)" % os.environ.get("OPENBLAS_CORETYPE", "unset"), ""])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platform", default=platform_slug(),
                    help="name of the results folder, results/PLATFORM (default: %(default)s)")
    ap.add_argument("--out", help="results folder (default results/PLATFORM)")
    ap.add_argument("--models", default="squeezenet_v1.1,squeezenet_v1.0",
                    help="comma-separated names under ../shared/models or models/, or .prototxt paths "
                         "(default %(default)s)")
    ap.add_argument("--images", type=int, default=100, help="images per replay (default %(default)s)")
    ap.add_argument("--reps", type=int, default=3, help="replays of each mode, alternating (default %(default)s)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed images before each replay (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="hetrun --repeat of each replay: every image (streams: every stream of --images) that "
                         "many times, measured over all (default %(default)s)")
    ap.add_argument("--max-stages", type=int, default=3, help="K of the best K-stage pipeline (default %(default)s)")
    ap.add_argument("--split-layers", type=int, default=4, help="layers in the split-curve figure (default 4)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the sweeps' measurements already in the database (an interrupted study); "
                         "by default every model is measured again")
    ap.add_argument("--resweeps", type=int, default=1,
                    help="sweep a model again, up to N times, while hetprof says a device's whole network moved "
                         "during its sweep (default %(default)s; 0: never)")
    ap.add_argument("--no-peers", dest="peers", action="store_false",
                    help="leave out the peer a user would run instead (OpenCV DNN on the CPU)")
    ap.add_argument("--sweep-args", default="", help="extra hetprof sweep options, e.g. '--reps 10 --ratios 0.5'")
    ap.add_argument("--cpu-cores", help="cores of the CPU backend, every mode (default: the first half)")
    ap.add_argument("--gpu-cores", help="cores of the OpenCL host threads, every mode (default: the second half)")
    ap.add_argument("--gpu", help="OpenCL device, index or name substring (hetrun --list-gpus)")
    # build/bin in a checkout, bin/ in a bundle (scripts/bundle.sh)
    own_bin = os.path.join(ROOT, "build", "bin")
    ap.add_argument("--bin", default=own_bin if os.path.isdir(own_bin) else os.path.join(ROOT, "bin"),
                    help="where hetrun, hetprof and hetpart are (default %(default)s)")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"), help="the shared models and images")
    ap.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    ap.add_argument("-q", "--quiet", action="store_true", help="no sweep progress")
    a = ap.parse_args()
    if a.images < 1 or a.reps < 1 or a.repeat < 1 or a.max_stages < 1 or a.warmup < 0 or a.resweeps < 0:
        fail("--images, --reps, --repeat and --max-stages must be at least 1, --warmup and --resweeps at least 0")
    if not re.fullmatch(r"[A-Za-z0-9._+-]+", a.platform):
        fail("--platform %r: use letters, digits and . _ + - (it names a folder)" % a.platform)
    for t in ("hetrun", "hetprof", "hetpart"):
        if not os.access(os.path.join(a.bin, t), os.X_OK):
            fail("%s/%s not found: build first (make build) or give --bin" % (a.bin, t))
    dc, dg = default_core_sets()
    a.cpu_cores, a.gpu_cores = a.cpu_cores or dc, a.gpu_cores or dg
    out = a.out or os.path.join(ROOT, "results", a.platform)
    os.makedirs(out, exist_ok=True)
    env = bench_env()
    tools = Tools(a, env)
    tools.stop_on_term()
    t0 = time.time()
    machine = machine_text(tools, a)
    open(os.path.join(out, "machine.txt"), "w").write(machine)
    log("platform %s -> %s" % (a.platform, out))
    db = os.path.join(out, "het.db")
    names = [m for m in a.models.split(",") if m]
    results = []
    for i, name in enumerate(names):
        log("model %d/%d: %s" % (i + 1, len(names), name))
        results.append(study_model(a, tools, name, out, db))
        summary_md(a, out, machine, results, time.time() - t0, db)  # kept current: an interrupted study keeps its models
    tools.run("hetprof", "export", "--db", db, "--csv", os.path.join(out, "csv"))
    summary_md(a, out, machine, results, time.time() - t0, db)
    log("summary: %s" % os.path.join(out, "summary.md"))
    if not a.no_figures:
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "plots", "figures.py"), "--results", out])
        if r.returncode:
            fail("drawing the figures failed")
    log("done in %.0f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
