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
# # Choosing a codec on your own data
#
# Point `VECTRO_DATA` at a `.npy` of your embeddings (and `VECTRO_QUERIES` at real queries if
# you have them) and run this notebook; by default it uses the shipped sample. It measures every
# main codec's size, cosine and recall@10 (searching the codes, and rescored), plots them, and
# lets `vectro.choose` pick the cheapest that meets a target.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import vectro

ROOT = Path(os.environ.get("VECTRO_ROOT", Path.cwd()))
while not (ROOT / "data" / "sample").exists() and ROOT != ROOT.parent:
    ROOT = ROOT.parent
X = np.load(os.environ.get("VECTRO_DATA", ROOT / "data/sample/corpus.npy"), mmap_mode="r")
queries = os.environ.get("VECTRO_QUERIES", ROOT / "data/sample/queries.npy" if "VECTRO_DATA" not in os.environ else "")
Q = np.load(queries) if queries else None
X = np.ascontiguousarray(X[:20_000], dtype=np.float32)  # a sample is enough to decide
print(X.shape, "queries:", None if Q is None else Q.shape)

# %% [markdown]
# ## Is the data anisotropic?
#
# Embeddings whose pairwise cosines all sit near 0.8 (e5, ada-002) need centring for the
# low-bit codecs; MiniLM's sit near 0.

# %%
sub = X[np.random.default_rng(0).choice(len(X), min(len(X), 1000), replace=False)]
sub = sub / np.linalg.norm(sub, axis=1, keepdims=True)
cos = (sub @ sub.T)[np.triu_indices(len(sub), 1)]
plt.figure(figsize=(6, 2.8))
plt.hist(cos, bins=80)
plt.xlabel("pairwise cosine")
plt.show()
print(f"mean pairwise cosine {cos.mean():.3f}")

# %% [markdown]
# ## Every codec

# %%
codecs = ["int8", "int4-g32", "rabitq-4", "rabitq-1", "binary"]
results = {p: vectro.evaluate(X, p, queries=Q) for p in codecs}
for p, r in results.items():
    print(f"{p:<9} {r['bytes_per_vector']:>5.0f} B  cosine {r['cosine_mean']:.4f}  "
          f"codes {r['recall_codes']:.3f}  rescored {max(r['recall_rescored'].values()):.3f}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for p, r in results.items():
    b = r["bytes_per_vector"]
    ax.scatter(b, r["recall_codes"], color="tab:blue")
    ax.scatter(b, max(r["recall_rescored"].values()), color="tab:orange", marker="D")
    ax.annotate(p, (b, r["recall_codes"]), xytext=(4, -10), textcoords="offset points", fontsize=8)
ax.set_xscale("log")
ax.set_xlabel("bytes per vector")
ax.set_ylabel("recall@10")
ax.legend(["codes alone", "rescored"], loc="lower right")
plt.show()

# %% [markdown]
# ## Let `choose` plan it
#
# The cheapest configuration (codec x centring x rescoring) that meets recall@10 >= 0.95, with
# everything it measured.

# %%
choice = vectro.choose(X, min_recall_at_10=0.95, queries=Q, candidates=("binary", "rabitq-1", "int4-g32", "int8"),
                       rescoring=("none", 4, "bound"))
print(choice)
print(choice.format_table())
