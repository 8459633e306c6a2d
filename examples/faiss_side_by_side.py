"""The same job in FAISS and in Vectro: an 8-bit scalar-quantized flat index searched for the
sample's queries; recall@10 of both against exact search. Needs faiss-cpu (the bench extra);
without it, says so and exits 0.

    python3 examples/faiss_side_by_side.py
"""

import sys
from pathlib import Path

import numpy as np
import vectro

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / exact.shape[1] for a, b in zip(found.tolist(), exact.tolist())]))


def main() -> None:
    try:
        import faiss
    except ImportError:
        print("faiss-cpu is not installed (pip install faiss-cpu): skipping the FAISS side")
        return
    X = np.load(SAMPLE / "corpus.npy")
    Q = np.load(SAMPLE / "queries.npy")
    exact = np.argsort(-(Q @ X.T), axis=1)[:, :10]
    d = X.shape[1]

    fi = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    fi.train(X)
    fi.add(X)
    D, fids = fi.search(Q, 10)                       # FAISS: distances first, then ids

    vi = vectro.Index("uint8", metric="ip")         # trained on the first add
    vi.add(X)
    vids, scores = vi.search(Q, 10)                 # Vectro: ids first, then scores
    print(f"FAISS SQ8   recall@10 {recall(fids, exact):.3f}")
    print(f"vectro uint8 recall@10 {recall(vids.astype(np.int64), exact):.3f}")


if __name__ == "__main__":
    main()
    sys.exit(0)
