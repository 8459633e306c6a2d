"""Vectro codes to Weaviate: the collection's HNSW quantizer chosen from the vectro precision, and
DataObjects (uuid from the id, float32 vectors from the codes), on the shipped sample.

    WEAVIATE_URL=http://localhost:8080 python3 examples/weaviate_example.py   # a running Weaviate
    python3 examples/weaviate_example.py     # no server: builds and prints the requests only
"""

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import vectro
from vectro.integrations import Originals, Source
from vectro.integrations import weaviate as db  # or pgvector, qdrant, milvus: the same Store / upload / search

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main() -> None:
    corpus = np.load(SAMPLE / "corpus.npy")[:1000]
    queries = np.load(SAMPLE / "queries.npy")[:20]
    tmp = tempfile.TemporaryDirectory()
    codes = Path(tmp.name) / "corpus-binary.vqz"
    vectro.save(codes, vectro.quantize_embeddings(corpus, "binary"))
    plan = db.quantization_config("binary", metric="ip")  # Weaviate's BQ, rescoring 10 x 10 candidates
    print("vectorIndexConfig", json.dumps(plan.native._to_dict()))
    url = os.environ.get("WEAVIATE_URL")
    if not url:
        src = Source(str(codes))
        objs = [o for a, q in src.chunks(db.BATCH) for o in db.data_objects(src, a, q, shard=codes.name)]
        print(f"dry run: {len(objs)} objects in {-(-len(objs) // db.BATCH)} insert_many batches; first uuid "
              f"{objs[0].uuid}, properties {objs[0].properties}")
        return
    import weaviate

    u = urlparse(url)
    client = weaviate.connect_to_local(host=u.hostname, port=u.port or 8080)
    store = db.Store(client, "VectroExample", metric="ip")
    store.drop()
    # Weaviate quantizes float vectors itself: upload the float32 originals, rescore from the codes' source
    print(store.upload(corpus, precision="float32", vector_index_config=plan.native))
    ids, scores = store.search(queries, k=10, oversample=4, rescore=Originals(corpus))
    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    print(f"recall@10 {np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), exact.tolist())]):.3f}")
    store.drop()
    client.close()


if __name__ == "__main__":
    main()
