#!/usr/bin/python3
"""hetpart end to end: solve from a real sweep, the plan replays in hetrun
with the prediction recorded next to the measurement, explain, and one
clear line for each bad input. (The solvers' optimality is checked against
brute force in tests/unit/test_partition.c.)
usage: test_hetpart.py HETPART HETPROF HETRUN SOURCE_DIR WORKDIR
"""
import json
import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import TINY_MODEL, check, finish, one_line_error, run, write_tiny_model  # noqa: E402

HETPART, HETPROF, HETRUN, SRC, WORK = sys.argv[1:6]
# A fresh folder: a file an earlier run left would pass for this run's.
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def out(name):
    return os.path.join(WORK, name)


MODEL = write_tiny_model(out("tiny.prototxt"))
OTHER = write_tiny_model(out("other.prototxt"),
                         TINY_MODEL.replace("num_output: 8 kernel_size: 1", "num_output: 4 kernel_size: 1"))
DB = out("het.db")
for db in (DB, out("runs.db")):  # left by an earlier run of this test
    for s in ("", "-wal", "-shm"):
        if os.path.exists(db + s):
            os.remove(db + s)
r = run(HETPROF, "sweep", "--model", MODEL, "--db", DB, "--ratios", "0.25,0.5,0.75", "--reps", "6", "--min-reps", "3",
        "--max-time", "0.05", "-q")
check(r.returncode == 0, "sweep for the partitioner: %s" % r.stderr[-500:])

for obj in ("latency", "throughput"):
    plan = out("plan_%s.json" % obj)
    r = run(HETPART, "solve", "--db", DB, "--model", MODEL, "--objective", obj, "--out", plan)
    check(r.returncode == 0 and os.path.exists(plan), "solve %s: %s %s" % (obj, r.stdout, r.stderr))
    if r.returncode:
        continue
    p = json.load(open(plan))
    pred = p.get("predicted", {})
    check(p.get("het_plan") == 1 and pred.get("latency_ms", 0) > 0 and pred.get("images_per_s", 0) > 0,
          "%s plan carries its prediction: %r" % (obj, pred))
    r = run(HETRUN, "--model", MODEL, "--plan", plan, "--images", 20, "-q", "--db", out("runs.db"))
    check(r.returncode == 0 and "predicted by hetpart" in r.stdout, "hetrun replays the %s plan: %s" % (obj, r.stderr[-300:]))
    # Into the sweep's own database, the run names the sweep and objective;
    # into another (runs.db holds no sweep), the sweep stays NULL.
    r = run(HETRUN, "--model", MODEL, "--plan", plan, "--images", 2, "-q", "--db", DB)
    con = sqlite3.connect(DB)
    row = con.execute("SELECT mode, device, objective, sweep_id FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    con.close()
    devs = "cpu+gpu" if p.get("mode") in ("mapping", "split", "pipeline") or p.get("devices") == ["cpu", "gpu"] else None
    check(r.returncode == 0 and row[0] == p["mode"] and row[2] == obj and row[3] == pred.get("sweep")
          and (devs is None or row[1] == devs), "the run row of the %s plan: %r" % (obj, row))
    con = sqlite3.connect(out("runs.db"))
    check(con.execute("SELECT objective, sweep_id FROM runs ORDER BY id DESC LIMIT 1").fetchone() == (obj, None),
          "a run into a database without the plan's sweep records no sweep")
    con.close()
    r = run(HETPART, "explain", plan)
    check(r.returncode == 0 and "predicted" in r.stdout, "explain %s: %s" % (obj, r.stderr))
    if p.get("mode") != "image-parallel":
        check(all(n in r.stdout for n in ("conv1+relu1", "cat", "prob")), "explain lists the layers: %s" % r.stdout)
# The obvious run is a candidate: where the CPU alone on every core (the
# sweep's baseline) is faster than every plan, it is the answer, as a plan
# on those cores; else the answer says by how much it is predicted to beat it.
ALLC = sorted(os.sched_getaffinity(0))
con = sqlite3.connect(DB)
real = con.execute("SELECT median_ms FROM baselines WHERE device = 'cpu'").fetchone()[0]
for fake, wins in ((1e-6, True), (1e6, False)):
    con.execute("UPDATE baselines SET median_ms = ? WHERE device = 'cpu'", (fake,))
    con.commit()
    for obj in ("latency", "throughput"):
        plan = out("base_%s.json" % obj)
        r = run(HETPART, "solve", "--db", DB, "--model", MODEL, "--objective", obj, "--out", plan)
        p = json.load(open(plan)) if r.returncode == 0 else {}
        cores = p.get("platform", {}).get("cpu_cores", "")
        named = [int(c) for part in cores.split(",") if part for c in
                 (range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1))]
        ex = run(HETPART, "explain", plan).stdout
        if wins:
            check(p.get("mode") == "single" and p.get("device") == "cpu" and named == ALLC
                  and "no plan is predicted to beat the CPU alone" in r.stdout and "this plan is that run" in ex,
                  "%s: the CPU alone on every core wins when it is fastest: %r %s %s" % (obj, p.get("platform"),
                                                                                        r.stdout, ex))
        else:
            check(r.returncode == 0 and p.get("predicted", {}).get("cpu_alone", {}).get("speedup", 0) > 1e3
                  and "x the CPU alone on cores" in r.stdout, "%s: the margin over the CPU alone is said: %s"
                  % (obj, r.stdout))
    # A narrowed plan space (--modes) keeps its mode; the baseline is only weighed.
    r = run(HETPART, "solve", "--db", DB, "--model", MODEL, "--objective", "throughput", "--modes", "pipeline")
    check(r.returncode == 0 and ("pipeline plan" in r.stdout or "single plan" in r.stdout) and "no plan is" not in r.stdout,
          "--modes pipeline is answered within pipelines: %s" % r.stdout)
