#!/usr/bin/env python3
"""Search on compressed codes: queries/s and recall@10 of every codec, with and without exact
rescoring, beside float32 flat search by NumPy, FAISS (IndexFlatIP, IndexScalarQuantizer 8-bit,
IndexBinaryFlat) and USearch's exact search, all measured in this run on the same data.

Run:  python3 bench/bench_search.py                   # the shipped sample and synthetic 1M x 384
      python3 bench/bench_search.py --data synthetic --n 1000000 --nq 100 --threads 1
      python3 bench/bench_search.py --quick             # seconds: a smoke run

Recall@10 is the share of the exact float32 top-10 (inner product on unit vectors, i.e. cosine)
that a method returns. q/s counts a whole batch of --nq queries (median of --repeat runs after a
warm-up); "x flat" divides by FAISS IndexFlatIP's q/s. Rescoring ("+r N") takes k x N candidates
from the codes and rescores them exactly against the float32 originals held in memory; "+r bound"
rescores what the codec's error bound cannot rule out. The synthetic set is clustered, anisotropic
and unit-normalised like sentence embeddings (pure Gaussian noise has no neighbours to find).
"""

from __future__ import annotations

import sys

# BLAS and OpenMP read their thread counts when first loaded: set them before NumPy/FAISS import.
_threads = "1"
for _i, _a in enumerate(sys.argv):
    if _a == "--threads" and _i + 1 < len(sys.argv):
        _threads = sys.argv[_i + 1]
    elif _a.startswith("--threads="):
        _threads = _a.split("=", 1)[1]
if _threads != "0":
    import os

    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _threads

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import vectro  # noqa: E402
from vectro import _core  # noqa: E402

try:
    import faiss
except ImportError:
    faiss = None
try:
    import usearch.index as usearch_index
except ImportError:
    usearch_index = None

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
# codec[:oversample] entries; oversample "b" = by error bound (codecs that give one)
DEFAULT_CODECS = "f16,int8,int8:2,int4-g32,int4-g32:4,binary,binary:10,binary:20"


def timed(fn, repeat):
    out = fn()  # warm-up, and the result for recall
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12).astype(np.float32)


def synthetic(n, nq, d, seed=0):
    """Clustered, anisotropic, unit rows: 2000 centres in a spectrum that decays like real
    embedding models', each row a centre plus noise of comparable size."""
    rng = np.random.default_rng(seed)
    spec = (1.0 / np.sqrt(1.0 + np.arange(d) / 16.0)).astype(np.float32)
    centres = rng.standard_normal((2000, d), dtype=np.float32)

    def draw(m):
        out = np.empty((m, d), np.float32)
        for s in range(0, m, 100_000):
            e = min(m, s + 100_000)
            a = rng.integers(0, len(centres), e - s)
            blk = centres[a] + 0.8 * rng.standard_normal((e - s, d), dtype=np.float32)
            out[s:e] = unit(blk * spec)
        return out

    return draw(n), draw(nq)


def exact_topk(x, q, k):
    """Ground truth, float64 accumulation so ties in float32 cannot blur it."""
    out = np.empty((len(q), k), np.int64)
    for s in range(0, len(q), 64):
        sc = q[s:s + 64].astype(np.float64) @ x.T.astype(np.float64) if len(x) <= 50_000 \
            else (q[s:s + 64] @ x.T).astype(np.float64)
        part = np.argpartition(-sc, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sc, part, 1), axis=1, kind="stable")
        out[s:s + 64] = np.take_along_axis(part, order, 1)
    return out


