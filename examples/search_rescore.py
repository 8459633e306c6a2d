"""Search with vectro.Index on the sample: codes alone, k x oversample rescoring, rescoring by
error bound (rabitq), a binary -> int8 -> float32 pipeline, filtering by an allow-list of ids,
upsert and delete by id, and save/load with the originals. Recall@10 is measured against exact float32 search.

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

    index = vectro.Index("binary", metric="ip", keep_originals=True)  # originals: for rescoring
    index.add(X)
    print(f"binary, codes alone     {recall(index.search(Q, k=10, oversample=1)[0], exact):.3f}")
    print(f"binary, 20x rescored    {recall(index.search(Q, k=10, oversample=20)[0], exact):.3f}")

    rq = vectro.Index("rabitq-4", metric="ip", keep_originals=True)
    rq.add(X)
    ids, _ = rq.search(Q, k=10)                          # oversample=None: by error bound
    print(f"rabitq-4, by bound      {recall(ids, exact):.3f} "
          f"({rq.last_stats['rescored'] / len(Q):.0f} rows read a query of {len(X)})")

    two = vectro.Index("binary", metric="ip", rerank="int8", keep_originals=True)
    two.add(X)
    print(f"binary -> int8 -> f32   {recall(two.search(Q, k=10)[0], exact):.3f}")

    # Ids can be strings; filter= restricts a search to an allow-list; upsert/delete by id.
    docs = vectro.Index("int8", metric="ip")
    docs.add(X, ids=[f"doc{i}" for i in range(len(X))])
    allowed = [f"doc{i}" for i in range(0, len(X), 2)]     # e.g. the user's own documents
    ids, _ = docs.search(Q[:2], k=3, filter=allowed)
    print("filtered to even docs:", ids.tolist())
    docs.upsert(X[:1] * 0.5, ids=["doc1"])                  # replace a vector in place
    print("deleted", docs.delete(["doc0", "doc2"]), "rows; now", len(docs.ids))

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "index.vqz")
        index.save(path)                                  # + index.originals.npy beside it
        loaded = vectro.Index.load(path)                  # finds the originals save wrote
        print(f"loaded, 20x rescored    {recall(loaded.search(Q, k=10, oversample=20)[0], exact):.3f}")


if __name__ == "__main__":
    main()