con.execute("UPDATE baselines SET median_ms = ? WHERE device = 'cpu'", (real,))
con.commit()
con.close()

# Exactly two stages (the thesis' two layer groups), even if fewer were better.
plan = out("plan_two.json")
r = run(HETPART, "solve", "--db", DB, "--model", MODEL, "--objective", "throughput", "--modes", "pipeline",
        "--min-stages", 2, "--max-stages", 2, "--out", plan)
p = json.load(open(plan)) if r.returncode == 0 else {}
check(p.get("mode") == "pipeline" and len(p.get("stages", [])) == 2 and
      len(p["predicted"].get("stage_ms", [])) == 2, "--min-stages 2 --max-stages 2: two stages: %r %s" % (p, r.stderr))

# predict: the cost model on a plan read back from its file. On the solved
# plans it must give what the solver said (the pipeline's cost is computed
# by another path than the solver's); on hand-written single-device plans,
# the sweep's whole-network times (the calibration's definition), read here
# from the database; with --cpu-ms, that time instead.
solved = [out("plan_latency.json"), out("plan_throughput.json"), out("plan_two.json")]
for plan in solved:
    if not os.path.exists(plan):
        continue
    pred = json.load(open(plan))["predicted"]
    r = run(HETPART, "predict", "--db", DB, "--model", MODEL, "--plan", plan, "--json")
    got = json.loads(r.stdout) if r.returncode == 0 else {}
    close = all(abs(got.get(k, 0) - pred[k]) <= 1e-6 * pred[k] for k in ("latency_ms", "images_per_s"))
    if "stage_ms" in pred:
        close &= len(got.get("stage_ms", [])) == len(pred["stage_ms"]) and all(
            abs(a - b) <= 1e-6 * b for a, b in zip(got["stage_ms"], pred["stage_ms"]))
    check(close, "predict %s = what solve predicted: %r vs %r %s" % (os.path.basename(plan), got, pred, r.stderr))
model_hash = json.load(open(solved[0]))["model_hash"] if os.path.exists(solved[0]) else "0"


def hand_plan(name, body):
    path = out(name)
    body.update({"het_plan": 1, "model_hash": model_hash})
    with open(path, "w") as f:
        json.dump(body, f)
    return path


con = sqlite3.connect(DB)
net = dict(con.execute("SELECT device, median_ms FROM networks WHERE sweep_id = (SELECT MAX(id) FROM sweeps)"))
xm = {d: (lat, mpm) for d, lat, mpm in con.execute(
    "SELECT direction, latency_ms, ms_per_mb FROM transfer_models WHERE sweep_id = (SELECT MAX(id) FROM sweeps)")}
