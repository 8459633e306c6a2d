#!/usr/bin/env bash
# test_wheel.sh [WHEEL]: installs a built x86-64 wheel (default: the one in dist/) into a fresh venv
# with no C compiler on PATH (the venv's bin/ and links to bash, sh and env; cc, gcc and clang are
# checked absent), then runs the pytest suite against it three times: with the CPU's best kernels, with
# VECTRO_DISABLE_CPU_FEATURES=avx512 (the AVX2 kernels) and =all (scalar), since one wheel serves
# every x86-64 CPU through run-time dispatch.
#   TEST_WHEEL_PYTEST_ARGS="tests/python/test_int8.py"   a subset instead of the whole suite
set -euo pipefail
cd "$(dirname "$0")/.."
whl=${1:-$(ls dist/vectro-*manylinux*x86_64*.whl | head -n 1)}
py=${VECTRO_PYTHON:-python3}
venv=build/wheel-test-venv
echo "test_wheel: $whl into a fresh venv from $("$py" -c 'import sys; print(sys.executable)')"
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: "$whl" \
  pytest hypothesis pyarrow 2>&1 | grep -v "^WARNING: Location 'file:" || true
# PATH: the venv's bin/ and a folder of links to the few system programs the tests run (bash for
# its ulimit tests), so no compiler is reachable.
tools=$PWD/build/wheel-test-bin
rm -rf "$tools"
mkdir -p "$tools"
for t in bash sh env; do ln -s "$(command -v "$t")" "$tools/$t"; done
clean_path="$PWD/$venv/bin:$tools"
for c in cc gcc clang; do
  if PATH=$clean_path command -v "$c" >/dev/null; then echo "test_wheel: $c is on PATH" >&2; exit 1; fi
done
site=$(PATH=$clean_path python -c 'import os, vectro; print(os.path.dirname(vectro.__file__))')
case $site in "$PWD/$venv"/*) ;; *) echo "test_wheel: vectro imported from $site, not the wheel" >&2; exit 1 ;; esac
PATH=$clean_path python -c 'import vectro; i = vectro.get_backend_info(); print("test_wheel: vectro", vectro.__version__, "kernels", i["available_kernels"])'
status=0
for caps in "" avx512 all; do
  echo "=== test_wheel: pytest with VECTRO_DISABLE_CPU_FEATURES=${caps:-(unset)}"
  kernel=$(PATH=$clean_path VECTRO_DISABLE_CPU_FEATURES=$caps python -c 'import vectro; print(vectro.get_backend_info()["kernel"])')
  echo "active kernel: $kernel"
  # shellcheck disable=SC2086
  PATH=$clean_path VECTRO_DISABLE_CPU_FEATURES=$caps python -m pytest -q -p no:cacheprovider \
    ${TEST_WHEEL_PYTEST_ARGS:-tests/python} | tail -n 3 || status=1
done
exit $status
