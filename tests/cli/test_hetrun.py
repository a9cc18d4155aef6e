#!/usr/bin/python3
"""hetrun end to end: options and outputs, and bad input.

Every bad input must give exactly one line on stderr, a non-zero exit (not
a crash), and leave no output file behind.
usage: test_hetrun.py HETRUN SOURCE_DIR SHARED_DIR WORKDIR
"""
import json
import os
import shutil
import subprocess
import time
import sys

try:
    import numpy as np
except ImportError:
    print("numpy missing for /usr/bin/python3 (apt-get install python3-numpy)", file=sys.stderr)
    sys.exit(2 if os.environ.get("CI") == "true" else 77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402
from clitest import check, db_version  # noqa: E402

HETRUN, SRC, SHARED, WORK = sys.argv[1:5]
# A fresh folder: a file an earlier run left would pass for this run's.
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def run(*args):
    return clitest.run(HETRUN, *args, timeout=300)


def w(name, text, mode="w"):
    p = os.path.join(WORK, name)
    with open(p, mode) as f:
        f.write(text)
    return p


SQ11 = os.path.join(SRC, "models", "squeezenet_v1.1", "deploy.prototxt")
SQ10 = os.path.join(SRC, "models", "squeezenet_v1.0", "deploy.prototxt")
IMAGES = os.path.join(SHARED, "images")
LABELS = os.path.join(IMAGES, "synset_words.txt")
if not os.path.isdir(IMAGES):
    print("shared images missing: %s" % IMAGES, file=sys.stderr)
    sys.exit(2 if os.environ.get("CI") == "true" else 77)


def out(name):
    return os.path.join(WORK, name)


# --- options and outputs -----------------------------------------------------
r = run("--help")
check(r.returncode == 0 and "--model" in r.stdout and "--save-blob" in r.stdout, "--help prints usage")

summ = out("summary.json")
r = run("--model", SQ11, "--images", IMAGES, "--labels", LABELS, "--top", 5, "--summary-json", summ,
        "--save-output", out("o.npy"), "--save-blob", "pool10=" + out("pool10.npy"), "--repeat", 3)
check(r.returncode == 0, "default-style run succeeds: " + r.stderr)
lines = [l for l in r.stdout.splitlines() if "cat.jpg" in l]
check(len(lines) == 1 and lines[0].count(";") == 4 and "(" in lines[0], "top-5 with labels per image: %r" % lines)
# Weights from the fillers: the classes are said to mean nothing, once and on
# every line; a trained .caffemodel's are not.
check(r.stdout.count("not from training") == 1 and lines and lines[0].endswith("[untrained]"),
      "untrained weights are said to be: %r" % r.stdout[:400])
SHARED_SQ11 = os.path.join(SHARED, "models", "squeezenet_v1.1", "deploy.prototxt")
if os.path.exists(SHARED_SQ11):
    r = run("--model", SHARED_SQ11, "--top", 0, "-q")
    check(r.returncode == 0 and "declares a batch of 10; het runs one image at a time" in r.stdout,
          "a deploy file's batch of 10 is said to run as 1: %r" % r.stdout[:300])
check("median" in r.stdout and "images/s" in r.stdout and "peak RSS" in r.stdout, "summary line")
s = json.load(open(summ)) if os.path.exists(summ) else {}
check(s.get("images") == 2 and s.get("runs") == 6 and s["latency_ms"]["median"] > 0 and s["peak_rss_kb"] > 0
      and s["images_per_s"] > 0 and s.get("device") == "cpu", "summary JSON fields: %r" % s)
o = np.load(out("o.npy"))
p10 = np.load(out("pool10.npy"))
check(o.shape == (2, 1000, 1, 1) and p10.shape == (2, 1000, 1, 1), "saved shapes %s %s" % (o.shape, p10.shape))
check(np.allclose(o.sum(axis=1), 1, atol=1e-4), "softmax output sums to 1")
check(not np.allclose(p10[0], p10[1]), "two different photos give different pre-softmax outputs")

# het's image preprocessing against OpenCV's resize (same bilinear rule).
try:
    import cv2
    r = run("--model", SQ11, "--images", os.path.join(IMAGES, "cat.jpg"), "--save-blob", "data=" + out("data.npy"),
            "-q")
    d = np.load(out("data.npy"))[0]
    ref = cv2.resize(cv2.imread(os.path.join(IMAGES, "cat.jpg")), (227, 227)).astype(np.float32) \
        - np.array([104, 117, 123], np.float32)
    diff = np.abs(d - ref.transpose(2, 0, 1))
    check(r.returncode == 0 and diff.mean() < 0.5 and diff.max() <= 2.0,
          "image preprocessing matches cv2.resize (mean %.3f max %.3f)" % (diff.mean(), diff.max()))
except ImportError:
    check(os.environ.get("CI") != "true", "python3-opencv missing under CI")

# The three ways to declare the input give the same network.
body = open(SQ11).read().split("layer {", 2)[2]  # drop the Input layer
decl = {
    "input_layer": 'layer { name: "data" type: "Input" top: "data" input_param { shape: { dim: 1 dim: 3 dim: 227 dim: 227 } } }\n',
    "input_dim": 'input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 227\ninput_dim: 227\n',
    "input_shape": 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 227 dim: 227 }\n',
}
outs = {}
for k, v in decl.items():
    p = w(k + ".prototxt", v + "layer {" + body)
    r = run("--model", p, "--images", 2, "--seed", 3, "--save-output", out(k + ".npy"), "-q")
    check(r.returncode == 0, "input declared by %s: %s" % (k, r.stderr))
    outs[k] = np.load(out(k + ".npy")) if r.returncode == 0 else None