con.close()
# All on the GPU too: the sweep timed the network end to end, moving the
# input (3x32x32 floats) there and the output (16 floats) back, so the
# layers get what the fitted transfer model leaves of it (the fit can take
# at most half), and the plan predicts the measured network.
io = xm["h2d"][0] + 3 * 32 * 32 * 4 / 1e6 * xm["h2d"][1] + xm["d2h"][0] + 16 * 4 / 1e6 * xm["d2h"][1]
want = {"cpu": net["cpu"], "gpu": net["gpu"] if io < 0.5 * net["gpu"] else net["gpu"] + io}
for dev in ("cpu", "gpu"):
    r = run(HETPART, "predict", "--db", DB, "--model", MODEL, "--json",
            "--plan", hand_plan("all_%s.json" % dev, {"mode": "single", "device": dev}))
    got = json.loads(r.stdout).get("latency_ms", 0) if r.returncode == 0 else 0
    check(abs(got - want[dev]) <= 1e-6 * want[dev], "predict all on %s = the sweep's network: %g vs %g (transfers %g) %s"
          % (dev, got, want[dev], io, r.stderr))
# Image-parallel: each device's lane at its own rate, the GPU's as the sweep
# streamed it (network_streams, two images in flight), the CPU's image by
# image; --no-corun leaves out the co-run slowdowns. A sweep without the
# stream (a version 4 database) prices the GPU image by image.
con = sqlite3.connect(DB)
stream = con.execute("SELECT median_ms FROM network_streams WHERE device = 'gpu'").fetchone()
con.close()
ip = hand_plan("ip.json", {"mode": "image-parallel", "devices": ["cpu", "gpu"]})
r = run(HETPART, "predict", "--db", DB, "--model", MODEL, "--json", "--no-corun", "--plan", ip)
got = json.loads(r.stdout).get("images_per_s", 0) if r.returncode == 0 else 0
want = 1000 / net["cpu"] + 1000 / (stream[0] if stream else float("inf"))
check(stream is not None and abs(got - want) <= 1e-6 * want,
      "predict image-parallel = CPU network + GPU stream: %g vs %g %s" % (got, want, r.stderr))


def edited_db(name, sql, *params):
    """A copy of the sweep's database with one statement applied."""
    path = out(name)
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(DB)
    con.execute("VACUUM INTO ?", (path,))
    con.close()
    con = sqlite3.connect(path)
    con.execute(sql, params)
    con.commit()
    con.close()
    return path


# A sweep whose layer timings spread like a busy machine's (median CV over
# 10%): solve and show say it may not hold; the real sweep raises no such
# warning (the tiny model's timings may spread more than a real one's, so
# the quiet case is the one with every CV set low).
for cv, warns in ((0.5, True), (0.01, False)):
    edb = edited_db("cv%g.db" % cv, "UPDATE measurements SET cv = ?", cv)
    r = run(HETPART, "solve", "--db", edb, "--model", MODEL, "--objective", "latency")
    check(r.returncode == 0 and ("taken on a busy machine" in r.stderr) == warns,
          "solve %s a sweep with median CV %g: %s" % ("warns of" if warns else "is quiet about", cv, r.stderr))
    r = run(HETPROF, "show", "--db", edb)
    check(r.returncode == 0 and ("warning: sweep 1's layer timings spread 50.0%" in r.stdout) == warns
          and "median CV %.1f%%" % (cv * 100) in r.stdout, "show: the sweep's spread: %s" % r.stdout[-600:])
    r = run(HETPROF, "show", "--db", edb, "--json")
    q = json.loads(r.stdout)[0].get("quality", {}) if r.returncode == 0 else {}
    check(q.get("trusted") == (not warns) and abs(q.get("median_cv", 0) - cv) < 1e-9, "show --json quality: %r" % q)

