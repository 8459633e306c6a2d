#!/usr/bin/env python3
"""rabitq at every bit width, one thread: encode GB/s of float32 input (through Codec.encode and
Index.add) and queries/s of a scan over the codes (keep_originals=False: the score kernel and the
top-k, no rescoring) and of the default Index search (rescoring by error bound), with the scan's
recall@10 and the rows the bound-driven search rescored per query.

Run:  python3 bench/bench_rabitq.py [--bits 1-8] [--repeat 15] [--tile 1] [--center] [--seed 0]

--center: the codecs centre rows and queries on the corpus mean (Codec(..., center=True), trained
on the corpus; Index.add trains it, so its figure includes the mean).

Data: the shipped sample (4000 x 384 corpus, 300 queries); --tile N stacks the corpus N times to
take it out of cache. Medians of --repeat runs after a warm-up.
"""

from __future__ import annotations

import os

# One thread everywhere: OpenBLAS's idle workers would otherwise spin beside the timed code.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import vectro  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def bits_list(spec):
    if "-" in spec:
        lo, hi = spec.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(b) for b in spec.split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", default="1-8")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--tile", type=int, default=1)
    ap.add_argument("--no-search", action="store_true")
    ap.add_argument("--center", action="store_true", help="centred codecs (center=True)")
    ap.add_argument("--seed", type=int, default=0, help="the rotation's seed")
    args = ap.parse_args()
    x = np.load(os.path.join(ROOT, "data/sample/corpus.npy"))
    q = np.load(os.path.join(ROOT, "data/sample/queries.npy"))
    if args.tile > 1:
        x = np.ascontiguousarray(np.tile(x, (args.tile, 1)))
    gb = x.nbytes / 1e9
    exact = np.argsort(-(q.astype(np.float64) @ x.T.astype(np.float64)), axis=1)[:, :10]
    print(f"corpus {x.shape}, {len(q)} queries, one thread, median of {args.repeat}"
          + (", centred on the corpus mean" if args.center else ""))
    print(f"{'codec':>9} {'encode GB/s':>12} {'Index.add GB/s':>15} {'scan q/s':>10} {'scan Mrows/s':>13} "
          f"{'bound q/s':>10} {'scan R@10':>10} {'rows/query':>11}")
    for b in bits_list(args.bits):
        name = f"rabitq-{b}"

        def make():
            return vectro.Codec(name, seed=args.seed, center=args.center or None)

        codec = make().fit(x)
        t_enc = timed(lambda: codec.encode(x, threads=1), args.repeat)

        def add():
            vectro.Index(make(), metric="ip").add(x, threads=1)

        t_add = timed(add, args.repeat)
        row = f"{name:>9} {gb / t_enc:12.2f} {gb / t_add:15.2f}"
        if not args.no_search:
            scan = vectro.Index(make(), metric="ip", keep_originals=False)
            scan.add(x)
            t_scan = timed(lambda: scan.search(q, k=10, threads=1), args.repeat)
            ids = scan.search(q, k=10)[0].astype(np.int64)
            recall = np.mean([len(set(a.tolist()) & set(e.tolist())) / 10 for a, e in zip(ids, exact)])
            full = vectro.Index(make(), metric="ip", keep_originals=True)
            full.add(x)
            t_full = timed(lambda: full.search(q, k=10, threads=1), args.repeat)
            rows = full.last_stats["rescored"] / len(q)
            row += (f" {len(q) / t_scan:10.0f} {len(q) * len(x) / t_scan / 1e6:13.1f} {len(q) / t_full:10.0f}"
                    f" {recall:10.4f} {rows:11.1f}")
        print(row, flush=True)


if __name__ == "__main__":
    main()
