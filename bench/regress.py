"""regress.py: benchmark regression check on speed RATIOS, never absolute times.

Each case times vectro and a reference (NumPy, or FAISS where installed) on the same data in the
same process, interleaved round by round (so a machine that slows down mid-run slows both sides),
one thread each, and takes the median over rounds of reference_time / vectro_time. A case fails when
its ratio falls below baseline * (1 - noise_band); bench/regress_baseline.json holds the committed
ratios and the band (stated there, with the machine they were measured on). The band is 50%: on the
shared, loaded 2-core development machine three smoke runs in a row moved single ratios by up to
40% (encode 3.4-5.5x, decode 3.2-6.0x, int8 search 24-37x NumPy/FAISS), so only a gross drop, such
as a SIMD kernel no longer being used (a 3-10x drop), is certain to be caught; a quiet machine
can use a tighter --band.

    python bench/regress.py                  strict: exit 1 on a drop beyond the band
    python bench/regress.py --smoke          fewer rounds; a drop only warns (the test command's
                                             smoke run: a loaded CI machine must not fail it)
    python bench/regress.py --write-baseline measure and rewrite the baseline file
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# One thread on both sides, BLAS included (set before NumPy and FAISS load their BLAS): a
# multi-threaded BLAS on a loaded 2-core machine makes the reference's time, and the ratio, erratic.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import vectro  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "bench" / "regress_baseline.json"

try:
    import faiss

    faiss.omp_set_num_threads(1)
except ImportError:  # the reference falls back to NumPy; those cases carry their own names
    faiss = None


def calls_for(fn, min_seconds=0.02):
    """How many back-to-back calls of fn take min_seconds: a 1 ms call timed alone is mostly timer
    and scheduler noise on a loaded machine."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 >= min_seconds or n >= 1 << 16:
            return n
        n *= 2


def best_of(fn, inner, calls=1):
    """Shortest time per call over `inner` batches of `calls` calls: the batch least disturbed by
    other processes on a shared machine."""
    best = float("inf")
    for _ in range(inner):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


class NumpyInt8:
    """vectro's int8 codec in NumPy, into preallocated buffers: allocating 30 MB temporaries made
    the reference's time (and the ratio) depend on page faults, which vary with the machine's load."""

    def __init__(self, x):
        self.x = x
        self.buf = np.empty_like(x)
        self.m = np.empty((len(x), 1), np.float32)
        self.inv = np.empty_like(self.m)
        self.codes = np.empty(x.shape, np.int8)
        self.out = np.empty_like(x)

    def encode(self):
        np.abs(self.x, out=self.buf)
        self.buf.max(axis=1, keepdims=True, out=self.m)
        np.divide(127.0, self.m, out=self.inv, where=self.m > 0)
        np.multiply(self.x, self.inv, out=self.buf)
        np.rint(self.buf, out=self.buf)
        np.copyto(self.codes, self.buf, casting="unsafe")
        return self.codes, self.m / 127.0

    def decode(self, codes, scales):
        np.multiply(codes, scales[:, None], out=self.out)
        return self.out


def numpy_topk(scores, k):
    idx = np.argpartition(-scores, k, axis=1)[:, :k]
    return np.take_along_axis(idx, np.argsort(-np.take_along_axis(scores, idx, axis=1), axis=1), axis=1)


def cases(x, q, k):
    """name -> (vectro_fn, reference_fn); each a zero-argument callable."""
    out = {}
    # Encode and decode on 1000 rows (1.5 MB, cache-resident): on 30 MB both sides are bound by a
    # memory bandwidth that other processes share, and the ratio swung 3x from run to run.
    small = np.ascontiguousarray(x[:1000])
    qe = vectro.quantize_embeddings(small, "int8", threads=1)
    ref = NumpyInt8(small)
    codes, scales = qe.codes, qe.scales
    xhat = np.empty_like(small)
    out["int8_encode_vs_numpy"] = (lambda: vectro.quantize_embeddings(small, "int8", threads=1), ref.encode)
    out["int8_decode_vs_numpy"] = (lambda: vectro.reconstruct_embeddings(qe, threads=1, out=xhat),
                                   lambda: ref.decode(codes, scales))
    # Plain codecs, the codes FAISS holds too (a name would give a centred codec since centring
    # became the Index default, which is not what IndexBinaryFlat searches).
    idx8 = vectro.Index(vectro.Codec("int8"), metric="ip")
    idx8.add(x)
    idxb = vectro.Index(vectro.Codec("binary"), metric="ip")
    idxb.add(x)
    if faiss is not None:
        flat = faiss.IndexFlatIP(x.shape[1])
        flat.add(x)
        out["int8_search_vs_faiss_flat"] = (lambda: idx8.search(q, k=k, threads=1), lambda: flat.search(q, k))
        bits = np.packbits(x > 0, axis=1)
        fb = faiss.IndexBinaryFlat(x.shape[1])
        fb.add(bits)
        qbits = np.packbits(q > 0, axis=1)
        out["binary_search_vs_faiss_binaryflat"] = (lambda: idxb.search(q, k=k, threads=1),
                                                    lambda: fb.search(qbits, k))
    else:
        out["int8_search_vs_numpy_flat"] = (lambda: idx8.search(q, k=k, threads=1),
                                            lambda: numpy_topk(q @ x.T, k))
    return out