check(all(v is not None and np.array_equal(v, outs["input_layer"]) for v in outs.values()),
      "all three input declarations give identical outputs")

# Weights round trip: saved fillers reload bit-identically.
r1 = run("--model", SQ10, "--seed", 5, "--images", 1, "--save-weights", out("w.caffemodel"), "--save-output",
         out("a.npy"), "-q")
# (--seed also seeds the synthetic image, so it stays the same here)
r2 = run("--model", SQ10, "--weights", out("w.caffemodel"), "--seed", 5, "--images", 1, "--save-output", out("b.npy"),
         "-q")
check(r1.returncode == 0 and r2.returncode == 0 and np.array_equal(np.load(out("a.npy")), np.load(out("b.npy"))),
      "--save-weights then --weights reproduces the output exactly")
r3 = run("--model", SQ10, "--seed", 6, "--images", 1, "--save-output", out("c.npy"), "-q")
check(r3.returncode == 0 and not np.array_equal(np.load(out("a.npy")), np.load(out("c.npy"))),
      "another seed gives other weights")

# --input feeds exactly the tensor given.
x = np.random.RandomState(0).uniform(-50, 50, (3, 3, 227, 227)).astype(np.float32)
np.save(out("x.npy"), x)
r = run("--model", SQ11, "--input", out("x.npy"), "--save-blob", "data=" + out("xd.npy"), "-q")
check(r.returncode == 0 and np.array_equal(np.load(out("xd.npy")), x), "--input is fed unchanged")

# Thread counts and core sets agree.
r1 = run("--model", SQ11, "--images", 2, "--threads", 1, "--save-output", out("t1.npy"), "-q")
r2 = run("--model", SQ11, "--images", 2, "--cpu-cores", "0-1", "--save-output", out("t2.npy"), "-q")
check(r1.returncode == 0 and r2.returncode == 0 and
      np.allclose(np.load(out("t1.npy")), np.load(out("t2.npy")), rtol=1e-4, atol=1e-6),
      "--threads 1 and --cpu-cores 0-1 agree")

# --- bad input ---------------------------------------------------------------
os.makedirs(out("empty"), exist_ok=True)
w("notimage/x.jpg" if os.makedirs(out("notimage"), exist_ok=True) is None else "", "this is text, not a JPEG\n")
w("trunc.caffemodel", open(out("w.caffemodel"), "rb").read()[:5000], "wb")
w("garbage.caffemodel", os.urandom(3000), "wb")
# a model whose conv1 has another shape than the saved weights
w("other.prototxt", open(SQ10).read().replace("num_output: 96", "num_output: 64", 1))

bad = [
    ("malformed prototxt", [w("syntax.prototxt", 'name: "x"\nlayer {\n  name: "a"\n  type: "ReLU" bottom: \n}\n')],
     "syntax.prototxt:5:1"),
    ("unterminated message", [w("unterm.prototxt", 'layer { name: "a" type: "ReLU"\n')], "missing"),
    ("unknown field", [w("field.prototxt", 'layer { name: "a" colour: 3 }\n')], "colour"),
    ("unknown layer type", [w("type.prototxt", 'input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 4\ninput_dim: 4\n'
                                               'layer { name: "swish1" type: "Swish" bottom: "data" top: "y" }\n')],
     "Swish"),
    ("missing bottom", [w("bottom.prototxt", 'input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 4\ninput_dim: 4\n'
                                             'layer { name: "r" type: "ReLU" bottom: "nothere" top: "y" }\n')],
     "nothere"),
    ("no input", [w("noinput.prototxt", 'layer { name: "r" type: "ReLU" bottom: "x" top: "x" }\n')], "bottom"),
    ("missing model file", [out("does-not-exist.prototxt")], "does-not-exist"),
    ("binary file as prototxt", [out("garbage.caffemodel")], ""),
    ("binary without NUL as prototxt", [w("bin.prototxt", bytes(range(1, 256)) * 4, "wb")], "bin.prototxt"),
]
for what, model, needle in bad:
    r = run("--model", model[0], "--images", 1, "--save-output", out("bad.npy"))
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and needle in errl[0] and not os.path.exists(out("bad.npy"))
          and "\ufffd" not in r.stderr and all(c.isprintable() for c in errl[0]),
          "%s: rc %d, stderr %r" % (what, r.returncode, r.stderr))

