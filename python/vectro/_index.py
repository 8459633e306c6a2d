"""vectro.Index: a store of compressed vectors searched on the codes (C, multithreaded): add,
upsert, delete and get by id (uint64 or str), filtered search (an allow-list of ids), optional
rescoring against float originals or a second ``rerank`` codec, save/load as .vqz, and safe to
share between threads (any number of searches at once, mutations one at a time)."""

from __future__ import annotations

import math
import numbers
import os
import threading

import numpy as np

from . import _core
from ._codec import Codec, QuantizedEmbeddings, _check_threads, as_float32_rows
from ._files import VqzReader, VqzWriter

METRICS = {"ip": 0, "cosine": 1, "l2": 2}
NO_ID = np.uint64(2**64 - 1)  # fills result slots when the index holds fewer than k vectors
RERANK_OVERSAMPLE = 20.0  # stage 1 keeps k x this many candidates for the rerank codec by default:
# binary (Hamming) codes need about 20x to reach recall@10 0.95 on the sample (0.935 at 10x, 0.975 at 20x)
FINAL_OVERSAMPLE = 2.0  # the rerank codec keeps k x this many for the exact float stage
INDEX_FORMAT = 2  # "vectro_index" in the metadata: 2 adds id_kind, string ids and the sidecars


def _as_codec(codec) -> Codec:
    return codec if isinstance(codec, Codec) else Codec(codec)


