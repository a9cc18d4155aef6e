#!/usr/bin/env python3
"""het against the strongest peers on the GPU machine, alternating, in one run.

CPU: het (SqueezeNet from ../shared, random weights) against ONNX Runtime
running torchvision's SqueezeNet exported to ONNX (same layer shapes, except
that v1.0's conv10 has no padding there), same thread count.
GPU: het's OpenCL backend (end to end: input upload and output download
included) against PyTorch eager CUDA and PyTorch with a CUDA graph.
Each figure is the median over several fresh processes of each process's
median of R timed runs after warm-up. Latency does not depend on weights.

usage: peers.py HETRUN SHARED_DIR OUT_JSON [--procs 5] [--runs 100] [--threads N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TORCH_CHILD = r"""
import sys, time, json, torch, torchvision
name, mode, threads, warmup, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
m = getattr(torchvision.models, name)(weights=None).eval()
x = torch.randn(1, 3, 224, 224)
t = []
with torch.inference_mode():
    if mode == "ort":
        import onnxruntime as ort
        path = "/tmp/%s.onnx" % name
        try:
            torch.onnx.export(m, x, path, opset_version=17, dynamo=False)
        except TypeError:
            torch.onnx.export(m, x, path, opset_version=17)
        so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = {s.get_inputs()[0].name: x.numpy()}
        for _ in range(warmup): s.run(None, feed)
        for _ in range(runs):
            t0 = time.perf_counter(); s.run(None, feed); t.append((time.perf_counter() - t0) * 1e3)
    else:
        m = m.cuda(); xg = x.cuda()
        for _ in range(warmup): m(xg)
        torch.cuda.synchronize()
        if mode == "graph":
            g = torch.cuda.CUDAGraph()
            s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3): m(xg)
            torch.cuda.current_stream().wait_stream(s)
            with torch.cuda.graph(g): y = m(xg)
            for _ in range(warmup): g.replay()
            torch.cuda.synchronize()
            for _ in range(runs):
                t0 = time.perf_counter(); g.replay(); torch.cuda.synchronize(); t.append((time.perf_counter() - t0) * 1e3)
        else:
            for _ in range(runs):
                t0 = time.perf_counter(); m(xg); torch.cuda.synchronize(); t.append((time.perf_counter() - t0) * 1e3)
t.sort()
print(json.dumps({"median": t[len(t) // 2]}))
"""


def het_run(hetrun, proto, args, work):
    js = os.path.join(work, "s.json")
    subprocess.run([hetrun, "--model", proto, "--images", "1", "--top", "0", "-q", "--summary-json", js] + args,
                   check=True, capture_output=True)
    return json.load(open(js))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hetrun")
    ap.add_argument("shared")
    ap.add_argument("out")
    ap.add_argument("--procs", type=int, default=5)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", choices=["cpu", "gpu"], help="measure one device's peers only")
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    rows = []
    for ver, tv in (("squeezenet_v1.1", "squeezenet1_1"), ("squeezenet_v1.0", "squeezenet1_0")):
        proto = os.path.join(a.shared, "models", ver, "deploy.prototxt")
        runs = {"het_cpu": [], "ort_cpu": [], "het_gpu": [], "torch_eager": [], "torch_graph": []}
        if a.only == "cpu":
            runs = {"het_cpu": [], "ort_cpu": []}
        elif a.only == "gpu":
            runs = {"het_gpu": [], "torch_eager": [], "torch_graph": []}
        for p in range(a.procs):
            order = list(runs) if p % 2 == 0 else list(reversed(list(runs)))
            for tool in order:
                try:
                    if tool == "het_cpu":
                        s = het_run(a.hetrun, proto, ["--threads", str(a.threads), "--warmup", "20", "--repeat",
                                                      str(a.runs)], work)
                        runs[tool].append(s["latency_ms"]["median"])
                    elif tool == "het_gpu":
                        s = het_run(a.hetrun, proto, ["--device", "gpu", "--warmup", "20", "--repeat", str(a.runs)], work)
                        runs[tool].append(s["latency_ms"]["median"])
                        runs.setdefault("het_gpu_backend", s["backend"])
                    else:
                        mode = {"ort_cpu": "ort", "torch_eager": "eager", "torch_graph": "graph"}[tool]
                        r = subprocess.run([sys.executable, "-c", TORCH_CHILD, tv, mode, str(a.threads), "20",
                                            str(a.runs)], capture_output=True, text=True, timeout=600)
                        if r.returncode != 0:
                            raise RuntimeError(r.stderr[-2000:])
                        runs[tool].append(json.loads(r.stdout.strip().splitlines()[-1])["median"])
                except Exception as e:  # a missing peer is reported, the rest still runs
                    runs.setdefault(tool + "_error", str(e)[-500:])
        med = {k: (statistics.median(v) if isinstance(v, list) and v else v) for k, v in runs.items()}
        med["model"] = ver
        med["threads"] = a.threads
        rows.append(med)
        print(json.dumps(med), flush=True)
    json.dump(rows, open(a.out, "w"), indent=1)
    print("\n%-16s %9s %9s %7s %9s %11s %11s %7s" % ("model", "het cpu", "ORT cpu", "ratio", "het gpu", "torch eager",
                                                     "torch graph", "ratio"))
    for r in rows:
        f = lambda k: r.get(k) if isinstance(r.get(k), float) else float("nan")
        print("%-16s %9.3f %9.3f %7.3f %9.3f %11.3f %11.3f %7.3f" % (
            r["model"], f("het_cpu"), f("ort_cpu"), f("het_cpu") / f("ort_cpu"), f("het_gpu"), f("torch_eager"),
            f("torch_graph"), f("het_gpu") / f("torch_eager")))
    print("ms, medians; CPU ratio = het/ORT, GPU ratio = het/torch eager")


if __name__ == "__main__":
    sys.exit(main())
