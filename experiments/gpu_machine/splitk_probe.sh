#!/bin/bash
# How many work-groups conv_gemm should aim for before it splits K
# (HET_CL_SPLITK; 4 per compute unit until this probe, 16 since). On the H100 a
# convolution's time moved in steps: GoogLeNet's conv2/3x3 took 0.18 ms on
# 176-192 channels (588 work-groups, no split) and 0.135 ms on 160 (490,
# under the 528 target, so K split in two). That says the kernel is bound by
# each work-group's walk along K, not by the GPU's arithmetic, and that a
# larger target might speed whole layers too. This times, alternating the
# targets round by round:
#   1. each model's whole network on the GPU (median latency of 100 runs);
#   2. GoogLeNet's layers on the GPU (hetrun --profile), once per target;
#   3. hetprof parts on GoogLeNet's four heaviest layers at 0, 16, 32 and 64
#      CPU channels: the GPU's part [k, C) under each target.
# Run from the bundle folder (scripts/bundle.sh) with ./shared holding the
# models; writes to $OUT.
#   usage: OUT=DIR ./splitk_probe.sh [ROUNDS]   (TARGETS: work-groups per
#   compute unit, default "4 8 16 32")
set -u
cd "$(dirname "$0")"
. ./machine_env.sh
ROUNDS=${1:-3}
GPU=${GPU:-NVIDIA}
H=bin/hetrun
CUS=${CUS:-132}   # the H100's streaming multiprocessors
TARGETS=${TARGETS:-4 8 16 32}
echo "splitk_probe: $GPU, $CUS compute units, targets per CU: $TARGETS, $ROUNDS rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
W=$(mktemp -d)
for ((r = 1; r <= ROUNDS; r++)); do
    for t in $TARGETS; do
        for m in bvlc_googlenet squeezenet_v1.0 squeezenet_v1.1 mobilenet_v1; do
            HET_CL_SPLITK=$((t * CUS)) $H --model "shared/models/$m/deploy.prototxt" --device gpu --gpu "$GPU" \
                --gpu-cores "$GPU_CORES" --images 1 --warmup 20 --repeat 100 --top 0 -q \
                --summary-json "$W/s.json" >/dev/null 2>&1 || { echo "round $r target $t $m: failed"; continue; }
            python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print('round %s target %3s/CU %-16s median %.4f ms p90 %.4f' % (sys.argv[2], sys.argv[3], sys.argv[4], j['latency_ms']['median'], j['latency_ms']['p90']))" \
                "$W/s.json" "$r" "$t" "$m"
        done
    done
done | tee "$OUT/splitk_whole.txt"
python3 - "$OUT/splitk_whole.txt" <<'PY' | tee -a "$OUT/splitk_whole.txt"
import collections, statistics, sys
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) > 6 and f[0] == "round" and f[5] == "median":
        t[(f[4], int(f[3].split("/")[0]))].append(float(f[6]))
print("median over rounds, ms (and against the 4/CU default):")
for m in sorted({k[0] for k in t}):
    base = statistics.median(t[(m, 4)]) if (m, 4) in t else None
    row = ["%s/CU %.4f%s" % (k, statistics.median(v), " (%.2fx)" % (base / statistics.median(v)) if base else "")
           for (mm, k), v in sorted(t.items()) if mm == m]
    print("  %-16s %s" % (m, "  ".join(row)))
PY
P=shared/models/bvlc_googlenet/deploy.prototxt
for t in $TARGETS; do
    echo "### target $t/CU"
    HET_CL_SPLITK=$((t * CUS)) $H --model $P --device gpu --gpu "$GPU" --gpu-cores "$GPU_CORES" --images 1 \
        --warmup 20 --repeat 50 --top 0 --profile 2>&1 | grep -E "Convolution|median"
done > "$OUT/splitk_profile_bvlc_googlenet.txt"
for t in $TARGETS; do
    echo "### target $t/CU"
    HET_CL_SPLITK=$((t * CUS)) bin/hetprof parts --model $P --gpu "$GPU" --cpu-cores "$CPU_CORES" \
        --gpu-cores "$GPU_CORES" --channels 16,32,64 -q 2>&1
done > "$OUT/splitk_parts_bvlc_googlenet.txt"
echo "== parts"; grep -E "###|^[a-z]|^ +(0|16|32|64) " "$OUT/splitk_parts_bvlc_googlenet.txt" | cut -c1-120
rm -rf "$W"
