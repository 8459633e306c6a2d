#!/usr/bin/env python3
"""vectro.Index (the C vec_index) as a store: add and delete throughput, search queries/s and
recall@10 through the index on each codec (one thread and all threads), with and without
rescoring against held originals, filtered search, and the resident memory of each mode; beside
FAISS's matching index (IndexFlatIP with BLAS from 20 queries, IndexScalarQuantizer 8-bit,
IndexBinaryFlat on sign bits) when faiss is
installed, all in one run on the same data; FAISS's IndexPQFastScan and IndexRaBitQFastScan
beside pq and rabitq-1; each codec's index searched again from its file, mapped
(Index.load(mmap=True)); and the RSS of each memory mode (codes only, originals in RAM, loaded
into RAM, mapped, originals mapped).

Run:  python3 bench/bench_index.py --quick              # 20000 rows: a smoke run
      python3 bench/bench_index.py --n 200000          # the size is a flag: 1M x 384 needs ~6 GB
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
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vectro  # noqa: E402
from bench_search import exact_topk, recall, synthetic, timed  # noqa: E402

try:
    import faiss
except ImportError:
    faiss = None

CODECS = ["int8", "int4-g32", "binary", "pq-96x4", "rabitq-4", "rabitq-1"]


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


def rss_load_child(path, mmap, nq, d):
    """Loads a saved index in a fresh process: MB of RSS added at load, after a search, and the
    anonymous (non file-backed) part after the search, from /proc/self/statm."""
    code = f"""
import os, numpy as np, vectro
page = os.sysconf("SC_PAGE_SIZE")
def mem():
    size, res, shared = open("/proc/self/statm").read().split()[:3]
    return int(res) * page / 2**20, (int(res) - int(shared)) * page / 2**20
q = np.random.default_rng(1).standard_normal(({nq}, {d})).astype(np.float32)
r0, a0 = mem()
ix = vectro.Index.load({str(path)!r}, mmap={mmap})
r1, a1 = mem()
ix.search(q, k=10)
r2, a2 = mem()
print(r1 - r0, r2 - r0, a2 - a0)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [float(v) for v in out.stdout.strip().splitlines()[-1].split()]


