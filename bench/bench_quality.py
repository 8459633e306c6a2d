#!/usr/bin/env python3
"""Quality against size for every codec on the shipped real embeddings: a Markdown table and a PNG.

Run:  python3 bench/bench_quality.py [--out bench/results]

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

PRECISIONS = ["f16", "bf16", "int16", "int8", "uint8", "int4-g32", "int4", "binary"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "sample"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
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