class _RWLock:
    """Readers-writer lock: any number of searches at once, a mutation alone. Writers have
    priority, so a stream of searches cannot starve an add."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting = 0

    def read(self):
        return _Held(self, False)

    def write(self):
        return _Held(self, True)

    def _acquire(self, write: bool) -> None:
        with self._cond:
            if write:
                self._waiting += 1
                while self._writer or self._readers:
                    self._cond.wait()
                self._waiting -= 1
                self._writer = True
            else:
                while self._writer or self._waiting:
                    self._cond.wait()
                self._readers += 1

    def _release(self, write: bool) -> None:
        with self._cond:
            if write:
                self._writer = False
            else:
                self._readers -= 1
            self._cond.notify_all()


class _Held:
    __slots__ = ("lock", "write")

    def __init__(self, lock: _RWLock, write: bool) -> None:
        self.lock, self.write = lock, write

    def __enter__(self):
        self.lock._acquire(self.write)

    def __exit__(self, *exc) -> None:
        self.lock._release(self.write)


class _Rows:
    """A growable array of rows (capacity doubles, so n single adds cost O(n) copies)."""

    __slots__ = ("a", "n")

    def __init__(self) -> None:
        self.a, self.n = None, 0

    def append(self, x: np.ndarray) -> None:
        m = len(x)
        if self.a is None:
            self.a = np.empty((max(m, 16),) + x.shape[1:], x.dtype)
        elif self.n + m > len(self.a):
            b = np.empty((max(self.n + m, 2 * len(self.a)),) + self.a.shape[1:], self.a.dtype)
            b[: self.n] = self.a[: self.n]
            self.a = b
        self.a[self.n:self.n + m] = x
        self.n += m

    def view(self):
        return None if self.a is None else self.a[: self.n]

    def keep(self, mask: np.ndarray) -> None:
        """Compacts to the rows where mask is True (a new buffer: views handed out stay valid)."""
        if self.a is not None:
            kept = self.a[: self.n][mask]
            self.a, self.n = None, 0
            self.append(kept)

    def replace(self, rows: np.ndarray, x: np.ndarray) -> None:
        if not self.a.flags.writeable:  # memory-mapped read-only (Index.load): copy in first
            self.a = np.array(self.a[: self.n])
        self.a[rows] = x


def _is_str(v) -> bool:
    return isinstance(v, (str, np.str_))


def _parse_ids(ids, n: int, kind: str | None):
    """Checks a batch of ids; returns (kind, keys, stored): keys are hashable Python values for the
    id map, stored the array kept (uint64, or object of str)."""
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
        ids = list(ids) if not isinstance(ids, (str, bytes)) and hasattr(ids, "__iter__") else [ids]
    arr = ids if isinstance(ids, np.ndarray) else None
    if arr is not None and arr.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
    if len(ids) != n:
        raise ValueError(f"ids must have shape ({n},), got ({len(ids)},)")
    if arr is not None and arr.dtype.kind in "US":
        vals = [str(v) for v in arr.tolist()]
        got = "str"
    elif arr is not None and arr.dtype.kind in "iu":
        if arr.dtype.kind == "i" and n and int(arr.min()) < 0:
            raise ValueError(f"ids must be non-negative, got {int(arr.min())}")
        vals = arr.astype(np.uint64).tolist()
        got = "int"
    elif arr is not None and arr.dtype.kind == "f":
        if n and (not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)) or arr.min() < 0
                  or arr.max() >= 2.0**64):
            raise ValueError("float ids must be whole numbers in [0, 2**64 - 1)")
        vals = [int(v) for v in arr.tolist()]
        got = "int"
    else:
        seq = arr.tolist() if arr is not None else list(ids)
        strs = sum(1 for v in seq if _is_str(v))
        if strs == n and n:
            vals, got = [str(v) for v in seq], "str"
        elif strs:
            raise ValueError("ids mix strings and numbers: use one kind")
        else:
            vals = []
            for v in seq:
                if isinstance(v, (bool, np.bool_)):
                    raise ValueError(f"ids must be integers or strings, got {v!r}")
                if isinstance(v, numbers.Integral):
                    vals.append(int(v))
                elif isinstance(v, numbers.Real) and math.isfinite(v) and float(v) == math.floor(v):
                    vals.append(int(v))
                else:
                    raise ValueError(f"ids must be integers or strings, got {v!r}")
            got = "int"
    if n and kind is not None and got != kind:
        raise ValueError(f"this index holds {kind} ids, got {got} ids: mixing kinds is refused")
    if got == "int":
        for v in vals:
            if not 0 <= v < 2**64 - 1:
                raise ValueError(f"id {v} is outside [0, 2**64 - 2] (2**64 - 1 is vectro.NO_ID)")
        stored = np.array(vals, np.uint64)
    else:
        stored = np.empty(n, object)
        stored[:] = vals
    return got, vals, stored


class Index:
    """Vectors compressed with a codec, searched on the codes, kept by id.

    ``search`` scores float queries against the codes (inner product, cosine or squared L2; the
    score is the codec's estimate, e.g. int8 codes against a quantized query) and returns the top
    k. Ids are uint64 (default 0, 1, 2, ...) or strings; ``add`` refuses an id already present,
    ``upsert`` replaces by id, ``delete`` removes, ``get`` reads rows back.

    What is kept in memory: the codes (and a rerank codec's codes), the ids, and one float per row
    for cosine/L2. Float originals are opt-in (``keep_originals=False`` by default: an int8 index of
    100k x 384 holds 39 MB of codes, the originals would add 154 MB). With originals held (or given
    to :meth:`load`), rescoring against them recovers float32 quality:

    - ``oversample=F`` takes ``k * F`` candidates from the codes and rescores them exactly, as
      Qdrant's oversampling and sentence-transformers' ``rescore_multiplier`` do;
    - ``oversample=None`` (default) rescores by error bound when the codec's search gives one
      (rows whose bound cannot reach the exact top k are never read), else does not rescore.

    Results therefore depend on whether originals are held: ``originals_held`` says so, and so do
    ``repr`` and ``last_stats["mode"]``. ``save`` writes the originals (a .npy beside the .vqz) when
    they are held, so a loaded index answers as the saved one did.

    ``rerank="int8"`` adds a second codec kept alongside: stage 1 searches the first codec's
    codes for ``k * oversample`` candidates (default 20), stage 2 rescores them with the rerank
    codec's codes, keeping ``k * rerank_oversample`` (default 2 when originals are held, else k),
    and stage 3 rescores those exactly against the originals if held.

    Thread safety: any number of threads may search at once (the GIL is released in C); add,
    upsert and delete wait for running searches and run alone.

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(0).standard_normal((2000, 64)).astype(np.float32)
        >>> index = vectro.Index("int8", metric="ip")
        >>> index.add(X)[:3].tolist()
        [0, 1, 2]
        >>> ids, scores = index.search(X[:3], k=5)
        >>> ids[:, 0].tolist()
        [0, 1, 2]
        >>> index.delete([0, 1])
        2
        >>> index.search(X[[2, 7]], k=5, filter=[2, 7, 8])[0][:, 0].tolist()
        [2, 7]
        >>> two = vectro.Index("binary", metric="ip", rerank="int8")
        >>> two.add(X, ids=[f"doc{i}" for i in range(len(X))]).shape
        (2000,)
        >>> two.search(X[:2], k=5)[0][:, 0].tolist()
        ['doc0', 'doc1']
    """

    def __init__(self, codec="int8", metric: str = "cosine", *, keep_originals: bool = False,
                 rerank=None) -> None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
        self.codec = _as_codec(codec)
        self.rerank = None if rerank is None else _as_codec(rerank)
        self.metric = metric
        self.keep_originals = bool(keep_originals)
        self._lock = _RWLock()
        self._kind: str | None = None  # "int" or "str", fixed by the first ids added
        self._next_id = 0  # default ids continue after the largest int id ever held
        self._pos: dict = {}  # id -> row
        self._ids = _Rows()
        self._codes, self._scales, self._sqn = _Rows(), _Rows(), _Rows()
        self._rcodes, self._rscales, self._rsqn = _Rows(), _Rows(), _Rows()
        self._orig, self._orig_sq = _Rows(), _Rows()
        self._bounds = None  # whether the first codec's search gives error bounds
        self.last_stats: dict | None = None  # what the last search scanned and rescored

    # ----- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._ids.n

    def __contains__(self, id_) -> bool:
        try:
            return self._key(id_) in self._pos
        except (TypeError, ValueError):
            return False

    @property
    def dim(self) -> int | None:
        return self.codec.dim

    @property
    def originals_held(self) -> bool:
        """Whether float originals are held (kept, or given to :meth:`load`): rescoring, and so
        the results, depend on it."""
        return self.keep_originals or self._orig.a is not None

    @property
    def ids(self) -> np.ndarray:
        """The live ids in insertion order: uint64, or an object array of str."""
        with self._lock.read():
            v = self._ids.view()
            if v is None:
                return np.empty(0, object if self._kind == "str" else np.uint64)
            return v.copy()

    def _key(self, id_):
        if self._kind == "str" or (self._kind is None and _is_str(id_)):
            if not _is_str(id_):
                raise TypeError(f"this index holds str ids, got {id_!r}")
            return str(id_)
        if isinstance(id_, (bool, np.bool_)) or _is_str(id_):
            raise TypeError(f"this index holds int ids, got {id_!r}")
        if isinstance(id_, numbers.Integral):
            return int(id_)
        if isinstance(id_, numbers.Real) and float(id_) == math.floor(id_):
            return int(id_)
        raise TypeError(f"ids are integers or strings, got {id_!r}")

    def _rows_of(self, ids, missing: str):
        """Rows of the given ids; missing="raise" raises KeyError, "skip" drops them."""
        if isinstance(ids, (str, bytes, numbers.Number)) or not hasattr(ids, "__iter__"):
            ids = [ids]
        keys = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        rows = []
        for v in keys:
            k = self._key(v)
            r = self._pos.get(k)
            if r is None:
                if missing == "raise":
                    raise KeyError(v)
                continue
            rows.append(r)
        return np.array(rows, np.int64)

    def get(self, ids) -> np.ndarray:
        """Float32 rows of the given ids, in their order: the originals when held, else the codec's
        reconstruction. Raises KeyError for an id not in the index."""
        with self._lock.read():
            rows = self._rows_of(ids, "raise")
            d = self.dim or 0
            if len(rows) == 0:
                return np.empty((0, d), np.float32)
            if self._orig.a is not None:
                return np.array(self._orig.view()[rows], np.float32)
            sc = self._scales.view()
            q = QuantizedEmbeddings(self._codes.view()[rows], None if sc is None else sc[rows],
                                    codec=self.codec, dim=d)
            return self.codec.decode(q)

    # ----- mutations -------------------------------------------------------------------------
    def add(self, vectors, ids=None, *, threads: int = 0) -> np.ndarray:
        """Adds vectors; returns the ids assigned. ``ids``: one per vector, all ints (uint64; the
        default continues after the largest int id held so far: 0, 1, 2, ...) or all strings;
        an id already in the index, or repeated in the batch, raises VectroError and adds
        nothing. A codec that needs training and is not trained yet is fitted on the first
        batch."""
        x, _ = as_float32_rows(vectors)
        with self._lock.write():
            return self._add(x, ids, threads, replace=False)

    def upsert(self, vectors, ids, *, threads: int = 0) -> np.ndarray:
        """Inserts vectors whose id is new and replaces those whose id is present (in place: the
        row keeps its position); an id repeated in the batch raises VectroError. Returns ids."""
        x, _ = as_float32_rows(vectors)
        if ids is None:
            raise ValueError("upsert needs ids")
        with self._lock.write():
            return self._add(x, ids, threads, replace=True)

    def _add(self, x, ids, threads, replace):
        threads = _check_threads(threads)
        n = len(x)
        if self.dim is not None and x.shape[1] != self.dim:
            raise ValueError(f"vectors have dimension {x.shape[1]}, the index {self.dim}")
        if self.rerank is not None and self.rerank.dim not in (None, x.shape[1]):
            raise ValueError(f"the rerank codec has dimension {self.rerank.dim}, the index {x.shape[1]}")
        if ids is None:
            if self._kind == "str":
                raise ValueError("this index holds str ids: pass ids=")
            kind, keys = "int", list(range(self._next_id, self._next_id + n))
            if keys and keys[-1] >= 2**64 - 1:
                raise _core.VectroError("default ids would reach 2**64 - 1 (vectro.NO_ID)")
            stored = np.array(keys, np.uint64)
        else:
            kind, keys, stored = _parse_ids(ids, n, self._kind)
        if len(set(keys)) != n:
            raise _core.VectroError("ids collide within the batch")
        old = [(i, self._pos[k]) for i, k in enumerate(keys) if k in self._pos]
        if old and not replace:
            raise _core.VectroError(f"{len(old)} ids are already in the index, e.g. {keys[old[0][0]]!r}")
        if n == 0:
            return stored
        for c in (self.codec, self.rerank):
            if c is not None and c.needs_training and not c.trained:
                c.fit(x)
        q = self.codec.encode(x, threads=threads)
        r = self.rerank.encode(x, threads=threads) if self.rerank is not None else None
        sqn = self._sqnorms(self.codec, q.codes, q.scales)
        rsq = None if r is None else self._sqnorms(self.rerank, r.codes, r.scales)
        keep = self.keep_originals and (self._orig.a is not None or self._ids.n == 0)
        if self._orig.a is not None and not keep:
            keep = True  # originals given to load: extended, so that they stay in step
        osq = np.einsum("ij,ij->i", x, x, dtype=np.float32) if keep and self.metric != "ip" else None
        # Nothing is changed before this point: every step below is an in-memory copy.
        if old:
            src = np.array([i for i, _ in old], np.int64)
            dst = np.array([row for _, row in old], np.int64)
            self._codes.replace(dst, q.codes[src])
            if q.scales is not None:
                self._scales.replace(dst, q.scales[src])
            if sqn is not None:
                self._sqn.replace(dst, sqn[src])
            if r is not None:
                self._rcodes.replace(dst, r.codes[src])
                if r.scales is not None:
                    self._rscales.replace(dst, r.scales[src])
                if rsq is not None:
                    self._rsqn.replace(dst, rsq[src])
            if keep:
                self._orig.replace(dst, x[src])
                if osq is not None:
                    self._orig_sq.replace(dst, osq[src])
            new = np.ones(n, bool)
            new[src] = False
        else:
            new = slice(None)
        base = self._ids.n
        self._codes.append(q.codes[new])
        if q.scales is not None:
            self._scales.append(q.scales[new])
        if sqn is not None:
            self._sqn.append(sqn[new])
        if r is not None:
            self._rcodes.append(r.codes[new])
            if r.scales is not None:
                self._rscales.append(r.scales[new])
            if rsq is not None:
                self._rsqn.append(rsq[new])
        if keep:
            self._orig.append(x[new])
            if osq is not None:
                self._orig_sq.append(osq[new])
        added = stored[new]
        self._ids.append(added)
        self._kind = kind
        for j, k in enumerate(added.tolist()):
            self._pos[k] = base + j
        if kind == "int" and len(added):
            self._next_id = max(self._next_id, int(added.max()) + 1)
        return stored

    def delete(self, ids) -> int:
        """Removes the rows of the given ids (ids not present are ignored); returns how many were
        removed. The arrays are compacted at once, so search never reads a deleted row."""
        with self._lock.write():
            rows = self._rows_of(ids, "skip")
            rows = np.unique(rows)
            if len(rows) == 0:
                return 0
            mask = np.ones(self._ids.n, bool)
            mask[rows] = False
            for a in (self._ids, self._codes, self._scales, self._sqn, self._rcodes, self._rscales,
                      self._rsqn, self._orig, self._orig_sq):
                a.keep(mask)
            self._pos = {k: i for i, k in enumerate(self._ids.view().tolist())}
            return len(rows)

    def _sqnorms(self, codec, codes, scales):
        if self.metric == "ip":
            return None
        out = np.empty(len(codes), np.float32)
        _core.codes_sqnorms(codec._h, codes, scales, out, 0)
        return out

    # ----- search ----------------------------------------------------------------------------
    def search(self, queries, k: int = 10, *, filter=None, oversample: float | None = None,
               rerank_oversample: float | None = None, bound_scale: float = 1.0, threads: int = 0):
        """Returns (ids, scores), each (nq, k), best first (higher is better for "ip" and
        "cosine"; for "l2" the squared distance, lower is better). Slots beyond the rows that can
        be returned hold vectro.NO_ID (None for str ids, in an object array) and NaN. Scores are
        exact float32 where the last stage rescored against the originals, else the last codec's
        estimate. ``filter``: an allow-list (any iterable of ids of the index's kind; ids not in
        the index are ignored): only those rows are returned. ``oversample`` (>= 1): rescore k x
        oversample candidates (without a rerank codec it needs the originals); None: by error
        bound where the codec gives one and originals are held; ``bound_scale`` (0, 16] scales
        those bounds: below 1 fewer rows are rescored, at the risk of a missed neighbour (rabitq-1
        on the sample: 0.8 rescores 0.71x the rows and still finds the exact top 10; 0.6 half the
        rows at recall@10 0.9987).
        ``last_stats`` then tells how many (query, row) pairs were scanned and rescored, and the
        ``mode`` the answer came from ("codes", "originals" or "rerank[+originals]")."""
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
        if self.dim is None:
            raise _core.VectroError("the index is empty: add vectors first")
        if qx.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {qx.shape[1]}, the index {self.dim}")
        k = int(k)
        with self._lock.read():
            sel = None if filter is None else np.unique(self._rows_of(filter, "skip"))
            rows, scores, stats = self._search_locked(qx, k, sel, oversample, rerank_oversample,
                                                      bound_scale, threads)
            valid = rows != NO_ID
            ridx = rows[valid].astype(np.int64)
            if sel is not None:
                ridx = sel[ridx]
            live = self._ids.view()
            if self._kind == "str":
                out = np.full(rows.shape, None, object)
            else:
                out = np.full(rows.shape, NO_ID, np.uint64)
            if len(ridx):
                out[valid] = live[ridx]
        self.last_stats = stats
        if len(shape) == 1:
            return out[0], scores[0]
        return out, scores

    def _search_locked(self, qx, k, sel, oversample, rerank_oversample, bound_scale, threads):
        nq, m = len(qx), METRICS[self.metric]

        def pick(a):
            v = a.view()
            return None if v is None else (v if sel is None else np.ascontiguousarray(v[sel]))

        codes, scales, sqn = pick(self._codes), pick(self._scales), pick(self._sqn)
        n = 0 if codes is None else len(codes)
        held = self._orig.a is not None
        rows = np.empty((nq, k), np.uint64)
        scores = np.empty((nq, k), np.float32)
        if n == 0:
            rows.fill(NO_ID)
            scores.fill(np.nan)
            _core.search_f32(np.zeros((1, qx.shape[1]), np.float32), qx, 1, m,
                             np.empty((nq, 1), np.uint64), np.empty((nq, 1), np.float32), 1)
            return rows, scores, {"scanned": 0, "rescored": 0, "mode": "empty"}
        stats = {"scanned": nq * n, "rescored": 0}
        if self._bounds is None:
            self._bounds = bool(_core.search_has_bounds(self.codec._h))
        if self._rcodes.a is not None:
            orig = pick(self._orig) if held else None
            rc, rs, rsq = pick(self._rcodes), pick(self._rscales), pick(self._rsqn)
            k1 = min(max(k, math.ceil(k * (oversample or RERANK_OVERSAMPLE))), max(n, k))
            cand = np.empty((nq, k1), np.uint64)
            tmp = np.empty((nq, k1), np.float32)
            _core.search_codes(self.codec._h, codes, scales, sqn, qx, k1, m, cand, tmp, threads)
            k2 = k if orig is None else max(k, math.ceil(k * (rerank_oversample or FINAL_OVERSAMPLE)))
            r2 = np.empty((nq, k2), np.uint64)
            s2 = np.empty((nq, k2), np.float32)
            _core.rescore_codes(self.rerank._h, rc, rs, rsq, qx, cand, k2, m, r2, s2, threads)
            rescored = int((cand != NO_ID).sum())
            if orig is None:
                rows, scores = r2, s2
                stats["mode"] = "rerank"
            else:
                _core.rescore(orig, qx, r2, k, m, rows, scores, threads)
                rescored += int((r2 != NO_ID).sum())
                stats["mode"] = "rerank+originals"
            stats["rescored"] = rescored
        elif oversample is None and (not held or not self._bounds):
            _core.search_codes(self.codec._h, codes, scales, sqn, qx, k, m, rows, scores, threads)
            stats["mode"] = "codes"
        else:
            if not held:
                raise ValueError("rescoring needs the float originals: keep_originals=True, or "
                                 "Index.load(..., originals=...)")
            orig = pick(self._orig)
            osq = pick(self._orig_sq) if oversample is None and self.metric != "ip" else None
            if oversample is None and self.metric != "ip" and osq is None:
                osq = np.einsum("ij,ij->i", orig, orig, dtype=np.float32)
            scanned, rescored = _core.search_rescore(
                self.codec._h, codes, scales, orig, osq, qx, k, m, float(oversample or 0.0), rows,
                scores, threads, float(bound_scale))
            stats = {"scanned": scanned, "rescored": rescored, "mode": "originals"}
        return rows, scores, stats

    # ----- files -----------------------------------------------------------------------------
    def save(self, path) -> None:
        """Writes the index to a .vqz file (atomically): the first codec's codes, the ids (uint64
        in the file's id column; str ids in its metadata), the metric. A rerank codec's codes go to
        ``<path>.rerank.vqz`` and held originals to ``<path>.originals.npy``, both written before
        the main file and found by :meth:`load`, so the loaded index answers as this one does."""
        path = os.fspath(path)
        with self._lock.read():
            if self.dim is None:
                raise _core.VectroError("the index is empty and has no dimension: nothing to save")
            n = self._ids.n
            meta = {"vectro_index": INDEX_FORMAT, "metric": self.metric, "id_kind": self._kind or "int",
                    "next_id": self._next_id}
            if self._kind == "str":
                meta["str_ids"] = self._ids.view().tolist() if n else []
                fids = np.arange(n, dtype=np.uint64)
            else:
                fids = self._ids.view() if n else np.empty(0, np.uint64)
            if self._rcodes.a is not None:
                meta["rerank"] = os.path.basename(path) + ".rerank.vqz"
                self._write(path + ".rerank.vqz", self.rerank, self._rcodes, self._rscales, fids,
                            {"vectro_index_rerank": 1})
            if self._orig.a is not None:
                meta["originals"] = os.path.basename(path) + ".originals.npy"
                tmp = path + ".originals.tmp.npy"
                np.save(tmp, np.asarray(self._orig.view()))
                os.replace(tmp, path + ".originals.npy")
            self._write(path, self.codec, self._codes, self._scales, fids, meta)

    def _write(self, path, codec, codes, scales, ids, meta) -> None:
        with VqzWriter(path, codec, ids=True, metadata=meta) as w:
            if codes.n:
                sc = scales.view()
                w.append_quantized(QuantizedEmbeddings(codes.view(), sc, codec=codec, dim=self.dim), ids)

    @classmethod
    def load(cls, path, *, originals=None, rerank=None) -> Index:
        """Reads an index saved by :meth:`save`, or any .vqz (without ids: ids 0..n-1; ids that
        repeat are refused). ``originals``: float32 rows in the file's order (an array, or a .npy
        path, memory-mapped) for exact rescoring; by default the ``.originals.npy`` that save
        wrote, when there is one. ``rerank``: a .vqz of the same rows in a higher-precision codec
        (default: the ``.rerank.vqz`` that save wrote)."""
        path = os.fspath(path)
        r = VqzReader(path)
        meta = r.metadata if isinstance(r.metadata, dict) else {}
        metric = meta.get("metric", "cosine")
        if metric not in METRICS:
            raise _core.VectroError(f"{path}: unknown metric {metric!r} in the metadata")
        index = cls(r.codec, metric)
        q = r.read()
        n = len(q.codes)
        kind = meta.get("id_kind", "int")
        if kind == "str":
            names = meta.get("str_ids")
            if not isinstance(names, list) or len(names) != n or not all(isinstance(s, str) for s in names):
                raise _core.VectroError(f"{path}: the metadata's str_ids do not match the file's {n} rows")
            keys = names
            stored = np.empty(n, object)
            stored[:] = names
        else:
            stored = q.ids if q.ids is not None else np.arange(n, dtype=np.uint64)
            if n and stored.max() == NO_ID:
                raise _core.VectroError(f"{path}: an id is 2**64 - 1 (vectro.NO_ID)")
            keys = stored.tolist()
        pos = {k: i for i, k in enumerate(keys)}
        if len(pos) != n:
            raise _core.VectroError(f"{path}: {n - len(pos)} ids repeat")
        if n:
            index._codes.append(q.codes)
            if q.scales is not None:
                index._scales.append(q.scales)
            sqn = index._sqnorms(index.codec, q.codes, q.scales)
            if sqn is not None:
                index._sqn.append(sqn)
            index._ids.append(stored)
            index._kind = kind
        index._pos = pos
        index._next_id = int(meta.get("next_id", 0))
        if kind == "int" and n:
            index._next_id = max(index._next_id, int(stored.max()) + 1)
        base = os.path.dirname(path)
        if originals is None and isinstance(meta.get("originals"), str):
            originals = os.path.join(base, os.path.basename(meta["originals"]))
        if rerank is None and isinstance(meta.get("rerank"), str):
            rerank = os.path.join(base, os.path.basename(meta["rerank"]))
        if originals is not None:
            if isinstance(originals, (str, os.PathLike)):
                o = np.load(os.fspath(originals), mmap_mode="r")
            else:
                o = np.asarray(originals)
            if o.dtype != np.float32 or o.ndim != 2 or o.shape != (n, r.dim):
                raise ValueError(f"originals must be float32 of shape {(n, r.dim)}, got {o.dtype} {o.shape}")
            # Memory-mapped rows are used in place; the first add copies them into memory.
            index._orig.a, index._orig.n = o, n
            index.keep_originals = True
            if metric != "ip" and n:
                index._orig_sq.append(np.einsum("ij,ij->i", o, o, dtype=np.float32))
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
            if n:
                index._rcodes.append(rq.codes)
                if rq.scales is not None:
                    index._rscales.append(rq.scales)
                rsq = index._sqnorms(rr.codec, rq.codes, rq.scales)
                if rsq is not None:
                    index._rsqn.append(rsq)
        return index

    def __repr__(self) -> str:
        extra = f", rerank={self.rerank.precision!r}" if self.rerank is not None else ""
        orig = "originals held" if self.originals_held else "no originals"
        return f"Index({self.codec.precision!r}, metric={self.metric!r}{extra}, {len(self)} vectors, {orig})"
