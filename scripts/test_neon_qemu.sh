#!/usr/bin/env bash
# test_neon_qemu.sh: proves the AArch64 NEON kernels (src/kernels/neon.c) correct on an x86-64 host.
# Cross-compiles libvectro and its C tests for aarch64 (warnings are errors), runs ctest under
# qemu-user (cmake/toolchain-aarch64.cmake sets the emulator), then checks from the test output
# that the NEON kernels were the ones tested: the C tests compare every supported ISA bit for bit
# with the scalar reference (d = 1..4099, unaligned and strided rows, guard pages, ties).
# Also checks VECTRO_DISABLE_CPU_FEATURES=neon falls back to scalar (c_neon_off_* entries). Called by
# scripts/test.sh.
#   BUILD_DIR=...  build directory (default build-aarch64, a fresh configure each run)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
BUILD=${BUILD_DIR:-build-aarch64}
SYSROOT=/usr/aarch64-linux-gnu
J=$(nproc 2>/dev/null || echo 2)
die() { echo "test_neon_qemu: FAIL: $*" >&2; exit 1; }

# --- tools: install only what is missing (Debian/Ubuntu)
have() { command -v "$1" >/dev/null 2>&1; }
want=()
have aarch64-linux-gnu-gcc || want+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
have qemu-aarch64 || have qemu-aarch64-static || want+=(qemu-user)
have cmake || want+=(cmake)
if [ ${#want[@]} -gt 0 ]; then
  echo "test_neon_qemu: installing ${want[*]} (apt-get)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)
[ -d "$SYSROOT/lib" ] || die "$SYSROOT/lib missing (install libc6-dev-arm64-cross)"
echo "test_neon_qemu: $(aarch64-linux-gnu-gcc --version | head -n1); $("$QEMU" --version | head -n1)"

# --- configure and build (fresh, so a stale cache cannot hide a toolchain problem)
gen=()
have ninja && gen=(-G Ninja)
rm -rf "$BUILD"
mkdir -p "$BUILD"
cmake -S . -B "$BUILD" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
  -DCMAKE_BUILD_TYPE=Release -DVECTRO_BUILD_TESTS=ON -DVECTRO_WERROR=ON >"$BUILD/configure.log" 2>&1 \
  || { cat "$BUILD/configure.log"; die "configure failed"; }
cmake --build "$BUILD" -j "$J" 2>&1 | tee "$BUILD/build.log"
# -Werror already fails the build on a compiler warning; this also catches linker/archiver ones.
if grep -qi 'warning' "$BUILD/build.log"; then die "the aarch64 build printed warnings"; fi

# --- the build really is aarch64, with the NEON kernels in it, and ctest runs it under qemu
TEST_BIN="$BUILD/tests/c/test_vectro"
head -c 20 "$TEST_BIN" | od -An -tx1 | tr -d ' \n' | grep '^7f454c46020101.*b700$' >/dev/null \
  || die "$TEST_BIN is not an aarch64 ELF"
aarch64-linux-gnu-nm "$BUILD/libvectro.a" | grep ' vec_int8_encode_neon$' >/dev/null \
  || die "neon.c was not compiled into libvectro.a (CMake's aarch64 branch)"
grep -q "qemu-aarch64" "$BUILD/tests/c/CTestTestfile.cmake" \
  || die "ctest does not run the tests under qemu (CMAKE_CROSSCOMPILING_EMULATOR unset?)"

# --- run. (grep reads pipes to the end, never -q: with pipefail an early exit fails the writer.)
# -V keeps every test's stdout in the log, which the checks below read. One entry per test group,
# and some again with VECTRO_DISABLE_CPU_FEATURES=neon (c_neon_off_*), so ctest -j keeps both
# cores busy and no single qemu process runs the whole suite; tests/c/CMakeLists.txt scales the
# per-entry timeout for the emulator.
LOG="$BUILD/ctest.log"
t0=$(date +%s)
set +e
ctest --test-dir "$BUILD" --output-on-failure -j "$J" -V >"$LOG" 2>&1
rc=$?
set -e
t1=$(date +%s)
if [ $rc -ne 0 ]; then
  grep -E '^ *[0-9]+/[0-9]+ Test +#|tests passed|Failed|Timeout|FAIL' "$LOG" | tail -n 80
  die "ctest failed under qemu (rc $rc; full log $LOG)"
fi

# Output lines of ctest test NAME (prefixed "N: " in -V mode).
test_output() {
  local num
  num=$(sed -n "s/^ *Start \{1,\}\([0-9]\{1,\}\): $1\$/\1/p" "$LOG" | head -n1)
  [ -n "$num" ] || die "test $1 did not run"
  sed -n "s/^$num: //p" "$LOG" | grep -v -e '^Test command:' -e '^Working Directory:' \
    -e '^Test timeout' -e '^Environment variables:' -e '^ [A-Z_]*='
}
expect() { # expect TEST PATTERN: the test's output holds a line matching PATTERN (grep -E)
  test_output "$1" | grep -E -- "$2" >/dev/null || { test_output "$1"; die "$1: no line matching '$2'"; }
}
# awk reads to the end: grep -m1 would close the pipe early, and under pipefail the writer's
# SIGPIPE fails the check once a test's output outgrows the pipe buffer.
first_line() { test_output "$1" | awk '/^vectro [0-9.]+, active kernels: / && !f { print; f = 1 }'; }

groups=$(sed -n 's/^ *Start \{1,\}[0-9]\{1,\}: c_\([a-z0-9_]*\)$/\1/p' "$LOG" | grep -v -e '^neon_off_' -e '^env_' -e '^unknown_group$')
off_groups=$(sed -n 's/^ *Start \{1,\}[0-9]\{1,\}: c_neon_off_\(.*\)$/\1/p' "$LOG")
[ -n "$groups" ] || die "no c_<group> tests ran"
[ -n "$off_groups" ] || die "no c_neon_off_* tests ran (tests/c/CMakeLists.txt's aarch64 branch)"
for g in $groups; do
  first_line "c_$g" | grep 'active kernels: neon$' >/dev/null \
    || die "c_$g did not run with the NEON kernels: '$(first_line "c_$g")'"
  expect "c_$g" '^[0-9]+ passed, 0 failed$'
done
for g in $off_groups; do
  first_line "c_neon_off_$g" | grep 'active kernels: scalar$' >/dev/null \
    || die "VECTRO_DISABLE_CPU_FEATURES=neon did not select scalar in c_neon_off_$g"
  expect "c_neon_off_$g" '^[0-9]+ passed, 0 failed$'
done
for t in matches_reference ties_round_to_even special_rows isas_bit_identical guard_pages \
         error_bound nonfinite_rows_reported invalid_arguments; do
  expect c_int8 "^ok   int8\.$t\$"
done
expect c_engine '^ok   engine\.threads_bit_identical$'
expect c_dispatch '^ok   dispatch\.force_each_isa$'
first_line c_env_scalar | grep 'active kernels: scalar$' >/dev/null \
  || die "c_env_scalar (VECTRO_DISABLE_CPU_FEATURES=all) did not select scalar"
expect c_env_scalar '^[0-9]+ passed, 0 failed$'

# --- summary
echo
echo "test_neon_qemu: aarch64 build warning-free (-Wall -Wextra -Werror); ctest under $QEMU:"
grep -E '^ *[0-9]+/[0-9]+ Test +#' "$LOG" | sed 's/^/  /'
grep -E '^[0-9]+% tests passed' "$LOG" | sed 's/^/  /'
echo "  groups run with NEON: $(echo $groups); again with NEON disabled: $(echo $off_groups)"
echo "test_neon_qemu: NEON kernels bit-identical to scalar under qemu (ctest $((t1 - t0)) s," \
  "total $(( $(date +%s) - start )) s)"
