"""Vectro f16 codes to Pinecone: upsert requests within Pinecone's limits (1,000 vectors, 2 MB),
queries rescored exactly from a local .vqz, on the shipped sample.

    PINECONE_API_KEY=... PINECONE_HOST=https://INDEX-xxxx.svc.pinecone.io python3 examples/pinecone_example.py
    python3 examples/pinecone_example.py     # no service: builds and prints the requests only

The index must exist with dimension 384 and metric dotproduct (vectro.integrations.pinecone.index_spec).
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import vectro
from vectro.integrations import Originals, Source
from vectro.integrations import pinecone as db  # or pgvector, qdrant, milvus: the same Store / upload / search

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main() -> None:
    corpus = np.load(SAMPLE / "corpus.npy")[:1000]
    queries = np.load(SAMPLE / "queries.npy")[:20]
    tmp = tempfile.TemporaryDirectory()
    codes = Path(tmp.name) / "corpus-f16.vqz"
    vectro.save(codes, vectro.quantize_embeddings(corpus, "f16"))
    print("create the index with", db.index_spec(corpus.shape[1], "ip"))
    key, host = os.environ.get("PINECONE_API_KEY"), os.environ.get("PINECONE_HOST")
    if not (key and host):
        batches = list(db.upsert_batches(Source(str(codes)), shard=codes.name))
        sizes = [len(json.dumps({"vectors": recs, "namespace": "docs"})) for _, recs in batches]
        print(f"dry run: {len(corpus)} vectors in {len(batches)} upsert requests, "
              f"{max(len(r) for _, r in batches)} vectors and {max(sizes):,} bytes at most per request")
        return
    from pinecone import Pinecone

    store = db.Store(Pinecone(api_key=key).Index(host=host), namespace="vectro-example", metric="ip")
    print(store.upload(codes))
    ids, scores = store.search(queries, k=10, oversample=4, rescore=Originals(codes))
    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    print(f"recall@10 {np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), exact.tolist())]):.3f}")
    store.drop()


if __name__ == "__main__":
    main()
