"""plot_codecs.py: draws recall@10 against bytes per vector for the main codecs on the shipped
sample (searching the codes, and after rescoring), for the "choosing a codec" guide.
Usage: plot_codecs.py OUT.png  (a few seconds; matplotlib, Agg backend, nothing downloaded)"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
import vectro

ROOT = Path(__file__).resolve().parents[2]
# (precision, rescoring passed to Index.search: oversample factor, or None = by bound)
CODECS = [("f16", 2), ("int8", 2), ("int4-g32", 4), ("int4", 4), ("rabitq-4", None), ("rabitq-2", None),
          ("rabitq-1", None), ("pq-48x8", 10), ("binary", 10)]


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / exact.shape[1] for a, b in zip(found.tolist(), exact.tolist())]))


def main() -> None:
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    X = np.load(ROOT / "data/sample/corpus.npy")
    Q = np.load(ROOT / "data/sample/queries.npy")
    exact = np.argsort(-(Q @ X.T), axis=1)[:, :10]
    pts = []
    for p, ov in CODECS:
        index = vectro.Index(vectro.Codec(p), metric="ip", keep_originals=True)
        index.add(X)
        alone = recall(index.search(Q, k=10, oversample=1)[0], exact)
        rescored = recall(index.search(Q, k=10, oversample=ov)[0], exact)
        pts.append((p, index.codec.bytes_per_vector(X.shape[1]), alone, rescored, ov))
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    for p, b, a, r, _ov in pts:
        ax.plot([b, b], [a, r], color="0.75", zorder=1)
        ax.scatter([b], [a], color="tab:blue", zorder=2)
        ax.scatter([b], [r], color="tab:orange", marker="D", zorder=2)
        ax.annotate(f"{p}", (b, a), textcoords="offset points", xytext=(5, -10), fontsize=8)
    ax.scatter([], [], color="tab:blue", label="codes alone")
    ax.scatter([], [], color="tab:orange", marker="D", label="rescored (k x F, or by bound for rabitq)")
    ax.set_xscale("log")
    ax.set_xticks([50, 100, 200, 400, 800])
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("bytes per vector (d = 384; float32 = 1536)")
    ax.set_ylabel("recall@10")
    ax.set_title("Every codec on the sample: 4000 MiniLM vectors, 300 queries")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[1])


if __name__ == "__main__":
    main()
