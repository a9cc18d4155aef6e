#!/usr/bin/python3
"""The three tools behave alike: --version, --help and each command's own
--help; every option a help text documents is one the parser knows; one
spelling for each shared concept (warm-up, repetitions, machine-readable
output, ...); -q and -v on every tool; --json on every command that prints
results, giving JSON alone on stdout; one error prefix, 'tool: error: '.
usage: test_cli.py BINDIR SOURCE_DIR WORKDIR
"""
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import check, finish, run, write_tiny_model  # noqa: E402

BIN, SRC, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
TOOLS = {"hetrun": [None], "hetprof": ["sweep", "show", "export", "parts"],
         "hetpart": ["tune", "solve", "predict", "explain"]}


def tool(name):
    return os.path.join(BIN, name)


def out(name):
    return os.path.join(WORK, name)


# --version: one line, the same version from every tool.
versions = {}
for t in TOOLS:
    r = run(tool(t), "--version")
    m = re.fullmatch(r"%s (\S+)\n" % t, r.stdout)
    check(r.returncode == 0 and m is not None, "%s --version: %r" % (t, r.stdout))
    versions[t] = m.group(1) if m else None
check(len(set(versions.values())) == 1, "one version: %r" % versions)

# The options a help text documents: a flag that starts an option line.
OPTION = re.compile(r"^\s+(?:-([a-z]), )?(--[a-z][a-z0-9-]*)", re.M)


def documented(text):
    return {m.group(2) for m in OPTION.finditer(text)} | {"-" + m.group(1) for m in OPTION.finditer(text) if m.group(1)}


# Spellings a tool must not use for a concept another spells otherwise.
CANONICAL = {"--repeat": ["--reps", "--repetitions", "--iterations", "--runs"],
             "--warmup": ["--warm-up", "--warmups"],
             "--json": ["--summary-json", "--json-out", "--format-json"],
             "--quiet": ["--silent"], "--verbose": ["--debug"],
             "--model": ["--prototxt", "--net"], "--db": ["--database"]}
full = {}
for t, cmds in TOOLS.items():
    r = run(tool(t), "--help")
    full[t] = r.stdout
    check(r.returncode == 0 and r.stdout.startswith("usage: %s" % t), "%s --help: %r" % (t, r.stdout[:200]))
    for c in cmds:
        if c is None:
            continue
        r = run(tool(t), c, "--help")
        others = [o for o in cmds if o != c]
        check(r.returncode == 0 and re.search(r"^%s: " % c, r.stdout, re.M)
              and not any(re.search(r"^%s: " % o, r.stdout, re.M) for o in others),
              "%s %s --help prints that command's help alone: %r" % (t, c, r.stdout[:300]))
        # Every documented option is one the parser knows: given without
        # its value, or alone, the answer is never "unknown option".
        for flag in sorted(documented(r.stdout)):
            if flag in ("--help", "-h", "--version"):
                continue
            r2 = run(tool(t), c, flag)
            check("unknown option" not in r2.stderr, "%s %s %s is documented but unknown: %s" % (t, c, flag, r2.stderr))
    opts = documented(full[t])
    for good, bad in CANONICAL.items():
        for b in bad:
            check(b not in opts, "%s documents %s where the tools say %s" % (t, b, good))
    for must in ("--json", "--quiet", "--verbose", "-q", "-v", "--model"):
        check(must in opts or re.search(r"(^|[\s/])%s\b" % re.escape(must), full[t]),
              "%s documents %s: %s" % (t, must, sorted(opts)))
check(all("--warmup" in documented(full[t]) for t in ("hetrun", "hetprof", "hetpart")),
      "warm-up is --warmup in every tool")
check(all("--repeat" in documented(full[t]) for t in ("hetrun", "hetprof", "hetpart")),
      "repetitions are --repeat in every tool")
