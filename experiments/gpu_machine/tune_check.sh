#!/bin/bash
# hetpart tune on the GPU machine, in one command from the bundle folder
# (scripts/bundle.sh, with ./shared holding the models): per model and
# objective, tune on a fresh database (sweep included), its time and
# answer, then the answer replayed against the best device alone and the
# CPU alone on every core, alternating (scripts/bench_tune.py); then the
# peers on the GPU (PyTorch eager and with a CUDA graph, peers.py), so that
# the answer's rate can be set against them from the same session.
#   MODELS  models of ./shared/models (default squeezenet_v1.1,bvlc_googlenet)
#   ROUNDS  alternating rounds of the independent replay (default 3)
set -u
cd "$(dirname "$0")"
. ./machine_env.sh
echo "load: $(cat /proc/loadavg); $(nproc) cores; $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" |
    tee "$OUT/tune_check.txt"
python3 scripts/bench_tune.py --bin bin --shared shared --models "${MODELS:-squeezenet_v1.1,bvlc_googlenet}" \
    --rounds "${ROUNDS:-3}" --gpu NVIDIA --out "$OUT/tune_bench.json" 2>&1 | tee -a "$OUT/tune_check.txt"
python3 peers.py bin/hetrun shared "$OUT/peers.json" --only gpu 2>&1 | tail -20 | tee -a "$OUT/tune_check.txt"
