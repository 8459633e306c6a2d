#!/usr/bin/env bash
# setup_deps.sh: installs what building and testing Vectro needs on a fresh Debian/Ubuntu machine,
# skipping whatever is already present. Sourced by demo.sh and test.sh; safe to run twice.
#   setup_deps.sh build   a C compiler, Python headers and pip (enough for `pip install .`)
#   setup_deps.sh test    also clang, the aarch64 cross compiler and qemu-user (for .ci/run)
set -euo pipefail

want=()
have() { command -v "$1" >/dev/null 2>&1; }
have cc || want+=(gcc libc6-dev)
have make || want+=(make)
python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || want+=(python3-dev)
python3 -m pip --version >/dev/null 2>&1 || want+=(python3-pip)
if [ "${1:-build}" = test ]; then
  have clang || want+=(clang)
  have aarch64-linux-gnu-gcc || want+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
  have qemu-aarch64 || have qemu-aarch64-static || want+=(qemu-user)
fi

if [ ${#want[@]} -gt 0 ]; then
  echo "setup: installing ${want[*]} (apt-get)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
