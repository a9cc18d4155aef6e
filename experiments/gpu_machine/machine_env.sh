# Sourced by every GPU-machine job (run.sh, study.sh, parts.sh,
# ip_lane_probe.sh) from the bundle folder: the environment their timings
# assume.
unset OPENBLAS_CORETYPE   # set to Haswell it halves OpenBLAS on AVX-512 cores
# NVIDIA's driver ships its OpenCL library but may not register it.
if ldconfig -p | grep -q libnvidia-opencl.so.1 && [ ! -f /etc/OpenCL/vendors/nvidia.icd ]; then
    mkdir -p /etc/OpenCL/vendors && echo libnvidia-opencl.so.1 > /etc/OpenCL/vendors/nvidia.icd
fi
export HET_CL_CACHE=/tmp/het-clcache