NOSTREAM = edited_db("nostream.db", "DELETE FROM network_streams")
r = run(HETPART, "predict", "--db", NOSTREAM, "--model", MODEL, "--json", "--no-corun", "--plan", ip)
got = json.loads(r.stdout).get("images_per_s", 0) if r.returncode == 0 else 0
want = 1000 / net["cpu"] + 1000 / net["gpu"]
check(abs(got - want) <= 1e-6 * want, "predict image-parallel without a stream: GPU network %g vs %g %s"
      % (got, want, r.stderr))
# Co-run: the whole network's slowdowns (network_corun) apply to every
# unit of their device, a "speed-up" below 1 counting as none; the plan's
# prediction names them. --corun-per-layer, or a sweep without them (a
# version 5 database), falls back to the per-layer rows.
for name, cpu_f, gpu_f in (("corun_net.db", 2.0, 4.0), ("corun_net_low.db", 0.5, 3.0)):
    CORUN = edited_db(name, "UPDATE network_corun SET slowdown = CASE device WHEN 'cpu' THEN ? ELSE ? END", cpu_f, gpu_f)
    r = run(HETPART, "predict", "--db", CORUN, "--model", MODEL, "--json", "--plan", ip)
    res = json.loads(r.stdout) if r.returncode == 0 else {}
    want = 1000 / (net["cpu"] * max(cpu_f, 1.0)) + 1000 / (stream[0] * gpu_f)
    check(abs(res.get("images_per_s", 0) - want) <= 1e-6 * want and res.get("corun_network") == [cpu_f, gpu_f],
          "predict image-parallel with whole-network co-run %g, %g: %r vs %g %s" % (cpu_f, gpu_f, res, want, r.stderr))
# The GPU's stream slowed by its own factor where the sweep timed it.
STREAMED = edited_db("corun_stream.db", "UPDATE network_corun SET slowdown = CASE device WHEN 'cpu' THEN 2.0 ELSE 4.0 END, "
                     "stream_slowdown = CASE device WHEN 'gpu' THEN 6.0 END")
r = run(HETPART, "predict", "--db", STREAMED, "--model", MODEL, "--json", "--plan", ip)
res = json.loads(r.stdout) if r.returncode == 0 else {}
want = 1000 / (net["cpu"] * 2.0) + 1000 / (stream[0] * 6.0)
check(abs(res.get("images_per_s", 0) - want) <= 1e-6 * want,
      "predict image-parallel with the GPU's stream slowed 6x under load: %r vs %g %s" % (res, want, r.stderr))
r = run(HETPART, "solve", "--db", STREAMED, "--model", MODEL, "--objective", "throughput")
check(r.returncode == 0 and "gpu 4.00x, gpu streaming 6.00x" in r.stdout, "solve names the stream's factor: %s"
      % r.stdout[:400])
PER_LAYER = edited_db("corun_layers.db", "DELETE FROM network_corun")
per_layer = []
for db, extra in ((PER_LAYER, []), (CORUN, ["--corun-per-layer"])):
    r = run(HETPART, "predict", "--db", db, "--model", MODEL, "--json", "--plan", ip, *extra)
    res = json.loads(r.stdout) if r.returncode == 0 else {}
    per_layer.append((res.get("images_per_s"), "corun_network" in res))
check(per_layer[0][0] and per_layer[0] == per_layer[1] and not per_layer[0][1],
      "without network_corun, or with --corun-per-layer: the per-layer slowdowns: %r" % per_layer)
r = run(HETPART, "solve", "--db", CORUN, "--model", MODEL, "--objective", "throughput")
check(r.returncode == 0 and "co-run whole network: cpu 0.50x, gpu 3.00x" in r.stdout, "solve names the co-run factors: %s"
      % r.stdout[:400])
# A pipeline's GPU stage before the last keeps images in flight where the
# GPU runs them at once: priced at the stream's speed against the network
# (here made half) where the sweep streamed two in flight, image by image
# where it streamed one (PoCL), and never as the last stage.
stage_ms = {}
for in_flight in (1, 2):
    db = edited_db("stream%d.db" % in_flight, "UPDATE network_streams SET in_flight = ?, median_ms = ?", in_flight,
                   net["gpu"] / 2)
    for order in (("gpu", "cpu"), ("cpu", "gpu")):
        pl = hand_plan("%s_%s.json" % order, {"mode": "pipeline", "stages": [
            {"first": "conv1", "last": "b", "device": order[0]}, {"first": "cat", "last": "prob", "device": order[1]}]})
        r = run(HETPART, "predict", "--db", db, "--model", MODEL, "--json", "--no-corun", "--plan", pl)
        stage_ms[in_flight, order] = json.loads(r.stdout).get("stage_ms", []) if r.returncode == 0 else []
