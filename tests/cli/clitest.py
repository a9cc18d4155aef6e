"""What the CLI tests share: counting checks, running a tool with its
output decoded, the one-line-error rule, and the summary exit.

Every bad input must give exactly one line on stderr and a non-zero exit
(not a crash)."""
import os
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


def opencl_memory(env=None):
    """(largest buffer, global memory) in bytes, the largest any OpenCL device
    here reports (CL_DEVICE_MAX_MEM_ALLOC_SIZE, CL_DEVICE_GLOBAL_MEM_SIZE),
    read with clinfo rather than with het, under `env`; None where clinfo
    finds none."""
    try:
        out = subprocess.run(["clinfo", "--raw"], capture_output=True, text=True, timeout=120, env=env).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    def largest(key):
        v = [int(l.split()[-1]) for l in out.splitlines() if l.split()[1:2] == [key]]
        return max(v) if v else None
    alloc, total = largest("CL_DEVICE_MAX_MEM_ALLOC_SIZE"), largest("CL_DEVICE_GLOBAL_MEM_SIZE")
    return (alloc, total) if alloc and total else None


def too_big_for_opencl_model(mem):
    """A model that no OpenCL device reporting `mem` (opencl_memory()) can
    hold, whose input stays small (4 MiB): 1x1 convolutions 'wide1',
    'wide2', ... Where the largest buffer is under 2 GiB (the most a blob
    may have), one convolution whose output just passes it; else a chain of
    outputs just under 2 GiB, long enough to pass the global memory. The
    device must refuse the chain from the shapes: computing it, or filling
    its host storage, would take that much memory."""
    plane = 1024 * 1024 * 4
    if mem and mem[0] < 2**31:
        channels, n = mem[0] // plane + 1, 1
    else:
        channels = 511
        n = (mem[1] if mem else 2**36) // (channels * plane) + 2
    text = 'input: "data"\ninput_shape { dim: 1 dim: 1 dim: 1024 dim: 1024 }\n'
    bottom = "data"
    for i in range(1, n + 1):
        text += ('layer { name: "wide%d" type: "Convolution" bottom: "%s" top: "wide%d" '
                 'convolution_param { num_output: %d kernel_size: 1 bias_term: false } }\n' % (i, bottom, i, channels))
        bottom = "wide%d" % i
    return text


def db_version(src):
    """The database schema version this het writes, from its source."""
    import re
    with open(os.path.join(src, "profiler", "db.h")) as f:
        return int(re.search(r"#define HET_DB_VERSION (\d+)", f.read()).group(1))


def write_tiny_model(path, text=TINY_MODEL):
    with open(path, "w") as f:
        f.write(text)
    return path


def finish(name):
    print("%s: %d passed, %d failed" % (name, passed, failed))
    sys.exit(1 if failed else 0)
