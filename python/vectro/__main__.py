"""`python -m vectro EMBEDDINGS.npy [--queries Q.npy]`: compress a file of embeddings and report
the compression ratio, the quality lost (cosine, relative error, recall@k) and the throughput."""

from __future__ import annotations

import argparse
import glob
import os
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


def _cache_bytes() -> int | None:
    """The CPU's largest cache in bytes (Linux: sysconf, else sysfs); None where unknown."""
    try:
        size = os.sysconf("SC_LEVEL3_CACHE_SIZE")
        if size > 0:
            return size
    except (ValueError, OSError, AttributeError):
        pass
    best = None
    for f in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        try:
            text = open(f).read().strip().upper()
            size = int(text[:-1]) * {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[text[-1]] if text[-1] in "KMG" \
                else int(text)
        except (OSError, ValueError, KeyError):
            continue
        best = size if best is None else max(best, size)
    return best


def _timing_note(input_bytes: int, cache: int | None) -> str:
    """What the timings above measured: from cache only when input and codes fit the CPU's cache."""
    mib = input_bytes / 2**20
    if cache is None:
        return (f"             (timed on {mib:.1f} MiB; this CPU's cache size is unknown, so the input may have "
                "come from cache; `vectro bench` measures on 256 MB)")
    if input_bytes <= cache:
        return (f"             (the {mib:.1f} MiB of input and codes fit in this CPU's {cache / 2**20:.0f} MiB "
                "cache: rates from RAM are lower; `vectro bench` measures on 256 MB)")
    return f"             (timed on {mib:.0f} MiB, more than this CPU's {cache / 2**20:.0f} MiB cache: from RAM)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vectro", description=__doc__)
    ap.add_argument("embeddings", help=".npy file of float embeddings, shape (n, d)")
    ap.add_argument("--queries", help=".npy of held-out query embeddings for recall@k")
    ap.add_argument("--precision", default="int8",
                    help="int8 (default), int16, int4, int4-g32, f16, bf16, binary, uint8, "
                         "or a profile: quality, balanced, fast")
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
        codec = vectro.Codec(args.precision)
        if codec.needs_training:
            codec.fit(x)
        q = codec.encode(x, threads=args.threads)
        report = vectro.evaluate(x, q, queries=queries, k=args.k, threads=args.threads) if queries is not None \
            else vectro.evaluate(x, q, k=args.k, threads=args.threads)
    except (TypeError, ValueError) as e:
        print(f"vectro: {args.embeddings}: {e}", file=sys.stderr)
        return 1

    n, d = q.codes.shape[0], q.dim
    info = vectro.get_backend_info()
    print(f"vectro {vectro.__version__}  kernel {info['kernel']}  threads {args.threads or info['threads']}")
    print(f"input        {args.embeddings}: {n} x {d} {x.dtype}")
    print(f"codec        {q.precision}: {q.nbytes / max(n, 1):.0f} bytes/vector (float32: {4 * d})")
    print(f"size         {n * d * 4:,} -> {q.nbytes:,} bytes, compression ratio {q.compression_ratio:.2f}x")
    print(f"cosine       mean {report['cosine_mean']:.6f}  min {report['cosine_min']:.6f} (cosine(x, x^) per vector)")
    if q.precision == "binary":  # signs only: x^ is +-1, so |x - x^| / |x| measures the input's scale
        print("rel. L2 err  n/a: binary keeps signs only and decodes to +-1 (no magnitude)")
    else:
        print(f"rel. L2 err  mean {report['rel_l2_mean']:.5f}  max {report['rel_l2_max']:.5f} "
              "(|x - x^| / |x| per vector)")
    if report["n_queries"]:
        held = "held-out queries" if queries is not None else "queries held out of the input"
        print(f"recall@{args.k}    {report['recall_at_k']:.4f} ({report['n_queries']} {held}; exact inner-product "
              "search over x^ against float32, not a search on the codes)")

    x32 = x.reshape(n, d).astype(np.float32, copy=False)
    codes, scales, h = q.codes, q.scales, codec._h
    out = vectro._aligned_empty((n, d), np.float32)
    t_enc = _median_seconds(lambda: vectro._core.codec_encode(h, x32, codes, scales, args.threads, None),
                            args.repeat)
    t_dec = _median_seconds(lambda: vectro._core.codec_decode(h, codes, scales, out, args.threads, None),
                            args.repeat)
    gb = n * d * 4 / 1e9
    print(f"encode       {n / t_enc / 1e6:8.2f} M vectors/s  {gb / t_enc:6.1f} GB/s of float32")
    print(f"decode       {n / t_dec / 1e6:8.2f} M vectors/s  {gb / t_dec:6.1f} GB/s of float32")
    print(_timing_note(n * d * 4 + q.nbytes, _cache_bytes()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