bad_runs = [
    ("shape mismatch with caffemodel", ["--model", out("other.prototxt"), "--weights", out("w.caffemodel")], "conv1"),
    ("truncated caffemodel", ["--model", SQ10, "--weights", out("trunc.caffemodel")], "trunc.caffemodel"),
    ("corrupt caffemodel", ["--model", SQ10, "--weights", out("garbage.caffemodel")], "garbage.caffemodel"),
    ("image that is not an image", ["--model", SQ11, "--images", out("notimage")], "x.jpg"),
    ("empty image folder", ["--model", SQ11, "--images", out("empty")], "empty"),
    ("missing image path", ["--model", SQ11, "--images", out("nope")], "nope"),
    ("unknown option", ["--model", SQ11, "--colour"], "--colour"),
    ("option without value", ["--model", SQ11, "--top"], "--top"),
    ("bad thread count", ["--model", SQ11, "--threads", "0"], "--threads"),
    ("bad core list", ["--model", SQ11, "--cpu-cores", "3-1"], "3-1"),
    ("unknown device", ["--model", SQ11, "--device", "tpu"], "tpu"),
    ("unknown blob to save", ["--model", SQ11, "--save-blob", "nosuch=" + out("nb.npy")], "nosuch"),
    ("input of the wrong shape", ["--model", SQ11, "--input", out("pool10.npy")], "shape"),
    ("no model", ["--images", "1"], "--model"),
]
for what, args, needle in bad_runs:
    r = run(*(args + ["--save-output", out("bad.npy"), "--save-weights", out("bad.caffemodel")]))
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and needle in errl[0] and not os.path.exists(out("bad.npy"))
          and not os.path.exists(out("bad.caffemodel")),
          "%s: rc %d, stderr %r" % (what, r.returncode, r.stderr))

# --- hostile models and options: one line, no crash, nothing written ------------
def tiny_net(body, dims=(1, 3, 8, 8)):
    return 'input: "data"\ninput_shape { %s }\n%s' % (" ".join("dim: %d" % d for d in dims), body)


def conv(extra, name="c", bottom="data", top="c"):
    return ('layer { name: "%s" type: "Convolution" bottom: "%s" top: "%s" convolution_param { num_output: 2 '
            'kernel_size: 3 %s } }\n' % (name, bottom, top, extra))


hostile = [
    # element counts past 32 bits: every count must stay 64-bit until the 2 GiB check
    ("input past 2 GiB", tiny_net('layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" '
                                  'inner_product_param { num_output: 1 } }\n', (1, 1, 65536, 65536)), "2 GiB"),
    ("weights past 2 GiB", tiny_net('layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" '
                                    'inner_product_param { num_output: 4 } }\n', (1, 1, 16384, 16384)), "2 GiB"),
    # uint32 fields at the top of their range: cast to int they would wrap past the "> 4096" checks
    ("conv pad 2^32-1", tiny_net(conv("pad: 4294967295")), "pad"),
    ("conv pad 2^31", tiny_net(conv("pad: 2147483648")), "pad"),
    ("conv pad_h 2^32-1", tiny_net(conv("pad_h: 4294967295 pad_w: 0")), "pad"),
    ("pooling pad 2^32-1", tiny_net('layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param '
                                    '{ pool: MAX kernel_size: 2 pad: 4294967295 } }\n'), "pad"),
    ("num_output 2^32-1", tiny_net(conv("").replace("num_output: 2", "num_output: 4294967295")), "num_output"),
    ("two producers of one blob", tiny_net('layer { name: "a" type: "ReLU" bottom: "data" top: "x" }\n'
                                           'layer { name: "b" type: "ReLU" bottom: "data" top: "x" }\n'), "'x'"),
    ("input declared twice", 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\ninput: "data"\n'
                             'input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
                             'layer { name: "a" type: "ReLU" bottom: "data" top: "x" }\n', "twice"),
    ("Concat of 3000 bottoms", tiny_net('layer { name: "cat" type: "Concat" %s top: "cat" }\n'
                                        % " ".join(['bottom: "data"'] * 3000)), "1 to 64 bottoms"),
]
for what, text, needle in hostile:
    r = run("--model", w("hostile.prototxt", text), "--save-output", out("bad.npy"))
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(0 < r.returncode < 128 and len(errl) == 1 and needle in errl[0] and not os.path.exists(out("bad.npy")),
          "%s: rc %d, stderr %r" % (what, r.returncode, r.stderr[-300:]))
for what, args, needle in [("NaN --mean", ["--mean", "nan,117,123"], "--mean"),
                           ("infinite --scale", ["--scale", "inf"], "--scale")]:
    r = run("--model", SQ11, "--save-output", out("bad.npy"), *args)
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode == 2 and len(errl) == 1 and needle in errl[0] and not os.path.exists(out("bad.npy")),
          "%s: rc %d, stderr %r" % (what, r.returncode, r.stderr))

# Inputs that cannot be meant, or that are damaged.
np.save(out("structured.npy"), np.zeros((1, 3, 227, 227), dtype=[("a", "<f4"), ("b", "<i4")])[..., 0])
np.save(out("f64.npy"), np.zeros((1, 3, 227, 227), dtype="<f8"))
for what, path in [("structured-dtype .npy", out("structured.npy")), ("float64 .npy", out("f64.npy"))]:
    r = run("--model", SQ11, "--input", path, "--save-output", out("bad.npy"))
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode == 1 and len(errl) == 1 and "dtype" in errl[0] and not os.path.exists(out("bad.npy")),
          "%s: rc %d, stderr %r" % (what, r.returncode, r.stderr))