g1, g2 = stage_ms[1, ("gpu", "cpu")], stage_ms[2, ("gpu", "cpu")]
c1, c2 = stage_ms[1, ("cpu", "gpu")], stage_ms[2, ("cpu", "gpu")]
check(len(g1) == len(g2) == len(c1) == len(c2) == 2 and abs(g2[0] - g1[0] / 2) <= 1e-6 * g1[0]
      and abs(g2[1] - g1[1]) <= 1e-9 + 1e-6 * g1[1] and c1 == c2,
      "a GPU stage before the last at the stream's speed (two in flight) and not otherwise: %r" % stage_ms)
# --gpu-stream-ms: the stream measured later replaces the sweep's, in the
# image-parallel lane and in a GPU stage that streams (two in flight), also
# after --gpu-ms (which would scale the sweep's with the network).
s2 = out("stream2.db")
for extra in ([], ["--gpu-ms", "%g" % (net["gpu"] * 3)]):
    r = run(HETPART, "predict", "--db", DB, "--model", MODEL, "--json", "--no-corun", "--plan", ip,
            "--gpu-stream-ms", "0.125", *extra)
    got = json.loads(r.stdout).get("images_per_s", 0) if r.returncode == 0 else 0
    want = 1000 / net["cpu"] + 1000 / 0.125
    check(abs(got - want) <= 1e-6 * want, "predict image-parallel --gpu-stream-ms 0.125 %s: %g vs %g %s"
          % (extra, got, want, r.stderr))
r = run(HETPART, "predict", "--db", s2, "--model", MODEL, "--json", "--no-corun", "--plan", out("gpu_cpu.json"),
        "--gpu-stream-ms", "%.17g" % (net["gpu"] / 4))
got = json.loads(r.stdout).get("stage_ms", []) if r.returncode == 0 else []
check(len(got) == 2 and abs(got[0] - g1[0] / 4) <= 1e-6 * g1[0] and abs(got[1] - g1[1]) <= 1e-9 + 1e-6 * g1[1],
      "a streaming GPU stage at --gpu-stream-ms (a quarter of the network): %r vs %r" % (got, g1))
r = run(HETPART, "predict", "--db", DB, "--model", MODEL, "--json", "--cpu-ms", "7.25", "--plan", out("all_cpu.json"))
got = json.loads(r.stdout) if r.returncode == 0 else {}
check(abs(got.get("latency_ms", 0) - 7.25) < 1e-9 and abs(got.get("images_per_s", 0) - 1000 / 7.25) < 1e-6,
      "predict --cpu-ms 7.25 on the all-CPU plan: %r %s" % (got, r.stderr))
# A network time at least four times the fitted transfers, so that the fit
# holds them inside it whatever the load the sweep's transfers met.
gms = max(5.0, 4 * io)
r = run(HETPART, "predict", "--db", DB, "--model", MODEL, "--json", "--gpu-ms", "%.17g" % gms, "--plan",
        out("all_gpu.json"))
got = json.loads(r.stdout) if r.returncode == 0 else {}
check(abs(got.get("latency_ms", 0) - gms) < 1e-9 * gms, "predict --gpu-ms %g on the all-GPU plan: %g ms, its transfers "
      "(%g ms) inside: %r %s" % (gms, gms, io, got, r.stderr))
# Uncalibrated, the all-CPU plan is the sum of its units: their times inside
# the running network (network_units) by default, their times alone with
# --isolated; read here from the database.
con = sqlite3.connect(DB)
SW = con.execute("SELECT MAX(id) FROM sweeps").fetchone()[0]
in_net = con.execute("SELECT sum(median_ms), count(*) FROM network_units WHERE sweep_id = ? AND device = 'cpu'",
                     (SW,)).fetchone()