def faiss_indexes(d):
    """FAISS's index matching each vectro codec (name, vectro codec, maker, input transform)."""
    def signs(a):
        return np.packbits(a > 0, axis=1)

    return [
        ("faiss IndexFlatIP", None, lambda: faiss.IndexFlatIP(d), None),
        ("faiss IndexScalarQuantizer 8bit", "int8", lambda: faiss.IndexScalarQuantizer(
            d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT), None),
        ("faiss IndexBinaryFlat", "binary", lambda: faiss.IndexBinaryFlat(d), signs),
        ("faiss IndexPQFastScan 96x4", "pq-96x4",
         lambda: faiss.IndexPQFastScan(d, 96, 4, faiss.METRIC_INNER_PRODUCT), None),
        ("faiss IndexRaBitQFastScan", "rabitq-1",
         lambda: faiss.IndexRaBitQFastScan(d, faiss.METRIC_INNER_PRODUCT), None),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--nq", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--codecs", default=",".join(CODECS))
    ap.add_argument("--quick", action="store_true", help="n = 20000, nq = 32, one repeat: a smoke run")
    ap.add_argument("--no-rss", action="store_true")
    ap.add_argument("--rss-only", action="store_true", help="only the memory of each mode")
    ap.add_argument("--no-faiss", action="store_true")
    ap.add_argument("--json", help="write the rows here too")
    args = ap.parse_args()
    if args.quick:
        args.n, args.nq, args.repeat = 20_000, 32, 1
    x, q = synthetic(args.n, args.nq, args.d)
    truth = None if args.rss_only else exact_topk(x, q, 10)
    cores = vectro.get_backend_info()["threads"]
    use_faiss = faiss is not None and not args.no_faiss and not args.rss_only
    print(f"# vectro {vectro.__version__}, {platform.processor() or platform.machine()}, kernel "
          f"{vectro.get_backend_info()['kernel']}, {cores} threads, n = {args.n} x {args.d}, "
          f"nq = {args.nq}, k = 10, median of {args.repeat}; "
          f"faiss: {faiss.__version__ if use_faiss else 'not used'}")
    rows = []
    tmp = tempfile.mkdtemp(prefix="vectro-bench-index-")
    for codec in [] if args.rss_only else args.codecs.split(","):
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
            own = rows[-1]
            own["filtered_qps_1t"] = args.nq / sec
            if not keep:
                # The same index searched in place from its file (Index.load(mmap=True)).
                path = os.path.join(tmp, f"{codec}.vqz")
                ix.save(path)
                mx = vectro.Index.load(path, mmap=True)
                for threads in (1, 0):
                    sec, (ids, _) = timed(lambda: mx.search(q, k=10, threads=threads), args.repeat)
                    rows.append({"codec": codec + " mapped", "originals": False,
                                 "threads": threads or cores, "mode": "codes", "qps": args.nq / sec,
                                 "recall@10": recall(ids.astype(np.int64), truth)})
                del mx
                os.remove(path)
                dele = np.arange(0, args.n, 4, dtype=np.uint64)
                t0 = time.perf_counter()
                for a in range(0, len(dele), 4096):
                    ix.delete(dele[a:a + 4096])
                own["delete_rows_s"] = len(dele) / (time.perf_counter() - t0)
            del ix
    if use_faiss:
        faiss.cvar.distance_compute_blas_threshold = 20  # BLAS for batches, FAISS at its best
        for name, _match, make, transform in faiss_indexes(args.d):
            fx = make()
            xa, qa = (transform(x), transform(q)) if transform else (x, q)
            if not fx.is_trained:
                fx.train(xa[:20000])
            t0 = time.perf_counter()
            fx.add(xa)
            add_s = time.perf_counter() - t0
            for threads in (1, cores):
                faiss.omp_set_num_threads(threads)
                sec, (_, ids) = timed(lambda: fx.search(qa, 10), args.repeat)
                rows.append({"codec": name, "originals": False, "threads": threads, "mode": "faiss",
                             "qps": args.nq / sec, "recall@10": recall(ids.astype(np.int64), truth),
                             "add_rows_s": args.n / add_s})
            del fx
        faiss.omp_set_num_threads(cores)
    if rows:
        print(f"{'codec':<32}{'orig':>5}{'thr':>4} {'mode':<10}{'q/s':>10}{'recall@10':>10}"
              f"{'add rows/s':>12}{'filt q/s 1t':>12}{'del rows/s':>12}")
    for r in rows:
        print(f"{r['codec']:<32}{'yes' if r['originals'] else 'no':>5}{r['threads']:>4} {r['mode']:<10}"
              f"{r['qps']:>10.0f}{r['recall@10']:>10.3f}{r.get('add_rows_s', 0):>12.0f}"
              f"{r.get('filtered_qps_1t', 0):>12.0f}{r.get('delete_rows_s', 0):>12.0f}")
    if not args.no_rss:
        print(f"\nRSS of an index of {args.n} x {args.d} per memory mode (MB, a fresh process each):")
        for codec, keep, rerank in (("int8", False, None), ("int8", True, None), ("binary", False, "int8"),
                                    ("binary", True, "int8"), ("rabitq-4", False, None)):
            mb = rss_child(args.n, args.d, codec, keep, rerank)
            label = "built by add: " + codec + (f" + rerank {rerank}" if rerank else "") + \
                (" + originals in RAM" if keep else ", codes only")
            print(f"  {label:<56}{mb:>8.0f} MB  ({mb * 2**20 / args.n:.0f} B/row)")
            rows.append({"rss": label, "mb": mb})
        # Saved and loaded back: read into memory, or mapped (codes, and originals when saved).
        for keep in (False, True):
            ix = vectro.Index("int8", metric="cosine", keep_originals=keep)
            for a in range(0, args.n, 65536):
                ix.add(x[a:a + 65536])
            path = os.path.join(tmp, f"rss{int(keep)}.vqz")
            ix.save(path)
            del ix
            for mmap in (False, True):
                load, searched, anon = rss_load_child(path, mmap, args.nq, args.d)
                label = "int8 loaded " + ("mapped" if mmap else "into RAM") + \
                    (", originals " + ("mapped" if mmap else "in RAM") if keep else ", codes only")
                print(f"  {label:<56}{load:>8.0f} MB at load, {searched:.0f} MB after a search "
                      f"({anon:.0f} MB of it anonymous)")
                rows.append({"rss": label, "mb": load, "after_search_mb": searched, "anon_mb": anon})
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
