#!/usr/bin/env bash
# demo.sh: builds and installs Vectro into the project virtualenv (.venv; see setup_deps.sh), then
# compresses the shipped sample embeddings and reports compression ratio, quality and throughput.
# The README's first command. Installs system-wide only apt packages (a compiler, Python headers).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
# shellcheck source=setup_deps.sh
source scripts/setup_deps.sh build
vectro_install
say "running: python -m vectro data/sample/corpus.npy --queries data/sample/queries.npy"
python -m vectro data/sample/corpus.npy --queries data/sample/queries.npy
say "demo done in $((SECONDS - start)) s; the package is in $VECTRO_VENV (source $VECTRO_VENV/bin/activate)"
