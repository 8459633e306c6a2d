"""Compress the sample with several codecs and print what each costs (bytes per vector) and keeps
(cosine, recall@10 on the reconstructions, on the codes, and rescored).

    python3 examples/compress_and_measure.py [EMBEDDINGS.npy [QUERIES.npy]]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import vectro

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main(corpus: str, queries: str | None) -> None:
    X = np.load(corpus)
    Q = np.load(queries) if queries else None
    print(f"{len(X)} x {X.shape[1]} from {corpus}; kernel {vectro.get_backend_info()['kernel']}")
    print(f"{'codec':<10} {'bytes':>6} {'ratio':>6} {'cosine':>9} {'recall x^':>9} {'codes':>6} {'rescored':>8}")
    for p in ("f16", "int8", "int4-g32", "binary", "rabitq-4"):
        r = vectro.evaluate(X, p, queries=Q)
        best = max(r["recall_rescored"].values())
        print(f"{p:<10} {r['bytes_per_vector']:>6.0f} {r['compression_ratio']:>5.1f}x {r['cosine_mean']:>9.5f} "
              f"{r['recall_at_k']:>9.3f} {r['recall_codes']:>6.3f} {best:>8.3f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args:
        main(args[0], args[1] if len(args) > 1 else None)
    else:
        main(str(SAMPLE / "corpus.npy"), str(SAMPLE / "queries.npy"))
