"""vectro.Index: exhaustive search directly on compressed codes (C, multithreaded), with optional
rescoring: by error bound or k x oversample candidates against float32 originals, and a two-stage
pipeline (e.g. binary -> int8 -> float32) through a second ``rerank`` codec; save/load as .vqz."""

from __future__ import annotations

import math
import os
import threading

import numpy as np

from . import _core
from ._codec import Codec, _check_threads, as_float32_rows, default_codec
from ._files import VqzReader, VqzWriter

METRICS = {"ip": 0, "cosine": 1, "l2": 2}
NO_ID = np.uint64(2**64 - 1)  # fills result slots when the index holds fewer than k vectors
RERANK_OVERSAMPLE = 20.0  # stage 1 keeps k x this many candidates for the rerank codec by default:
# binary (Hamming) codes need about 20x to reach recall@10 0.95 on the sample (0.935 at 10x, 0.975 at 20x)
FINAL_OVERSAMPLE = 2.0  # the rerank codec keeps k x this many for the exact float stage


def _as_codec(codec) -> Codec:
    return default_codec(codec)  # a name: centred where the codec takes it (issue 14)


class Index:
    """Vectors compressed with a codec, searched on the codes.

    ``search`` scores float queries against the codes (inner product, cosine or squared L2; the
    score is the codec's estimate, e.g. int8 codes against a quantized query) and returns the top
    k. Rescoring against float originals (``keep_originals=True``, or given to :meth:`load`):

    - ``oversample=F`` takes ``k * F`` candidates from the codes and rescores them exactly, as
      Qdrant's oversampling and sentence-transformers' ``rescore_multiplier`` do;
    - ``oversample=None`` (default) rescores by error bound when the codec's search gives one
      (rows whose bound cannot reach the exact top k are never read), else does not rescore.

    ``rerank="int8"`` adds a second codec kept alongside: stage 1 searches the first codec's
    codes for ``k * oversample`` candidates (default 20), stage 2 rescores them with the rerank
    codec's codes, keeping ``k * rerank_oversample`` (default 2 when originals are held, else k),
    and stage 3 rescores those exactly against the originals if held.

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(0).standard_normal((2000, 64)).astype(np.float32)
        >>> index = vectro.Index("int8", metric="ip")
        >>> index.add(X)
        >>> ids, scores = index.search(X[:3], k=5)
        >>> ids[:, 0].tolist()
        [0, 1, 2]
        >>> two = vectro.Index("binary", metric="ip", rerank="int8")
        >>> two.add(X)
        >>> two.search(X[:3], k=5)[0][:, 0].tolist()
        [0, 1, 2]
    """

    def __init__(self, codec="int8", metric: str = "cosine", *, keep_originals: bool = True,
                 rerank=None) -> None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
        self.codec = _as_codec(codec)
        self.rerank = None if rerank is None else _as_codec(rerank)
        self.metric = metric
        self.keep_originals = bool(keep_originals)
        self._codes, self._scales, self._ids, self._orig = [], [], [], []
        self._rcodes, self._rscales = [], []
        self._sorted_ids = np.empty(0, np.uint64)  # every id, sorted: collision checks by search
        self._cache = None  # concatenated arrays, rebuilt after add
        self._originals = None  # float32 rows for rescoring (kept, or given to load)
        self._rerank_arrays = None  # (codes, scales, sqnorms) of the rerank codec
        self._orig_sq = None  # |x|^2 of the originals, for bounds
        self.last_stats: dict | None = None  # what the last search scanned and rescored
        # Threads may share an index: add (check ids, encode, append) is atomic under this lock,
        # and a search works on one consistent snapshot of the arrays taken under it.
        self._lock = threading.RLock()
        # Extreme magnitudes: rows of 1e19 have squared norms and dot products past float32's
        # range, rows of 1e-22 below it, so scores came out NaN, -0 or tied. Vectors are scaled by
        # a power of two (exact: only the exponent changes) into a range where every codec and
        # every norm is comfortable, and the scores scaled back. _exp is decided by the first
        # add: 0 (no scaling, bit-identical results) for max|x| in [2^-20, 2^20].
        self._exp: int | None = None

    def __len__(self) -> int:
        return sum(len(c) for c in self._codes)

    @property
    def dim(self) -> int | None:
        """The vectors' dimension, once the first add has fixed it (None before)."""
        return self.codec.dim

    def add(self, embeddings, ids=None, *, threads: int = 0) -> None:
        """Adds vectors. ``ids``: one uint64 each (default: 0, 1, 2, ... in order of addition);
        an id already in the index, or repeated in the batch, raises VectroError and adds
        nothing. A codec that needs training and is not trained yet is fitted on the first
        batch."""
        x, _ = as_float32_rows(embeddings)
        with self._lock:
            x = self._scale_rows(x)
            n = len(x)
            if ids is None:
                start = len(self)
                ids = np.arange(start, start + n, dtype=np.uint64)
                new = ids  # sorted and distinct already: no np.unique (a sort) on every add
            else:
                ids = np.ascontiguousarray(ids, dtype=np.uint64)
                if ids.shape != (n,):
                    raise ValueError(f"ids must have shape ({n},), got {ids.shape}")
                new = np.unique(ids)
                if len(new) != n:
                    raise _core.VectroError("ids collide within the batch")
            have = self._sorted_ids
            if len(have):
                pos = np.searchsorted(have, new)
                hit = new[have[np.minimum(pos, len(have) - 1)] == new]
                if len(hit):
                    raise _core.VectroError(f"{len(hit)} ids are already in the index, e.g. {int(hit[0])}")
            if self.rerank is not None and self.dim is not None and self.rerank.dim not in (None, self.dim):
                raise ValueError(f"the rerank codec has dimension {self.rerank.dim}, the index {self.dim}")
            for c in (self.codec, self.rerank):
                if c is not None and c.needs_training and not c.trained:
                    c.fit(x)
            q = self.codec.encode(x, threads=threads)
            r = self.rerank.encode(x, threads=threads) if self.rerank is not None else None
            self._codes.append(q.codes)
            self._scales.append(q.scales)
            if r is not None:
                self._rcodes.append(r.codes)
                self._rscales.append(r.scales)
            self._ids.append(ids)
            merged = np.concatenate([have, new])
            if len(have) and len(new) and have[-1] > new[0]:
                merged.sort(kind="stable")
            self._sorted_ids = merged
            if self.keep_originals:
                self._orig.append(np.array(x, dtype=np.float32, copy=True))
            self._cache = None

    @staticmethod
    def _exponent(x: np.ndarray) -> int:
        """The power of two that brings max|x| into [1, 2), or 0 when it is already moderate."""
        m = float(np.max(np.abs(x))) if x.size else 0.0
        if not np.isfinite(m) or m == 0.0 or 2.0**-20 <= m <= 2.0**20:
            return 0
        return int(np.floor(np.log2(m)))

    def _scale_rows(self, x: np.ndarray) -> np.ndarray:
        """x times 2^-_exp (decided here by the first batch)."""
        if self._exp is None:
            self._exp = self._exponent(x)
        return x if not self._exp else np.ldexp(x, -self._exp).astype(np.float32)

    def _scale_queries(self, qx: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Queries as searched, and per query the exponent by which their scores are scaled back
        (None: not scaled). L2 needs the rows' own factor; ip and cosine rank the same under any
        positive scaling of a query, so each query is brought into range by its own power of
        two (a query of 1 against rows of 1e19 would otherwise underflow)."""
        e = self._exp or 0
        if self.metric == "l2":
            if not e:
                return qx, None
            return np.ldexp(qx, -e).astype(np.float32), np.full(len(qx), 2 * e)
        m = np.abs(qx).max(axis=1).astype(np.float64) if qx.size else np.zeros(len(qx))
        with np.errstate(divide="ignore"):
            eq = np.where(np.isfinite(m) & (m > 0) & ((m < 2.0**-20) | (m > 2.0**20)),
                          np.floor(np.log2(np.where(m > 0, m, 1.0))), 0).astype(np.int64)
        if not e and not eq.any():
            return qx, None
        qs = np.ldexp(qx, -eq[:, None]).astype(np.float32)
        return qs, (e + eq if self.metric == "ip" else np.zeros_like(eq))

    def _arrays(self):
        with self._lock:
            return self._arrays_locked()

    def _snapshot(self, need_orig_sq: bool):
        """(codes, scales, ids, sqnorms, originals, originals' |x|^2, rerank arrays) of one state."""
        with self._lock:
            codes, scales, ids, sqn = self._arrays_locked()
            if need_orig_sq and self._originals is not None and self._orig_sq is None:
                self._orig_sq = np.einsum("ij,ij->i", self._originals, self._originals, dtype=np.float32)
            return codes, scales, ids, sqn, self._originals, self._orig_sq, self._rerank_arrays

    def _arrays_locked(self):
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
                    self._orig_sq = None
                if self._rcodes:
                    rc = np.concatenate(self._rcodes)
                    rs = None if self._rscales[0] is None else np.concatenate(self._rscales)
                    self._rerank_arrays = (rc, rs, self._sqnorms(self.rerank, rc, rs))
        return self._cache

    def _sqnorms(self, codec, codes, scales):
        if self.metric == "ip":
            return None
        out = np.empty(len(codes), np.float32)
        _core.codes_sqnorms(codec._h, codes, scales, out, 0)
        return out

    def search(self, queries, k: int = 10, *, oversample: float | None = None,
               rerank_oversample: float | None = None, bound_scale: float = 1.0, threads: int = 0):
        """Returns (ids, scores), each (nq, k), best first (higher is better for "ip" and
        "cosine"; for "l2" the squared distance, lower is better). Slots beyond the index's size
        hold vectro.NO_ID and NaN. Scores are exact float32 where the last stage rescored against
        the originals, else the last codec's estimate. ``oversample`` (>= 1): rescore k x
        oversample candidates (without a rerank codec it needs the originals); None: by error
        bound where the codec gives one and originals are held; ``bound_scale`` (0, 16] scales
        those bounds: below 1 fewer rows are rescored, at the risk of a missed neighbour (rabitq-1
        on the sample: 0.8 rescores 0.71x the rows and still finds the exact top 10; 0.6 half the
        rows at recall@10 0.9987).
        ``last_stats`` then tells how many (query, row) pairs were scanned and rescored."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        for name, v in (("oversample", oversample), ("rerank_oversample", rerank_oversample)):
            if v is not None and not v >= 1:
                raise ValueError(f"{name} must be >= 1, got {v!r}")
        if isinstance(bound_scale, bool) or not isinstance(bound_scale, (int, float, np.floating)) \
                or not 0 < bound_scale <= 16:
            raise ValueError(f"bound_scale must be in (0, 16], got {bound_scale!r}")
        threads = _check_threads(threads)
        qx, shape = as_float32_rows(queries)
        if self.dim is not None and qx.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {qx.shape[1]}, the index {self.dim}")
        qx, back = self._scale_queries(qx)
        codes, scales, ids_all, sqn, orig, orig_sq, rerank = self._snapshot(
            oversample is None and self.metric != "ip")
        nq, m, k = len(qx), METRICS[self.metric], int(k)
        if codes is None:
            raise _core.VectroError("the index is empty: add vectors first")
        self.last_stats = {"scanned": nq * len(codes), "rescored": 0}
        if rerank is not None:
            rows, scores = self._pipeline(qx, k, oversample, rerank_oversample, threads,
                                          (codes, scales, sqn, orig, rerank))
        elif oversample is None and (orig is None or not _core.search_has_bounds(self.codec._h)):
            rows = np.empty((nq, k), np.uint64)
            scores = np.empty((nq, k), np.float32)
            _core.search_codes(self.codec._h, codes, scales, sqn, qx, k, m, rows, scores, threads)
        else:
            if orig is None:
                raise ValueError("rescoring needs the float originals: keep_originals=True, or "
                                 "Index.load(..., originals=...)")
            rows = np.empty((nq, k), np.uint64)
            scores = np.empty((nq, k), np.float32)
            scanned, rescored = _core.search_rescore(
                self.codec._h, codes, scales, orig, None if oversample else orig_sq, qx, k, m,
                float(oversample or 0.0), rows, scores, threads, float(bound_scale))
            self.last_stats = {"scanned": scanned, "rescored": rescored}
        out = np.full(rows.shape, NO_ID, np.uint64)
        valid = rows != NO_ID
        out[valid] = ids_all[rows[valid].astype(np.int64)]
        if back is not None and back.any():  # in float64, then rounded once (Inf past float32)
            with np.errstate(over="ignore"):
                scores = np.ldexp(scores.astype(np.float64), back[:, None]).astype(np.float32)
        scores += np.float32(0.0)  # -0 (an L2 key of 0, a cosine of -0) reads as 0
        if len(shape) == 1:
            return out[0], scores[0]
        return out, scores

    def _pipeline(self, qx, k, oversample, rerank_oversample, threads, snap):
        codes, scales, sqn, orig, (rc, rs, rsq) = snap
        nq, m, n = len(qx), METRICS[self.metric], len(codes)
        k1 = min(max(k, math.ceil(k * (oversample or RERANK_OVERSAMPLE))), max(n, k))
        cand = np.empty((nq, k1), np.uint64)
        tmp = np.empty((nq, k1), np.float32)
        _core.search_codes(self.codec._h, codes, scales, sqn, qx, k1, m, cand, tmp, threads)
        k2 = k if orig is None else max(k, math.ceil(k * (rerank_oversample or FINAL_OVERSAMPLE)))
        rows = np.empty((nq, k2), np.uint64)
        scores = np.empty((nq, k2), np.float32)
        _core.rescore_codes(self.rerank._h, rc, rs, rsq, qx, cand, k2, m, rows, scores, threads)
        rescored = int((cand != NO_ID).sum())
        if orig is not None:
            cand = rows
            rows = np.empty((nq, k), np.uint64)
            scores = np.empty((nq, k), np.float32)
            _core.rescore(orig, qx, cand, k, m, rows, scores, threads)
            rescored += int((cand != NO_ID).sum())
        self.last_stats = {"scanned": nq * n, "rescored": rescored}
        return rows, scores

    @property
    def ids(self) -> np.ndarray:
        """Every id in the index, in row order (uint64)."""
        return self._arrays()[2]

    def save(self, path) -> None:
        """Writes the first codec's codes, ids and the metric to a .vqz file (atomically). Float
        originals and rerank codes are not stored: keep them (a .npy, or a .vqz saved from an
        Index of the higher-precision codec) and pass them to :meth:`load`."""
        codes, scales, ids, _ = self._arrays()
        if codes is None:
            raise _core.VectroError("the index is empty: nothing to save")
        from ._codec import QuantizedEmbeddings

        q = QuantizedEmbeddings(codes, scales, codec=self.codec, dim=self.dim)
        meta = {"vectro_index": 1, "metric": self.metric}
        if self._exp:  # the codes are of x * 2^-scale_exp (see _scale_rows)
            meta["scale_exp"] = self._exp
        with VqzWriter(path, self.codec, ids=True, metadata=meta) as w:
            w.append_quantized(q, ids)

    @classmethod
    def load(cls, path, *, originals=None, rerank=None) -> Index:
        """Reads an index saved by :meth:`save`. ``originals``: float32 rows in the same order (an
        array, or a .npy path, memory-mapped) for exact rescoring. ``rerank``: a .vqz path of the
        same rows in a higher-precision codec (read through VqzReader), used as the rerank stage."""
        r = VqzReader(path)
        meta = r.metadata if isinstance(r.metadata, dict) else {}
        index = cls(r.codec, meta.get("metric", "cosine"), keep_originals=False)
        index._exp = int(meta.get("scale_exp", 0))
        q = r.read()
        n = len(q.codes)
        index._codes, index._scales, index._ids = [q.codes], [q.scales], [q.ids]
        index._sorted_ids = np.sort(np.asarray(q.ids, np.uint64))
        index._arrays()
        if originals is not None:
            if isinstance(originals, (str, os.PathLike)):
                o = np.load(os.fspath(originals), mmap_mode="r")
            else:
                o = np.asarray(originals)
            if o.dtype != np.float32 or o.ndim != 2 or o.shape != (n, r.dim):
                raise ValueError(f"originals must be float32 of shape {(n, r.dim)}, got {o.dtype} {o.shape}")
            index._originals = np.ldexp(o, -index._exp).astype(np.float32) if index._exp else o
        if rerank is not None:
            rr = VqzReader(rerank)
            if rr.dim != r.dim:
                raise ValueError(f"rerank file holds dimension {rr.dim}, the index {r.dim}")
            rq = rr.read()
            if len(rq.codes) != n:
                raise ValueError(f"rerank file holds {len(rq.codes)} rows, the index {n}")
            if q.ids is not None and rq.ids is not None and not np.array_equal(q.ids, rq.ids):
                raise ValueError("rerank file holds other ids (or another order) than the index")
            index.rerank = rr.codec
            index._rcodes, index._rscales = [rq.codes], [rq.scales]
            index._rerank_arrays = (rq.codes, rq.scales, index._sqnorms(rr.codec, rq.codes, rq.scales))
        return index

    def __repr__(self) -> str:
        extra = f", rerank={self.rerank.precision!r}" if self.rerank is not None else ""
        return f"Index({self.codec.precision!r}, metric={self.metric!r}{extra}, {len(self)} vectors)"
