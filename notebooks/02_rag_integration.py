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
# # Retrieval for RAG with compressed embeddings
#
# A retrieval-augmented generation pipeline needs one thing from Vectro: a retriever that,
# given a query embedding, returns the ids of the best passages. Here the passages are the
# sample's 4000 texts (`data/sample/corpus.txt`) with their all-MiniLM-L6-v2 embeddings, and the
# questions are the 300 held-out queries (`queries.txt`, `queries.npy`), already embedded with
# the same model, so nothing is downloaded. In your pipeline, `model.encode(texts,
# normalize_embeddings=True)` gives the same kind of arrays.
#
# We compare three retrievers: float32 (exact), 32x-smaller binary codes, and binary codes
# with exact rescoring, and build the context a language model would be given.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import vectro

ROOT = Path(os.environ.get("VECTRO_ROOT", Path.cwd()))
while not (ROOT / "data" / "sample").exists() and ROOT != ROOT.parent:
    ROOT = ROOT.parent
passages = (ROOT / "data/sample/corpus.txt").read_text(encoding="utf-8").splitlines()
questions = (ROOT / "data/sample/queries.txt").read_text(encoding="utf-8").splitlines()
P = np.load(ROOT / "data/sample/corpus.npy")
Q = np.load(ROOT / "data/sample/queries.npy")
len(passages), P.shape, len(questions), Q.shape

# %% [markdown]
# ## A retriever over compressed codes
#
# Document ids are uint64 and survive save/load, so the index can hold your own primary keys.
# Here they are line numbers offset by 10,000, to show that they are ids, not row numbers.

# %%
doc_ids = np.arange(10_000, 10_000 + len(P), dtype=np.uint64)


class Retriever:
    """The smallest useful retriever: compressed index + id -> text lookup."""

    def __init__(self, codec: str, oversample=None):
        # rescoring (oversample) reads the float32 originals: the index keeps them only if asked
        self.index = vectro.Index(codec, metric="ip", keep_originals=oversample is not None)
        self.index.add(P, ids=doc_ids)
        self.oversample = oversample

    def __call__(self, query_vectors: np.ndarray, k: int = 4):
        ids, scores = self.index.search(query_vectors, k=k, oversample=self.oversample)
        return [[(int(i), float(s), passages[int(i) - 10_000]) for i, s in zip(r, sc)] for r, sc in zip(ids, scores)]


exact = Retriever("f16", oversample=None)           # 2x smaller, same neighbours as float32
binary = Retriever("binary")                          # 32x smaller, Hamming ranking only
binary_rescored = Retriever("binary", oversample=20)  # + exact rescoring of 20 x k candidates

# %% [markdown]
# ## The context a model would see

# %%
def build_prompt(question: str, hits) -> str:
    context = "\n".join(f"[{i}] {text}" for i, _, text in hits)
    return f"Answer from the context.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"


j = 7
print(build_prompt(questions[j], binary_rescored(Q[j:j + 1])[0]))

# %% [markdown]
# ## How much of the exact context does each retriever keep?
#
# For each question, the share of the exact top-k passages that the compressed retriever also
# returns (recall@k), for k = 1..10.

# %%
ks = range(1, 11)
truth = np.argsort(-(Q @ P.T), axis=1)[:, :10] + 10_000


def recall_at(ret, k):
    got = ret.index.search(Q, k=k, oversample=ret.oversample)[0]
    return np.mean([len(set(a) & set(b[:k])) / k for a, b in zip(got.tolist(), truth.tolist())])


curves = {name: [recall_at(r, k) for k in ks] for name, r in
          [("f16 (768 B)", exact), ("binary (48 B)", binary), ("binary + rescoring (48 B + originals)",
                                                              binary_rescored)]}
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, c in curves.items():
    ax.plot(list(ks), c, marker="o", label=name)
ax.set_xlabel("k (passages in the context)")
ax.set_ylabel("recall@k against float32")
ax.set_ylim(0, 1.05)
ax.legend()
plt.show()
{name: round(c[3], 3) for name, c in curves.items()}

# %% [markdown]
# Binary codes alone miss about half of the exact context; with rescoring against the float32
# originals (read only for the 20 x k candidates: they can stay in a database or a file) the
# context is nearly the exact one, searched on codes 32x smaller. For LangChain and LlamaIndex,
# `vectro.integrations.langchain` and `.llama_index` wrap the same `Index` as their vector
# stores; see the frameworks page.
