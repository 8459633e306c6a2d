#!/usr/bin/env bash
# test_windows_wine.sh: builds libvectro, the vectro CLI and the C tests for 64-bit Windows with
# Debian's MinGW-w64 (cmake/toolchain-mingw64.cmake, warnings are errors) and runs them under Wine:
# every C test group (threads via winpthreads, the .vqz/.npy writers' atomic replace via
# MoveFileExW, memory maps and positional reads of the platform layer, src/common/platform_win32.c),
# the CLI's eval checks, the fuzz replays and the examples. Called by scripts/test.sh (stage
# windows-wine). Exit 77 (reported as skipped) where MinGW-w64 or Wine cannot be installed.
#   BUILD_DIR=...  build directory (default build-mingw, configured afresh each run)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build-mingw}
J=$(nproc 2>/dev/null || echo 2)
skip() { echo "test_windows_wine: SKIPPED: $*"; exit 77; }
die() { echo "test_windows_wine: FAIL: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
wine_bin() { command -v wine64 || command -v wine || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; }; }

# --- tools: install only what is missing (Debian/Ubuntu; on an arm64 host there is no wine64)
want=()
have x86_64-w64-mingw32-gcc-posix || want+=(gcc-mingw-w64-x86-64-posix)
wine_bin >/dev/null || want+=(wine64)
if [ ${#want[@]} -gt 0 ]; then
  have apt-get || skip "no apt-get to install ${want[*]}"
  [ "$(uname -m)" = x86_64 ] || skip "Wine runs x86-64 Windows programs on an x86-64 host only"
  echo "test_windows_wine: installing ${want[*]} (apt-get, ~600 MB)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${want[@]}" \
    >/tmp/vectro-apt-wine.log 2>&1 \
    || { $SUDO apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null 2>&1 || true
         $SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${want[@]}" \
           >/tmp/vectro-apt-wine.log 2>&1; } \
    || { tail -n 5 /tmp/vectro-apt-wine.log; skip "apt-get could not install ${want[*]}"; }
fi
WINE=$(wine_bin)
echo "test_windows_wine: $(x86_64-w64-mingw32-gcc-posix --version | head -n1); $("$WINE" --version)"

# --- configure and build (fresh, so a stale cache cannot hide a toolchain problem)
rm -rf "$BUILD"
mkdir -p "$BUILD"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake \
  -DCMAKE_BUILD_TYPE=Release -DVECTRO_BUILD_TESTS=ON -DVECTRO_WERROR=ON >"$BUILD/configure.log" 2>&1 \
  || { cat "$BUILD/configure.log"; die "configure failed"; }
echo "test_windows_wine: building (log: $BUILD/build.log)"
if ! cmake --build "$BUILD" -j "$J" >"$BUILD/build.log" 2>&1; then
  grep -v '^\[[0-9]*/[0-9]*\] ' "$BUILD/build.log" | tail -n 60
  die "the MinGW-w64 build failed"
fi
if grep -qi 'warning' "$BUILD/build.log"; then die "the MinGW-w64 build printed warnings"; fi
# The programs really are x86-64 Windows executables ("PE\0\0" then machine 0x8664).
head -c 2 "$BUILD/tests/c/test_vectro.exe" | grep -q MZ || die "test_vectro.exe is not a PE file"
grep -q "wine" "$BUILD/tests/c/CTestTestfile.cmake" || die "ctest does not run the tests under Wine"

# --- run under a private Wine prefix (created on first use, ~15 s), quiet, no display needed
export WINEPREFIX="$PWD/$BUILD/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
"$WINE" "$BUILD/vectro.exe" --version >"$BUILD/wineboot.log" 2>&1 \
  || { tail -n 20 "$BUILD/wineboot.log"; skip "Wine cannot start a program here"; }
rc=0
ctest --test-dir "$BUILD" -j "$J" --output-on-failure -V >"$BUILD/ctest.log" 2>&1 || rc=$?
# Stop this prefix's wineserver (it would linger for a few seconds after the last program).
"$(command -v wineserver || echo /usr/lib/wine/wineserver)" -k 2>/dev/null || true
# The ctest lines, then each test that is skipped on Windows (and why) once.
grep -E '^ *[0-9]+/[0-9]+ Test|tests passed' "$BUILD/ctest.log" || true
grep -E '^[0-9]+: (skip |FAIL|  skipped:|  note:|  FAIL)' "$BUILD/ctest.log" | sed 's/^[0-9]*: //' | sort -u || true
[ $rc -eq 0 ] || die "ctest under Wine failed (log: $BUILD/ctest.log)"
echo "test_windows_wine: ok: $(grep -c '^[0-9]*: ok   ' "$BUILD/ctest.log") C tests passed and $(grep -c '^[0-9]*: skip ' "$BUILD/ctest.log") skipped (POSIX-only), under $("$WINE" --version)"
