#!/usr/bin/env python3
"""Encode/decode throughput of every codec, beside NumPy doing the same math and FAISS where FAISS
has the same kind of codec (its ScalarQuantizer: fp16, bf16, 8-bit, 4-bit; FAISS's 8/4-bit ranges
are per dimension, trained, the nearest equivalents of uint8 / int4).

Run:  python3 bench/bench_codecs.py [--d 768] [--mb 256] [--threads 1]

GB/s counts the float32 side (4 bytes per dimension). Medians of --repeat runs after a warm-up;
every contender writes into preallocated, touched outputs; one thread unless --threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import vectro
from vectro import _core

try:
    import faiss
except ImportError:
    faiss = None


def timed(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def numpy_impls(x, calib_ranges):
    """The same math in vectorised NumPy (whole-array expressions), encode and decode."""
    n, d = x.shape

    def sym(levels):
        def enc():
            m = np.abs(x).max(axis=1)
            s = m / np.float32(levels)
            safe = np.where(s > 0, s, np.float32(1))
            return np.clip(np.rint(x / safe[:, None]), -levels, levels), s
        return enc

    impl = {}
    e8 = sym(127)
    impl["int8"] = (lambda: e8()[0].astype(np.int8), None)
    e16 = sym(32767)
    impl["int16"] = (lambda: e16()[0].astype(np.int16), None)
    e4 = sym(7)

    def enc4():
        q = e4()[0].astype(np.int8)
        return ((q[:, 0::2] & 0xF) | ((q[:, 1::2] & 0xF) << 4)).astype(np.uint8)
    impl["int4"] = (enc4, None)
    impl["f16"] = (lambda: x.astype(np.float16), None)

    def bf16():
        u = x.view(np.uint32)
        return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    impl["bf16"] = (bf16, None)
    impl["binary"] = (lambda: np.packbits(x > 0, axis=1), None)
    starts = calib_ranges[0]
    steps = (calib_ranges[1] - starts) / 255
    impl["uint8"] = (lambda: np.clip(np.rint((x - starts) / steps), 0, 255).astype(np.uint8), None)

    # decoders take the codes their encoder produced
    dec = {
        "int8": lambda c, s: c.astype(np.float32) * s[:, None],
        "int16": lambda c, s: c.astype(np.float32) * s[:, None],
        "int4": lambda c, s: np.stack([(c << 4).astype(np.int8) >> 4, c.astype(np.int8) >> 4], 2)
        .reshape(n, -1)[:, :d].astype(np.float32) * s[:, None],
        "f16": lambda c, s: c.astype(np.float32),
        "bf16": lambda c, s: (c.astype(np.uint32) << 16).view(np.float32),
        "binary": lambda c, s: np.where(np.unpackbits(c, axis=1)[:, :d] > 0, np.float32(1), np.float32(-1)),
        "uint8": lambda c, s: starts + c.astype(np.float32) * steps,
    }
    return impl, dec


FAISS_EQUIV = {"f16": "QT_fp16", "bf16": "QT_bf16", "int8": "QT_8bit", "uint8": "QT_8bit", "int4": "QT_4bit"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.mb, args.repeat = 16, 1
    d = args.d
    n = args.mb * 1_000_000 // (4 * d)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d), dtype=np.float32)
    gb = x.nbytes / 1e9
    calib = x[:20000]
    ranges = np.vstack([calib.min(0), calib.max(0)])
    np_enc, np_dec = numpy_impls(x, ranges)
    info = vectro.get_backend_info()
    print(f"# vectro {vectro.__version__} codec throughput, d = {d}, {n} vectors ({args.mb} MB float32), "
          f"{args.threads} thread(s), kernel {info['kernel']}")
    print(f"NumPy {np.__version__}, faiss-cpu {faiss.__version__ if faiss else 'not installed'}; "
          f"command: python3 bench/bench_codecs.py {' '.join(sys.argv[1:])}\n")
    print("| codec | bytes/vec | vectro enc GB/s | NumPy enc | x NumPy | FAISS enc | x FAISS "
          "| vectro dec GB/s | NumPy dec | x NumPy | FAISS dec | x FAISS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    if faiss is not None:
        faiss.omp_set_num_threads(args.threads)
    for p in ("f16", "bf16", "int16", "int8", "uint8", "int4", "int4-g32", "binary"):
        codec = vectro.Codec(p, calibrated=False)
        if codec.needs_training:
            codec.set_ranges(ranges)
        q = codec.encode(x[:2])  # shapes
        qe = codec.encode(x, threads=args.threads)
        codes, scales = qe.codes, qe.scales
        out = vectro._aligned_empty((n, d), np.float32)
        out.fill(0)
        h = codec._h
        t_ve = timed(lambda: _core.codec_encode(h, x, codes, scales, args.threads, None), args.repeat)
        t_vd = timed(lambda: _core.codec_decode(h, codes, scales, out, args.threads, None), args.repeat)
        base = p.split("-")[0] if p != "int4-g32" else None
        t_ne = t_nd = None
        if base in np_enc:
            t_ne = timed(np_enc[base][0], args.repeat)
            enc = np_enc[base][0]()
            if base in ("int8", "int16", "int4"):
                s = np.abs(x).max(axis=1) / np.float32({"int8": 127, "int16": 32767, "int4": 7}[base])
            else:
                s = None
            t_nd = timed(lambda: np_dec[base](enc, s), args.repeat)
        t_fe = t_fd = None
        if faiss is not None and base in FAISS_EQUIV and hasattr(faiss.ScalarQuantizer, FAISS_EQUIV[base]):
            sq = faiss.ScalarQuantizer(d, getattr(faiss.ScalarQuantizer, FAISS_EQUIV[base]))
            sq.train(calib)
            fc = np.ones((n, sq.code_size), np.uint8)
            px, pc, po = faiss.swig_ptr(x), faiss.swig_ptr(fc), faiss.swig_ptr(out)
            t_fe = timed(lambda: sq.compute_codes_c(px, pc, n), args.repeat)
            t_fd = timed(lambda: sq.decode_c(pc, po, n), args.repeat)

        def cell(t):
            return f"{gb / t:.1f}" if t else "-"

        def ratio(t_other, t_self):
            return f"{t_other / t_self:.1f}" if t_other else "-"

        print(f"| {q.precision} | {codec.bytes_per_vector(d)} | {cell(t_ve)} | {cell(t_ne)} | {ratio(t_ne, t_ve)} "
              f"| {cell(t_fe)} | {ratio(t_fe, t_ve)} | {cell(t_vd)} | {cell(t_nd)} | {ratio(t_nd, t_vd)} "
              f"| {cell(t_fd)} | {ratio(t_fd, t_vd)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