alone = con.execute("SELECT sum(m.median_ms) FROM network_units u JOIN measurements m ON m.sweep_id = u.sweep_id "
                    "AND m.layer_idx = u.layer_idx AND m.device = u.device AND m.fused = u.fused "
                    "WHERE u.sweep_id = ? AND u.device = 'cpu'", (SW,)).fetchone()[0]
con.close()
for flag, want_ms, n_ctx in (([], in_net[0], in_net[1]), (["--isolated"], alone, 0)):
    r = run(HETPART, "predict", "--db", DB, "--model", MODEL, "--json", "--no-calibration", *flag,
            "--plan", out("all_cpu.json"))
    got = json.loads(r.stdout) if r.returncode == 0 else {}
    check(in_net[1] > 0 and abs(got.get("latency_ms", 0) - want_ms) <= 1e-6 * want_ms
          and got.get("in_context_units") == [n_ctx, 0],
          "predict all on cpu %s, uncalibrated = its units' sum %g: %r %s" % (flag or "in context", want_ms, got, r.stderr))
r = run(HETPART, "predict", "--db", DB, "--model", MODEL, "--plan", out("plan_two.json"), "--cpu-ms", "1e3",
        "--gpu-ms", "1e3")
check(r.returncode == 0 and r.stdout.count("stage ") == 2, "predict prints a pipeline's stages: %s %s"
      % (r.stdout, r.stderr))

con = sqlite3.connect(out("runs.db"))
rows = con.execute("SELECT predicted_latency_ms, predicted_images_per_s, images_per_s FROM runs").fetchall()
con.close()
check(len(rows) == 2 and all(a > 0 and b > 0 and c > 0 for a, b, c in rows), "runs record predicted next to measured: %r" % rows)

r = run(HETPART, "--version")
check(r.returncode == 0 and r.stdout.startswith("hetpart "), "--version: %r" % r.stdout)

# Bad input: one line, non-zero exit, no plan written.
base = ["solve", "--db", DB, "--model", MODEL]
one_line_error(run(HETPART, *base, "--objective", "speed"), "unknown objective", "unknown objective 'speed'")
one_line_error(run(HETPART, *base), "no objective", "needs --objective")
one_line_error(run(HETPART, "solve", "--db", DB, "--model", OTHER, "--objective", "latency", "--out", out("x.json")),
               "model not in the database", "no CPU+GPU sweep")
check(not os.path.exists(out("x.json")), "no plan written for a model not in the database")
one_line_error(run(HETPART, *base, "--objective", "latency", "--platform", "Cray-1"), "another platform", "Cray-1")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--max-stages", "0"), "K < 1", "--max-stages")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--search-memory", "1"), "--search-memory 1",
               "--search-memory")
# The documented range of stages: more stages than the model has units are
# not searched for (test_partition checks the memory cap itself).
r = run(HETPART, *base, "--objective", "throughput", "--modes", "pipeline", "--max-stages", 64, timeout=120)
check(r.returncode == 0 and "plan: predicted" in r.stdout, "--max-stages 64: rc %d %r" % (r.returncode, r.stderr[-300:]))
one_line_error(run(HETPART, *base, "--objective", "latency", "--modes", "pipeline"), "infeasible constraint",
               "needs mapping or split")
one_line_error(run(HETPART, *base, "--objective", "latency", "--modes", "warp"), "unknown mode", "'warp'")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--modes", "pipeline", "--min-stages", 3,
                   "--max-stages", 2), "min > max stages", "--min-stages is larger")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--min-stages", 2), "min stages without pipeline only",
               "--modes pipeline alone")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--modes", "pipeline", "--min-stages", 9,
                   "--max-stages", 9), "more stages than units", "has 6 units")
one_line_error(run(HETPART, "solve", "--db", out("none.db"), "--model", MODEL, "--objective", "latency"),
               "missing database", "does not exist")
pbase = ["predict", "--db", DB, "--model", MODEL, "--plan"]
one_line_error(run(HETPART, *pbase, hand_plan("r03.json", {"mode": "split", "layers": {
    "conv1": 0.3, "relu1": 0.3, "a": "cpu", "b": "cpu", "cat": "cpu", "pool": "cpu", "prob": "cpu"}})),
    "predict: a ratio the sweep did not measure", "ratio 0.3 was not measured")
