#!/usr/bin/env bash
# fuzz.sh [SECONDS]: builds every libFuzzer target tests/fuzz/fuzz_<name>.c (fuzz_npy, and
# fuzz_vqz where it exists) with clang -fsanitize=fuzzer,address,undefined against a sanitized,
# coverage-instrumented libvectro, and runs each for SECONDS (default 60) over a scratch copy of
# tests/fuzz/corpus/<name>/. Fails on any crash, leak, timeout or sanitizer report; the reproducer
# is left in the work directory ($FUZZ_DIR, default ${TMPDIR:-/tmp}/vectro-fuzz) and named below.
# Installs clang's runtime (libclang-rt-N-dev) when libFuzzer is missing and apt-get can.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
CC=${CC:-clang}
work=${FUZZ_DIR:-${TMPDIR:-/tmp}/vectro-fuzz}
mkdir -p "$work"
J=$(nproc 2>/dev/null || echo 2)

probe() { # does $CC link a libFuzzer target with both sanitizers?
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
    'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    >"$work/probe.c"
  "$CC" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" 2>"$work/probe.log"
}
if ! probe; then
  ver=$("$CC" -dumpversion | cut -d. -f1)
  echo "libFuzzer does not link with $CC; installing libclang-rt-$ver-dev"
  if command -v apt-get >/dev/null; then
    apt-get install -y -q "libclang-rt-$ver-dev" >/dev/null ||
      { apt-get update -q >/dev/null && apt-get install -y -q "libclang-rt-$ver-dev" >/dev/null; } || true
  fi
  probe || { cat "$work/probe.log" >&2; echo "fuzz.sh: libFuzzer is unavailable for $CC" >&2; exit 2; }
fi

# The library: sanitized (aborting on the first report) and instrumented for coverage.
# A build directory per checkout: a CMake cache made from another tree cannot be reused.
build="$work/build-$(pwd | cksum | cut -d' ' -f1)"
cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVECTRO_SANITIZE=address,undefined -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link \
  -DVECTRO_BUILD_TESTS=OFF -DVECTRO_BUILD_CLI=OFF >/dev/null
cmake --build "$build" --target vectro_static -j "$J" >/dev/null

status=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  name=${name#fuzz_}
  exe="$work/fuzz_$name"
  "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude "$src" \
    "$build/libvectro.a" -lpthread -lm -o "$exe"
  corpus="$work/corpus_$name"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  if [ -d "tests/fuzz/corpus/$name" ]; then cp -r "tests/fuzz/corpus/$name/." "$corpus/"; fi
  echo "=== fuzz_$name: ${secs} s over $(find "$corpus" -type f | wc -l) seeds"
  log="$work/fuzz_$name.log"
  if (cd "$work" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/fuzz_$name-" "$corpus") >"$log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" "$log" || true
    grep -E "^Done [0-9]+ runs" "$log" || true
  else
    status=1
    tail -n 40 "$log"
    echo "fuzz_$name FAILED; reproducers:" "$work"/fuzz_"$name"-* "(log: $log)"
  fi
done
exit $status
