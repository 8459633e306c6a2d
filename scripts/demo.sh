#!/usr/bin/env bash
# demo.sh: builds and installs Vectro, then compresses the shipped sample embeddings and reports
# compression ratio, quality and throughput. The README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_deps.sh build
python3 -m pip install -q --disable-pip-version-check .
python3 -m vectro data/sample/corpus.npy --queries data/sample/queries.npy
