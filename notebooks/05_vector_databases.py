# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# requires: qdrant_client
# %% [markdown]
# # Vectro codes in a vector database (Qdrant, local mode)
#
# `vectro.integrations` stores Vectro codes in pgvector, Qdrant, Milvus, Weaviate or Pinecone
# behind one interface: `Store(...)`, `upload`, `search`, `quantization_config`. Qdrant's
# local mode runs in this process (no server), so this notebook needs only
# `pip install 'vectro[qdrant]'`; it is skipped when qdrant-client is missing.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import vectro
from qdrant_client import QdrantClient
from vectro.integrations import Originals
from vectro.integrations import qdrant as db

ROOT = Path(os.environ.get("VECTRO_ROOT", Path.cwd()))
while not (ROOT / "data" / "sample").exists() and ROOT != ROOT.parent:
    ROOT = ROOT.parent
corpus = np.load(ROOT / "data/sample/corpus.npy")[:2000]
queries = np.load(ROOT / "data/sample/queries.npy")[:50]
exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
client = QdrantClient(":memory:")

# %% [markdown]
# ## What Qdrant should hold for each precision

# %%
for p in ("f16", "int8", "binary"):
    plan = db.quantization_config(p)
    print(f"{p:<7} -> {plan.precision}: {plan.note}")

# %% [markdown]
# ## A binary plan: upload, search, rescore exactly
#
# For a binary plan Qdrant keeps half-precision vectors and applies its own binary quantization
# (the plan's note says so); the search takes `k x oversample` candidates from Qdrant and
# rescores them exactly against the float32 originals held here.

# %%
def recall(ids):
    return np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), exact.tolist())])


plan = db.quantization_config("binary")
store = db.Store(client, "sample", metric="ip")
store.drop()
print(store.upload(vectro.quantize_embeddings(corpus, plan.precision),
                   quantization_config=plan.native["quantization_config"]))
print("stored:", store.count(), "points of dimension", store.dim)
rows = {}
for ov in (1, 2, 4, 8):
    ids, _ = store.search(queries, k=10, oversample=ov, rescore=Originals(corpus),
                          search_params=plan.native["search_params"])
    rows[ov] = recall(ids)
print(rows)

# %% [markdown]
# Local mode searches exhaustively and ignores quantization settings, so recall is 1.0 at every
# oversampling here; against a Qdrant server the same calls apply its binary quantization, and
# `oversample` trades candidates read for recall. What the codes save, per vector at d = 384:

# %%
sizes = {p: vectro.Codec(p).bytes_per_vector(384) for p in ("f16", "int8", "int4-g32", "binary")}
sizes = {"float32": 1536, **sizes}
plt.figure(figsize=(6, 3))
plt.bar(list(sizes), list(sizes.values()))
plt.ylabel("bytes per vector (d = 384)")
plt.show()
store.drop()
