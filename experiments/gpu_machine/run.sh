#!/bin/bash
# The whole GPU-machine job in one command (see docs/gpu-machine.md): run it
# from the bundle folder made by scripts/bundle.sh, with ./shared holding the
# models and images, and $OUT a folder for the results.
#   1. register NVIDIA's OpenCL driver with the ICD loader;
#   2. correctness: every layer kind x channel ranges x buffer modes against
#      the CPU (test_opencl_layers), and every model GPU vs CPU;
#   3. per-layer profiles on both devices, both GPU convolution kernels;
#   4. the peers: ONNX Runtime (CPU), PyTorch eager and CUDA graph (GPU).
set -u
cd "$(dirname "$0")"
. ./machine_env.sh
H=bin/hetrun
PY=${PY:-python3}
{
    echo "== machine"; nproc; grep -m1 "model name" /proc/cpuinfo; nvidia-smi -L 2>&1
    echo "== opencl devices"; $H --list-gpus
    echo "== missing libraries"; ldd $H | grep "not found" || echo none
} 2>&1 | tee "$OUT/machine.txt"

echo "== test_opencl_layers (NVIDIA)"
bin/test_opencl_layers > "$OUT/test_opencl_layers.txt" 2>&1; echo "rc=$?" >> "$OUT/test_opencl_layers.txt"
tail -2 "$OUT/test_opencl_layers.txt"

echo "== models: GPU vs CPU"
for m in squeezenet_v1.1 squeezenet_v1.0 bvlc_alexnet bvlc_googlenet mobilenet_v1 mobilenet_v2 resnet50; do
    $PY tests/ref/compare_devices.py $H shared/models/$m shared/images /tmp/cmp_$m; echo "$m rc=$?"
done > "$OUT/gpu_vs_cpu.txt" 2>&1
grep -cE " ok$" "$OUT/gpu_vs_cpu.txt"; grep -E "rc=|MISMATCH" "$OUT/gpu_vs_cpu.txt" | tr '\n' ' '; echo

echo "== profiles"
{
    for m in squeezenet_v1.1 squeezenet_v1.0; do
        P=shared/models/$m/deploy.prototxt
        echo "### $m cpu $(nproc) threads"; $H --model $P --images 1 --warmup 20 --repeat 50 --top 0 --profile
        for k in gemm pix; do
            echo "### $m gpu conv=$k"; HET_CL_CONV=$k $H --model $P --device gpu --images 1 --warmup 20 --repeat 50 --top 0 --profile
        done
        echo "### $m gpu copy vs zero-copy"
        $H --model $P --device gpu --gpu-buffers copy --images 1 --warmup 20 --repeat 100 --top 0 | tail -1
        $H --model $P --device gpu --gpu-buffers zero-copy --images 1 --warmup 20 --repeat 100 --top 0 | tail -1
    done
} > "$OUT/profiles.txt" 2>&1
grep -E "^###|median" "$OUT/profiles.txt" | cut -c1-220

echo "== peers"
$PY peers.py $H shared "$OUT/peers.json" --procs ${PROCS:-5} --runs ${RUNS:-100} 2>&1 | tee "$OUT/peers.txt" | tail -5
