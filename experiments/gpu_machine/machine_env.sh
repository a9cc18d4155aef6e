# Sourced by every GPU-machine job (run.sh, study.sh, parts.sh,
# ip_lane_probe.sh) from the bundle folder: the environment their timings
# assume, where their results go, and the study's core split.
OUT=${OUT:-/tmp/het-out}
mkdir -p "$OUT"
# One real GPU needs one host core: its thread on the last core, the CPU
# backend on the others.
N_CORES=$(nproc)
CPU_CORES="0-$((N_CORES - 2))"
GPU_CORES="$((N_CORES - 1))"
unset OPENBLAS_CORETYPE   # set to Haswell it halves OpenBLAS on AVX-512 cores
# NVIDIA's driver ships its OpenCL library but may not register it.
if ldconfig -p | grep -q libnvidia-opencl.so.1 && [ ! -f /etc/OpenCL/vendors/nvidia.icd ]; then
    mkdir -p /etc/OpenCL/vendors && echo libnvidia-opencl.so.1 > /etc/OpenCL/vendors/nvidia.icd
fi
export HET_CL_CACHE=/tmp/het-clcache
