#!/bin/bash
# Two builds of hetrun on the same plans, alternating, to measure what a
# change did (benchmarks, not tests: see docs/benchmarks.md). Prints each
# run's images/s and, per plan, the medians and their ratio.
#   usage: scripts/ab_plans.sh OLD_HETRUN NEW_HETRUN REPS MODEL.prototxt PLAN.json... [-- HETRUN_ARGS]
# OPENBLAS_CORETYPE is unset (set to Haswell it halves OpenBLAS on AVX-512).
set -u
[ $# -ge 5 ] || { echo "usage: $0 OLD_HETRUN NEW_HETRUN REPS MODEL.prototxt PLAN.json... [-- HETRUN_ARGS]" >&2; exit 2; }
unset OPENBLAS_CORETYPE
OLD=$1 NEW=$2 REPS=$3 MODEL=$4
shift 4
PLANS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do PLANS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
for p in "${PLANS[@]}"; do
    old=() new=()
    for ((r = 0; r < REPS; r++)); do
        for which in old new; do
            bin=$OLD; [ $which = new ] && bin=$NEW
            ips=$("$bin" --model "$MODEL" --plan "$p" --images 100 --top 0 -q "$@" 2>&1 |
                  grep -o '[0-9.]* images/s' | head -1 | cut -d' ' -f1)
            [ -n "$ips" ] || { echo "$which build failed on $p" >&2; exit 1; }
            if [ $which = old ]; then old+=("$ips"); else new+=("$ips"); fi
        done
    done
    python3 - "$p" "${old[*]}" "${new[*]}" <<'PY'
import statistics, sys
p, old, new = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
mo, mn = statistics.median(old), statistics.median(new)
print("%s: old %s -> median %.1f; new %s -> median %.1f; new/old %.2f" % (p, " ".join("%.1f" % x for x in old), mo,
      " ".join("%.1f" % x for x in new), mn, mn / mo))
PY
done
