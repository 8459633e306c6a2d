"""Vectro binary codes in PostgreSQL + pgvector: a bit column searched by Hamming distance (HNSW),
rescored exactly in SQL by the float originals, on the shipped sample.

    python3 examples/pgvector_example.py postgresql://user@127.0.0.1:5432/db

The server needs the vector extension (scripts/setup_pgvector.sh installs it on Debian).
"""

import sys
from pathlib import Path

import numpy as np
import psycopg
import vectro
from vectro.integrations import pgvector as db  # or qdrant, milvus: the same Store / upload / search

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main(dsn: str) -> None:
    corpus = np.load(SAMPLE / "corpus.npy")
    queries = np.load(SAMPLE / "queries.npy")[:20]
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    plan = db.quantization_config("binary")           # what pgvector should hold for binary codes
    codes = vectro.quantize_embeddings(corpus, plan.precision)
    store = db.Store(conn, "vectro_example", metric="ip")
    store.drop()
    report = store.upload(codes, originals=corpus, payload={"row": np.arange(len(corpus))}, index="hnsw")
    print(report)
    print(store.sql_search())                          # the SQL it runs, to read or reuse
    ids, scores = store.search(queries, k=10, oversample=plan.oversample)

    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), exact.tolist())])
    print(f"recall@10 {recall:.3f}  storage {store.storage_bytes()}")
    store.drop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres")
