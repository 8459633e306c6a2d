#!/usr/bin/env python3
"""vectro.Index (the C vec_index) as a store: add and delete throughput, search queries/s and
recall@10 through the index on each codec (one thread and all threads), with and without
rescoring against held originals, filtered search, and the resident memory of each mode; beside
FAISS's matching index (IndexFlatIP, IndexScalarQuantizer 8-bit, IndexBinaryFlat) when faiss is
installed, all in one run on the same data.

Run:  python3 bench/bench_index.py --n 200000          # the size is a flag: 1M x 384 needs ~2 GB
      python3 bench/bench_index.py --n 1000000 --nq 64  # the issue's size (long on a shared VM)

Data: bench_search.synthetic (clustered, anisotropic, unit-normalised like sentence embeddings).
RSS per mode is measured in a fresh subprocess (VmRSS after the adds minus before), so the other
modes' memory does not count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vectro  # noqa: E402
from bench_search import exact_topk, recall, synthetic, timed  # noqa: E402

try:
    import faiss
except ImportError:
    faiss = None

CODECS = ["int8", "int4-g32", "binary", "rabitq-4", "rabitq-1"]


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_child(n, d, codec, keep, rerank):
    """Runs one index build in a subprocess and returns the RSS it added, in MB."""
    code = f"""
import sys, numpy as np, vectro
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
from bench_index import rss_kb
from bench_search import synthetic
x, _ = synthetic({n}, 1, {d})
before = rss_kb()
ix = vectro.Index({codec!r}, metric="cosine", keep_originals={keep}, rerank={rerank!r})
for a in range(0, {n}, 65536):
    ix.add(x[a:a + 65536])
print((rss_kb() - before) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--nq", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--codecs", default=",".join(CODECS))
    ap.add_argument("--no-rss", action="store_true")
    ap.add_argument("--json", help="write the rows here too")
    args = ap.parse_args()
    x, q = synthetic(args.n, args.nq, args.d)
    truth = exact_topk(x, q, 10)
    cores = vectro.get_backend_info()["threads"]
    print(f"# vectro {vectro.__version__}, {platform.processor() or platform.machine()}, kernel "
          f"{vectro.get_backend_info()['kernel']}, {cores} threads, n = {args.n} x {args.d}, "
          f"nq = {args.nq}, k = 10, median of {args.repeat}; faiss: {faiss.__version__ if faiss else 'not installed'}")
    rows = []
    for codec in args.codecs.split(","):
        for keep in (False, True):
            ix = vectro.Index(codec, metric="cosine", keep_originals=keep)
            if ix.codec.needs_training:
                ix.codec.fit(x[: min(len(x), 20000)])
            t0 = time.perf_counter()
            for a in range(0, args.n, 65536):
                ix.add(x[a:a + 65536])
            add_s = time.perf_counter() - t0
            for threads in (1, 0):
                sec, (ids, _) = timed(lambda: ix.search(q, k=10, threads=threads), args.repeat)
                rows.append({"codec": codec, "originals": keep, "threads": threads or cores,
                             "mode": ix.last_stats["mode"], "qps": args.nq / sec,
                             "recall@10": recall(ids.astype(np.int64), truth),
                             "add_rows_s": args.n / add_s})
            allow = np.arange(0, args.n, 10, dtype=np.uint64)
            sec, (ids, _) = timed(lambda: ix.search(q, k=10, filter=allow, threads=1), args.repeat)
            rows[-1]["filtered_qps_1t"] = args.nq / sec
            if not keep:
                dele = np.arange(0, args.n, 4, dtype=np.uint64)
                t0 = time.perf_counter()
                for a in range(0, len(dele), 4096):
                    ix.delete(dele[a:a + 4096])
                rows[-1]["delete_rows_s"] = len(dele) / (time.perf_counter() - t0)
    if faiss is not None:
        faiss.cvar.distance_compute_blas_threshold = 20  # BLAS for batches, FAISS at its best
        for name, make in (("faiss IndexFlatIP", lambda: faiss.IndexFlatIP(args.d)),
                           ("faiss SQ8", lambda: faiss.IndexScalarQuantizer(
                               args.d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT))):
            for threads in (1, cores):
                faiss.omp_set_num_threads(threads)
                fx = make()
                fx.train(x[:20000])
                fx.add(x)
                sec, (_, ids) = timed(lambda: fx.search(q, 10), args.repeat)
                rows.append({"codec": name, "originals": False, "threads": threads, "mode": "faiss",
                             "qps": args.nq / sec, "recall@10": recall(ids.astype(np.int64), truth)})
    print(f"{'codec':<22}{'orig':>5}{'thr':>4} {'mode':<10}{'q/s':>10}{'recall@10':>10}"
          f"{'add rows/s':>12}{'filt q/s 1t':>12}{'del rows/s':>12}")
    for r in rows:
        print(f"{r['codec']:<22}{'yes' if r['originals'] else 'no':>5}{r['threads']:>4} {r['mode']:<10}"
              f"{r['qps']:>10.0f}{r['recall@10']:>10.3f}{r.get('add_rows_s', 0):>12.0f}"
              f"{r.get('filtered_qps_1t', 0):>12.0f}{r.get('delete_rows_s', 0):>12.0f}")
    if not args.no_rss:
        print("\nRSS added by an index of n x d (MB, fresh process each):")
        for codec, keep, rerank in (("int8", False, None), ("int8", True, None), ("binary", False, "int8"),
                                    ("binary", True, "int8"), ("rabitq-4", False, None)):
            mb = rss_child(args.n, args.d, codec, keep, rerank)
            label = codec + (f" + rerank {rerank}" if rerank else "") + (" + originals" if keep else "")
            print(f"  {label:<36}{mb:>8.0f} MB  ({mb * 2**20 / args.n:.0f} B/row)")
            rows.append({"rss": label, "mb": mb})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
