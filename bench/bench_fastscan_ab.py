"""4-bit PQ fast-scan search, vectro against FAISS IndexPQFastScan, in interleaved rounds.

bench_lowbit.py times each method once, one after the other; on a VM whose clock changes speed
from one minute to the next (ours moves by ~1.6x) two rows of one run can then differ by the
clock rather than by the code. Here the two searches alternate for --rounds rounds (each the
median of 3 after a warm-up, bench_search.timed), and the table gives each side's best round
and the median of the per-round ratios. One thread for both; the same training rows (the
leading --train), data and queries.

Run: python3 bench/bench_fastscan_ab.py [--n 1000000] [--m 48,96] [--rounds 15] [--data sample]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import vectro  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_search import ROOT, exact_topk, recall, synthetic, timed  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=["sample", "synthetic"], default="synthetic")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--nq", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--m", default="48,96")
    ap.add_argument("--oversample", type=float, default=10.0, help="the refined rows' factor")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--train", type=int, default=10_000)
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    if args.data == "sample":
        x = np.load(os.path.join(ROOT, "data/sample/corpus.npy")).astype(np.float32)
        q = np.load(os.path.join(ROOT, "data/sample/queries.npy")).astype(np.float32)
        label = f"sample, n = {len(x):,}, d = {x.shape[1]}, {len(q)} queries"
    else:
        x, q = synthetic(args.n, args.nq, args.d)
        label = f"synthetic clustered, n = {len(x):,}, d = {x.shape[1]}, {len(q)} queries"
    d = x.shape[1]
    k, over = args.k, args.oversample
    truth = exact_topk(x, q, k)
    print(f"{label}; k = {k}; one thread; {args.rounds} interleaved rounds; vectro "
          f"{vectro.__version__}, faiss {faiss.__version__}", flush=True)
    rows = []
    for m in (int(v) for v in args.m.split(",")):
        codec = vectro.Codec(f"pq-{m}x4")
        codec.fit(x[: args.train], threads=1)
        ix = vectro.Index(codec, metric="ip", keep_originals=True)
        ix.add(x, threads=1)
        fs = faiss.IndexPQFastScan(d, m, 4, faiss.METRIC_INNER_PRODUCT)
        fs.train(x[: args.train])
        fs.add(x)
        fr = faiss.IndexRefineFlat(fs, faiss.swig_ptr(x))
        fr.k_factor = over
        # the codebooks' quality apart from the scan: reconstruction error on (up to) 200k rows
        xs = x[:200_000]
        mse_v = float(np.mean((xs - codec.decode(codec.encode(xs))) ** 2))
        mse_f = float(np.mean((xs - fs.pq.decode(fs.pq.compute_codes(xs))) ** 2))
        print(f"  pq-{m}x4 reconstruction MSE on {len(xs):,} rows: vectro {mse_v:.6f}, "
              f"FAISS {mse_f:.6f}", flush=True)
        pairs = [
            # pq has no error bound, so without oversample the index ranks by the codes alone
            (f"pq-{m}x4", lambda: ix.search(q, k, threads=1), f"PQ{m}x4fs", lambda: fs.search(q, k)),
            (f"pq-{m}x4 +r {over:g}x", lambda: ix.search(q, k, oversample=over, threads=1),
             f"PQ{m}x4fs +r {over:g}x", lambda: fr.search(q, k)),
        ]
        for va, fa, fb_name, fb in pairs:
            qa, qb = [], []
            for _ in range(args.rounds):
                ta, out_a = timed(fa, 3)
                tb, out_b = timed(fb, 3)
                qa.append(len(q) / ta)
                qb.append(len(q) / tb)
            ra = recall(np.asarray(out_a[0]).astype(np.int64), truth)
            rb = recall(np.asarray(out_b[1]).astype(np.int64), truth)
            ratios = sorted(a / b for a, b in zip(qa, qb))
            rows.append((va, max(qa), ra, fb_name, max(qb), rb, max(qa) / max(qb),
                         ratios[len(ratios) // 2]))
            print(f"  {va:<16} {max(qa):10.1f} q/s  r@{k} {ra:.4f}   {fb_name:<18} {max(qb):10.1f} "
                  f"q/s  r@{k} {rb:.4f}   best/best {rows[-1][6]:.2f}  median {rows[-1][7]:.2f}",
                  flush=True)
    print("\n| vectro | q/s (best) | recall@10 | FAISS | q/s (best) | recall@10 | best / best "
          "| median of round ratios |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for va, qa, ra, vb, qb, rb, r1, r2 in rows:
        print(f"| {va} | {qa:,.1f} | {ra:.4f} | {vb} | {qb:,.1f} | {rb:.4f} | {r1:.2f}x | {r2:.2f}x |")


if __name__ == "__main__":
    main()
