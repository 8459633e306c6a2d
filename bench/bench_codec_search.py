#!/usr/bin/env python3
"""Per-codec flat search speed against FAISS, one thread: 64-query batches and single queries.

For each vectro codec: queries/s (process CPU time, median over interleaved rounds: every method
runs once per round, so a loaded machine slows all alike), the ratio against FAISS IndexFlatIP
(BLAS for batches: faiss.cvar.distance_compute_blas_threshold is set to 16) and against FAISS's
matching IndexScalarQuantizer, and the codec's own limits measured in the same run:
  bw limit   read bandwidth / (bytes per vector x n): a single-query scan cannot beat it;
  mac limit  one-thread sgemm multiply-adds/s / (d x n): the float32 FMA peak, which the codecs
             widened to float (f16, bf16, int16) cannot beat; the integer codecs (int8 / int4 /
             calibrated: vpmaddubsw, vpdpbusd) have 2-4x more multiply-adds per instruction.

Run:  python3 bench/bench_codec_search.py --n 200000 --rounds 3
      python3 bench/bench_codec_search.py --quick      # seconds: a smoke run
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import vectro  # noqa: E402

try:
    import faiss
except ImportError:
    faiss = None

CODECS = "f16,bf16,int16,int4-g32,int4,uint8,int8-cal,int8,binary"
# vectro codec -> FAISS ScalarQuantizer type it is compared with
FAISS_SQ = {"f16": "QT_fp16", "bf16": "QT_bf16", "int16": "QT_fp16", "int8": "QT_8bit",
            "uint8": "QT_8bit", "int8-cal": "QT_8bit", "int4": "QT_4bit", "int4-g32": "QT_4bit",
            "binary": "binaryflat"}
INT_CODES = {"int8", "uint8", "int8-cal", "int4", "int4-g32"}


def data(n, nq, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = rng.standard_normal((nq, d), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q


def cpu(fn):
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def read_bandwidth(x):
    """Bytes/s of one thread summing a large array (best of 3, process CPU time)."""
    a = x.reshape(-1)
    return a.nbytes / min(cpu(lambda: np.add.reduce(a)) for _ in range(3))


def sgemm_rate(d):
    a = np.random.default_rng(1).standard_normal((4096, d), dtype=np.float32)
    b = np.random.default_rng(2).standard_normal((d, 1024), dtype=np.float32)
    a @ b
    return 4096 * 1024 * d / min(cpu(lambda: a @ b) for _ in range(3))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--nq", type=int, default=64, help="queries a batch")
    ap.add_argument("--singles", type=int, default=8, help="single queries a round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--codecs", default=CODECS)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="n = 20000, one round")
    args = ap.parse_args()
    if args.quick:
        args.n, args.rounds, args.singles = 20_000, 1, 2
    if faiss is None:
        print("bench_codec_search: FAISS is not installed (pip install faiss-cpu): skipped")
        return
    faiss.cvar.distance_compute_blas_threshold = 16
    n, d, k = args.n, args.d, args.k
    x, q = data(n, args.nq, d)
    bw, mac = read_bandwidth(x), sgemm_rate(d)
    print(f"n = {n:,}, d = {d}, batches of {len(q)} and {args.singles} single queries, k = {k}, one thread, "
          f"{args.rounds} interleaved rounds, process CPU time; read bw {bw / 1e9:.1f} GB/s, "
          f"sgemm {mac / 1e9:.1f} GMAC/s; faiss {faiss.__version__}", flush=True)

    methods = {}  # name -> (batch fn, single fn, bytes/vector)

    def add_faiss(name, index, bpv):
        index.add(x)
        methods[name] = (lambda: index.search(q, k), lambda j: index.search(q[j:j + 1], k), bpv)

    add_faiss("faiss flat", faiss.IndexFlatIP(d), 4 * d)
    codecs = args.codecs.split(",")
    if "binary" in codecs:
        bindex = faiss.IndexBinaryFlat(d)
        bindex.add(np.packbits(x > 0, axis=1))
        qbits = np.packbits(q > 0, axis=1)
        methods["faiss binaryflat"] = (lambda: bindex.search(qbits, k),
                                       lambda j: bindex.search(qbits[j:j + 1], k), bindex.code_size)
    for qt in sorted({FAISS_SQ[c] for c in codecs if c in FAISS_SQ and c != "binary"}):
        if not hasattr(faiss.ScalarQuantizer, qt):
            continue
        index = faiss.IndexScalarQuantizer(d, getattr(faiss.ScalarQuantizer, qt), faiss.METRIC_INNER_PRODUCT)
        index.train(x[:50_000])
        add_faiss("faiss " + qt, index, index.sa_code_size())
    for c in codecs:
        index = vectro.Index(c, metric="ip")
        index.add(x, threads=1)
        methods[c] = (lambda index=index: index.search(q, k, threads=1),
                      lambda j, index=index: index.search(q[j:j + 1], k, threads=1),
                      index.codec.bytes_per_vector())

    tb = {m: [] for m in methods}
    ts = {m: [] for m in methods}
    for fb, fs, _ in methods.values():  # warm-up
        fb(), fs(0)
    for _ in range(args.rounds):
        for m, (fb, fs, _) in methods.items():
            tb[m].append(cpu(fb))
            ts[m].append(cpu(lambda: [fs(j % len(q)) for j in range(args.singles)]) / args.singles)
    qb = {m: len(q) / statistics.median(v) for m, v in tb.items()}
    qs = {m: 1 / statistics.median(v) for m, v in ts.items()}
    flat = "faiss flat"
    print(f"\n{'method':<16}{'B/vec':>6}{'batch q/s':>11}{'x flat':>8}{'x SQ':>7}{'% mac lim':>10}{'% own lim':>10}"
          f"{'1-query q/s':>13}{'x flat':>8}{'x SQ':>7}{'% bw lim':>9}")
    for m, (_, _, bpv) in methods.items():
        sq = "faiss " + FAISS_SQ.get(m, "")
        xsq_b = f"{qb[m] / qb[sq]:7.2f}" if sq in qb else f"{'':7}"
        xsq_s = f"{qs[m] / qs[sq]:7.2f}" if sq in qs else f"{'':7}"
        mac_lim = mac / (d * n)
        bw_lim = bw / (bpv * n)
        own = mac_lim * (4 if m in INT_CODES else 1)
        own_s = f"{100 * qb[m] / own:>10.0f}" if m != "binary" and not m.startswith("faiss") else f"{'':>10}"
        print(f"{m:<16}{bpv:>6}{qb[m]:>11.1f}{qb[m] / qb[flat]:>8.2f}{xsq_b}{100 * qb[m] / mac_lim:>10.0f}{own_s}"
              f"{qs[m]:>13.1f}{qs[m] / qs[flat]:>8.2f}{xsq_s}{100 * qs[m] / bw_lim:>9.0f}")


if __name__ == "__main__":
    main()