one_line_error(run(HETPART, *pbase, hand_plan("unfused.json", {"mode": "mapping", "layers": {
    "conv1": "gpu", "relu1": "cpu", "a": "cpu", "b": "cpu", "cat": "cpu", "pool": "cpu", "prob": "cpu"}})),
    "predict: a conv and its fused ReLU apart", "same device or ratio")
one_line_error(run(HETPART, "predict", "--db", DB, "--model", OTHER, "--plan", out("all_cpu.json")),
               "predict: a plan for another model", "hash")
one_line_error(run(HETPART, *pbase, out("all_cpu.json"), "--cpu-ms", "-3"), "predict: --cpu-ms below 0",
               "expected a time in ms")
one_line_error(run(HETPART, *pbase, out("all_cpu.json"), "--gpu-ms", "2", "--no-calibration"),
               "predict: --gpu-ms without calibration", "cannot go with --no-calibration")
one_line_error(run(HETPART, "predict", "--db", DB, "--model", MODEL), "predict without a plan", "needs --plan")
one_line_error(run(HETPART, *pbase, out("all_cpu.json"), "--gpu-stream-ms", "0"), "predict: --gpu-stream-ms 0",
               "expected a time in ms")
one_line_error(run(HETPART, *base, "--objective", "throughput", "--gpu-stream-ms", "1"), "solve --gpu-stream-ms",
               "are for predict")
one_line_error(run(HETPART, *base, "--objective", "latency", "--cpu-ms", "3"), "solve --cpu-ms", "are for predict")
one_line_error(run(HETPART, "explain", os.path.join(SRC, "experiments", "plans", "squeezenet_v1.1", "mapping.json")),
               "explain of a hand-written plan", "without a \"predicted\" block")

# Folding: a sweep and a solve see the same graph, BatchNorm folded into the
# convolution unless both say --no-fold; a mismatch is one clear line.
BN = write_tiny_model(out("bn.prototxt"), TINY_MODEL.replace(
    'layer { name: "relu1"', 'layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }\nlayer { name: "relu1"'))
for v in ([], ["--no-fold"]):
    db = out("bn%s.db" % ("-nofold" if v else ""))
    for s in ("", "-wal", "-shm"):
        if os.path.exists(db + s):
            os.remove(db + s)
    r = run(HETPROF, "sweep", "--model", BN, "--db", db, "--ratios", "0.5", "--reps", "3", "--min-reps", "3",
            "--max-time", "0.05", "--no-corun", "-q", *v)
    check(r.returncode == 0, "sweep of the BatchNorm model %s: %s" % (v, r.stderr[-300:]))
    plan = out("bn_plan.json")
    r = run(HETPART, "solve", "--db", db, "--model", BN, "--objective", "latency", "--modes", "mapping", "--out", plan, *v)
    units = [u["layers"] for u in json.load(open(plan))["predicted"]["units"]] if r.returncode == 0 else []
    check(units[:3] == (["conv1", "bn1", "relu1"] if v else ["conv1+relu1", "a", "b"]),
          "solve %s costs the units of the graph the sweep took: %r %s" % (v, units, r.stderr))
    r = run(HETRUN, "--model", BN, "--plan", plan, "--images", 2, "-q", *v)
    check(r.returncode == 0, "hetrun %s replays it: %s" % (v, r.stderr))
    one_line_error(run(HETPART, "solve", "--db", db, "--model", BN, "--objective", "latency", *([] if v else ["--no-fold"])),
                   "solve %s a sweep made %s" % ("folded, of" if v else "--no-fold, of", "--no-fold" if v else "folded"),
                   "--no-fold" if v else "no CPU+GPU sweep")
# tune: the question in one command. A fresh database: it sweeps, solves,
# replays every candidate and each device alone, and answers with the one
# that measured best, never slower than the best device alone in its own
# table. (--allow-busy: other tests may run beside this one.)
TDB, TPLAN = out("tune.db"), out("tuned.json")
r = run(HETPART, "tune", "--model", MODEL, "--db", TDB, "--out", TPLAN, "--repeat", 2, "--images", 5, "--json",
        "--allow-busy", "-q")
