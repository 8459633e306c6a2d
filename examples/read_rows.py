"""Random access into a .vqz file: open it, look at its codec, ids and metadata, read a row range
and decode it, verify every checksum, and see what a slice past the end does.

    python3 examples/read_rows.py
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import vectro

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "corpus.npy"


def main(path: str) -> None:
    X = np.load(SAMPLE)
    ids = np.arange(10_000, 10_000 + len(X), dtype=np.uint64)
    vectro.save(path, vectro.quantize_embeddings(X, "int4-g32"), ids=ids, metadata={"model": "all-MiniLM-L6-v2"})

    r = vectro.VqzReader(path)
    print(r, r.metadata)
    part = r[1000:1010]                                   # QuantizedEmbeddings with .ids
    X_part = vectro.reconstruct_embeddings(part)
    cos = np.sum(X_part * X[1000:1010], axis=1) / np.linalg.norm(X_part, axis=1)
    print("ids", part.ids[:3].tolist(), "cosine to the originals", [round(float(c), 4) for c in cos[:3]])
    for chunk in r.iter_chunks(rows=1500):                # the whole file, a chunk at a time
        print("chunk", chunk.shape)
    print("verify:", r.verify())                          # {'rows': 4000, 'blocks': ..., 'bytes': ...}
    try:
        r[len(r):len(r) + 10]
    except IndexError as e:
        print("past the end:", e)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        main(os.path.join(d, "corpus.vqz"))
