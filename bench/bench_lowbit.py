#!/usr/bin/env python3
"""8x to 64x: rotation codes (RaBitQ-style) and product quantization beside FAISS's IndexPQ,
IndexPQFastScan and IndexRaBitQ (multi-bit), in one run on the same data: bytes/vector, training
and encode time, queries/s, recall@10 without and with exact rescoring.

Run:  python3 bench/bench_lowbit.py                     # the shipped sample and synthetic 1M x 384
      python3 bench/bench_lowbit.py --data sample --threads 1
      python3 bench/bench_lowbit.py --quick               # a smoke run

Encode GB/s counts float32 input (4 bytes a dimension). Every trained method gets the same --train
leading rows. A FAISS "+r" row after its base's row wraps that trained, filled base (its train and
encode columns repeat the base's). FAISS's rescoring is IndexRefineFlat with k_factor = the same oversample; vectro's is
Index(..., oversample=N) or, for rabitq, by its error bound ("+r bound"). One thread unless
--threads (FAISS's OpenMP is set to the same count).
"""

from __future__ import annotations

import sys

_threads = "1"
for _i, _a in enumerate(sys.argv):
    if _a == "--threads" and _i + 1 < len(sys.argv):
        _threads = sys.argv[_i + 1]
if _threads != "0":
    import os

    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _threads

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import vectro  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_search import ROOT, exact_topk, recall, synthetic, timed  # noqa: E402

try:
    import faiss
except ImportError:
    faiss = None

# vectro codec[/c][:oversample] ("/c": rabitq centred on the training rows' mean; "b" = by error
# bound), then FAISS factory strings[:k_factor]
DEFAULT_VECTRO = ("rabitq-1,rabitq-1:b,rabitq-1:10,rabitq-1/c,rabitq-1/c:b,rabitq-2,rabitq-2/c,"
                  "rabitq-4,rabitq-4:b,rabitq-4/c,rabitq-4/c:b,"
                  "pq-48x8,pq-48x8:10,pq-96x4,pq-96x4:10,pq-48x4,pq-48x4:10")
DEFAULT_FAISS = "RaBitQ1,RaBitQ1:10,RaBitQ2,RaBitQ4,RaBitQ4:4,PQ48,PQ48:10,PQ96x4fs,PQ96x4fs:10,PQ48x4fs,PQ48x4fs:10"


def faiss_build(spec, d):
    name, _, kf = spec.partition(":")
    if name.startswith("RaBitQ"):
        base = faiss.IndexRaBitQ(d, faiss.METRIC_INNER_PRODUCT, int(name[6:] or 1))
    else:
        base = faiss.index_factory(d, name, faiss.METRIC_INNER_PRODUCT)
    if not kf:
        return base, base
    rf = faiss.IndexRefineFlat(base)
    rf.k_factor = float(kf)
    return rf, base


def run_one(label, x, q, truth, k, repeat, train, encode, search, bytes_per_vec, reuse=None):
    """reuse: (train s, encode s) of a row whose trained, filled index this one wraps."""
    n, d = x.shape
    if reuse is None:
        t0 = time.perf_counter()
        train()
        t_train = time.perf_counter() - t0
        t0 = time.perf_counter()
        encode()
        t_enc = time.perf_counter() - t0
    else:
        encode()
        t_train, t_enc = reuse
    t, found = timed(search, repeat)
    r = recall(np.asarray(found), truth)
    row = (label, bytes_per_vec(), t_train, x.nbytes / t_enc / 1e9, len(q) / t, r, t_train, t_enc)
    print(f"  {label:<24} {row[1]:7.1f} B/vec  train {t_train:7.2f} s  encode {row[3]:6.2f} GB/s"
          f"  {row[4]:9.1f} q/s  recall@{k} {r:.4f}", flush=True)
    return row


