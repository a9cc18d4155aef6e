#!/bin/bash
# The study (experiments/study.py) on the GPU machine, in one command: run it
# from the bundle folder made by scripts/bundle.sh, with ./shared holding the
# models and images; the results folder goes to $OUT as PLATFORM.tgz (one
# file: the device tool returns few files), the log as study-log.txt.
# Unpack it under results/ and draw the figures on the build machine
# (make figures). See docs/gpu-machine.md.
#   MODELS   models in order (each is complete in $OUT before the next starts)
#   PLATFORM results folder name (default h100)
#   BUDGET   seconds the study may take before it is stopped (default 480)
#   REPEAT   hetrun --repeat of each replay (default 5: a stream of 100
#            images lasts about 50 ms there, and single streams moved by up
#            to 15% from replay to replay)
#   REPS     replays of each plan, the modes alternating (default 5: the
#            machine's CPU side is unsteady, and a median of 3 replays was
#            once 2 slowed ones)
set -u
cd "$(dirname "$0")"
. ./machine_env.sh
# A busy core skews every timing (OpenBLAS threads wait for the slowest):
# show the load, and what else runs.
echo "load: $(cat /proc/loadavg); other het processes: $(pgrep -c -x 'het(run|prof|part)' || true)"
P=${PLATFORM:-h100}
RES=$(mktemp -d)
timeout "${BUDGET:-480}" python3 experiments/study.py --platform "$P" --out "$RES/$P" \
    --bin bin --shared shared --models "${MODELS:-squeezenet_v1.1,squeezenet_v1.0,mobilenet_v1,bvlc_googlenet}" \
    --gpu "${GPU:-NVIDIA}" --cpu-cores "$CPU_CORES" --gpu-cores "$GPU_CORES" --reps "${REPS:-5}" --repeat "${REPEAT:-5}" --no-figures "$@" 2>&1 |
    tee "$OUT/study-log.txt" | grep -v "^hetprof: \[" | tail -40
rc=${PIPESTATUS[0]}
echo "rc=$rc"
# Whatever models finished are complete (summary.md is rewritten after each).
tar czf "$OUT/$P.tgz" -C "$RES" "$P" && ls -la "$OUT"
exit "$rc"
