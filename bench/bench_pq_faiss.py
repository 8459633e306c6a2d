"""FAISS's side of the pq comparison (one thread): IndexPQ / IndexPQFastScan encode (add) and
search speed on random data shaped as bench/pq_score.c's, and k-means time and objective against
vectro.kmeans. Run: python bench/bench_pq_faiss.py"""

from __future__ import annotations

import time

import faiss
import numpy as np
import vectro

faiss.omp_set_num_threads(1)
rng = np.random.default_rng(1)
d, n, nt = 384, 200_000, 5000


def best(f, reps=3):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def pq_speed():
    xt = (rng.random((nt, d), dtype=np.float32) - 0.5)
    xb = (rng.random((n, d), dtype=np.float32) - 0.5)
    for nq in (8, 100):
        xq = (rng.random((nq, d), dtype=np.float32) - 0.5)
        for m, bits in ((48, 4), (48, 8), (96, 4), (96, 8)):
            for fast in ((False, True) if bits == 4 else (False,)):
                idx = faiss.IndexPQFastScan(d, m, 4) if fast else faiss.IndexPQ(d, m, bits)
                idx.pq.cp.niter = 5
                idx.train(xt)
                t = time.perf_counter()
                idx.add(xt)
                enc = time.perf_counter() - t
                idx.reset()
                idx.add(xb)
                ts = best(lambda: idx.search(xq, 10))
                name = f"{'IndexPQFastScan' if fast else 'IndexPQ'} {m}x{bits}"
                print(f"{name:22s} nq {nq:3d}: encode {nt * d * 4 / enc / 1e9:.3f} GB/s; search "
                      f"{n * nq / ts / 1e6:.1f} M rows/s (k=10, incl. top-k)")
            c = vectro.Codec(f"pq-{m}x{bits}", train_iters=5).fit(xt)
            idx = vectro.Index(c, metric="ip", keep_originals=False)
            idx.add(xb, threads=1)
            ts = best(lambda: idx.search(xq, 10, threads=1))
            print(f"vectro Index pq-{m}x{bits:<5d} nq {nq:3d}: search {n * nq / ts / 1e6:.1f} M rows/s "
                  "(vectro.Index, k=10, incl. top-k)")


def kmeans_cmp():
    x = np.load("data/sample/corpus.npy")
    big = np.concatenate([x + 0.01 * rng.standard_normal(x.shape).astype(np.float32) for _ in range(5)])
    for name, data in (("corpus[:, :8] (a 48-subspace of d=384)", np.ascontiguousarray(big[:, :8])),
                       ("corpus d=384", big)):
        k, iters, seed = 256, 10, 1234
        for threads in (1,):
            faiss.omp_set_num_threads(threads)
            km = faiss.Kmeans(data.shape[1], k, niter=iters, seed=seed, max_points_per_centroid=256)
            tf = best(lambda: km.train(data), reps=1)
            tv = best(lambda: vectro.kmeans(data, k, iters=iters, seed=seed, threads=threads), reps=1)
            c, _, _ = vectro.kmeans(data, k, iters=iters, seed=seed, threads=threads)

            def obj(cc):
                dd = (data.astype(np.float64) ** 2).sum(1)[:, None] - 2 * data.astype(np.float64) @ cc.T.astype(
                    np.float64) + (cc.astype(np.float64) ** 2).sum(1)[None]
                return np.maximum(dd.min(1), 0).sum()

            print(f"k-means {name}, n {len(data)}, k {k}, {iters} iters, {threads} thread: "
                  f"faiss {tf:.2f} s obj {obj(km.centroids):.5g}; vectro {tv:.2f} s obj {obj(c):.5g}")
    faiss.omp_set_num_threads(1)


if __name__ == "__main__":
    kmeans_cmp()
    pq_speed()
