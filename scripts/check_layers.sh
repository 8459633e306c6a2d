#!/bin/sh
# check_layers.sh: fails on an upward include between the C layers of src/. Layers, lowest first:
# common (error handling, shared helpers) < kernels (the per-ISA kernel table) < everything else
# (codecs, search, cluster, engine, io, index, cli). A file may include its own layer or a lower
# one, never a higher one. Run from anywhere: sh scripts/check_layers.sh
set -eu
cd "$(dirname "$0")/.."
status=0
# $1: directory, $2: what its files may include with "../<dir>/" (a grep -E alternation).
check() {
  hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"\.\./' "src/$1"/*.c "src/$1"/*.h 2>/dev/null |
    grep -vE "#[[:space:]]*include[[:space:]]*\"\.\./($2)/" || true)
  if [ -n "$hits" ]; then
    echo "check_layers: upward include out of src/$1 (it may include only ../{$2}/):" >&2
    echo "$hits" >&2
    status=1
  fi
}
check common 'common'
check kernels 'common'
# The kernels are chosen in one place (kernels/dispatch.c): no other layer asks the CPU or the
# active instruction set which kernel to run.
picks=$(grep -nE 'vec_cpu_features\(|vec_active_isa\(\)|VEC_ISA_(AVX2|AVX512|NEON)' \
  src/codecs/*.[ch] src/search/*.[ch] src/cluster/*.[ch] src/index/*.[ch] src/io/*.[ch] \
  src/engine/*.[ch] 2>/dev/null || true)
if [ -n "$picks" ]; then
  echo "check_layers: a kernel chosen outside src/kernels/dispatch.c:" >&2
  echo "$picks" >&2
  status=1
fi
[ $status -eq 0 ] && echo "check_layers: ok (common < kernels < codecs/search/cluster/io/index)"
exit $status
