#!/usr/bin/env bash
# test_python_asan.sh: the Python concurrency tests (threads sharing writers, readers, codecs and
# indexes, files changed under a reader) against an extension built with AddressSanitizer, in a
# virtualenv of its own (build/asan/venv). Fails on any ASan report. About 2 minutes on 2 cores the
# first time (mostly the build), seconds after.
# Usage: bash scripts/test_python_asan.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
venv=build/asan/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q scikit-build-core cmake ninja numpy pytest
fi
# CPython itself is not instrumented: the ASan runtime must come first in the process, hence the
# LD_PRELOAD of the compiler's own libasan (the one the extension was linked against).
CC=${CC:-gcc}
libasan=$("$CC" -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
  echo "test_python_asan: $CC has no libasan.so ($libasan)" >&2
  exit 1
fi
CC=$CC "$venv/bin/pip" install -q --no-build-isolation -Cbuild-dir=build/asan/py \
  -Ccmake.build-type=RelWithDebInfo -Ccmake.define.VECTRO_SANITIZE=address .
log=build/asan/report
rm -f "$log".*
# detect_leaks=0: CPython keeps interned objects alive at exit, which LeakSanitizer would report.
# log_path: a report in a worker thread must fail the run even if the process survived it.
status=0
# the CLI tests run the venv's (ASan-built) vectro command
PATH="$PWD/$venv/bin:$PATH" LD_PRELOAD=$libasan ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$PWD/$log \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider --import-mode=importlib \
  tests/python/test_threads.py tests/python/test_hostile_files.py tests/python/test_index_threads.py \
  "$@" || status=$?
if compgen -G "$log.*" >/dev/null; then
  echo "test_python_asan: AddressSanitizer reported:" >&2
  cat "$log".* >&2
  exit 1
fi
exit $status