x = np.zeros((1, 3, 227, 227), dtype="<f4")
x[0, 1, 5, 5] = np.nan
np.save(out("nan.npy"), x)
r = run("--model", SQ11, "--input", out("nan.npy"), "-q")
check(r.returncode == 0 and "1 NaN or infinite value" in r.stderr, "a NaN input is warned about: %r" % r.stderr)
# An image whose header declares 40000x40000 pixels in a few hundred bytes:
# refused before decoding, in one line; raised with --max-image-pixels.
import cv2  # noqa: E402
ok, enc = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
jpg = bytearray(enc.tobytes())
sof = jpg.index(b"\xff\xc0")
jpg[sof + 5:sof + 9] = (40000).to_bytes(2, "big") + (40000).to_bytes(2, "big")
w("huge.jpg", bytes(jpg), "wb")
r = run("--model", SQ11, "--images", out("huge.jpg"), "--save-output", out("bad.npy"))
errl = [l for l in r.stderr.splitlines() if l.strip()]
check(r.returncode == 1 and len(errl) == 1 and "40000x40000" in errl[0] and "--max-image-pixels" in errl[0]
      and not os.path.exists(out("bad.npy")), "an image declaring 40000x40000: rc %d %r" % (r.returncode, r.stderr))
# Half of a real photo: decoded, grey where data is missing, with a warning.
photo = sorted(f for f in os.listdir(IMAGES) if f.lower().endswith((".jpg", ".jpeg")))[0]
data = open(os.path.join(IMAGES, photo), "rb").read()
w("half.jpg", data[:len(data) // 2], "wb")
r = run("--model", SQ11, "--images", out("half.jpg"), "-q")
check(r.returncode == 0 and "damaged JPEG" in r.stderr and r.stderr.count("\n") == 1,
      "a truncated JPEG decodes with one warning: rc %d %r" % (r.returncode, r.stderr))
one_core_too_many = str(len(os.sched_getaffinity(0)) and max(os.sched_getaffinity(0)) + 1)
r = run("--model", SQ11, "--cpu-cores", "0-" + one_core_too_many)
check(r.returncode == 2 and "cannot run on" in r.stderr and r.stderr.count("\n") == 1,
      "--cpu-cores beyond the machine's cores: rc %d %r" % (r.returncode, r.stderr))
r = run("--model", SQ11, "--cpu-cores", "0,0")
check(r.returncode == 2 and "twice" in r.stderr, "--cpu-cores naming a core twice: %r" % r.stderr)

# A .caffemodel listing every layer twice (two files end to end: protobuf
# merges them into one NetParameter): Caffe keeps the later copy, so must het.
TINYM = w("tinym.prototxt", clitest.TINY_MODEL)
for seed in (1, 2):
    run("--model", TINYM, "--seed", seed, "--save-weights", out("s%d.caffemodel" % seed), "-q")
w("twice.caffemodel", open(out("s1.caffemodel"), "rb").read() + open(out("s2.caffemodel"), "rb").read(), "wb")
r1 = run("--model", TINYM, "--weights", out("twice.caffemodel"), "--save-output", out("twice.npy"), "-q")
r2 = run("--model", TINYM, "--weights", out("s2.caffemodel"), "--save-output", out("s2.npy"), "-q")
check(r1.returncode == 0 and r2.returncode == 0 and np.array_equal(np.load(out("twice.npy")), np.load(out("s2.npy"))),
      "a layer listed twice in a .caffemodel: the later copy wins: %r" % r1.stderr)
r = run("--model", TINYM, "--weights", out("s2.caffemodel"), "--top", 3)
check(r.returncode == 0 and "[untrained]" not in r.stdout and "not from training" not in r.stdout,
      "weights from a .caffemodel are not said to be untrained: %r" % r.stdout[:300])
w("model.onnx", b"\x08\x07\x12\x07pytorch", "wb")
r = run("--model", out("model.onnx"))
check(r.returncode == 1 and r.stderr.count("\n") == 1 and "ONNX" in r.stderr, "an ONNX file is named as one: %r"
      % r.stderr)
# NaN weights: one warning naming the first layer that has them.
import struct  # noqa: E402
halfnet = clitest.TINY_MODEL.replace("num_output: 16 kernel_size: 3 pad: 1",
                                     "num_output: 16 kernel_size: 3 pad: 1 weight_filler { type: 'constant' value: 0.5 }")
run("--model", w("half.prototxt", halfnet), "--save-weights", out("half.caffemodel"), "-q")
blob = open(out("half.caffemodel"), "rb").read()
w("nanw.caffemodel", blob.replace(struct.pack("<f", 0.5), struct.pack("<f", float("nan"))), "wb")
r = run("--model", out("half.prototxt"), "--weights", out("nanw.caffemodel"), "-q")
check(r.returncode == 0 and "432 weights are NaN" in r.stderr and "'conv1'" in r.stderr and r.stderr.count("\n") == 1,
      "NaN weights are warned about once: %r" % r.stderr)

# An output that cannot be written fails the run before it starts, and the
# others are not left behind; an existing file keeps its content.
w("keep.npy", "old", "w")
for what, args in [("--save-blob into a missing folder", ["--save-blob", "conv1=" + out("no/such/b.npy")]),
                   ("--summary-json into a missing folder", ["--summary-json", out("no/such/s.json")]),
                   ("--save-weights into a missing folder", ["--save-weights", out("no/such/w.caffemodel")])]:
    r = run("--model", SQ11, "--save-output", out("bad.npy"), "--save-blob", "conv1=" + out("keep.npy"), *args)
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    left = [f for f in os.listdir(WORK) if f.startswith(("bad.npy", "keep.npy."))]
    check(r.returncode > 0 and len(errl) == 1 and "no/such" in errl[0] and not left
          and open(out("keep.npy")).read() == "old", "%s: rc %d, left %r, stderr %r" % (what, r.returncode, left,
                                                                                      r.stderr))
r = run("--model", SQ11, "--save-output", out("bad.npy"), "--save-blob", "prob=" + out("bad.npy"))
check(r.returncode > 0 and "two outputs" in r.stderr and not os.path.exists(out("bad.npy")),
      "one path named as two outputs: %r" % r.stderr)

# --- plans: bad input ----------------------------------------------------------
r = run("--model", SQ11, "--images", 1, "--summary-json", out("h.json"), "-q")
H = json.load(open(out("h.json")))["model_hash"]
sq_layers = [l.split('"')[1] for l in open(SQ11).read().split("layer {")[2:] for l in [l[l.index("name:"):]]]


def plan_file(name, body):
    return w(name, body if isinstance(body, str) else json.dumps(dict({"het_plan": 1, "model_hash": H}, **body)))


every = {n: "cpu" for n in sq_layers}
bad_plans = [
    ("plan for another model", {"model_hash": "0123456789abcdef", "mode": "mapping", "layers": every}, "0123456789abcdef"),
    ("unknown layer in plan", {"mode": "mapping", "layers": dict(every, nosuchlayer="cpu")}, "nosuchlayer"),
    ("layer mapped twice", '{"het_plan": 1, "model_hash": "%s", "mode": "mapping", "layers": {%s, "conv1": "gpu"}}'
     % (H, ", ".join('"%s": "cpu"' % n for n in sq_layers)), "twice"),
    ("layer not mapped", {"mode": "mapping", "layers": {n: "cpu" for n in sq_layers[1:]}}, "conv1"),
    ("ratio outside [0, 1]", {"mode": "split", "layers": dict(every, conv1=1.5)}, "1.5"),
    ("unknown device", {"mode": "mapping", "layers": dict(every, conv1="npu")}, "npu"),
    ("stages breaking order", {"mode": "pipeline", "stages": [{"first": sq_layers[0], "last": sq_layers[5], "device": "cpu"},
                                                              {"first": sq_layers[7], "last": sq_layers[-1], "device": "gpu"}]},
     "contiguous"),
    ("stages not covering", {"mode": "pipeline", "stages": [{"first": sq_layers[0], "last": sq_layers[5], "device": "cpu"}]},
     "cover"),
    ("unknown mode", {"mode": "telepathy"}, "mode"),
    ("malformed JSON", '{"het_plan": 1, "mode": ', "JSON"),
    ("version 1.5", '{"het_plan": 1.5, "model_hash": "%s", "mode": "single", "device": "cpu"}' % H, "het_plan"),
    ("duplicated mode key", '{"het_plan": 1, "model_hash": "%s", "mode": "single", "mode": "mapping", "device": "cpu"}'
     % H, '"mode" appears twice'),
    ("trailing garbage", '{"het_plan": 1, "model_hash": "%s", "mode": "single", "device": "cpu"} and more' % H, "JSON"),
    ("a 5 MB model_hash", {"model_hash": "f" * 5000000, "mode": "single", "device": "cpu"}, "fffff..."),
    ("the GPU listed twice", {"mode": "image-parallel", "devices": ["cpu", "gpu", "gpu"]}, "listed twice"),
    # More CPU lanes than the machine lets this process use: a lane needs a core.
    ("a CPU lane per core and one more", {"mode": "image-parallel",
                                          "devices": ["cpu"] * (len(os.sched_getaffinity(0)) + 1)}, "CPU lanes"),
]
for what, body, needle in bad_plans:
    p = plan_file("bad_plan.json", body)
    r = run("--model", SQ11, "--plan", p, "--images", 1, "--save-output", out("bad.npy"))
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and needle in errl[0] and len(errl[0]) < 600
          and not os.path.exists(out("bad.npy")), "%s: rc %d, stderr %r" % (what, r.returncode, r.stderr[:600]))
# CPU lanes take their threads from their core groups: --threads is refused.
if len(os.sched_getaffinity(0)) >= 2:
    r = run("--model", SQ11, "--plan", plan_file("lanes.json", {"mode": "image-parallel", "devices": ["cpu", "cpu"]}),
            "--threads", 2, "--images", 2)
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and "--threads" in errl[0], "lanes with --threads: %r" % r.stderr)
    r = run("--model", SQ11, "--plan", plan_file("lanes.json", {"mode": "image-parallel", "devices": ["cpu", "cpu"]}),
            "--images", 4, "-q", "--json", "-")
    s = json.loads(r.stdout) if r.returncode == 0 else {}
    check(sorted(l.get("name") for l in s.get("lanes", [])) == ["cpu1", "cpu2"],
          "two CPU lanes, named apart: %r %s" % (s.get("lanes"), r.stderr[-300:]))
