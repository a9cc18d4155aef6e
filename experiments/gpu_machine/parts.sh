#!/bin/bash
# hetprof parts on the GPU machine: each part of a split of each model's
# four heaviest layers, alone (docs/hetprof.md), one file per model in $OUT.
# Run from the bundle folder made by scripts/bundle.sh, with ./shared
# holding the models. The CPU backend gets every core but the last, the
# GPU's host thread the last, as in the study.
#   MODELS  models (default the study's four)
#   GPU     OpenCL device (default NVIDIA)
set -u
cd "$(dirname "$0")"
. ./machine_env.sh
echo "load: $(cat /proc/loadavg)"
# The share of CPU time the hypervisor took (steal) over a model's run.
cpu_times() { awk '/^cpu /{t=0; for (i=2;i<=NF;i++) t+=$i; print t, $9}' /proc/stat; }
rc=0
for m in ${MODELS:-bvlc_googlenet squeezenet_v1.0 squeezenet_v1.1 mobilenet_v1}; do
    f="$OUT/parts_$m.txt"
    read -r t0 s0 < <(cpu_times)
    { echo "# bin/hetprof parts --model shared/models/$m/deploy.prototxt --gpu ${GPU:-NVIDIA} --cpu-cores $CPU_CORES --gpu-cores $GPU_CORES (OPENBLAS_CORETYPE unset; $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg))"
      bin/hetprof parts --model "shared/models/$m/deploy.prototxt" --gpu "${GPU:-NVIDIA}" \
          --cpu-cores "$CPU_CORES" --gpu-cores "$GPU_CORES" -q "$@"; } > "$f" 2>&1 || rc=1
    read -r t1 s1 < <(cpu_times)
    echo "# steal over this model: $(awk -v a="$((s1 - s0))" -v b="$((t1 - t0))" 'BEGIN{printf "%.1f%%", b ? 100*a/b : 0}')" >> "$f"
    echo "== $m"; cat "$f"
done
exit "$rc"
