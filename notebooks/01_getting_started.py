# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Getting started with Vectro
#
# Compress the shipped sample (4000 real sentence embeddings from all-MiniLM-L6-v2, d = 384),
# reconstruct it, measure what compression cost, save it to a `.vqz` file, read rows back and
# search it. Everything runs on the CPU in a few seconds; nothing is downloaded.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import vectro

ROOT = Path(os.environ.get("VECTRO_ROOT", Path.cwd()))
while not (ROOT / "data" / "sample").exists() and ROOT != ROOT.parent:  # run from notebooks/ too
    ROOT = ROOT.parent
X = np.load(ROOT / "data/sample/corpus.npy")
Q = np.load(ROOT / "data/sample/queries.npy")
print(X.shape, X.dtype, "| queries", Q.shape)
print(vectro.get_backend_info())

# %% [markdown]
# ## Compress and reconstruct
#
# `int8` stores one signed byte per dimension and one float scale per vector: 388 bytes instead
# of 1536.

# %%
q = vectro.quantize_embeddings(X, "int8")
X_hat = vectro.reconstruct_embeddings(q)
print(q)
print("max |x - x^|:", float(np.abs(X - X_hat).max()))

# %% [markdown]
# ## What did it cost?
#
# `vectro.evaluate` measures the reconstructions (cosine per vector, relative error) and the
# recall@10 of searching them, and of searching the codes as `vectro.Index` does.

# %%
report = vectro.evaluate(X, "int8", queries=Q)
{k: report[k] for k in ("bytes_per_vector", "compression_ratio", "cosine_mean", "cosine_min", "recall_at_k",
                        "recall_codes")}

# %% [markdown]
# The error per vector, for int8 and for the 6.4x `int4-g32`: a histogram says more than a mean.

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
for p in ("int8", "int4-g32"):
    Xh = vectro.reconstruct_embeddings(vectro.quantize_embeddings(X, p))
    rel = np.linalg.norm(X - Xh, axis=1) / np.linalg.norm(X, axis=1)
    ax.hist(rel, bins=60, alpha=0.6, label=f"{p} (mean {rel.mean():.4f})")
ax.set_xscale("log")
ax.set_xlabel("relative L2 error |x - x^| / |x| per vector")
ax.set_ylabel("vectors")
ax.legend()
plt.show()

# %% [markdown]
# ## Save, load, read rows back

# %%
work = tempfile.mkdtemp()
path = os.path.join(work, "corpus.vqz")
ids = np.arange(1_000_000, 1_000_000 + len(X), dtype=np.uint64)
vectro.save(path, q, ids=ids, metadata={"model": "all-MiniLM-L6-v2"})
r = vectro.VqzReader(path)
print(r, r.metadata, os.path.getsize(path), "bytes")
part = r[100:105]
print(part.ids, r.verify())

# %% [markdown]
# ## Search
#
# `vectro.Index` searches the codes exhaustively (every vector is scored) and, with
# `oversample`, rescores the best candidates exactly against the float32 originals.

# %%
index = vectro.Index("int8", metric="ip")
index.add(X, ids=ids)
found, scores = index.search(Q[:3], k=5)
texts = (ROOT / "data/sample/corpus.txt").read_text(encoding="utf-8").splitlines()
queries_text = (ROOT / "data/sample/queries.txt").read_text(encoding="utf-8").splitlines()
for j in range(3):
    print("QUERY:", queries_text[j])
    for i, s in zip(found[j][:3], scores[j][:3]):
        print(f"   {s:.3f}  {texts[int(i) - 1_000_000]}")
