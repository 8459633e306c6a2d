#!/usr/bin/env bash
# cli_pipeline.sh: the vectro command line end to end on the shipped sample: compress, inspect,
# verify, measure, search with rescoring, decompress. Usage: examples/cli_pipeline.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
vectro compress --quiet --codec int8 --metadata '{"model": "all-MiniLM-L6-v2"}' \
  data/sample/corpus.npy "$work/corpus.vqz"
vectro info "$work/corpus.vqz"
vectro verify "$work/corpus.vqz"
vectro eval --original data/sample/corpus.npy "$work/corpus.vqz"
vectro eval --codec int4 --group 32 --queries data/sample/queries.npy data/sample/corpus.npy
vectro search -k 3 --rescore data/sample/corpus.npy --oversample 4 "$work/corpus.vqz" \
  data/sample/queries.npy >"$work/results.tsv" # query, rank, id, score per line
head -n 6 "$work/results.tsv"
vectro decompress "$work/corpus.vqz" "$work/back.npy"
vectro codecs --dim 384