# hetrun has no commands: its one help is the whole.
for flag in sorted(documented(full["hetrun"]) - {"--help", "-h", "--version", "--list-gpus"}):
    r = run(tool("hetrun"), flag)
    check("unknown option" not in r.stderr, "hetrun %s is documented but unknown: %s" % (flag, r.stderr))

# One error prefix: an unknown option, and a model that is not there, get
# one line 'tool: error: ...' and a non-zero exit, from every command.
for t, cmds in TOOLS.items():
    for c in cmds:
        args = [c] if c else []
        r = run(tool(t), *args, "--no-such-option")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode != 0 and len(lines) == 1 and lines[0].startswith("%s: error: " % t),
              "%s %s, unknown option: %r" % (t, c or "", r.stderr))
# --json: JSON alone on stdout, from every command that prints results.
MODEL = write_tiny_model(out("tiny.prototxt"))
DB = out("het.db")


def json_of(what, *cmd):
    r = run(*cmd)
    try:
        v = json.loads(r.stdout)
    except ValueError:
        v = None
    check(r.returncode == 0 and v is not None, "%s --json: rc %d, stdout %r, stderr %r"
          % (what, r.returncode, r.stdout[:300], r.stderr[-300:]))
    return v


sw = json_of("hetprof sweep", tool("hetprof"), "sweep", "--model", MODEL, "--db", DB, "--repeat", 6, "--min-reps", 3,
             "--max-time", "0.05", "--json", "-q")
check(isinstance(sw, dict) and sw.get("sweep") == 1 and sw.get("measurements", 0) > 0, "sweep --json: %r" % sw)
# (after the sweep: solve reads the database before the model)
missing = out("missing.prototxt")
for t, args in (("hetrun", ["--model", missing]), ("hetprof", ["sweep", "--model", missing, "--db", out("m.db")]),
                ("hetprof", ["parts", "--model", missing]), ("hetpart", ["tune", "--model", missing]),
                ("hetpart", ["solve", "--model", missing, "--db", DB, "--objective", "latency"])):
    r = run(tool(t), *args)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode != 0 and len(lines) == 1 and lines[0].startswith("%s: error: " % t) and "missing.prototxt" in lines[0],
          "%s %s, missing model: one line naming it: %r" % (t, args[0], r.stderr))
check(not os.path.exists(out("m.db")), "a sweep of a missing model creates no database")

sh = json_of("hetprof show", tool("hetprof"), "show", "--db", DB, "--json")
check(isinstance(sh, list) and len(sh) == 1 and sh[0].get("layers"), "show --json: %r" % (sh and sh[0].keys()))
plan = out("plan.json")
so = json_of("hetpart solve", tool("hetpart"), "solve", "--db", DB, "--model", MODEL, "--objective", "latency",
             "--out", plan, "--json")
check(isinstance(so, dict) and so == json.load(open(plan)), "solve --json prints the plan it writes")
pr = json_of("hetpart predict", tool("hetpart"), "predict", "--db", DB, "--model", MODEL, "--plan", plan, "--json")
check(isinstance(pr, dict) and pr.get("latency_ms", 0) > 0, "predict --json: %r" % pr)
ex = json_of("hetpart explain", tool("hetpart"), "explain", plan, "--json")
check(isinstance(ex, dict) and "totals_ms" in ex, "explain --json: %r" % ex)
tu = json_of("hetpart tune", tool("hetpart"), "tune", "--model", MODEL, "--db", DB, "--out", out("tuned.json"),
             "--repeat", 1, "--images", 3, "--allow-busy", "--json")
check(isinstance(tu, dict) and tu.get("answer", {}).get("plan_file") == out("tuned.json"), "tune --json: %r" % tu)
hr = json_of("hetrun", tool("hetrun"), "--model", MODEL, "--images", 2, "--json", "-")
check(isinstance(hr, dict) and hr.get("images") == 2 and hr.get("latency_ms", {}).get("median", 0) > 0,
      "hetrun --json -: %r" % hr)
finish("test_cli")
