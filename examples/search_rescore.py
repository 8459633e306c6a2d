"""Search with vectro.Index on the sample: codes alone, k x oversample rescoring, rescoring by
error bound (rabitq), a binary -> int8 -> float32 pipeline, and save/load with memory-mapped
originals. Recall@10 is measured against exact float32 search.

    python3 examples/search_rescore.py
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import vectro

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / exact.shape[1] for a, b in zip(found.tolist(), exact.tolist())]))


def main() -> None:
    X = np.load(SAMPLE / "corpus.npy")
    Q = np.load(SAMPLE / "queries.npy")
    exact = np.argsort(-(Q @ X.T), axis=1)[:, :10]

    index = vectro.Index("binary", metric="ip")
    index.add(X)
    print(f"binary, codes alone     {recall(index.search(Q, k=10, oversample=1)[0], exact):.3f}")
    print(f"binary, 20x rescored    {recall(index.search(Q, k=10, oversample=20)[0], exact):.3f}")

    rq = vectro.Index("rabitq-4", metric="ip")
    rq.add(X)
    ids, _ = rq.search(Q, k=10)                          # oversample=None: by error bound
    print(f"rabitq-4, by bound      {recall(ids, exact):.3f} "
          f"({rq.last_stats['rescored'] / len(Q):.0f} rows read a query of {len(X)})")

    two = vectro.Index("binary", metric="ip", rerank="int8")
    two.add(X)
    print(f"binary -> int8 -> f32   {recall(two.search(Q, k=10)[0], exact):.3f}")

    with tempfile.TemporaryDirectory() as d:
        path, orig = os.path.join(d, "index.vqz"), os.path.join(d, "corpus.npy")
        index.save(path)
        np.save(orig, X)
        loaded = vectro.Index.load(path, originals=orig)  # originals memory-mapped: read on demand
        print(f"loaded, 20x rescored    {recall(loaded.search(Q, k=10, oversample=20)[0], exact):.3f}")


if __name__ == "__main__":
    main()
