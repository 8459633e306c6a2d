#!/usr/bin/env bash
# rename_kernels.sh: renames the kernels that did not follow vec_<family>_<op>_<isa> (issue 19),
# by whole-word substitution over src/ tests/ bench/ docs/ python/, then lists any kernel-like name
# in src/kernels still off the scheme. Idempotent: run it again after merging a branch that adds
# code under the old names (the new names never match an old pattern).
#   tools/rename_kernels.sh          rename, then check
#   tools/rename_kernels.sh --check  only list names off the scheme (exit 1 if any)
#   CLANG_FORMAT=/path/to/clang-format  the formatter for the C files it changes (default: PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

# old (perl regex, whole word) -> new. Score kernels: code kind, then layout, then ISA.
rules=(
  's/\bvec_dots_/vec_search_dots_/g'                                    # flat search: family search
  's/\bvec_search_(i8|b1|u8)(?=\b|_(?:avx|neon|scalar))/vec_score_$1_tile/g' # transposed tiles
  's/\bvec_score_u8_avx2\b/vec_score_u8_rows_avx2/g'                    # row-major u8
  's/\bvec_score_i4_row_avx2\b/vec_score_i4_rows_avx2/g'                # as vec_score_i4g32_rows
  's/\bvec_score_dot_i8_scalar\b/vec_score_i8_dot_scalar/g'
  's/\bvec_score_ham_scalar\b/vec_score_b1_ham_scalar/g'
  's/\bvec_score_kernels_(scalar|avx2|avx512|neon)\b/vec_score_table_$1/g' # tables, not the type
  's/\bscore_i4_neon_dot\b/score_i4_neondot/g'                          # static: the ISA last
  's/^I4_NEON_KERNELS\(_dot,/I4_NEON_KERNELS(dot,/'                      # ... which pastes it
  's/\bvec_encode_u16_fn\b/vec_half_encode_fn/g'
  's/\bvec_decode_u16_fn\b/vec_half_decode_fn/g'
  's/\bvec_rotation_kac_scalar_tail\b/vec_rotation_kac_tail_scalar/g'
)

check() {
  # Kernel-like names: a vec_ name ending in an ISA. Off the scheme: the family is not a
  # sub-table's, or an ISA word sits before the end (vec_x_scalar_tail).
  local fam='int8|intq|half|cal|binary|score|search|rabitq|pq|kmeans|rotation|crc'
  local isa='scalar|avx2|avx512[a-z0-9]*|neon[a-z0-9]*|sse42|armv8'
  local bad
  bad=$(grep -rhoE '\bvec_[a-z0-9_]+' src/kernels | sort -u |
    grep -E "_($isa)\$|_($isa)_" | grep -vE "^vec_($fam)_[a-z0-9_]+_($isa)\$" || true)
  bad+=$(grep -rhoE '\bvec_search_(i8|b1|u8|f16|bf16|i16|i4)_[a-z0-9_]+' src/kernels | sort -u |
    sed 's/^/\n/' || true)
  bad=$(printf '%s\n' "$bad" | sed '/^$/d' | sort -u)
  if [ -n "$bad" ]; then
    echo "rename_kernels: names off vec_<family>_<op>_<isa> (add a rule above):"
    printf '  %s\n' $bad
    return 1
  fi
  echo "rename_kernels: every kernel name in src/kernels is vec_<family>_<op>_<isa>"
}

if [ "${1:-}" = "--check" ]; then
  check
  exit
fi

files=$(git ls-files src tests bench docs python | grep -E '\.(c|h|py|pyi|md|txt|cmake|sh)$' || true)
expr=$(printf '%s;' "${rules[@]}")
# shellcheck disable=SC2086
before=$(md5sum $files)
# shellcheck disable=SC2086
perl -pi -e "$expr" $files
changed=$(diff <(echo "$before") <(md5sum $files) | sed -n 's/^> [0-9a-f]*  //p' || true)
echo "rename_kernels: $(echo "$changed" | sed '/^$/d' | wc -l) files changed"
# Longer names can push a line past the column limit: reformat the C files this run changed.
CF=${CLANG_FORMAT:-clang-format}
cfiles=$(echo "$changed" | grep -E '\.(c|h)$' || true)
if [ -n "$cfiles" ]; then
  if command -v "$CF" >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    "$CF" -i $cfiles
  else
    echo "rename_kernels: $CF not found: run clang-format -i on $cfiles" >&2
  fi
fi
check
