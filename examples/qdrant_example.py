"""Vectro f16 codes in Qdrant as float16 vectors, searched in Qdrant and rescored exactly with the
originals, on the shipped sample; with the quantization a Qdrant server should apply for binary.

    python3 examples/qdrant_example.py          # qdrant-client's local mode, in memory
    python3 examples/qdrant_example.py http://localhost:6333
"""

import sys
from pathlib import Path

import numpy as np
import vectro
from qdrant_client import QdrantClient
from vectro.integrations import Originals
from vectro.integrations import qdrant as db  # or pgvector, milvus: the same Store / upload / search

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main(url: str | None) -> None:
    corpus = np.load(SAMPLE / "corpus.npy")[:2000]
    queries = np.load(SAMPLE / "queries.npy")[:20]
    client = QdrantClient(url) if url else QdrantClient(":memory:")

    plan = db.quantization_config("binary")  # Qdrant's BinaryQuantization + rescoring, for a server
    print(plan.note)
    store = db.Store(client, "vectro_example", metric="ip")
    store.drop()
    print(store.upload(vectro.quantize_embeddings(corpus, plan.precision),
                       quantization_config=plan.native["quantization_config"]))
    ids, scores = store.search(queries, k=10, oversample=4, rescore=Originals(corpus),
                               search_params=plan.native["search_params"])
    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), exact.tolist())])
    print(f"recall@10 {recall:.3f}")
    store.drop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
