"""Let vectro.choose plan the cheapest codec, centring, Matryoshka dimension and rescoring that
meets a recall@10 target on the sample, print its table, and build the planned index.

    python3 examples/choose_codec.py [TARGET_RECALL]
"""

import sys
from pathlib import Path

import numpy as np
import vectro

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main(target: float) -> None:
    X = np.load(SAMPLE / "corpus.npy")
    Q = np.load(SAMPLE / "queries.npy")
    choice = vectro.choose(X, min_recall_at_10=target, queries=Q[:100],
                           candidates=("binary", "rabitq-1", "int4-g32", "int8"))
    print(choice)
    print(choice.format_table())
    index = choice.index(X)
    ids, scores = index.search(Q[100:105], k=10)
    print("first query's top 3:", ids[0, :3].tolist())


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.95)
