#!/usr/bin/env python3
"""What the Index layer costs over the stateless search: one 300-query binary search of a small
index (200 rows, one thread, so the fixed costs show), through Index.search, through the C binding
_core.index_search, and through the stateless _core.search_codes on the same codes. Best of 7
rounds of 200 calls each, interleaved.

Run:  python3 bench/bench_index_overhead.py [rows] [queries]
"""

import sys
import time

import numpy as np
import vectro
from vectro import _core


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    nq = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 384)).astype(np.float32)
    q = rng.standard_normal((nq, 384)).astype(np.float32)
    c = vectro.Codec("binary")
    ix = vectro.Index(c, metric="ip")
    ix.add(x)
    qe = c.encode(x)
    ids = np.empty((nq, 10), np.uint64)
    sc = np.empty((nq, 10), np.float32)
    fs = {"Index.search": lambda: ix.search(q, k=10, threads=1),
          "_core.index_search": lambda: _core.index_search(ix._h, q, 10, 0.0, 0.0, 1.0, 1, None, ids, sc, None),
          "stateless search_codes": lambda: _core.search_codes(c._h, qe.codes, None, None, q, 10, 0, ids, sc, 1)}
    res: dict = {}
    for _ in range(7):
        for name, f in fs.items():
            t = time.perf_counter()
            for _ in range(200):
                f()
            res.setdefault(name, []).append((time.perf_counter() - t) / 200 * 1e6)
    for name, v in res.items():
        print(f"{name:<24}{min(v):10.1f} us")


if __name__ == "__main__":
    main()
