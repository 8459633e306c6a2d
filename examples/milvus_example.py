"""Vectro binary codes in Milvus as BINARY_VECTOR (Hamming distance), rescored exactly with the
originals kept as a .vqz of f16 codes, on the shipped sample.

    python3 examples/milvus_example.py                 # milvus-lite in a temporary directory
    python3 examples/milvus_example.py http://localhost:19530
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import vectro
from pymilvus import MilvusClient
from vectro.integrations import Originals
from vectro.integrations import milvus as db  # or pgvector, qdrant: the same Store / upload / search

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main(uri: str | None) -> None:
    corpus = np.load(SAMPLE / "corpus.npy")[:1000]
    queries = np.load(SAMPLE / "queries.npy")[:20]
    tmp = tempfile.TemporaryDirectory()
    client = MilvusClient(uri or str(Path(tmp.name) / "milvus.db"))

    originals = Path(tmp.name) / "originals.vqz"
    vectro.save(originals, vectro.quantize_embeddings(corpus, "f16"))  # 2x smaller, exact enough to rescore
    plan = db.quantization_config("binary")
    print(plan.note, plan.native)
    store = db.Store(client, "vectro_example", metric="ip")
    store.drop()
    print(store.upload(vectro.quantize_embeddings(corpus, plan.precision)))
    ids, scores = store.search(queries, k=10, oversample=plan.oversample, rescore=Originals(originals))
    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), exact.tolist())])
    print(f"recall@10 {recall:.3f}")
    store.drop()
    client.close()
    tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
