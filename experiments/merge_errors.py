#!/usr/bin/env python3
"""The study summary's all-models figures (prediction error and replay
noise) over several study folders at once: for a study run in parts, as on
the GPU machine, where one command may last 10 minutes and four models with
11 replay rounds take about 10 minutes together.

usage: experiments/merge_errors.py STUDY_DIR [STUDY_DIR ...]
  each STUDY_DIR is a platform folder written by experiments/study.py (it
  holds MODEL/modes.csv for each model it finished)
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import study  # noqa: E402  (the summary's own functions, so the figures agree)


def load(dirs):
    results = []
    for d in dirs:
        if not os.path.isdir(d):
            sys.exit("merge_errors: %s: not a folder" % d)
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name, "modes.csv")
            if not os.path.isfile(path):
                continue
            rows = list(csv.DictReader(open(path)))
            for r in rows:
                r["measured_ips"] = float(r["measured_ips"])
                for k in ("ips_error", "recal_error"):
                    r[k] = float(r[k]) if r[k] else None
            results.append({"name": name, "rows": rows})
    if not results:
        sys.exit("merge_errors: no MODEL/modes.csv under %s" % ", ".join(dirs))
    return results


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) > 1 else 2
    results = load(sys.argv[1:])
    print("models: %s" % ", ".join(r["name"] for r in results))
    print("\n".join(study.all_models_errors(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
