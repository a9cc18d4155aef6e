#!/bin/bash
# Whether hetpart's answer is ever slower than the obvious runs, on the GPU
# machine, in one command from the bundle folder (scripts/bundle.sh, with
# ./shared holding the models): per model, a fresh sweep (which measures
# the CPU backend alone on every core, its baseline), hetpart solve for
# latency and throughput, then ROUNDS alternating rounds of: each solved
# plan, `hetrun --device cpu` on every core, `hetrun --device gpu` one image
# at a time, and the GPU streaming alone (an image-parallel plan on the GPU).
# Latency runs are one image repeated; throughput runs a stream of IMAGES.
# Everything goes to $OUT/baseline_check.txt (one line a run), the plans
# and sweep summaries beside it.
#   MODELS  models of ./shared/models (default squeezenet_v1.1,bvlc_googlenet)
#   ROUNDS  alternating rounds (default 3)
#   IMAGES  images of a throughput stream (default 100)
#   GPU     the OpenCL device, a name substring (default NVIDIA)
set -u
cd "$(dirname "$0")"
. ./machine_env.sh
LOG="$OUT/baseline_check.txt"
echo "load: $(cat /proc/loadavg); $(nproc) cores; $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" | tee "$LOG"
ROUNDS=${ROUNDS:-3}
IMAGES=${IMAGES:-100}
med() { grep -o "median [0-9.]* ms" | head -1 | awk '{print $2}'; }
ips() { grep -o "[0-9.]* images/s" | head -1 | awk '{print $1}'; }
for m in $(echo "${MODELS:-squeezenet_v1.1,bvlc_googlenet}" | tr , ' '); do
    M=shared/models/$m/deploy.prototxt
    DB=$(mktemp -d)/het.db
    # The study's core split (machine_env.sh): the GPU's host thread on the
    # last core, the CPU backend on the others; the baseline takes them all.
    bin/hetprof sweep --model "$M" --db "$DB" --gpu "${GPU:-NVIDIA}" --cpu-cores "$CPU_CORES" --gpu-cores "$GPU_CORES" -q 2>&1 |
        tail -1 | tee -a "$LOG"
    python3 -c "import sqlite3,sys; print(*sqlite3.connect(sys.argv[1]).execute(
        'SELECT device, cores, threads, median_ms, cv FROM baselines').fetchall())" "$DB" | sed 's/^/baseline /' |
        tee -a "$LOG"
    for obj in latency throughput; do
        bin/hetpart solve --db "$DB" --model "$M" --objective $obj --out "$OUT/${m}_$obj.json" 2>&1 | head -2 |
            tee -a "$LOG"
    done
    hash=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['model_hash'])" "$OUT/${m}_latency.json")
    # A plan that is not the CPU alone replays on the sweep's core split; the
    # CPU alone keeps the cores its plan names.
    split() { python3 -c "import json,sys; p=json.load(open(sys.argv[1]))
print('' if p['mode'] == 'single' else '--cpu-cores $CPU_CORES --gpu-cores $GPU_CORES')" "$1"; }
    lat_cores=$(split "$OUT/${m}_latency.json")
    thr_cores=$(split "$OUT/${m}_throughput.json")
    echo "{\"het_plan\": 1, \"model_hash\": \"$hash\", \"mode\": \"image-parallel\", \"devices\": [\"gpu\"]}" \
        > "$OUT/${m}_gpu_stream.json"
    for r in $(seq 1 "$ROUNDS"); do
        a=$(bin/hetrun --model "$M" --plan "$OUT/${m}_latency.json" $lat_cores --gpu "${GPU:-NVIDIA}" --images 1 --repeat 50 --warmup 5 -q --top 0 | med)
        b=$(bin/hetrun --model "$M" --device cpu --images 1 --repeat 50 --warmup 5 -q --top 0 | med)
        c=$(bin/hetrun --model "$M" --device gpu --gpu "${GPU:-NVIDIA}" --images 1 --repeat 50 --warmup 5 -q --top 0 | med)
        echo "$m round $r latency ms: plan $a | cpu every core $b | gpu $c" | tee -a "$LOG"
        a=$(bin/hetrun --model "$M" --plan "$OUT/${m}_throughput.json" $thr_cores --gpu "${GPU:-NVIDIA}" --images "$IMAGES" --repeat 3 -q --top 0 | ips)
        b=$(bin/hetrun --model "$M" --device cpu --images "$IMAGES" -q --top 0 | ips)
        c=$(bin/hetrun --model "$M" --plan "$OUT/${m}_gpu_stream.json" --gpu "${GPU:-NVIDIA}" --images "$IMAGES" --repeat 3 -q --top 0 | ips)
        echo "$m round $r throughput images/s: plan $a | cpu every core $b | gpu stream $c" | tee -a "$LOG"
    done
done
