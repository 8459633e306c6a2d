#!/usr/bin/env python3
"""vectro.distributed throughput: sharded compression of Parquet (or .npy) files and sharded search,
in this process and on Dask LocalClusters of 1 and 2 worker processes (one thread each, loopback),
beside what one core does reading the same files alone and encoding the same rows alone.

Run:  python3 bench/bench_distributed.py                       # 8 files x 25,000 x 384, int8
      python3 bench/bench_distributed.py --files 8 --rows 25000 --dim 768 --format npy
      python3 bench/bench_distributed.py --quick                # seconds: a smoke run

Rates count float32 input: rows/s and MB/s of rows x dim x 4 bytes; each figure is the median of
--repeat runs into a fresh directory, after a warm-up. Beside wall time, CPU seconds: of this
process (which also runs the LocalCluster's scheduler) and of all the workers together. On a
shared machine wall time counts the neighbours' load; rows per worker CPU-second (per CPU-second
of this process for the in-process rows) is what one worker core delivers, the figure to scale a
cluster from. Search: q/s for a batch of --nq queries,
k = 10, codes only, each shard search on one thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time

import numpy as np
import vectro
import vectro.distributed as vd
from vectro.distributed import _sources


def cpu_seconds(client=None) -> tuple[float, float]:
    """CPU seconds (user + system) of this process, and of all worker processes with a client."""
    own = time.process_time()
    return own, (sum(client.run(time.process_time).values()) if client is not None else 0.0)


def timed(fn, repeat, client=None):
    """Medians over ``repeat`` runs after a warm-up: (wall s, CPU s here, CPU s of the workers)."""
    fn()  # warm-up: imports, page cache, worker start-up
    wall, here, workers = [], [], []
    for _ in range(repeat):
        c0 = cpu_seconds(client)
        t0 = time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        c1 = cpu_seconds(client)
        here.append(c1[0] - c0[0])
        workers.append(c1[1] - c0[1])
    return statistics.median(wall), statistics.median(here), statistics.median(workers)


def write_inputs(d, files, rows, dim, fmt, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(files):
        x = rng.standard_normal((rows, dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        if fmt == "npy":
            p = os.path.join(d, f"part{i:03d}.npy")
            np.save(p, x)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            p = os.path.join(d, f"part{i:03d}.parquet")
            arr = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), dim)
            pq.write_table(pa.table({"embedding": arr}), p, row_group_size=min(rows, 65536))
        paths.append(p)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--rows", type=int, default=25_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--format", choices=["parquet", "npy"], default="parquet")
    ap.add_argument("--codec", default="int8")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nq", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one run each")
    ap.add_argument("--dir", help="scratch directory (default: a temporary one, removed after)")
    args = ap.parse_args()
    if args.quick:
        args.files, args.rows, args.repeat, args.nq = 2, 2000, 1, 10
    from distributed import Client, LocalCluster

    scratch = args.dir or tempfile.mkdtemp(prefix="vectro-bench-dist-")
    try:
        paths = write_inputs(scratch, args.files, args.rows, args.dim, args.format)
        n, d = args.files * args.rows, args.dim
        mb = n * d * 4 / 1e6
        info = vectro.get_backend_info()
        print(f"vectro {vectro.__version__}, kernel {info['kernel']}, {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores; {args.files} {args.format} files, {n:,} x {d} float32 ({mb:,.0f} MB), "
              f"codec {args.codec}, median of {args.repeat}")
        rows = []

        def read_all():
            for p in paths:
                info = _sources.probe(p)
                for _ in _sources.read_rows(info, 0, info["rows"], 65536):
                    pass

        rows.append(("read + decode only, 1 core (no encode, no write)", timed(read_all, args.repeat)))
        x = np.vstack([np.load(p) if args.format == "npy" else
                       np.vstack([c for c, _ in _sources.read_rows(_sources.probe(p), 0, args.rows, 65536)])
                       for p in paths])
        codec = vectro.Codec(args.codec)
        if codec.needs_training:
            codec.fit(x[:100_000])
        rows.append(("encode only, in memory, 1 thread", timed(lambda: codec.encode(x, threads=1), args.repeat)))
        shard_rows = args.rows  # one shard per file (Parquet: its row groups)
        k = [0]

        def run(client):
            shutil.rmtree(os.path.join(scratch, f"out{k[0]}"), ignore_errors=True)
            k[0] += 1
            out = os.path.join(scratch, f"out{k[0]}")
            vd.compress(paths, out, args.codec, client=client, shard_rows=shard_rows)
            return out

        rows.append(("vd.compress in this process (no Dask)", timed(lambda: run(None), args.repeat)))
        search = []
        q = x[np.random.default_rng(1).choice(n, args.nq, replace=False)]
        one = vectro.Index(codec, "cosine", keep_originals=False)
        one.add(x)
        search.append(("one vectro.Index in this process, 1 thread",
                       timed(lambda: one.search(q, 10, threads=1), args.repeat)))
        for workers in (1, 2):
            t0 = time.perf_counter()
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address="127.0.0.1:0", silence_logs=50) as cluster, Client(cluster) as c:
                start = time.perf_counter() - t0
                rows.append((f"LocalCluster {workers} worker(s) x 1 thread (start {start:.1f} s)",
                             timed(lambda c=c: run(c), args.repeat, c)))
                idx = vd.ShardedIndex(os.path.join(scratch, f"out{k[0]}"), c, verify=False)
                idx.search(q, 10, threads=1)
                search.append((f"ShardedIndex on {workers} worker(s), 1 thread each",
                               timed(lambda idx=idx: idx.search(q, 10, threads=1), args.repeat, c)))
        print("\n| compression | wall s | rows/s | MB/s | CPU s here | CPU s workers | rows per CPU-s | "
              "MB per CPU-s |\n|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, (t, c, w) in rows:
            work = max(w if w else c, 1e-3)  # in-process rows: this process did the work
            print(f"| {name} | {t:.2f} | {n / t:,.0f} | {mb / t:,.0f} | {c:.2f} | {w:.2f} | {n / work:,.0f} | "
                  f"{mb / work:,.0f} |")
        print(f"\n| search ({n:,} rows, {args.nq} queries, k = 10, codes only) | wall s | q/s | CPU s here | "
              "CPU s workers |\n|---|---:|---:|---:|---:|")
        for name, (t, c, w) in search:
            print(f"| {name} | {t:.3f} | {args.nq / t:,.0f} | {c:.3f} | {w:.3f} |")
    finally:
        if not args.dir:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
