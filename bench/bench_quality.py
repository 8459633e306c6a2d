#!/usr/bin/env python3
"""Quality against size for every codec on the shipped real embeddings: a Markdown table and a PNG.

Run:  python3 bench/bench_quality.py [--out bench/results]          (reconstruction table, MiniLM)
      python3 bench/bench_quality.py --search [--data e5,sample]    (search table, beside FAISS)

--search prints, for each sample, recall@10 of searching each codec's codes as vectro.Index does
(no rescoring, then k x 4 and k x 10 candidates rescored exactly, and rabitq's bound with the rows
it reads a query), centring off and on, beside the FAISS counterpart trained on the same rows and
searched with the same queries (binary: IndexBinaryFlat on sign(x) / sign(x - c) with the same
query bits; SQ 4/8-bit: IndexScalarQuantizer QT_4bit / QT_8bit; PQ fast-scan; IndexRaBitQ).

For each precision: bytes per vector, compression ratio, mean/min cosine(x, x̂), mean relative L2
error, and recall@10 of a search on reconstructions against exact float32 search (inner product;
the sample is L2-normalised, so this is cosine), for the 300 held-out queries over the 4000-vector
corpus (data/sample). Calibrated codecs are fitted on the corpus. Figures come from
vectro.evaluate, the same definitions the library uses everywhere.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import vectro

PRECISIONS = ["f16", "bf16", "int16", "int8", "uint8", "int4-g32", "int4", "uint4", "binary"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


# (row label, vectro precision, rerank precision or None, FAISS counterpart)
SEARCH_ROWS = [
    ("binary", "binary", None, "BinaryFlat"),
    ("binary -> int8 rerank", "binary", "int8", None),
    ("rabitq-1", "rabitq-1", None, "RaBitQ1"),
    ("rabitq-2", "rabitq-2", None, "RaBitQ2"),
    ("rabitq-4", "rabitq-4", None, "RaBitQ4"),
    ("rabitq-5", "rabitq-5", None, "RaBitQ5"),
    ("rabitq-7", "rabitq-7", None, "RaBitQ7"),
    ("rabitq-8 (quality)", "rabitq-8", None, "RaBitQ8"),
    ("pq-96x4", "pq-96x4", None, "PQ96x4fs"),
    ("int4", "int4", None, None),
    ("int4-g32", "int4-g32", None, None),
    ("uint4 (per-dim 4-bit)", "uint4", None, "SQ4"),
    ("uint6 (per-dim 6-bit)", "uint6", None, "SQ6"),
    ("int8", "int8", None, None),
    ("uint8", "uint8", None, "SQ8"),
]


def _recall(ids, truth):
    ids = ids.astype(np.int64)
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / truth.shape[1] for a, b in zip(ids, truth)]))


def _faiss_recall(kind, x, q, truth, center):
    try:
        import faiss
    except ImportError:
        return None
    faiss.omp_set_num_threads(1)
    d = x.shape[1]
    c = x.astype(np.float64).mean(0).astype(np.float32) if center else np.zeros(d, np.float32)
    if kind == "BinaryFlat":
        idx = faiss.IndexBinaryFlat(d)
        idx.add(np.packbits(x - c > 0, axis=1))
        return _recall(idx.search(np.packbits(q - c > 0, axis=1), 10)[1], truth)
    # IndexRaBitQ centres by itself (its row is the centred one); the others are given x as is
    if center != kind.startswith("RaBitQ"):
        return None
    ip = faiss.METRIC_INNER_PRODUCT
    if kind.startswith("RaBitQ"):
        idx = faiss.IndexRaBitQ(d, ip, int(kind[6:])) if int(kind[6:]) > 1 else faiss.IndexRaBitQ(d, ip)
    elif kind in ("SQ4", "SQ6", "SQ8"):
        idx = faiss.IndexScalarQuantizer(d, getattr(faiss.ScalarQuantizer, f"QT_{kind[2]}bit"), ip)
    else:
        idx = faiss.index_factory(d, kind, ip)
    idx.train(x)
    idx.add(x)
    return _recall(idx.search(q, 10)[1], truth)


def search_table(data: str) -> None:
    corpus = np.load(os.path.join(ROOT, "data", data, "corpus.npy"))
    queries = np.load(os.path.join(ROOT, "data", data, "queries.npy"))
    n, d = corpus.shape
    truth = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    print(f"\n## {data}: {n} x {d} corpus, {len(queries)} held-out queries, recall@10 (inner product)\n")
    print("| codec | center | bytes | codes | 4x rescore | 10x rescore | bound (rows read) | FAISS |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, prec, rerank, fk in SEARCH_ROWS:
        for center in (False, True):
            codec = vectro.Codec(prec, center=center or None)
            if codec.needs_training:
                codec.fit(corpus)
            rr = None if rerank is None else vectro.Codec(rerank, center=center or None)
            plain = vectro.Index(codec, metric="ip", keep_originals=False, rerank=rr)
            plain.add(corpus)
            r0 = _recall(plain.search(queries, 10, **({"oversample": 20} if rr else {}))[0], truth)
            cells = [f"{r0:.3f}", "", "", ""]
            if rr is None:
                full = vectro.Index(codec, metric="ip", keep_originals=True)
                full.add(corpus)
                cells[1] = f"{_recall(full.search(queries, 10, oversample=4)[0], truth):.3f}"
                cells[2] = f"{_recall(full.search(queries, 10, oversample=10)[0], truth):.3f}"
                if codec.name == "rabitq":
                    rb = _recall(full.search(queries, 10)[0], truth)
                    cells[3] = f"{rb:.3f} ({full.last_stats['rescored'] / len(queries):.0f})"
            fr = _faiss_recall(fk, corpus, queries, truth, center) if fk else None
            fcell = "" if fr is None else f"{fk}: {fr:.3f}"
            print(f"| {label} | {'yes' if center else 'no'} | {codec.bytes_per_vector(d)} | "
                  + " | ".join(cells) + f" | {fcell} |", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="reconstruction table: a data folder (default data/sample); "
                    "--search: sample names under data/ (default e5,sample)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--search", action="store_true", help="the search table beside FAISS (issue 14)")
    args = ap.parse_args()
    if args.search:
        print(f"# search recall on the codes: vectro {vectro.__version__}, "
              f"kernel {vectro.get_backend_info()['kernel']}; command: python3 bench/bench_quality.py --search")
        for data in (args.data or "e5,sample").split(","):
            search_table(data)
        return 0
    args.data = args.data or os.path.join(ROOT, "data", "sample")
    corpus = np.load(os.path.join(args.data, "corpus.npy"))
    queries = np.load(os.path.join(args.data, "queries.npy"))
    n, d = corpus.shape
    print(f"# quality vs size: {n} x {d} all-MiniLM-L6-v2 embeddings, {len(queries)} held-out queries")
    print(f"command: python3 bench/bench_quality.py; vectro {vectro.__version__}\n")
    print("| precision | bytes/vector | ratio | cosine mean | cosine min | rel. L2 mean | recall@10 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for p in PRECISIONS:
        r = vectro.evaluate(corpus, p, queries=queries, k=10)
        rows.append(r)
        print(f"| {r['precision']} | {r['bytes_per_vector']:.0f} | {r['compression_ratio']:.1f}x | "
              f"{r['cosine_mean']:.6f} | {r['cosine_min']:.6f} | {r['rel_l2_mean']:.5f} | {r['recall_at_k']:.4f} |")
    print(f"| float32 | {4 * d} | 1.0x | 1 | 1 | 0 | 1 |")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib not installed: no plot; pip install matplotlib)")
        return 0
    os.makedirs(args.out, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    # 1 - cosine on a log scale separates the near-lossless codecs that a linear axis piles up.
    panels = ((axes[0], lambda r: max(1 - r["cosine_mean"], 1e-9), "1 - mean cosine(x, x̂)  (lower is better)", True),
              (axes[1], lambda r: r["recall_at_k"], "recall@10 (no rescoring)", False))
    for ax, val, label, logy in panels:
        seen: dict[int, int] = {}
        for r in rows:
            b = r["bytes_per_vector"]
            key = round(float(np.log2(b)) * 10)  # codecs of about the same size: stack their labels
            k = seen.get(key, 0)
            seen[key] = k + 1
            ax.scatter(b, val(r), s=40)
            ax.annotate(r["precision"], (b, val(r)), textcoords="offset points", xytext=(6, -4 - 11 * k),
                        fontsize=9)
        ax.set_xscale("log", base=2)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("bytes per vector (d = 384; float32 = 1536)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].set_title("reconstruction error")
    axes[1].set_title("search quality")
    fig.suptitle(f"vectro {vectro.__version__}: quality vs size on the shipped sample (all-MiniLM-L6-v2)")
    fig.tight_layout()
    path = os.path.join(args.out, "quality_vs_bytes.png")
    fig.savefig(path, dpi=110)
    print(f"\nplot: {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
