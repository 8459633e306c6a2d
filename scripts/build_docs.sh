#!/usr/bin/env bash
# build_docs.sh: builds the documentation site into build/site with MkDocs --strict (every warning
# is an error), offline: generates the C API page from include/vectro.h, the CLI page from
# `vectro COMMAND --help`, the error catalogue from the sources and the codec plot from the shipped
# sample, and fails if a public Python name has no docstring. Needs the package installed with the
# `docs` extra (pip install '.[docs]') in the active environment.
#   scripts/build_docs.sh               the site (~20 s)
#   scripts/build_docs.sh --notebooks   also execute notebooks/*.py from a clean kernel, their
#                                       outputs and plots on the tutorial pages (~30 s more)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
start=$SECONDS

"$PY" -c "import vectro, mkdocs, mkdocstrings" 2>/dev/null || {
  echo "build_docs: needs vectro installed with the docs extra: pip install '.[docs]'" >&2
  exit 2
}
# The `vectro` command the CLI page describes: the one installed beside this Python.
VECTRO_BIN=$("$PY" -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "vectro"))')
[ -x "$VECTRO_BIN" ] || VECTRO_BIN=$(command -v vectro)

"$PY" scripts/docs/check_docstrings.py
mkdir -p docs/reference docs/img
"$PY" scripts/docs/gen_c_api.py include/vectro.h docs/reference/c-api.md
"$PY" scripts/docs/gen_cli.py docs/reference/cli.md "$VECTRO_BIN"
"$PY" scripts/docs/gen_errors.py . docs/reference/errors.md
MPLBACKEND=Agg "$PY" scripts/docs/plot_codecs.py docs/img/codecs.png
# The tutorial pages: executed (outputs and plots) with --notebooks, else their code and text only.
if [ "${1:-}" = "--notebooks" ]; then
  "$PY" scripts/docs/run_notebooks.py notebooks
else
  "$PY" scripts/docs/run_notebooks.py --render-only notebooks
fi
echo "build_docs: generated pages in $((SECONDS - start)) s"

# Not --quiet: it hides the warnings that --strict counts, and the build then passes with them.
# INFO lines (one per page) are dropped; pipefail keeps mkdocs' exit status.
"$PY" -m mkdocs build --strict --clean 2>&1 | { grep -v '^INFO' || true; }
echo "build_docs: site in build/site ($(find build/site -name '*.html' | wc -l) pages) in $((SECONDS - start)) s"
