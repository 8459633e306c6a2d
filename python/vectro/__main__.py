"""`python -m vectro EMBEDDINGS.npy [--queries Q.npy]`: compress a file of embeddings and report
the compression ratio, the quality lost (cosine, relative error, recall@k) and the throughput."""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import vectro


def _median_seconds(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _recall_at_k(x: np.ndarray, x_hat: np.ndarray, queries: np.ndarray, k: int) -> float:
    """Share of the exact float32 inner-product top-k that a search on reconstructions returns."""
    k = min(k, len(x))
    exact = np.argpartition(-(queries @ x.T), k - 1, axis=1)[:, :k]
    approx = np.argpartition(-(queries @ x_hat.T), k - 1, axis=1)[:, :k]
    hits = [len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(exact, approx)]
    return float(np.mean(hits)) / k


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vectro", description=__doc__)
    ap.add_argument("embeddings", help=".npy file of float embeddings, shape (n, d)")
    ap.add_argument("--queries", help=".npy of held-out query embeddings for recall@k")
    ap.add_argument("--precision", default="int8", choices=vectro.PRECISIONS)
    ap.add_argument("--threads", type=int, default=0, help="0 = all cores (default)")
    ap.add_argument("-k", type=int, default=10, help="k of recall@k (default 10)")
    ap.add_argument("--repeat", type=int, default=5, help="timing runs, median reported")
    args = ap.parse_args(argv)

    try:
        x = np.load(args.embeddings, mmap_mode="r")
        queries = np.load(args.queries) if args.queries else None
    except (OSError, ValueError) as e:
        print(f"vectro: cannot read input: {e}", file=sys.stderr)
        return 2
    x = np.ascontiguousarray(x)
    try:
        q = vectro.quantize_embeddings(x, args.precision, threads=args.threads)
        x_hat = vectro.reconstruct_embeddings(q, threads=args.threads)
    except (TypeError, ValueError) as e:
        print(f"vectro: {args.embeddings}: {e}", file=sys.stderr)
        return 1

    x32 = x.reshape(len(x), -1).astype(np.float32, copy=False)
    n, d = x32.shape
    xd, hd = x32.astype(np.float64), x_hat.reshape(n, d).astype(np.float64)
    norms = np.linalg.norm(xd, axis=1)
    nz = norms > 0
    cos = (xd * hd).sum(1)[nz] / (norms[nz] * np.linalg.norm(hd, axis=1)[nz])
    rel = np.linalg.norm(xd - hd, axis=1)[nz] / norms[nz]

    info = vectro.get_backend_info()
    print(f"vectro {vectro.__version__}  kernel {info['kernel']}  threads {args.threads or info['threads']}")
    print(f"input        {args.embeddings}: {n} x {d} {x.dtype}")
    print(f"codec        {args.precision}: {q.nbytes / max(n, 1):.0f} bytes/vector "
          f"(float32: {4 * d})")
    print(f"size         {n * d * 4:,} -> {q.nbytes:,} bytes, compression ratio {q.compression_ratio:.2f}x")
    print(f"cosine       mean {cos.mean():.6f}  min {cos.min():.6f}")
    print(f"rel. L2 err  mean {rel.mean():.5f}  max {rel.max():.5f}")
    if queries is not None:
        queries = queries.reshape(-1, d).astype(np.float32)
        print(f"recall@{args.k}    {_recall_at_k(x32, x_hat.reshape(n, d), queries, args.k):.4f} "
              f"({len(queries)} held-out queries, inner product)")

    codes, scales = q.codes, q.scales
    out = np.empty((n, d), np.float32)
    t_enc = _median_seconds(lambda: vectro._core.int8_encode(x32, codes, scales, args.threads, None),
                            args.repeat)
    t_dec = _median_seconds(lambda: vectro._core.int8_decode(codes, scales, out, args.threads, None),
                            args.repeat)
    gb = n * d * 4 / 1e9
    print(f"encode       {n / t_enc / 1e6:8.2f} M vectors/s  {gb / t_enc:6.1f} GB/s of float32")
    print(f"decode       {n / t_dec / 1e6:8.2f} M vectors/s  {gb / t_dec:6.1f} GB/s of float32")
    if n * d * 4 < 64e6:
        print("             (the input fits in cache here; bench/bench_int8.py measures from RAM)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