def bench(label, x, q, args):
    n, d = x.shape
    k = args.k
    th = args.threads
    print(f"\n{label}: n = {n:,}, d = {d}, {len(q)} queries, k = {k}, threads = {th or 'all'}", flush=True)
    truth = exact_topk(x, q, k)
    rows = []
    for spec in filter(None, args.vectro.split(",")):
        name, _, over = spec.partition(":")
        tag = f"vectro {name}" + (f" +r {'bound' if over == 'b' else over + 'x'}" if over else "")
        name, _, flags = name.partition("/")
        try:
            codec = vectro.Codec(name, center=flags == "c" or None)
            # without originals the index cannot rescore: the codes' own ranking is measured
            index = vectro.Index(codec, metric="ip", keep_originals=bool(over))
            kw = {"oversample": float(over)} if over and over != "b" else {}
            rows.append(run_one(
                tag, x, q, truth, k, args.repeat,
                lambda: codec.fit(x[:args.train], threads=th) if codec.needs_training else codec._ensure(d),
                lambda: index.add(x, threads=th),
                lambda: index.search(q, k, threads=th, **kw)[0].astype(np.int64),
                lambda: codec.bytes_per_vector(d)))
        except Exception as e:  # reported, not fatal: a codec may not exist in this build
            print(f"  {tag}: skipped ({type(e).__name__}: {e})", flush=True)
    if faiss is not None:
        faiss.omp_set_num_threads(th or os.cpu_count())
        built = {}  # base name -> (trained, filled index, its train s, its encode s)
        for spec in filter(None, args.faiss.split(",")):
            name, _, kf = spec.partition(":")
            tag = f"FAISS {name}" + (f" +r {kf}x" if kf else "")
            if kf and name in built:
                # The base this refine wraps is trained and filled already (FAISS PQ48 trains for
                # minutes on one core): IndexRefineFlat(base, xb) takes its originals from x.
                base, tt, te = built[name]
                idx = faiss.IndexRefineFlat(base, faiss.swig_ptr(x))
                idx.k_factor = float(kf)
                rows.append(run_one(tag, x, q, truth, k, args.repeat, None, lambda: None,
                                    lambda: idx.search(q, k)[1], lambda: base.sa_code_size(),
                                    reuse=(tt, te)))
                continue
            idx, base = faiss_build(spec, d)
            rows.append(run_one(tag, x, q, truth, k, args.repeat,
                                lambda: idx.train(x[:args.train]), lambda: idx.add(x),
                                lambda: idx.search(q, k)[1], lambda: base.sa_code_size()))
            if not kf:
                built[name] = (base, rows[-1][6], rows[-1][7])
    return label, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=["sample", "synthetic", "both"], default="both")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--nq", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vectro", default=DEFAULT_VECTRO)
    ap.add_argument("--faiss", default=DEFAULT_FAISS)
    ap.add_argument("--train", type=int, default=20_000,
                    help="training rows (the leading ones), the same for every method")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.n, args.nq, args.repeat = 20_000, 20, 1
    out = []
    if args.data in ("sample", "both"):
        x = np.load(os.path.join(ROOT, "data/sample/corpus.npy")).astype(np.float32)
        q = np.load(os.path.join(ROOT, "data/sample/queries.npy")).astype(np.float32)
        out.append(bench("sample (all-MiniLM-L6-v2, Debian fortunes)", x, q, args))
    if args.data in ("synthetic", "both"):
        x, q = synthetic(args.n, args.nq, args.d)
        out.append(bench(f"synthetic clustered, n = {args.n:,}, d = {args.d}", x, q, args))
    print("\n## Results (markdown)\n")
    print(f"threads = {args.threads or 'all'}; k = {args.k}; vectro {vectro.__version__}, "
          f"faiss {getattr(faiss, '__version__', 'n/a')}")
    for label, rows in out:
        print(f"\n**{label}**\n")
        print("| method | bytes/vec | train s | encode GB/s | queries/s | recall@10 |")
        print("|---|---:|---:|---:|---:|---:|")
        for m, b, tt, eg, qps, r, *_ in rows:
            print(f"| {m} | {b:.1f} | {tt:.2f} | {eg:.2f} | {qps:,.1f} | {r:.4f} |")


if __name__ == "__main__":
    main()
