#!/usr/bin/env bash
# gpu_verify.sh [OUT_DIR]: everything about vectro.cuda that needs a real GPU, in one short run:
# builds the C library and libvectro_cuda (sm_80/sm_90 SASS + PTX), runs the bit-for-bit C test
# against the CPU reference, installs the package with its CUDA kernels, runs the Python GPU tests
# and the GPU benchmark, and writes every log and table to OUT_DIR (default: $OUT, else
# ./gpu-results). Expects nvcc, CMake, ninja, and a python3 with numpy, pytest, scikit-build-core
# and PyTorch (CUDA), as on a CUDA image; installs nothing from the network.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-gpu-results}}
mkdir -p "$out"
status=0
step() { printf '\n=== %s\n' "$*" | tee -a "$out/summary.txt"; }
{ nvidia-smi; nvcc --version; python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'; } \
  >"$out/env.txt" 2>&1

step "C library + libvectro_cuda, and the bit-for-bit C test"
if cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTRO_BUILD_TESTS=ON -DVECTRO_CUDA=ON \
     >"$out/cmake.txt" 2>&1 && cmake --build build/gpu -j "$(nproc)" --target test_cuda >>"$out/cmake.txt" 2>&1; then
  ./build/gpu/test_cuda 2>&1 | tee "$out/test_cuda.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
  tail -30 "$out/cmake.txt"; status=1
fi

step "Python package with the CUDA kernels; GPU tests"
site=$(mktemp -d)
if python3 -m pip install -q --no-build-isolation --no-deps --target "$site" -Ccmake.define.VECTRO_CUDA=ON . \
     >"$out/pip.txt" 2>&1; then
  PYTHONPATH="$site" python3 -m pytest -q -rs -p no:cacheprovider tests/python/test_cuda.py 2>&1 | tee "$out/pytest_cuda.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  step "benchmark"
  PYTHONPATH="$site" python3 bench/bench_gpu.py --out "$out" 2>&1 | tee "$out/bench_gpu.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
  tail -30 "$out/pip.txt"; status=1
fi
echo "gpu_verify: $([ $status -eq 0 ] && echo PASSED || echo FAILED)" | tee -a "$out/summary.txt"
exit $status
