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


def finish(name):
    print("%s: %d passed, %d failed" % (name, passed, failed))
    sys.exit(1 if failed else 0)
