"""What the CLI tests share: counting checks, running a tool with its
output decoded, the one-line-error rule, and the summary exit.

Every bad input must give exactly one line on stderr and a non-zero exit
(not a crash)."""
import subprocess
import sys

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


def run(tool, *args, timeout=600, **kw):
    r = subprocess.run([tool] + [str(a) for a in args], capture_output=True, timeout=timeout, **kw)
    # Decode leniently: a non-UTF-8 byte in a message is itself checked.
    r.stdout, r.stderr = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    return r


def one_line_error(r, what, needle):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0 and len(lines) == 1 and needle in lines[0],
          "%s: rc %d, stderr %r" % (what, r.returncode, r.stderr[-500:]))


# A small network with the shapes the partitioner must handle: a conv with
# its fused ReLU, two branches reading one blob, a zero-copy concat, a
# global pooling and a softmax (6 executor units).
TINY_MODEL = '''name: "tiny"
input: "data"
input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 16 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "a" type: "Convolution" bottom: "conv1" top: "a" convolution_param { num_output: 8 kernel_size: 1 } }
layer { name: "b" type: "Convolution" bottom: "conv1" top: "b" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" }
layer { name: "pool" type: "Pooling" bottom: "cat" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "prob" type: "Softmax" bottom: "pool" top: "prob" }
'''


def write_tiny_model(path, text=TINY_MODEL):
    with open(path, "w") as f:
        f.write(text)
    return path


def finish(name):
    print("%s: %d passed, %d failed" % (name, passed, failed))
    sys.exit(1 if failed else 0)
