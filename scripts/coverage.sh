#!/usr/bin/env bash
# coverage.sh: line and branch coverage of the C library (gcc --coverage, the C tests and the CLI
# tests of ctest, summarised by gcovr) and of the Python package (coverage.py over the pytest
# suite, branches included). Prints per-file tables and the totals; HTML in build/coverage/.
# Not part of scripts/test.sh (it rebuilds everything without optimisation: several minutes).
#   scripts/coverage.sh [c|python]   only one half
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
# shellcheck source=setup_deps.sh
source scripts/setup_deps.sh test
vectro_pip "gcovr and coverage.py" gcovr "coverage[toml]"
J=$(nproc 2>/dev/null || echo 2)
out=build/coverage
mkdir -p "$out"

if [ "$what" != python ]; then
  say "C: building with gcc --coverage -O0 in build/cov-c"
  dir=build/cov-c
  cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DVECTRO_BUILD_TESTS=ON \
    -DCMAKE_C_FLAGS="--coverage -O0 -fprofile-update=atomic" -DCMAKE_EXE_LINKER_FLAGS=--coverage >/dev/null
  cmake --build "$dir" -j "$J" >"$dir/build.log" 2>&1 || { tail -n 40 "$dir/build.log"; exit 1; }
  find "$dir" -name '*.gcda' -delete
  say "C: running ctest"
  ctest --test-dir "$dir" -j "$J" --output-on-failure | tail -n 3
  say "C: gcovr (src/ only; lines and branches)"
  # -fprofile-update=atomic: the engine's threads update counters too (plain updates race and gcov
  # then reads negative counts).
  gcovr -r . --object-directory "$dir" --filter 'src/' --gcov-exclude-directories '.*CompilerId.*' --gcov-ignore-parse-errors=negative_hits.warn_once_per_file --exclude-unreachable-branches \
    --exclude-throw-branches --txt "$out/c-lines.txt" --txt-metric line \
    --html-details "$out/c.html" --print-summary >"$out/c-summary.txt"
  gcovr -r . --object-directory "$dir" --filter 'src/' --gcov-exclude-directories '.*CompilerId.*' --gcov-ignore-parse-errors=negative_hits.warn_once_per_file --exclude-unreachable-branches \
    --exclude-throw-branches --txt "$out/c-branches.txt" --txt-metric branch >/dev/null
  cat "$out/c-lines.txt"
  tail -n 4 "$out/c-branches.txt"
  echo "C, all of src/ (the CLI, src/cli/, is mostly run by tests/python/test_cli.py, not counted here):"
  cat "$out/c-summary.txt"
  echo "C, the library alone (src/ less src/cli/):"
  gcovr -r . --object-directory "$dir" --filter 'src/' --exclude 'src/cli/' \
    --gcov-exclude-directories '.*CompilerId.*' --gcov-ignore-parse-errors=negative_hits.warn_once_per_file \
    --exclude-unreachable-branches --exclude-throw-branches --print-summary -o /dev/null
fi

if [ "$what" != c ]; then
  vectro_install test
  say "Python: pytest under coverage.py (the installed package, branches included)"
  site=$(python -c 'import os, vectro; print(os.path.dirname(vectro.__file__))')
  python -m coverage run --branch --source="$site" --data-file="$out/.coverage" -m pytest -q tests/python \
    | tail -n 3
  python -m coverage report --data-file="$out/.coverage" --skip-empty | sed "s|[^ ]*/site-packages/vectro/|vectro/|"
  python -m coverage html --data-file="$out/.coverage" -d "$out/python-html" >/dev/null
fi
say "coverage: HTML reports under $out/"