def measure(rounds, inner, rows):
    x = np.load(ROOT / "data" / "sample" / "corpus.npy").astype(np.float32)
    q = np.load(ROOT / "data" / "sample" / "queries.npy").astype(np.float32)[:100]
    if rows > len(x):  # tile the sample (with a little noise, so rows stay distinct)
        rng = np.random.default_rng(0)
        reps = -(-rows // len(x))
        x = np.concatenate([x + rng.normal(0, 0.01, x.shape).astype(np.float32) for _ in range(reps)])[:rows]
    x = np.ascontiguousarray(x[:rows])
    ratios = {}
    all_cases = cases(x, q, 10)
    calls = {}
    for name, (fn_v, fn_r) in all_cases.items():  # warm-up (page faults, caches) and batch sizes
        calls[name] = (calls_for(fn_v), calls_for(fn_r))
    per_round = {name: [] for name in all_cases}
    for _ in range(rounds):
        for name, (fn_v, fn_r) in all_cases.items():
            tv = best_of(fn_v, inner, calls[name][0])
            tr = best_of(fn_r, inner, calls[name][1])
            per_round[name].append(tr / tv)
    for name, rs in per_round.items():
        ratios[name] = statistics.median(rs)
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="3 rounds; a drop warns instead of failing")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 7, smoke 3)")
    ap.add_argument("--rows", type=int, default=20000, help="corpus rows (the sample, tiled)")
    ap.add_argument("--baseline", type=Path, default=BASELINE)
    ap.add_argument("--write-baseline", action="store_true")
    ap.add_argument("--band", type=float, default=None, help="noise band (default: the baseline's)")
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.smoke else 7)
    t0 = time.perf_counter()
    ratios = measure(rounds, inner=3, rows=args.rows)
    info = vectro.get_backend_info()
    print(f"regress: vectro {vectro.__version__}, kernel {info['kernel']}, one thread, {args.rows} rows x 384, "
          f"{rounds} rounds, {'FAISS' if faiss else 'NumPy only'} ({time.perf_counter() - t0:.1f} s)")

    if args.write_baseline:
        doc = {
            "about": "speed ratios reference_time / vectro_time (higher = vectro faster), median of "
                     "interleaved rounds, one thread; written by bench/regress.py --write-baseline",
            "machine": f"{platform.machine()} {platform.processor() or ''} kernel {info['kernel']}, "
                       f"{os.cpu_count()} CPUs, shared and loaded",
            "rows": args.rows,
            "noise_band": 0.5,
            "ratios": {k: round(v, 3) for k, v in ratios.items()},
        }
        args.baseline.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"regress: wrote {args.baseline}")
        for k, v in ratios.items():
            print(f"  {k:36s} {v:8.3f}")
        return 0

    base = json.loads(args.baseline.read_text())
    band = args.band if args.band is not None else float(base["noise_band"])
    drops = []
    print(f"  {'case':36s} {'ratio':>8s} {'baseline':>9s} {'floor':>8s}")
    for name, r in ratios.items():
        b = base["ratios"].get(name)
        if b is None:
            print(f"  {name:36s} {r:8.3f} {'-':>9s} {'-':>8s}  (not in the baseline: add it with --write-baseline)")
            continue
        floor = b * (1 - band)
        flag = "" if r >= floor else "  DROP"
        print(f"  {name:36s} {r:8.3f} {b:9.3f} {floor:8.3f}{flag}")
        if flag:
            drops.append(name)
    if info["kernel"] not in base["machine"]:
        print(f"regress: note: baseline measured with kernel other than {info['kernel']}: ratios may differ")
    if drops:
        msg = f"regress: {len(drops)} ratio(s) below baseline x (1 - {band}): {', '.join(drops)}"
        if args.smoke:
            print(msg + " (smoke run: warning only)")
            return 0
        print(msg)
        return 1
    print(f"regress: ok (noise band {band:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
