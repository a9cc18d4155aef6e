#!/bin/sh
# Builds a relocatable het bundle: bin/ (hetrun and the OpenCL test), lib/
# (every shared library they need that is not part of the C runtime or the
# OpenCL ICD loader, which the target provides), the test scripts and het's
# own models. Copy the folder anywhere on a machine of the same architecture
# with glibc >= the build machine's and run bin/hetrun; see docs/gpu-machine.md.
#
# OpenBLAS is left to the target by default: it picks its kernels from the
# CPU model, and an older copy that does not know the target's CPU falls back
# to slow generic kernels (seen on the GPU machine: OpenBLAS 0.3.21 from this
# build machine ran SSE3 kernels there, 4x slower than the target's own).
# --with-openblas carries it (and libgfortran) for targets that have none.
#
# usage: scripts/bundle.sh [--with-openblas] [OUT_DIR]   (default bundle/het)
set -eu
cd "$(dirname "$0")/.."
WITH_OPENBLAS=0
if [ "${1:-}" = "--with-openblas" ]; then WITH_OPENBLAS=1; shift; fi
OUT=${1:-bundle/het}
BUILD=build-bundle
./scripts/install-deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHET_BUNDLE_RPATH=ON -DHET_NATIVE=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target hetrun hetprof hetpart test_opencl_layers >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/tests" "$OUT/experiments" "$OUT/scripts"
cp "$BUILD/bin/hetrun" "$BUILD/bin/hetprof" "$BUILD/bin/hetpart" "$BUILD/tests/test_opencl_layers" "$OUT/bin/"
# The CLBlast comparison tool, where libclblast-dev is installed.
if cmake --build "$BUILD" --target clblast_bench >/dev/null 2>&1; then cp "$BUILD/bin/clblast_bench" "$OUT/bin/"; fi
# Libraries the target is expected to have: the C runtime, and the OpenCL
# ICD loader (it must be the target's own so that its vendors are found).
SYSTEM='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libgcc_s|libstdc\+\+|libOpenCL)'
[ "$WITH_OPENBLAS" = 1 ] || SYSTEM="$SYSTEM|^(libopenblas|libgfortran|libquadmath)"
for b in "$OUT"/bin/*; do
    ldd "$b" | awk '/=> \// {print $1, $3}'
done | sort -u | while read -r name path; do
    if ! echo "$name" | grep -qE "$SYSTEM"; then
        cp -L "$path" "$OUT/lib/$name"
    fi
done
cp -r tests/ref tests/cli "$OUT/tests/"
cp -r models "$OUT/models"
cp scripts/bench_cpu.py scripts/bench_gpu.py scripts/benchlib.py scripts/bench_modes.py "$OUT/tests/"
cp experiments/gpu_machine/run.sh experiments/gpu_machine/peers.py experiments/gpu_machine/study.sh \
    experiments/gpu_machine/ip_lane_probe.sh experiments/gpu_machine/parts.sh experiments/gpu_machine/splitk_probe.sh \
    experiments/gpu_machine/machine_env.sh experiments/gpu_machine/baseline_check.sh \
    experiments/gpu_machine/tune_check.sh "$OUT/"
# The study (experiments/study.py finds bin/, scripts/ and models/ from its own place).
cp experiments/study.py experiments/fold_ab.py experiments/cpu_conv_ab.py "$OUT/experiments/"
cp scripts/benchlib.py scripts/ab_plans.sh scripts/bench_tune.py "$OUT/scripts/"
echo "bundle: $OUT ($(du -sh "$OUT" | cut -f1)); libraries: $(ls "$OUT/lib" | tr '\n' ' ')"