def recall(found, truth):
    k = truth.shape[1]
    hits = sum(len(set(f[:k].tolist()) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / truth.size


def numpy_flat(x, q, k):
    """Vectorised NumPy: one BLAS matrix product per block of rows, argpartition for the top k."""
    def run():
        best_s = np.full((len(q), k), -np.inf, np.float32)
        best_i = np.zeros((len(q), k), np.int64)
        for s in range(0, len(x), 65536):
            sc = q @ x[s:s + 65536].T
            kk = min(k, sc.shape[1])
            part = np.argpartition(-sc, kk - 1, axis=1)[:, :kk]
            cs = np.concatenate([best_s, np.take_along_axis(sc, part, 1)], 1)
            ci = np.concatenate([best_i, part + s], 1)
            top = np.argpartition(-cs, k - 1, axis=1)[:, :k]
            best_s, best_i = np.take_along_axis(cs, top, 1), np.take_along_axis(ci, top, 1)
        order = np.argsort(-best_s, axis=1)
        return np.take_along_axis(best_i, order, 1)
    return run


def vectro_f32(x, q, k, threads):
    ids = np.empty((len(q), k), np.uint64)
    sc = np.empty((len(q), k), np.float32)

    def run():
        _core.search_f32(x, q, k, 0, ids, sc, threads)
        return ids.astype(np.int64)
    return run


def faiss_flat(x, q, k):
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    return lambda: index.search(q, k)[1], x.nbytes


def faiss_sq8(x, q, k):
    index = faiss.IndexScalarQuantizer(x.shape[1], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.train(x[:min(len(x), 200_000)])
    index.add(x)
    return lambda: index.search(q, k)[1], index.sa_code_size() * len(x)


def faiss_binary(x, q, k):
    d = x.shape[1]
    index = faiss.IndexBinaryFlat((d + 7) // 8 * 8)
    index.add(np.packbits(x > 0, axis=1))
    qb = np.packbits(q > 0, axis=1)
    return lambda: index.search(qb, k)[1], index.code_size * len(x)


def usearch_exact(x, q, k, threads, int8=False):
    """USearch's brute-force search. Its dtype= conversion inside exact search returned near-random
    neighbours here (usearch 2.26), so int8 input is quantized beforehand with one global scale."""
    if int8:
        def q8(a):
            return np.clip(np.rint(a * (127 / np.abs(a).max())), -127, 127).astype(np.int8)
        x, q = q8(x), q8(q)
    return lambda: usearch_index.search(x, q, k, usearch_index.MetricKind.IP, exact=True,
                                        threads=threads).keys.astype(np.int64)


def vectro_index(x, q, k, spec, threads):
    name, _, over = spec.partition(":")
    # without originals the index cannot rescore: the codes' own ranking is measured
    index = vectro.Index(name, metric="ip", keep_originals=bool(over))
    index.add(x, threads=threads)
    kwargs = {}
    if over and over != "b":  # "b": oversample=None, rescoring by the codec's error bound
        kwargs["oversample"] = float(over)
    bpv = index.codec.bytes_per_vector()

    def run():
        return index.search(q, k, threads=threads, **kwargs)[0].astype(np.int64)
    return run, bpv * len(x)


def bench_dataset(label, x, q, args, rows):
    n, d = x.shape
    k = args.k
    th = args.threads
    print(f"\n{label}: n = {n:,}, d = {d}, {len(q)} queries, k = {k}, threads = {th or 'all'}", flush=True)
    t0 = time.perf_counter()
    truth = exact_topk(x, q, k)
    print(f"  (exact ground truth in {time.perf_counter() - t0:.1f} s)", flush=True)
    results = []

    def add(method, bytes_total, fn, note=""):
        try:
            t, found = timed(fn, args.repeat)
        except Exception as e:  # a contender that cannot run here is reported, not fatal
            print(f"  {method}: skipped ({type(e).__name__}: {e})", flush=True)
            return
        r = recall(np.asarray(found), truth)
        results.append((method, bytes_total / n, len(q) / t, r, note))
        print(f"  {method:<26} {bytes_total / n:7.1f} B/vec  {len(q) / t:10.1f} q/s  recall@{k} {r:.4f}", flush=True)

    if faiss is not None:
        faiss.omp_set_num_threads(th or os.cpu_count())
        fn, nb = faiss_flat(x, q, k)
        add("FAISS IndexFlatIP (f32)", nb, fn)
    add("NumPy f32 (BLAS)", x.nbytes, numpy_flat(x, q, k))
    add("vectro f32", x.nbytes, vectro_f32(x, q, k, th))
    if usearch_index is not None:
        add("USearch exact f32", x.nbytes, usearch_exact(x, q, k, th))
        add("USearch exact i8", n * d, usearch_exact(x, q, k, th, int8=True))
    if faiss is not None:
        fn, nb = faiss_sq8(x, q, k)
        add("FAISS SQ 8-bit", nb, fn)
        fn, nb = faiss_binary(x, q, k)
        add("FAISS IndexBinaryFlat", nb, fn)
    for spec in args.codecs.split(","):
        name, _, over = spec.partition(":")
        label_m = f"vectro {name}" + (f" +r {'bound' if over == 'b' else over + 'x'}" if over else "")
        try:
            fn, nb = vectro_index(x, q, k, spec, th)
        except Exception as e:
            print(f"  {label_m}: skipped ({type(e).__name__}: {e})", flush=True)
            continue
        add(label_m, nb, fn)
    base = next((r[2] for r in results if r[0].startswith("FAISS IndexFlatIP")), None)
    rows.append((label, results, base))


def print_table(rows, args):
    print("\n## Results (markdown)\n")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"threads = {args.threads or 'all'}; k = {args.k}; vectro {vectro.__version__}, "
          f"faiss {getattr(faiss, '__version__', 'n/a')}, usearch "
          f"{getattr(sys.modules.get('usearch'), '__version__', 'n/a')}")
    for label, results, base in rows:
        print(f"\n**{label}**\n")
        print("| method | bytes/vec | queries/s | x FAISS flat | recall@10 |")
        print("|---|---:|---:|---:|---:|")
        for method, bpv, qps, r, _ in results:
            ratio = f"{qps / base:.2f}x" if base else "-"
            print(f"| {method} | {bpv:.1f} | {qps:,.1f} | {ratio} | {r:.4f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=["sample", "synthetic", "both"], default="both")
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic rows")
    ap.add_argument("--d", type=int, default=384, help="synthetic dimension")
    ap.add_argument("--nq", type=int, default=100, help="synthetic queries")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="0 = all cores")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--codecs", default=DEFAULT_CODECS,
                    help="comma list of codec[:oversample]; oversample 'b' = by error bound")
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.n, args.nq, args.repeat = 20_000, 20, 1
    rows = []
    if args.data in ("sample", "both"):
        x = np.load(os.path.join(ROOT, "data/sample/corpus.npy")).astype(np.float32)
        q = np.load(os.path.join(ROOT, "data/sample/queries.npy")).astype(np.float32)
        bench_dataset("sample (all-MiniLM-L6-v2 embeddings of Debian fortunes)", x, q, args, rows)
    if args.data in ("synthetic", "both"):
        t0 = time.perf_counter()
        x, q = synthetic(args.n, args.nq, args.d)
        print(f"\n(synthetic data generated in {time.perf_counter() - t0:.1f} s)", flush=True)
        bench_dataset(f"synthetic clustered, n = {args.n:,}, d = {args.d}", x, q, args, rows)
    print_table(rows, args)


if __name__ == "__main__":
    main()
