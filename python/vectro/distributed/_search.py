"""Sharded search over a vectro.distributed dataset: each worker opens its share of the shards as
vectro.Index objects memory-mapped from the shard files (kept open between queries), searches
them, and the top k are merged."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from .. import NO_ID, Index, VectroError
from . import _manifest as M

if TYPE_CHECKING:
    import distributed
    from numpy.typing import ArrayLike

_OPEN: dict = {}  # in each worker process: shard path -> ((size, mtime, originals), Index)


def open_shard(root: str, entry: dict, metric: str, originals: bool, verify: bool = False) -> Index:
    """The shard as an Index, opened once per process and reused while the file is unchanged;
    with ``originals`` the shard's float32 .npy (memory-mapped) serves exact rescoring;
    ``verify`` checks the files' CRC-32 against the manifest before the first open."""
    path = os.path.join(root, entry["shard"])
    orig = None
    if originals and entry.get("originals"):
        orig = os.path.join(root, entry["originals"]["path"])
    try:
        st = os.stat(path)
    except OSError:
        raise VectroError(f"{path}: listed in the manifest but missing") from None
    stamp = (st.st_size, st.st_mtime_ns, orig)
    hit = _OPEN.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    M.check_file(root, entry["shard"], entry["size"], entry["crc32"] if verify else None)
    if orig is not None:
        M.check_file(root, entry["originals"]["path"], entry["originals"]["size"],
                     entry["originals"]["crc32"] if verify else None)
    try:
        # Mapped: the worker searches the shard's codes (and float32 originals) in place, from
        # the page cache, instead of holding a copy of each shard in its own memory.
        index = Index.load(path, originals=orig, mmap=True)
    except Exception as e:
        raise VectroError(f"{path}: unreadable shard ({e})") from None
    if len(index) != entry["rows"]:
        raise VectroError(f"{path}: {len(index)} rows, the manifest says {entry['rows']}")
    if index.metric != metric:
        raise VectroError(f"{path}: an index for metric {index.metric!r}, the manifest says {metric!r}")
    _OPEN[path] = (stamp, index)
    return index


def open_group(root: str, entries: list[dict], metric: str, originals: bool, verify: bool) -> int:
    return sum(len(open_shard(root, e, metric, originals, verify)) for e in entries)