r = run("--model", SQ11, "--plan", plan_file("ok_plan.json", '{"het_plan": 1.0, "model_hash": "%s", "mode": "single", '
                                             '"device": "cpu"}\n\n' % H), "-q")
check(r.returncode == 0, "a plan with version 1.0 and trailing blank lines is read: %r" % r.stderr)

# A stream holds a bounded chunk of prepared inputs, not all of them: 100
# images of 12 MiB through an image-parallel plan (1.2 GiB of inputs) stay
# far below that, and give what the CPU alone gives for the same images.
if subprocess.run([HETRUN, "--list-gpus"], capture_output=True).returncode == 0:
    WIDE = w("wide.prototxt", 'name: "wide"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 1024 dim: 1024 }\n'
                              'layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param '
                              '{ pool: AVE global_pooling: true } }\n')
    run("--model", WIDE, "--summary-json", out("wide.json"), "-q")
    WH = json.load(open(out("wide.json")))["model_hash"]
    wp = plan_file("wide_plan.json", '{"het_plan": 1, "model_hash": "%s", "mode": "image-parallel", '
                                     '"devices": ["cpu", "gpu"]}' % WH)
    p = subprocess.Popen([HETRUN, "--model", WIDE, "--plan", wp, "--images", "100", "-q", "--save-output",
                          out("wide_ip.npy"), "--timeline", out("wide_tl.csv")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    r = run("--model", WIDE, "--images", 100, "--save-output", out("wide_cpu.npy"), "-q")
    ok = p.returncode == 0 and r.returncode == 0
    a = np.load(out("wide_ip.npy")) if ok else None
    b = np.load(out("wide_cpu.npy")) if ok else None
    tl = open(out("wide_tl.csv")).read().splitlines() if ok else []
    check(ok and a.shape == (100, 3, 1, 1) and np.allclose(a, b, atol=1e-3) and len(tl) == 101
          and usage.ru_maxrss < 600 * 1024, "a stream of 1.2 GiB of inputs runs in chunks: rc %d, peak RSS %d MiB, "
          "%d timeline rows %r" % (p.returncode, usage.ru_maxrss // 1024, len(tl), err[-300:]))

# --- folding: a plan for the unfolded graph names layers the folded one lacks,
# and the two graphs' hashes differ; each error says what to do.
MOBV1 = os.path.join(SHARED, "models", "mobilenet_v1", "deploy.prototxt")
hashes = {}
for v in ([], ["--no-fold"]):
    r = run("--model", MOBV1, "--images", 1, "--summary-json", out("hm.json"), "-q", *v)
    check(r.returncode == 0, "MobileNet v1 runs %s: %s" % (v, r.stderr))
    hashes[bool(v)] = json.load(open(out("hm.json")))["model_hash"] if r.returncode == 0 else None
check(hashes[False] != hashes[True], "folding changes the model hash: %r" % hashes)
mob_layers = [l.split('"')[1] for l in open(MOBV1).read().split("layer {")[1:] for l in [l[l.index("name:"):]]]
for what, h, v, needle in [
        ("plan naming a folded layer", hashes[False], [], "was folded into convolution 'conv1'"),
        ("unfolded plan replayed folded", hashes[True], [], "--no-fold"),
        ("folded plan replayed with --no-fold", hashes[False], ["--no-fold"], "--no-fold")]:
    p = w("fold_plan.json", json.dumps({"het_plan": 1, "model_hash": h, "mode": "mapping",
                                        "layers": {n: "cpu" for n in mob_layers if n != "input"}}))
    r = run("--model", MOBV1, "--plan", p, "--images", 1, "--save-output", out("bad.npy"), *v)
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and needle in errl[0] and not os.path.exists(out("bad.npy")),
          "%s: rc %d, stderr %r" % (what, r.returncode, r.stderr))

# MobileNet v2's BatchNorms write new blobs (conv1 -> conv1/bn) that only
# they read: folded, blob conv1 is gone, and asking for it says so; with
# --no-fold it is there, and the network's output is the same.
MOBV2 = os.path.join(SHARED, "models", "mobilenet_v2", "deploy.prototxt")
r = run("--model", MOBV2, "--images", 1, "--save-blob", "conv1=" + out("m2c1.npy"), "-q")
errl = [l for l in r.stderr.splitlines() if l.strip()]
check(r.returncode > 0 and len(errl) == 1 and "--no-fold" in errl[0] and not os.path.exists(out("m2c1.npy")),
      "a folded-away blob: rc %d, stderr %r" % (r.returncode, r.stderr))
outs = {}
for v in ([], ["--no-fold"]):
    r = run("--model", MOBV2, "--images", 2, "--save-output", out("m2.npy"), "--profile", "-q", *v)
    check(r.returncode == 0, "MobileNet v2 runs %s: %s" % (v, r.stderr))
    outs[bool(v)] = np.load(out("m2.npy")) if r.returncode == 0 else None
    n_bn = sum(1 for l in r.stdout.splitlines() if " BatchNorm " in l or " Scale " in l)
    check(n_bn == (106 if v else 0), "MobileNet v2 %s runs %d BatchNorm and Scale layers" % (v, n_bn))
if outs[False] is not None and outs[True] is not None:
    err = np.abs(outs[False] - outs[True]).max()
    check(err <= 1e-4 * np.abs(outs[True]).max(), "MobileNet v2 folded = unfolded (max diff %g)" % err)

# --- the example plans (experiments/plans/squeezenet_v1.1) run and agree with the CPU
ex = os.path.join(SRC, "experiments", "plans", "squeezenet_v1.1")
has_cl = subprocess.run([HETRUN, "--list-gpus"], capture_output=True).returncode == 0
r = run("--model", SQ11, "--images", IMAGES, "--save-output", out("ex-cpu.npy"), "-q")
ref = np.load(out("ex-cpu.npy")) if r.returncode == 0 else None
for f in sorted(os.listdir(ex)) if has_cl else []:
    r = run("--model", SQ11, "--plan", os.path.join(ex, f), "--images", IMAGES, "--save-output", out("ex.npy"), "-q",
            "--warmup", 1)
    got = np.load(out("ex.npy")) if r.returncode == 0 else None
    check(got is not None and ref is not None and np.allclose(got, ref, rtol=1e-4, atol=1e-6),
          "example plan %s runs and matches the CPU: %r" % (f, r.stderr[-300:]))

# --- results database ----------------------------------------------------------
import hashlib
import sqlite3

db = out("runs.db")
if os.path.exists(db):
    os.remove(db)
r1 = run("--model", SQ11, "--images", 2, "--db", db, "-q")
r2 = run("--model", SQ11, "--images", 3, "--db", db, "-q")
con = sqlite3.connect(db)
rows = con.execute("SELECT r.mode, r.images, r.images_per_s > 0, r.latency_p50_ms > 0, m.hash, m.name, p.cpu_model, "
                   "r.device, r.objective, r.sweep_id "
                   "FROM runs r JOIN models m ON m.id = r.model_id JOIN platforms p ON p.id = r.platform_id "
                   "ORDER BY r.id").fetchall()
version = con.execute("PRAGMA user_version").fetchone()[0]
con.close()
check(r1.returncode == 0 and r2.returncode == 0 and len(rows) == 2 and rows[1][:4] == ("single", 3, 1, 1)
      and rows[0][4] == H and rows[0][5] == "SqueezeNet_v1.1" and rows[0][6] and rows[1][7:] == ("cpu", None, None)
      and version == db_version(SRC),
      "runs recorded: %r %r %r" % (rows, r1.stderr, r2.stderr))
r = run("--model", SQ11, "--plan", plan_file("bad_plan.json", {"mode": "telepathy"}), "--db", db)
con = sqlite3.connect(db)
check(r.returncode > 0 and con.execute("SELECT count(*) FROM runs").fetchone()[0] == 2, "a failed run adds no row")
con.close()


# Two runs writing at once: one waits for the other's transaction; both land.
procs = [subprocess.Popen([HETRUN, "--model", SQ11, "--images", "2", "--db", db, "-q"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) for _ in range(2)]
rcs = [p.wait(timeout=120) for p in procs]
for p in procs:
    p.stdout.close()
    p.stderr.close()
con = sqlite3.connect(db)
check(rcs == [0, 0] and con.execute("SELECT count(*) FROM runs").fetchone()[0] == 4, "concurrent writers: %r" % rcs)
con.close()


# A database locked by another writer past --db-timeout: the run is not
# recorded and none of its outputs is written; within the timeout it waits.
lock = sqlite3.connect(db, isolation_level=None)
lock.execute("BEGIN EXCLUSIVE")
r = run("--model", SQ11, "--db", db, "--db-timeout", 1, "--save-output", out("bad.npy"), "--summary-json",
        out("bad.json"), "-q")
lock.execute("ROLLBACK")
check(r.returncode == 1 and "lock" in r.stderr and not os.path.exists(out("bad.npy"))
      and not os.path.exists(out("bad.json")), "database locked past --db-timeout: rc %d %r" % (r.returncode, r.stderr))
lock.execute("BEGIN EXCLUSIVE")
p = subprocess.Popen([HETRUN, "--model", SQ11, "--db", db, "--db-timeout", "60", "--save-output", out("ok.npy"), "-q"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
time.sleep(3)
lock.execute("ROLLBACK")
lock.close()
err = p.communicate(timeout=120)[1]
con = sqlite3.connect(db)
check(p.returncode == 0 and os.path.exists(out("ok.npy")) and con.execute("SELECT count(*) FROM runs").fetchone()[0] == 5,
      "a run waits for a lock within --db-timeout: rc %d %r" % (p.returncode, err))
con.close()


def digest(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


w("corrupt.db", os.urandom(4096), "wb")
for f in ("newer.db", "foreign.db"):  # left by an earlier run of this test
    if os.path.exists(out(f)):
        os.remove(out(f))
con = sqlite3.connect(out("newer.db"))
con.execute("CREATE TABLE runs (id INTEGER)")
con.execute("PRAGMA user_version = 99")
con.commit()
con.close()
con = sqlite3.connect(out("foreign.db"))
con.execute("CREATE TABLE customers (name TEXT)")
con.commit()
con.close()
for what, path, needle in [("corrupt database", out("corrupt.db"), "not an SQLite database"),
                           ("database of a newer schema", out("newer.db"), "newer"),
                           ("someone else's SQLite database", out("foreign.db"), "not het's"),
                           ("database in a missing folder", out("no/such/dir/x.db"), "cannot open")]:
    before = digest(path) if os.path.exists(path) else None
    r = run("--model", SQ11, "--images", 1, "--db", path, "--save-output", out("bad.npy"))
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    after = digest(path) if os.path.exists(path) else None
    check(r.returncode > 0 and len(errl) == 1 and needle in errl[0] and before == after
          and not os.path.exists(out("bad.npy")), "%s: rc %d, unchanged %s, stderr %r" % (what, r.returncode,
                                                                                          before == after, r.stderr))

# --- OpenCL faults ------------------------------------------------------------
has_gpu = subprocess.run([HETRUN, "--list-gpus"], capture_output=True).returncode == 0
if has_gpu:
    # No OpenCL platform at all (no ICD registered): --device gpu says so in
    # one line, and the CPU keeps working.
    env = dict(os.environ, OCL_ICD_VENDORS=out("no-vendors"), OCL_ICD_FILENAMES="")
    os.makedirs(out("no-vendors"), exist_ok=True)
    r = subprocess.run([HETRUN, "--model", SQ11, "--device", "gpu", "--save-output", out("bad.npy")],
                       capture_output=True, text=True, env=env)
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and "OpenCL" in errl[0] and not os.path.exists(out("bad.npy")),
          "no OpenCL platform: rc %d, stderr %r" % (r.returncode, r.stderr))
    r = subprocess.run([HETRUN, "--model", SQ11, "--device", "cpu", "-q"], capture_output=True, text=True, env=env)
    check(r.returncode == 0, "CPU runs without OpenCL: %r" % r.stderr)
    gplan = plan_file("gpu_plan.json", {"mode": "single", "device": "gpu"})
    r = subprocess.run([HETRUN, "--model", SQ11, "--plan", gplan, "--save-output", out("bad.npy")], capture_output=True,
                       text=True, env=env)
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and "OpenCL" in errl[0] and not os.path.exists(out("bad.npy")),
          "GPU plan without an OpenCL device: rc %d, stderr %r" % (r.returncode, r.stderr))
    r = run("--model", SQ11, "--device", "gpu", "--gpu", "99")
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and "--gpu 99" in errl[0], "bad --gpu index: %r" % r.stderr)
    r = run("--model", SQ11, "--device", "gpu", "--gpu", "no-such-device")
    check(r.returncode > 0 and "no-such-device" in r.stderr, "bad --gpu name: %r" % r.stderr)
    # A kernel that does not compile: the build log is printed.
    bad_cl = out("bad_cl")
    os.makedirs(bad_cl, exist_ok=True)
    for f in os.listdir(os.path.join(SRC, "engine", "opencl", "kernels")):
        text = open(os.path.join(SRC, "engine", "opencl", "kernels", f)).read()
        open(os.path.join(bad_cl, f), "w").write(text + ("\nthis is not OpenCL C;\n" if f == "layers.cl" else ""))
    env = dict(os.environ, HET_CL_DIR=bad_cl)
    r = subprocess.run([HETRUN, "--model", SQ11, "--device", "gpu", "--cl-cache", ""], capture_output=True, text=True,
                       env=env)
    check(r.returncode > 0 and "build log" in r.stderr and "failed to build" in r.stderr,
          "kernel build failure prints the build log: rc %d %r" % (r.returncode, r.stderr[-300:]))
    # A corrupt cache entry is rebuilt, and the run still matches the CPU.
    cache = out("clcache")
    r1 = run("--model", SQ11, "--device", "gpu", "--cl-cache", cache, "-q")
    for f in os.listdir(cache) if os.path.isdir(cache) else []:
        with open(os.path.join(cache, f), "r+b") as fh:
            fh.truncate(64)
    r2 = run("--model", SQ11, "--device", "gpu", "--cl-cache", cache, "--images", 1, "--save-output", out("g.npy"), "-q")
    r3 = run("--model", SQ11, "--images", 1, "--save-output", out("c.npy"), "-q")
    check(r1.returncode == 0 and r2.returncode == 0 and "corrupt" in r2.stderr and r3.returncode == 0
          and np.allclose(np.load(out("g.npy")), np.load(out("c.npy")), atol=1e-5),
          "corrupt cache entry rebuilt: %r" % r2.stderr)
    # Device out of memory: a model larger than the device reports it can
    # hold is refused before anything is allocated.
    big = w("big.prototxt", clitest.too_big_for_opencl_model(clitest.opencl_memory()))
    r = run("--model", big, "--device", "gpu", "--save-output", out("bad.npy"))
    errl = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(errl) == 1 and "cannot hold" in errl[0] and not os.path.exists(out("bad.npy")),
          "device out of memory: rc %d, stderr %r" % (r.returncode, r.stderr[-400:]))
    # Every hetrun option works with --device gpu.
    r = run("--model", SQ11, "--device", "gpu", "--images", IMAGES, "--labels", LABELS, "--summary-json", out("gs.json"),
            "--save-blob", "conv1=" + out("gconv1.npy"), "--profile", "--repeat", 2, "--warmup", 2)
    s = json.load(open(out("gs.json"))) if r.returncode == 0 else {}
    check(r.returncode == 0 and "opencl" in s.get("backend", "") and s.get("setup_ms", -1) >= 0
          and s.get("first_run_ms", 0) > 0 and "fire9/expand3x3" in r.stdout,
          "gpu run with every option: %r" % r.stderr)
elif os.environ.get("CI") == "true":
    check(False, "no OpenCL device under CI (PoCL should be installed)")

clitest.finish("test_hetrun")
