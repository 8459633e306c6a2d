#!/usr/bin/env python3
"""int8 encode/decode throughput: Vectro beside NumPy, FAISS and the machine's own ceilings.

Run:  python3 bench/bench_int8.py            (all dims, ~2 minutes; --quick for a smoke run)

For each d, n is chosen so the float32 input is --mb megabytes (far beyond the caches). Every
contender writes into the same preallocated, already-touched, cache-line-aligned outputs (as
vectro's API allocates them), so page faults are measured for no
one. Figures are medians of --repeat runs after one warm-up. GB/s always counts the float32 side
(4 bytes per dimension): what encode reads and decode writes, so every row compares with the
plain-read and memcpy ceilings measured in the same run.

Contenders:
  vectro        the library through its C extension (the kernel the dispatcher picked)
  vectro-scalar the portable reference kernel (what a non-SIMD build would do)
  numpy         the same math as people write it in NumPy: whole-array expressions
  numpy-blocked the same math in row blocks of 8192 with out= buffers: NumPy's best shot, no
                full-size temporaries (about 3x faster than the whole-array form)
  faiss SQ8     faiss.ScalarQuantizer QT_8bit (per-dimension trained ranges, the nearest FAISS
                codec; compute_codes/decode through the C++ API)
  read / memcpy a plain read of the input, and a memcpy of it (the physical ceilings)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import vectro
from vectro import _aligned_empty, _core

try:
    import faiss
except ImportError:  # the table says so; install with: pip install faiss-cpu
    faiss = None


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up: caches, page tables, thread start-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = fn()
        t = time.perf_counter() - t0
        times.append(r if isinstance(r, float) else t)  # ceilings time themselves in C
    return statistics.median(times)


def numpy_encode_naive(x, codes, scales):
    m = np.abs(x).max(axis=1)
    s = m / np.float32(127)
    safe = np.where(s > 0, s, np.float32(1))
    codes[...] = np.clip(np.rint(x / safe[:, None]), -127, 127).astype(np.int8)
    scales[...] = s


def numpy_decode_naive(codes, scales, out):
    out[...] = codes.astype(np.float32) * scales[:, None]


def numpy_encode(x, codes, scales, block=8192):
    tmp = np.empty((block, x.shape[1]), np.float32)
    for a in range(0, len(x), block):
        xb = x[a:a + block]
        t = tmp[:len(xb)]
        np.abs(xb, out=t)
        m = t.max(axis=1)
        with np.errstate(divide="ignore"):
            inv = np.where(m > 0, np.float32(127) / m, np.float32(0)).astype(np.float32)
        np.multiply(xb, inv[:, None], out=t)
        np.rint(t, out=t)
        np.copyto(codes[a:a + block], t, casting="unsafe")
        scales[a:a + block] = m / np.float32(127)


def numpy_decode(codes, scales, out, block=8192):
    for a in range(0, len(codes), block):
        np.multiply(codes[a:a + block], scales[a:a + block, None], out=out[a:a + block])


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        return cfg["Build Dependencies"]["blas"]["name"]
    except Exception:
        return "unknown"


def bench_dim(d: int, args, cores: int, rng) -> None:
    """Measures and prints every contender at dimension d."""
    n = args.mb * 1_000_000 // (4 * d)
    x = rng.standard_normal((n, d), dtype=np.float32)
    # Cache-line-aligned outputs, as vectro's own API allocates them; every contender uses them.
    codes = _aligned_empty((n, d), np.int8)
    codes.fill(1)
    scales = np.ones(n, np.float32)
    out = _aligned_empty((n, d), np.float32)
    out.fill(1)
    gb = n * d * 4 / 1e9

    t_read = median_time(lambda: _core._bench_read(x)[0], args.repeat)
    t_copy = median_time(lambda: _core._bench_memcpy(out, x), args.repeat)
    h = vectro.Codec("int8", d)._h  # the library's codec object, called without Python in between
    rows = []  # (op, name, threads, seconds)
    for threads in (1, 0):
        nt = 1 if threads == 1 else cores
        rows.append(("encode", "vectro", nt, median_time(
            lambda t=threads: _core.codec_encode(h, x, codes, scales, t, None), args.repeat)))
        rows.append(("decode", "vectro", nt, median_time(
            lambda t=threads: _core.codec_decode(h, codes, scales, out, t, None), args.repeat)))
    vectro.set_backend("scalar")
    rows.append(("encode", "vectro-scalar", 1, median_time(
        lambda: _core.codec_encode(h, x, codes, scales, 1, None), max(1, args.repeat // 2))))
    rows.append(("decode", "vectro-scalar", 1, median_time(
        lambda: _core.codec_decode(h, codes, scales, out, 1, None), max(1, args.repeat // 2))))
    vectro.set_backend("auto")
    rows.append(("encode", "numpy", 1,
                 median_time(lambda: numpy_encode_naive(x, codes, scales), args.repeat)))
    rows.append(("decode", "numpy", 1,
                 median_time(lambda: numpy_decode_naive(codes, scales, out), args.repeat)))
    rows.append(("encode", "numpy-blocked", 1,
                 median_time(lambda: numpy_encode(x, codes, scales), args.repeat)))
    rows.append(("decode", "numpy-blocked", 1,
                 median_time(lambda: numpy_decode(codes, scales, out), args.repeat)))
    if faiss is not None:
        sq = faiss.ScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit)
        sq.train(x[:20000])
        fcodes = _aligned_empty((n, sq.code_size), np.uint8)
        fcodes.fill(1)
        px, pc, po = faiss.swig_ptr(x), faiss.swig_ptr(fcodes), faiss.swig_ptr(out)
        for nt in (1, cores):
            faiss.omp_set_num_threads(nt)
            rows.append(("encode", "faiss SQ8", nt,
                         median_time(lambda: sq.compute_codes_c(px, pc, n), args.repeat)))
            rows.append(("decode", "faiss SQ8", nt,
                         median_time(lambda: sq.decode_c(pc, po, n), args.repeat)))

    def best(op, name, nt):
        ts = [t for o, c, k, t in rows if o == op and c == name and k == nt]
        return ts[0] if ts else None

    for op in ("encode", "decode"):
        for name, nt, t in [(c, k, t) for o, c, k, t in rows if o == op]:
            np_t, nb_t, fs_t = best(op, "numpy", 1), best(op, "numpy-blocked", 1), best(op, "faiss SQ8", nt)
            xn = f"{np_t / t:.1f}" if np_t else "-"
            xb = f"{nb_t / t:.1f}" if nb_t else "-"
            xf = f"{fs_t / t:.2f}" if fs_t else "-"
            print(f"| {op} | {d} | {name} | {nt} | {n / t / 1e6:.2f} | {gb / t:.1f} | {xn} | {xb} | {xf} "
                  f"| {t_read / t:.2f} |")
    print(f"| read | {d} | plain read (ceiling) | 1 | {n / t_read / 1e6:.2f} | {gb / t_read:.1f} "
          f"| | | | 1.00 |")
    print(f"| memcpy | {d} | memcpy (ceiling) | 1 | {n / t_copy / 1e6:.2f} | {gb / t_copy:.1f} | | | "
          f"| {t_read / t_copy:.2f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 384, 768, 1536])
    ap.add_argument("--mb", type=int, default=512, help="float32 input size per dimension (MB)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small and fast, for a smoke test")
    args = ap.parse_args()
    if args.quick:
        args.dims, args.mb, args.repeat = [384], 64, 2

    info = vectro.get_backend_info()
    cores = info["threads"]
    print(f"# vectro {vectro.__version__} int8 benchmark")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs ({cores} usable), "
          f"Python {platform.python_version()}, NumPy {np.__version__} ({numpy_blas()}), "
          f"faiss-cpu {faiss.__version__ if faiss else 'not installed'}")
    print(f"vectro kernel: {info['kernel']} (available: {', '.join(info['available_kernels'])}), "
          f"compiler: {info['compiler']}")
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"input {args.mb} MB float32 per d; median of {args.repeat}; GB/s on the float32 side\n")

    header = ("| op | d | contender | threads | Mvec/s | GB/s | x numpy | x numpy-blocked | x faiss "
              "| / read |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    print(header)
    rng = np.random.default_rng(0)
    for d in args.dims:
        bench_dim(d, args, cores, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