def merge(parts: list[tuple[np.ndarray, np.ndarray]], k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The best k of several (ids, scores) results, each (nq, k_i): by score (lowest first for
    "l2"), equal scores by id, slots holding NO_ID last."""
    ids = np.concatenate([p[0] for p in parts], axis=1)
    scores = np.concatenate([p[1] for p in parts], axis=1)
    key = (scores if metric == "l2" else -scores).astype(np.float64)
    key[ids == NO_ID] = np.inf
    order = np.lexsort((ids, key), axis=-1)[:, :k]
    out_ids = np.take_along_axis(ids, order, axis=1)
    out_sc = np.take_along_axis(scores, order, axis=1)
    if out_ids.shape[1] < k:
        pad = k - out_ids.shape[1]
        out_ids = np.hstack([out_ids, np.full((len(ids), pad), NO_ID, np.uint64)])
        out_sc = np.hstack([out_sc, np.full((len(ids), pad), np.nan, np.float32)])
    return out_ids, out_sc


def search_group(root: str, entries: list[dict], metric: str, originals: bool, verify: bool, queries: np.ndarray,
                 k: int, oversample, bound_scale: float, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """One task: searches a worker's shards one after another (each search uses ``threads``)
    and returns their merged top k."""
    parts = []
    for e in entries:
        index = open_shard(root, e, metric, originals, verify)
        parts.append(index.search(queries, k, oversample=oversample, bound_scale=bound_scale, threads=threads))
    return merge(parts, k, metric)


class ShardedIndex:
    """Searches a dataset written by :func:`vectro.distributed.compress`, shard by shard on the
    Dask workers, and merges the top k: the same ids and scores as one :class:`vectro.Index`
    holding every row, when searching the codes or rescoring by error bound (``oversample=None``).
    With ``oversample=F`` each shard rescores its own k x F best candidates against its
    originals, so the candidates are a superset of one Index's and recall can only be higher.

    Shards are spread over the workers at open (balanced by rows) and each worker keeps its
    shards open, so later searches read no files. ``verify`` (default) checks each file's size
    and CRC-32 against the manifest as it is opened: another file of the same size is refused.
    ``originals=True`` uses the float32 originals the dataset was written with
    (``compress(..., originals=True)``) for exact rescoring.

    Example:
        >>> import numpy as np, vectro.distributed as vd
        >>> X = np.random.default_rng(0).standard_normal((1000, 32), np.float32)
        >>> np.save("a.npy", X[:600]); np.save("b.npy", X[600:])
        >>> _ = vd.compress(["a.npy", "b.npy"], "ds", "int8", shard_rows=250, originals=True)
        >>> index = vd.ShardedIndex("ds")      # or ShardedIndex("ds", client): a distributed.Client
        >>> index
        ShardedIndex('.../ds', int8, metric='cosine', 1000 rows in 5 shards)
        >>> index.search(X[0], k=3)[0]
        array([  0, 908, 402], dtype=uint64)
    """

    def __init__(self, dataset: str | os.PathLike, client: distributed.Client | None = None, *,
                 originals: bool = True, verify: bool = True) -> None:
        import concurrent.futures as cf

        if isinstance(client, cf.Executor):
            raise TypeError("ShardedIndex keeps shards open on chosen workers: pass a distributed.Client or None")
        self.root, self.manifest = M.load(dataset)
        self.client = client
        self.metric = self.manifest["metric"]
        self.dim = self.manifest["dim"]
        self.originals, self.verify = bool(originals), bool(verify)
        entries = self.manifest["shards"]
        if client is None:
            self._groups = [(None, entries)]
        else:
            workers = sorted(client.scheduler_info()["workers"])
            if not workers:
                raise VectroError("the Dask cluster has no workers")
            load = {w: 0 for w in workers}
            groups: dict = {w: [] for w in workers}
            for e in sorted(entries, key=lambda e: -e["rows"]):
                w = min(workers, key=lambda w: load[w])
                groups[w].append(e)
                load[w] += e["rows"]
            self._groups = [(w, sorted(g, key=lambda e: e["shard"])) for w, g in groups.items() if g]
        self._run(open_group, lambda g: (self.root, g, self.metric, self.originals, self.verify), "open")

    def _run(self, fn, args, name):
        if self.client is None:
            return [fn(*args(g)) for _, g in self._groups]
        futs = [self.client.submit(fn, *args(g), workers=[w], allow_other_workers=True, pure=False,
                                   key=f"vectro-{name}-{i}-{os.urandom(4).hex()}")
                for i, (w, g) in enumerate(self._groups)]
        try:
            return self.client.gather(futs)
        except BaseException:
            self.client.cancel(futs)
            raise

    def __len__(self) -> int:
        return int(self.manifest["rows"])

    def search(self, queries: ArrayLike, k: int = 10, *, oversample: float | None = None,
               bound_scale: float = 1.0, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Returns (ids, scores), each (nq, k) (or (k,) for one query), best first, as
        :meth:`vectro.Index.search`.

        Example:
            >>> import numpy as np, vectro.distributed as vd
            >>> X = np.random.default_rng(0).standard_normal((1000, 32), np.float32)
            >>> np.save("a.npy", X[:600]); np.save("b.npy", X[600:])
            >>> _ = vd.compress(["a.npy", "b.npy"], "ds", "int8", shard_rows=250, originals=True)
            >>> ids, scores = vd.ShardedIndex("ds").search(X[:2], k=3, oversample=4)  # exact, from the originals
            >>> ids, scores.round(3)
            (array([[  0, 908, 402],
                   [  1, 105, 937]], dtype=uint64), array([[1.   , 0.518, 0.507],
                   [1.   , 0.55 , 0.436]], dtype=float32))
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        q = np.asarray(queries, dtype=np.float32)
        one = q.ndim == 1
        q = np.ascontiguousarray(q.reshape(1, -1) if one else q)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries have shape {np.shape(queries)}, the dataset dimension {self.dim}")
        if not self._groups or not self.manifest["shards"]:
            raise VectroError(f"{self.root}: the dataset holds no rows")
        res = self._run(search_group, lambda g: (self.root, g, self.metric, self.originals, self.verify, q, int(k),
                                                 oversample, float(bound_scale), int(threads)), "search")
        ids, scores = merge(res, int(k), self.metric)
        return (ids[0], scores[0]) if one else (ids, scores)

    def __repr__(self) -> str:
        return (f"ShardedIndex({self.root!r}, {self.manifest['codec']['precision']}, metric={self.metric!r}, "
                f"{len(self)} rows in {len(self.manifest['shards'])} shards)")
