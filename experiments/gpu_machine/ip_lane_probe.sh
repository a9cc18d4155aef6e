#!/bin/bash
# Why the GPU's image-parallel lane runs slower in hetrun than the sweep's
# stream of the GPU alone, even with the CPU busy (network_corun): the
# lane's ms an image (its images over its busy time, from the timeline) in
#   both      the image-parallel plan, CPU lane on 0-14, GPU host thread on 15
#   gpu       a GPU-only image-parallel plan (the sweep's stream)
#   gpu+proc  the same while another process runs the CPU alone on 0-14
#   both-13   the image-parallel plan with the CPU lane on 0-13 (core 14 idle)
# alternating, REPS rounds. Run from the bundle folder (scripts/bundle.sh)
# with ./shared holding the models; writes to $OUT.
#   usage: OUT=DIR ./ip_lane_probe.sh [MODEL] [REPS]
set -u
cd "$(dirname "$0")"
. ./machine_env.sh
M=${1:-squeezenet_v1.1} REPS=${2:-3}
# The study's cores by default (0-14 and 15 on the H100 machine); GPU, CPU,
# CPU_LESS (one core fewer) and GPU_CORE override.
GPU=${GPU:-NVIDIA} CPU=${CPU:-$CPU_CORES} CPU_LESS=${CPU_LESS:-0-$((N_CORES - 3))} GPU_CORE=${GPU_CORE:-$GPU_CORES}
PROTO=shared/models/$M/deploy.prototxt
W=$(mktemp -d)
H=$(bin/hetrun --model "$PROTO" --images 1 --top 0 -q --summary-json "$W/h.json" >/dev/null 2>&1;
    python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['model_hash'])" "$W/h.json")
echo "{\"het_plan\": 1, \"model_hash\": \"$H\", \"mode\": \"image-parallel\", \"devices\": [\"cpu\", \"gpu\"]}" > "$W/both.json"
echo "{\"het_plan\": 1, \"model_hash\": \"$H\", \"mode\": \"image-parallel\", \"devices\": [\"gpu\"]}" > "$W/gpu.json"
lane() { # plan cpu-cores tag
    bin/hetrun --model "$PROTO" --plan "$W/$1.json" --images 100 --repeat 5 --top 0 -q --gpu "$GPU" \
        --cpu-cores "$2" --gpu-cores "$GPU_CORE" --timeline "$W/t.csv" >/dev/null 2>&1 || { echo "$3 failed"; return; }
    python3 - "$W/t.csv" "$3" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for name in ("gpu", "cpu"):
    r = [x for x in rows if x["name"] == name]
    if r:
        busy = sum(float(x["end_ms"]) - float(x["start_ms"]) for x in r)
        print("%-9s %s lane: %3d images, %.4f ms an image" % (sys.argv[2], name, len(r), busy / len(r)))
PY
}
for ((i = 0; i < REPS; i++)); do
    lane both "$CPU" both
    lane gpu "$CPU" gpu
    bin/hetrun --model "$PROTO" --device cpu --images 100 --repeat 40 --top 0 -q --cpu-cores "$CPU" >/dev/null 2>&1 &
    BG=$!
    sleep 0.5
    lane gpu "$CPU" gpu+proc
    kill $BG 2>/dev/null; wait $BG 2>/dev/null
    lane both "$CPU_LESS" both-13
done | tee "$OUT/ip_lane_probe_$M.txt"
