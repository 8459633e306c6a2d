#!/usr/bin/env python3
"""pgvector on the shipped sample: storage, recall@10 and query time of float32 `vector`, Vectro f16
codes in `halfvec`, and Vectro binary codes in `bit` with rescoring (in SQL by a vector or halfvec
column, or locally from a .vqz of f16 codes), each with an HNSW index (m 16, ef_construction 64).

Run:  python3 bench/bench_pgvector.py [--dsn postgresql://...] [--repeat 3]

Without --dsn it starts a throwaway PostgreSQL (tests/python/pg_server.py; pgvector from
scripts/setup_pgvector.sh). Storage is pg_total_relation_size (heap, TOAST and indexes) after a
VACUUM; recall@10 is against exact float32 inner-product search on the 300 held-out queries;
query time is the wall time of Store.search over all queries (one client; pipeline mode: each
query its own SELECT, all sent before the first answer is read) divided by their number, the best
of --repeat passes after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import vectro
from vectro.integrations import Originals
from vectro.integrations import pgvector as pgv

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def recall(ids, exact):
    return float(np.mean([len(set(a) & set(b)) / exact.shape[1] for a, b in zip(ids.tolist(), exact.tolist())]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "sample"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--oversample", type=float, nargs="+", default=[10.0, 20.0])
    args = ap.parse_args()
    import psycopg

    server = None
    if args.dsn is None:
        sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
        import pg_server

        why = pg_server.why_not()
        if why:
            print(f"cannot start PostgreSQL: {why}", file=sys.stderr)
            return 2
        server = pg_server.PgServer().start()
        args.dsn = server.dsn()
    try:
        conn = psycopg.connect(args.dsn, autocommit=True)
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        pg = conn.execute("SHOW server_version").fetchone()[0]
        x = np.load(os.path.join(args.data, "corpus.npy"))
        q = np.load(os.path.join(args.data, "queries.npy"))
        n, d = x.shape
        exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
        tmp = tempfile.mkdtemp()
        f16_path = os.path.join(tmp, "originals-f16.vqz")
        vectro.save(f16_path, vectro.quantize_embeddings(x, "f16"))
        local = Originals(f16_path)
        configs = [
            ("vector (float32 originals)", "b_vector", x, {"precision": "float32"}, {}),
            ("halfvec (vectro f16)", "b_halfvec", vectro.quantize_embeddings(x, "f16"), {}, {}),
            ("bit (vectro binary), no rescoring", "b_bit", vectro.quantize_embeddings(x, "binary"), {},
             {"rescore": None}),
        ]
        for i, os_ in enumerate(args.oversample):  # tables are built once; later factors reuse them
            b = vectro.quantize_embeddings(x, "binary") if i == 0 else None
            configs += [
                (f"bit + rescore in SQL by vector, {os_:g}x", "b_bit_vec", b,
                 {"originals": x, "original_type": "vector"}, {"oversample": os_}),
                (f"bit + rescore in SQL by halfvec, {os_:g}x", "b_bit_half", b,
                 {"originals": x, "original_type": "halfvec"}, {"oversample": os_}),
                (f"bit + local rescore from f16 .vqz, {os_:g}x", "b_bit", None, None,
                 {"oversample": os_, "rescore": local}),
            ]
        print(f"# pgvector {version} on PostgreSQL {pg}: {n} x {d} sample, {len(q)} queries, HNSW (m 16, "
              f"ef_construction 64, ef_search max(40, candidates)), inner product")
        print("command: python3 bench/bench_pgvector.py\n")
        print("| stored as | table bytes | index bytes | total bytes | bytes/vector | recall@10 | ms/query |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for label, table, codes, up, sk in configs:
            store = pgv.Store(conn, table, metric="ip")
            if codes is not None:
                store.drop()
                store.upload(codes, **up)
                store.create_index("hnsw")
                conn.execute(f"VACUUM ANALYZE {store.qualified}")
            store.search(q[:20], k=10, **sk)  # warm-up: caches, prepared statements
            best = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                ids, _ = store.search(q, k=10, **sk)
                best = min(best, time.perf_counter() - t)
            sb = store.storage_bytes()
            extra = os.path.getsize(f16_path) if sk.get("rescore") is local else 0
            total = sb["total"] + extra
            note = f" (+ {extra:,} .vqz)" if extra else ""
            print(f"| {label} | {sb['table']:,} | {sb['indexes']:,} | {total:,}{note} | {total / n:,.0f} | "
                  f"{recall(ids, exact):.3f} | {1000 * best / len(q):.2f} |")
        for table in {c[1] for c in configs}:
            pgv.Store(conn, table).drop()
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
