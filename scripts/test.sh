#!/usr/bin/env bash
# test.sh: every test Vectro has: C tests built with gcc and clang (warnings are errors), again
# under AddressSanitizer + UndefinedBehaviorSanitizer, the NEON kernels cross-compiled for aarch64
# and run under qemu-user, a bounded libFuzzer run of the file readers, lint, the Python suite,
# and a smoke run of the benchmark.
# The README's second command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
J=$(nproc 2>/dev/null || echo 2)
stage() { printf '\n=== %s\n' "$*"; }
start=$(date +%s)

stage "dependencies"
bash scripts/setup_deps.sh test
python3 -m pip install -q cmake ninja ruff==0.17.6 clang-format==23.1.5

ctest_dir() { # ctest_dir BUILD_DIR CMAKE_ARGS...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DVECTRO_BUILD_TESTS=ON -DVECTRO_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$J"
  ctest --test-dir "$dir" --output-on-failure -j "$J"
}

stage "C tests, gcc -Wall -Wextra -Werror"
CC=gcc ctest_dir build/ci-gcc -DCMAKE_BUILD_TYPE=Release

stage "C tests, clang -Wall -Wextra -Werror"
CC=clang ctest_dir build/ci-clang -DCMAKE_BUILD_TYPE=Release

stage "C tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  CC=gcc ctest_dir build/ci-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECTRO_SANITIZE=address,undefined

stage "NEON kernels: aarch64 cross build under qemu-user"
bash scripts/test_neon_qemu.sh

stage "fuzzing: libFuzzer on the .npy and .vqz readers, bounded (${VECTRO_FUZZ_SECONDS:-30} s a target)"
bash scripts/fuzz.sh "${VECTRO_FUZZ_SECONDS:-30}"

stage "lint (ruff, clang-format)"
ruff check python tests bench scripts
git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror
echo "format: ok"

stage "Python package: pip install . and pytest"
python3 -m pip install -q ".[test,bench]"
# sentence-transformers, for the test that our calibrated and binary codes equal its own: only with
# a CPU build of torch (this machine image ships one in /opt/wheels); from PyPI alone torch would
# pull gigabytes of CUDA libraries. Without it that one test reports itself skipped.
cpu_torch=$(ls /opt/wheels/torch-*+cpu-cp"$(python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"-*.whl 2>/dev/null | head -1 || true)
if python3 -c "import sentence_transformers" 2>/dev/null; then
  echo "sentence-transformers: already installed"
elif [ -n "$cpu_torch" ]; then
  python3 -m pip install -q "$cpu_torch" sentence-transformers
else
  echo "sentence-transformers: no CPU torch wheel here; its compatibility test will be skipped"
fi
python3 bench/bench_int8.py --quick >/dev/null
python3 bench/bench_search.py --quick >/dev/null
python3 bench/bench_fastscan_ab.py --data sample --rounds 1 >/dev/null
echo "benchmark smoke run: ok"
echo "all stages before pytest took $(( $(date +%s) - start )) s"
python3 -m pytest -q tests/python
