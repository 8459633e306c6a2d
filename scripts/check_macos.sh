#!/usr/bin/env bash
# check_macos.sh: compiles every C source of the library, the CLI and the C tests for macOS
# (arm64 and x86-64) with Zig's clang and the macOS libc headers it bundles (PyPI `ziglang`), with
# -Wall -Wextra -Werror, to catch GNU-only flags, headers and functions before a Mac sees them.
# Compiles only (-c): linking and running need a Mac (the tests workflow's macOS jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=setup_deps.sh
source scripts/setup_deps.sh build >/dev/null
python -c 'import ziglang' 2>/dev/null || vectro_pip "ziglang" ziglang
out=build/check-macos
mkdir -p "$out"
# The flags CMakeLists.txt gives every file (VEC_CFLAGS less -Werror, added here).
common=(-std=c11 -O2 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror
        -ffp-contract=off -fvisibility=hidden -Iinclude)
status=0
n=0
for target in aarch64-macos.11.0 x86_64-macos.11.0; do
  for src in $(git ls-files 'src/*.c' 'tests/c/*.c' 'examples/*.c'); do
    flags=()
    case $target:$src in
      x86_64*:*avx512.c) flags=(-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl) ;;
      x86_64*:*avx2.c) flags=(-mavx2 -mfma -mf16c) ;;
      x86_64*:*neon.c | aarch64*:*avx2.c | aarch64*:*avx512.c) continue ;; # not built on that arch
    esac
    case $target in
      x86_64*) flags+=(-DVEC_HAVE_X86_KERNELS=1) ;;
      aarch64*) flags+=(-DVEC_HAVE_NEON_KERNELS=1) ;;
    esac
    case $src in tests/c/test_vqz.c) flags+=(-DVEC_TEST_DATA_DIR='"tests/data"' -DVEC_FUZZ_CORPUS_DIR='"x"') ;; esac
    n=$((n + 1))
    if ! python -m ziglang cc -target "$target" "${common[@]}" "${flags[@]}" -c "$src" \
      -o "$out/$(echo "$src" | tr / _).$target.o" 2>"$out/err.txt"; then
      echo "FAIL $target $src"
      head -n 20 "$out/err.txt"
      status=1
    fi
  done
done
[ $status -eq 0 ] && echo "check_macos: $n compilations for arm64 and x86-64 macOS 11: warning-free"
exit $status