rep = {}
try:
    rep = json.loads(r.stdout)
except ValueError:
    pass
check(r.returncode == 0 and rep.get("objective") == "latency", "tune --json: %s %s" % (r.stdout[-300:], r.stderr[-500:]))
cands = {c["name"]: c for c in rep.get("candidates", [])}
check({"cpu alone", "gpu alone", "mapping", "split"} <= set(cands), "tune's candidates: %r" % sorted(cands))
alone = [c for c in cands.values() if c.get("device_alone") and c.get("measured")]
ans = rep.get("answer", {})
check(len(alone) == 2 and all(len([v for v in c["runs"] if v]) == 2 for c in alone),
      "each device alone replayed in each round: %r" % alone)
best_alone = min(c["measured"] for c in alone) if alone else 0
check(ans.get("measured", 1e9) <= best_alone and ans.get("vs_best_single", 0) >= 1.0,
      "tune's answer is no slower than the best device alone: %r against %r" % (ans, best_alone))
check(sum(1 for c in cands.values() if c.get("answer")) == 1 and cands.get(ans.get("name"), {}).get("answer"),
      "one candidate is the answer: %r" % ans)
p = json.load(open(TPLAN)) if os.path.exists(TPLAN) else {}
check(p.get("measured", {}).get("by") == "hetpart tune" and p["measured"].get("median") == ans.get("measured"),
      "the answer's plan carries what tune measured: %r" % p.get("measured"))
r = run(HETRUN, "--model", MODEL, "--plan", TPLAN, "--images", 3, "-q")
check(r.returncode == 0, "hetrun replays tune's answer: %s" % r.stderr[-300:])
# Again, for throughput, on the same database: the sweep is resumed, not
# taken again, and the table is text.
n_sweeps = sqlite3.connect(TDB).execute("SELECT COUNT(*) FROM sweeps").fetchone()[0]
r = run(HETPART, "tune", "--model", MODEL, "--db", TDB, "--out", out("tuned_thr.json"), "--objective", "throughput",
        "--repeat", 1, "--images", 5, "--allow-busy")
check(r.returncode == 0 and "answer: " in r.stdout and "images/s" in r.stdout and "pipeline" in r.stdout
      and "image-parallel" in r.stdout, "tune throughput's table: %s %s" % (r.stdout, r.stderr[-500:]))
check(sqlite3.connect(TDB).execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == n_sweeps == 1,
      "tune resumes the model's sweep")
# A busy machine: one spinning process per core, and tune refuses before it
# measures anything (no database, no plan).
import subprocess  # noqa: E402
spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in ALLC]
try:
    r = run(HETPART, "tune", "--model", MODEL, "--db", out("busy.db"), "--out", out("busy.json"))
finally:
    for q in spin:
        q.kill()
        q.wait()
one_line_error(r, "tune on a busy machine", "the machine is busy")
check(not os.path.exists(out("busy.db")) and not os.path.exists(out("busy.json")), "a refused tune writes nothing")
# Bad input: one line, nothing written.
one_line_error(run(HETPART, "tune", "--model", out("missing.prototxt"), "--db", out("bad.db")), "tune, no model",
               "missing.prototxt")
check(not os.path.exists(out("bad.db")), "tune of a missing model makes no database")
one_line_error(run(HETPART, "tune", "--model", MODEL, "--objective", "speed"), "tune, unknown objective", "speed")
# CPU lanes are measured, not priced: predict says so.
lp = hand_plan("lanes.json", {"mode": "image-parallel", "devices": ["cpu", "cpu"]})
one_line_error(run(HETPART, "predict", "--db", DB, "--model", MODEL, "--plan", lp), "predict of CPU lanes", "CPU lanes")
one_line_error(run(HETPART, "tune", "--model", MODEL, "--repeat", 0), "tune --repeat 0", "--repeat")
one_line_error(run(HETPART, "solve", "--db", DB, "--model", MODEL, "--objective", "latency", "--repeat", 3),
               "solve --repeat", "--repeat is for tune")

finish("test_hetpart")
