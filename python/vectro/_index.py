"""vectro.Index: exhaustive search directly on compressed codes (C, multithreaded), with optional
exact rescoring of k x oversample candidates against float32 originals, and save/load as .vqz."""

from __future__ import annotations

import os

import numpy as np

from . import _core
from ._codec import Codec, _check_threads, as_float32_rows
from ._files import VqzReader, VqzWriter

METRICS = {"ip": 0, "cosine": 1, "l2": 2}
NO_ID = np.uint64(2**64 - 1)  # fills result slots when the index holds fewer than k vectors


class Index:
    """Vectors compressed with a codec, searched on the codes.

    ``search`` scores float queries against the codes (inner product, cosine or squared L2) and
    returns the top k. With ``oversample`` and float originals kept (``keep_originals=True``, or
    given to :meth:`load`), it first takes ``k * oversample`` candidates from the codes, then
    rescores them exactly, as Qdrant's oversampling and sentence-transformers'
    ``rescore_multiplier`` do.

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(0).standard_normal((2000, 64)).astype(np.float32)
        >>> index = vectro.Index("int8", metric="ip")
        >>> index.add(X)
        >>> ids, scores = index.search(X[:3], k=5)
        >>> ids[:, 0].tolist()
        [0, 1, 2]
    """

    def __init__(self, codec="int8", metric: str = "cosine", *, keep_originals: bool = True) -> None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
        self.codec = codec if isinstance(codec, Codec) else Codec(codec)
        self.metric = metric
        self.keep_originals = bool(keep_originals)
        self._codes, self._scales, self._ids, self._orig = [], [], [], []
        self._id_set: set[int] = set()
        self._cache = None  # concatenated arrays, rebuilt after add
        self._originals = None  # float32 rows for rescoring (kept, or given to load)

    def __len__(self) -> int:
        return sum(len(c) for c in self._codes)

    @property
    def dim(self) -> int | None:
        return self.codec.dim

    def add(self, embeddings, ids=None, *, threads: int = 0) -> None:
        """Adds vectors. ``ids``: one uint64 each (default: 0, 1, 2, ... in order of addition);
        an id already in the index raises VectroError and adds nothing. A calibrated codec that
        is not fitted yet is fitted on the first batch."""
        x, _ = as_float32_rows(embeddings)
        n = len(x)
        if ids is None:
            start = len(self)
            ids = np.arange(start, start + n, dtype=np.uint64)
        else:
            ids = np.ascontiguousarray(ids, dtype=np.uint64)
            if ids.shape != (n,):
                raise ValueError(f"ids must have shape ({n},), got {ids.shape}")
        new = ids.tolist()
        if len(set(new)) != n:
            raise _core.VectroError("ids collide within the batch")
        clash = self._id_set.intersection(new)
        if clash:
            raise _core.VectroError(f"{len(clash)} ids are already in the index, e.g. {min(clash)}")
        if self.codec.needs_training and not self.codec.trained:
            self.codec.fit(x)
        q = self.codec.encode(x, threads=threads)
        self._codes.append(q.codes)
        self._scales.append(q.scales)
        self._ids.append(ids)
        self._id_set.update(new)
        if self.keep_originals:
            self._orig.append(np.array(x, dtype=np.float32, copy=True))
        self._cache = None

    def _arrays(self):
        if self._cache is None:
            if not self._codes:
                self._cache = (None, None, np.empty(0, np.uint64), None)
            else:
                codes = np.concatenate(self._codes)
                scales = None if self._scales[0] is None else np.concatenate(self._scales)
                ids = np.concatenate(self._ids)
                sqn = None
                if self.metric != "ip":
                    sqn = np.empty(len(codes), np.float32)
                    _core.codes_sqnorms(self.codec._h, codes, scales, sqn, 0)
                self._cache = (codes, scales, ids, sqn)
                if self.keep_originals and self._orig:
                    self._originals = np.concatenate(self._orig)
        return self._cache

    def search(self, queries, k: int = 10, *, oversample: float | None = None, threads: int = 0):
        """Returns (ids, scores), each (nq, k), best first (higher is better for "ip" and
        "cosine"; for "l2" the squared distance, lower is better). Slots beyond the index's size
        hold vectro.NO_ID and NaN. ``oversample`` (>= 1) rescores k x oversample candidates
        exactly against the float originals."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        threads = _check_threads(threads)
        qx, shape = as_float32_rows(queries)
        qx = np.ascontiguousarray(qx)  # rescoring's C API takes packed query rows
        if self.dim is not None and qx.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {qx.shape[1]}, the index {self.dim}")
        codes, scales, ids_all, sqn = self._arrays()
        nq, m = len(qx), METRICS[self.metric]
        if codes is None:
            raise _core.VectroError("the index is empty: add vectors first")
        kk = int(k)
        if oversample is not None:
            if not oversample >= 1:
                raise ValueError(f"oversample must be >= 1, got {oversample!r}")
            if self._originals is None:
                raise ValueError("rescoring needs the float originals: keep_originals=True, or "
                                 "Index.load(..., originals=...)")
            kk = int(np.ceil(k * oversample))
        rows = np.empty((nq, kk), np.uint64)
        scores = np.empty((nq, kk), np.float32)
        _core.search_codes(self.codec._h, codes, scales, sqn, qx, kk, m, rows, scores, threads)
        if oversample is not None:
            cand = rows
            rows = np.empty((nq, k), np.uint64)
            scores = np.empty((nq, k), np.float32)
            _core.rescore(self._originals, qx, cand, k, m, rows, scores)
        out = np.full(rows.shape, NO_ID, np.uint64)
        valid = rows != NO_ID
        out[valid] = ids_all[rows[valid].astype(np.int64)]
        if len(shape) == 1:
            return out[0], scores[0]
        return out, scores

    @property
    def ids(self) -> np.ndarray:
        return self._arrays()[2]

    def save(self, path) -> None:
        """Writes codes, ids and the metric to a .vqz file (atomically). Float originals are not
        stored: keep them (e.g. as .npy) and pass them to :meth:`load` for rescoring."""
        codes, scales, ids, _ = self._arrays()
        if codes is None:
            raise _core.VectroError("the index is empty: nothing to save")
        from ._codec import QuantizedEmbeddings

        q = QuantizedEmbeddings(codes, scales, codec=self.codec, dim=self.dim)
        with VqzWriter(path, self.codec, ids=True, metadata={"vectro_index": 1, "metric": self.metric}) as w:
            w.append_quantized(q, ids)

    @classmethod
    def load(cls, path, *, originals=None) -> Index:
        """Reads an index saved by :meth:`save`. ``originals``: float32 rows in the same order (an
        array, or a .npy path, memory-mapped) to enable rescoring."""
        r = VqzReader(path)
        meta = r.metadata if isinstance(r.metadata, dict) else {}
        index = cls(r.codec, meta.get("metric", "cosine"), keep_originals=False)
        q = r.read()
        index._codes, index._scales, index._ids = [q.codes], [q.scales], [q.ids]
        index._id_set = set(q.ids.tolist())
        if originals is not None:
            o = np.load(os.fspath(originals), mmap_mode="r") if isinstance(originals, (str, os.PathLike)) \
                else np.asarray(originals)
            if o.dtype != np.float32 or o.ndim != 2 or o.shape != (len(q.codes), r.dim):
                raise ValueError(f"originals must be float32 of shape {(len(q.codes), r.dim)}, got {o.dtype} {o.shape}")
            index._originals = o
        return index

    def __repr__(self) -> str:
        return f"Index({self.codec.precision!r}, metric={self.metric!r}, {len(self)} vectors)"
