"""The vectro-dask command line: compress files into a sharded dataset, search it, verify it, on a
Dask scheduler (--scheduler ADDRESS), a LocalCluster on the loopback (--local-workers N) or here."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np

from .. import VectroError


def _cluster_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler to run on, e.g. tcp://10.0.0.5:8786")
    g.add_argument("--local-workers", type=int, metavar="N",
                   help="start a LocalCluster of N worker processes on 127.0.0.1 for this command")


@contextlib.contextmanager
def _client(args):
    if not args.scheduler and not args.local_workers:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise VectroError("--scheduler and --local-workers need dask: pip install 'vectro[distributed]'") from None
    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout=args.connect_timeout)
        except (OSError, TimeoutError) as e:
            raise VectroError(f"cannot reach the Dask scheduler at {args.scheduler}: {e}") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=args.local_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        yield client


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="vectro-dask", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compress", help="compress embeddings files into .vqz shards and a manifest")
    c.add_argument("inputs", nargs="+", help=".npy/.fvecs/.bvecs/.ivecs/.parquet files, directories, globs or "
                                             "fsspec URLs the workers can read")
    c.add_argument("-o", "--out", required=True, help="dataset directory (shared by client and workers)")
    c.add_argument("--codec", default="int8", help="precision name (int8, int4, binary, uint8, pq-96x8, rabitq-1...)")
    c.add_argument("--metric", default="cosine", choices=["cosine", "ip", "l2"])
    c.add_argument("--column", help="Parquet: the embeddings column (default: the only list column)")
    c.add_argument("--id-column", help="Parquet: keep ids from this integer column (default: assign row numbers)")
    c.add_argument("--id-offset", type=int, default=0, help="first assigned id (default 0)")
    c.add_argument("--shard-rows", type=int, default=1_000_000, help="rows per shard at most (default 1000000)")
    c.add_argument("--chunk-rows", type=int, default=65536, help="rows read at once in a task (memory bound)")
    c.add_argument("--sample-rows", type=int, default=100_000, help="rows the codec trains on (default 100000)")
    c.add_argument("--originals", action="store_true", help="also keep float32 originals per shard (rescoring)")
    c.add_argument("--threads", type=int, default=1, help="encoder threads per task (default 1)")
    c.add_argument("--quiet", action="store_true", help="no progress lines")
    s = sub.add_parser("search", help="search a dataset with queries from a .npy file")
    s.add_argument("dataset")
    s.add_argument("--queries", required=True, help=".npy of float queries (nq, d)")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--oversample", type=float, help="rescore k x this many candidates per shard")
    s.add_argument("--no-originals", action="store_true", help="search the codes only")
    s.add_argument("--output", help="write ids and scores to this .npz")
    v = sub.add_parser("verify", help="check every shard against the manifest (size, CRC, rows, codec)")
    v.add_argument("dataset")
    for p in (c, s, v):
        _cluster_args(p)
        p.add_argument("--connect-timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    from . import ShardedIndex, compress, verify

    try:
        with _client(args) as client:
            if args.cmd == "compress":
                r = compress(args.inputs, args.out, args.codec, client=client, metric=args.metric,
                             column=args.column, id_column=args.id_column, id_offset=args.id_offset,
                             shard_rows=args.shard_rows, chunk_rows=args.chunk_rows, sample_rows=args.sample_rows,
                             originals=args.originals, threads=args.threads, progress=not args.quiet)
                print(f"{r['rows']:,} rows x {r['dim']} in {r['shards']} shards ({r['written']} written, "
                      f"{r['skipped']} verified and kept) in {r['seconds']:.1f} s: {r['manifest']}")
            elif args.cmd == "search":
                try:
                    q = np.load(args.queries)
                except (OSError, ValueError) as e:
                    raise ValueError(f"{args.queries}: cannot read queries ({e})") from None
                index = ShardedIndex(args.dataset, client, originals=not args.no_originals)
                t0 = time.perf_counter()
                ids, scores = index.search(q, args.k, oversample=args.oversample)
                dt = time.perf_counter() - t0
                ids2 = ids.reshape(-1, args.k)
                print(f"{len(ids2)} queries over {len(index):,} rows in {dt * 1e3:.1f} ms", file=sys.stderr)
                if args.output:
                    np.savez(args.output, ids=ids, scores=scores)
                else:
                    for i, row in enumerate(ids2[:10]):
                        print(i, " ".join(str(int(x)) for x in row))
            else:
                rows = verify(args.dataset, client)
                print(f"{args.dataset}: {rows:,} rows, every shard matches the manifest")
    except (ValueError, VectroError, OSError) as e:
        print(f"vectro-dask: error: {e}", file=sys.stderr)
        return 2
    return 0
