#!/usr/bin/env bash
# test_wheel_aarch64.sh: installs the aarch64 manylinux wheel (dist/, made by
# `scripts/build_wheels.sh aarch64`) into an arm64 Debian Python and runs part of the pytest suite
# with it under qemu-user, on an x86-64 Debian/Ubuntu host. The arm64 Python (python3.11, numpy,
# their libraries) is not installed system-wide: its .deb files are fetched with `apt-get download`
# (after `dpkg --add-architecture arm64` and `apt-get update`, the only system changes) and
# unpacked into build/arm64-python/sysroot, which `qemu-aarch64 -L` makes the root of the emulated
# process; pytest and hypothesis come from PyPI as pure-Python wheels. 5 min on the loaded 2-core
# machine (149 tests with NEON, 2.5 min; 105 again with it disabled, 2 min; plus ~1 min fetching
# the first time): too long for a test.sh stage (docs/development.md).
#   scripts/test_wheel_aarch64.sh [PYTEST ARGS...]   default: the codec, int8, file, search and
#                                                     version tests, also with NEON disabled
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=build/arm64-python
SYSROOT=$ROOT/sysroot
say() { printf '[aarch64-wheel] %s\n' "$*"; }
die() { say "FAIL: $*" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || die "run this on an x86-64 host (an arm64 host runs the wheel natively)"
QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static) || die "qemu-user is not installed"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# --- the wheel
whl=$(ls dist/vectro-*-cp311-*manylinux*_aarch64.whl 2>/dev/null | head -n1 || true)
# A wheel older than the sources it is built from would test old code: build it again then.
if [ -z "$whl" ] || [ -n "$(find src python include CMakeLists.txt pyproject.toml -newer "$whl" -print -quit)" ]; then
  say "no up-to-date aarch64 wheel in dist/: building it (scripts/build_wheels.sh aarch64)"
  bash scripts/build_wheels.sh aarch64
  whl=$(ls dist/vectro-*-cp311-*manylinux*_aarch64.whl | head -n1)
fi

# --- the arm64 Python 3.11 (Debian 12's; the wheel is cp311) in a private sysroot
pkgs=(libc6 libgcc-s1 gcc-12-base zlib1g libexpat1 libffi8 libssl3 libbz2-1.0 liblzma5
  libsqlite3-0 libncursesw6 libtinfo6 libreadline8 libuuid1 libcrypt1 libdb5.3 libnsl2 libtirpc3
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1
  python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3-numpy libblas3 liblapack3
  libgfortran5)
if [ ! -x "$SYSROOT/usr/bin/python3.11" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "dpkg --add-architecture arm64 (package lists only: nothing arm64 is installed)"
    $SUDO dpkg --add-architecture arm64
    $SUDO apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null
  fi
  rm -rf "$ROOT/debs" "$SYSROOT"
  mkdir -p "$ROOT/debs" "$SYSROOT"
  say "apt-get download ${#pkgs[@]} arm64 packages (~25 MB) into $ROOT/debs"
  (cd "$ROOT/debs" && apt-get download -q "${pkgs[@]/%/:arm64}" >/dev/null) \
    || { $SUDO apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null
         (cd "$ROOT/debs" && apt-get download -q "${pkgs[@]/%/:arm64}" >/dev/null); } \
    || die "apt-get download failed (is Debian's arm64 archive reachable?)"
  for deb in "$ROOT"/debs/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
  # The BLAS/LAPACK alternatives that the packages' maintainer scripts would have linked.
  lib=$SYSROOT/usr/lib/aarch64-linux-gnu
  ln -sf blas/libblas.so.3 "$lib/libblas.so.3"
  ln -sf lapack/liblapack.so.3 "$lib/liblapack.so.3"
fi
PY=("$QEMU" -L "$SYSROOT" "$SYSROOT/usr/bin/python3.11")

# --- site: pytest and hypothesis (pure Python) and the wheel, unpacked (what pip install does for
# a wheel with no scripts to generate; the vectro command's ELF lands in vectro-*.data/scripts)
site=$ROOT/site
if [ ! -d "$site/_pytest" ]; then
  say "pytest and hypothesis wheels (pure Python) into $site"
  rm -rf "$site" "$ROOT/wheels"
  python3 -m pip download -q --only-binary=:all: --python-version 3.11 --platform any \
    --implementation py -d "$ROOT/wheels" pytest hypothesis >/dev/null 2>&1 \
    || "${VIRTUAL_ENV:-.venv}/bin/python" -m pip download -q --only-binary=:all: --python-version 3.11 \
      -d "$ROOT/wheels" pytest hypothesis >/dev/null
  mkdir -p "$site"
  for w in "$ROOT"/wheels/*.whl; do python3 -m zipfile -e "$w" "$site"; done
fi
rm -rf "$site"/vectro "$site"/vectro-*.dist-info "$site"/vectro-*.data
python3 -m zipfile -e "$whl" "$site"
export PYTHONPATH=$PWD/$site PYTHONDONTWRITEBYTECODE=1
say "$("${PY[@]}" -c 'import platform, sys, numpy, vectro
where = vectro.__file__.split("/site/")[-1]
print("python", sys.version.split()[0], "on", platform.machine(), "numpy", numpy.__version__,
      "vectro", vectro.__version__, "from", where, "kernel", vectro.get_backend_info()["kernel"])')"

# --- run
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(tests/python/test_codecs.py tests/python/test_int8.py
  tests/python/test_files.py tests/python/test_search.py tests/python/test_version.py)
# Without binfmt_misc (containers, CI runners) the emulated Python cannot start aarch64 programs
# itself: the tests that run `python -c` in a subprocess are deselected, those that run the vectro
# command skip themselves ("not on PATH").
deselect=()
if ! grep -qs enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  say "no binfmt_misc entry for aarch64: deselecting test_env_var_caps_kernel (runs sys.executable)"
  deselect=(--deselect "tests/python/test_int8.py::test_env_var_caps_kernel")
fi
t0=$SECONDS
"${PY[@]}" -m pytest -q -p no:cacheprovider "${deselect[@]}" "${args[@]}"
if [ $# -eq 0 ]; then
  say "again with NEON disabled (VECTRO_DISABLE_CPU_FEATURES=neon): the scalar kernels"
  VECTRO_DISABLE_CPU_FEATURES=neon "${PY[@]}" -m pytest -q -p no:cacheprovider "${deselect[@]}" \
    tests/python/test_int8.py tests/python/test_codecs.py
fi
say "ok: the aarch64 wheel passed under $("$QEMU" --version | head -n1) in $((SECONDS - t0)) s"
