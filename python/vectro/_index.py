"""vectro.Index: a store of compressed vectors searched on the codes (C, multithreaded): add,
upsert, delete and get by id (uint64 or str), filtered search (an allow-list of ids), optional
rescoring against float originals or a second ``rerank`` codec, save/load as .vqz, and safe to
share between threads (any number of searches at once, mutations one at a time)."""

from __future__ import annotations

import json
import math
import numbers
import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from . import _core
from ._codec import Codec, _check_threads, as_float32_rows, default_codec
from ._files import VqzReader

METRICS = {"ip": 0, "cosine": 1, "l2": 2}
if TYPE_CHECKING:  # the types of array-like inputs and ids in signatures
    from numpy.typing import ArrayLike

    Ids = ArrayLike | Iterable[str]  # uint64 ids or str ids
NO_ID = np.uint64(2**64 - 1)  # fills result slots when the index holds fewer than k vectors
# The search defaults (k x 20 candidates for a rerank codec, k x 2 for the exact stage) live in C
# (VEC_INDEX_RERANK_OVERSAMPLE, VEC_INDEX_FINAL_OVERSAMPLE), shared with `vectro search`.


def _as_codec(codec) -> Codec:
    return default_codec(codec)  # a name: centred where the codec takes it (issue 14)


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


class _NoLock:
    __slots__ = ()

    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


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

    The store is the C ``vec_index`` (libvectro); this class adds str ids and NumPy in and out.
    What is kept in memory: the codes (and a rerank codec's codes), the ids (plus a 16-byte map
    entry), and one float per row and stage for cosine/L2. Float originals are opt-in
    (``keep_originals=False`` by default: an int8 index of 100k x 384 holds 39 MB of codes, the
    originals would add 154 MB). With originals held (or given to :meth:`load`), rescoring
    against them recovers float32 quality:

    - ``oversample=F`` takes ``k * F`` candidates from the codes and rescores them exactly, as
      Qdrant's oversampling and sentence-transformers' ``rescore_multiplier`` do;
    - ``oversample=None`` (default) rescores by error bound when the codec's search gives one
      (rows whose bound cannot reach the exact top k are never read), else ``k * 4`` candidates.

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

    def __init__(self, codec: str | Codec = "int8", metric: str = "cosine", *, keep_originals: bool = False,
                 rerank: str | Codec | None = None) -> None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
        self.codec = _as_codec(codec)
        self.rerank = None if rerank is None else _as_codec(rerank)
        self.metric = metric
        self.keep_originals = bool(keep_originals)
        self._h = None  # the C vec_index, made by the first add (once the codecs are fitted)
        self._bounded = False
        # Readers-writer lock over the Python-side state (the id kind, the str <-> key maps); the C
        # index has its own lock, so this one only keeps those maps in step with it.
        self._lock = _RWLock()
        self._kind: str | None = None  # "int" or "str", fixed by the first ids added
        self._skey: dict = {}  # str id -> uint64 key in the C index
        self._sname: dict = {}  # key -> str id
        self._snext = 0  # next key for a new str id
        self.last_stats: dict | None = None  # what the last search scanned and rescored

    def _attach(self, h) -> None:
        self._h = h
        info = _core.index_info(h)
        self._bounded = bool(info["bounded"])
        self.keep_originals = bool(info["has_originals"])

    # ----- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return 0 if self._h is None else _core.index_count(self._h)

    def __contains__(self, id_) -> bool:
        with self._lock.read():
            try:
                key = self._c_key(id_)
            except (TypeError, ValueError, OverflowError):
                return False
            return key is not None and self._h is not None and _core.index_contains(self._h, key)

    @property
    def dim(self) -> int | None:
        """The vectors' dimension, once the first add has fixed it (None before).

        Example:
            >>> import numpy as np, vectro
            >>> index = vectro.Index("int8")
            >>> index.dim is None
            True
            >>> index.add(np.ones((2, 384), np.float32)); index.dim
            array([0, 1], dtype=uint64)
            384
        """
        return self.codec.dim

    @property
    def originals_held(self) -> bool:
        """Whether float originals are held (kept, or given to :meth:`load`): rescoring, and so
        the results, depend on it.

        Example:
            >>> import vectro
            >>> vectro.Index("binary").originals_held, vectro.Index("binary", keep_originals=True).originals_held
            (False, True)
        """
        return self.keep_originals

    @property
    def ids(self) -> np.ndarray:
        """The live ids in insertion order: uint64, or an object array of str.

        Example:
            >>> import numpy as np, vectro
            >>> index = vectro.Index("int8")
            >>> _ = index.add(np.ones((3, 8), np.float32), ids=["a", "b", "c"])
            >>> index.ids
            array(['a', 'b', 'c'], dtype=object)
        """
        with self._lock.read():
            keys = self._keys()
            if self._kind != "str":
                return keys
            out = np.empty(len(keys), object)
            out[:] = [self._sname[k] for k in keys.tolist()]
            return out

    def _keys(self) -> np.ndarray:
        if self._h is None:
            return np.empty(0, np.uint64)
        return np.frombuffer(_core.index_ids(self._h), np.uint64).copy()

    def _c_key(self, id_):
        """The C index's key for an id of this index's kind (None for a str id not held)."""
        if self._kind == "str" or (self._kind is None and _is_str(id_)):
            if not _is_str(id_):
                raise TypeError(f"this index holds str ids, got {id_!r}")
            return self._skey.get(str(id_))
        if isinstance(id_, (bool, np.bool_)) or _is_str(id_):
            raise TypeError(f"this index holds int ids, got {id_!r}")
        if isinstance(id_, numbers.Integral):
            v = int(id_)
        elif isinstance(id_, numbers.Real) and float(id_) == math.floor(id_):
            v = int(id_)
        else:
            raise TypeError(f"ids are integers or strings, got {id_!r}")
        return v if 0 <= v < 2**64 - 1 else None

    def _c_keys(self, ids, missing: str):
        """uint64 keys of the given ids; missing="raise" raises KeyError, "skip" drops them."""
        if isinstance(ids, (str, bytes, numbers.Number)) or not hasattr(ids, "__iter__"):
            ids = [ids]
        if isinstance(ids, np.ndarray) and ids.dtype.kind == "u" and self._kind != "str":
            return np.ascontiguousarray(ids.ravel(), np.uint64)
        vals = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        keys = []
        for v in vals:
            k = self._c_key(v)
            if k is None:
                if missing == "raise":
                    raise KeyError(v)
                continue
            keys.append(k)
        return np.array(keys, np.uint64)

    def get(self, ids: Ids) -> np.ndarray:
        """Float32 rows of the given ids, in their order: the originals when held, else the codec's
        reconstruction. Raises KeyError for an id not in the index.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((3, 64), np.float32)
            >>> index = vectro.Index("int8", keep_originals=True)
            >>> _ = index.add(X, ids=[10, 20, 30])
            >>> rows = index.get([30, 10])
            >>> rows.shape, bool(np.array_equal(rows[0], X[2]))   # the originals, as they are held
            ((2, 64), True)
        """
        with self._lock.read():
            given = ids
            keys = self._c_keys(ids, "raise")
            out = np.empty((len(keys), self.dim or 0), np.float32)
            if len(keys) == 0:
                return out
            if self._h is None:
                raise KeyError(next(iter([given] if np.isscalar(given) else given)))
            try:
                _core.index_get(self._h, keys, out)
            except KeyError as e:
                k = int(keys[e.args[0]])
                raise KeyError(self._sname.get(k, k) if self._kind == "str" else k) from None
            return out

    # ----- mutations -------------------------------------------------------------------------
    def add(self, vectors: ArrayLike, ids: Ids | None = None, *, threads: int = 0) -> np.ndarray:
        """Adds vectors; returns the ids assigned. ``ids``: one per vector, all ints (uint64; the
        default continues after the largest int id ever held: 0, 1, 2, ...) or all strings;
        an id already in the index, or repeated in the batch, raises VectroError and adds
        nothing. A codec that needs training and is not trained yet is fitted on the first
        batch.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((5, 64), np.float32)
            >>> index = vectro.Index("int8")
            >>> index.add(X[:3])
            array([0, 1, 2], dtype=uint64)
            >>> index.add(X[3:], ids=[100, 101])
            array([100, 101], dtype=uint64)
            >>> index.add(X[:1])              # the next default id follows the largest
            array([102], dtype=uint64)
        """
        x, _ = as_float32_rows(vectors)
        with self._mutating():
            return self._add(x, ids, threads, replace=False)

    def upsert(self, vectors: ArrayLike, ids: Ids, *, threads: int = 0) -> np.ndarray:
        """Inserts vectors whose id is new and replaces those whose id is present (in place: the
        row keeps its position); an id repeated in the batch raises VectroError. Returns ids.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((4, 64), np.float32)
            >>> index = vectro.Index("int8", keep_originals=True)
            >>> _ = index.add(X[:2], ids=[1, 2])
            >>> index.upsert(X[2:], ids=[2, 3])   # 2 is replaced, 3 is new
            array([2, 3], dtype=uint64)
            >>> len(index), bool(np.array_equal(index.get([2])[0], X[2]))
            (3, True)
        """
        x, _ = as_float32_rows(vectors)
        if ids is None:
            raise ValueError("upsert needs ids")
        with self._mutating():
            return self._add(x, ids, threads, replace=True)

    def _mutating(self):
        """The Python lock a mutation needs: none once the C index exists and holds int ids (no
        Python state changes then, and the C index serializes mutations itself, encoding outside
        its lock so searches go on meanwhile); else the write lock (the first add, str ids)."""
        return _NoLock() if self._h is not None and self._kind == "int" else self._lock.write()

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
            kind, keys, stored = "int", None, None
        else:
            kind, vals, stored = _parse_ids(ids, n, self._kind)
            if len(set(vals)) != n:
                raise _core.VectroError("ids collide within the batch")
            if kind == "str":
                # New names get keys only once the C call succeeded (it may refuse the batch).
                held = [v in self._skey for v in vals]
                if not replace and any(held):
                    raise _core.VectroError(f"{sum(held)} ids are already in the index, e.g. "
                                            f"{vals[held.index(True)]!r}")
                keys = np.array([self._skey.get(v, 0) for v in vals], np.uint64)
                new = [i for i, h in enumerate(held) if not h]
                keys[new] = np.arange(self._snext, self._snext + len(new), dtype=np.uint64)
            else:
                keys = stored
        if n == 0:
            return stored if stored is not None else np.empty(0, np.uint64)
        x = np.ascontiguousarray(x)
        # Extreme magnitudes (rows of 1e19 or 1e-22): the C index holds x * 2^-e, e picked from
        # the first batch (0 for moderate data), so a codec fitted here is fitted on x * 2^-e. A
        # codec given trained already was trained at the caller's scale: it keeps that scale.
        given = any(c is not None and c.needs_training and c.trained for c in (self.codec, self.rerank))
        e = _core.index_pick_scale(x, x.shape[1]) if self._h is None and not given else 0
        for c in (self.codec, self.rerank):
            if c is not None and c.needs_training and not c.trained:
                c.fit(np.ldexp(x, -e).astype(np.float32) if e else x)
        if self._h is None:
            self.codec._ensure(x.shape[1])
            if self.rerank is not None:
                self.rerank._ensure(x.shape[1])
            self._attach(_core.index_new(self.codec._h, None if self.rerank is None else self.rerank._h,
                                         METRICS[self.metric], self.keep_originals))
            _core.index_set_scale(self._h, e)
        out = np.empty(n, np.uint64)
        _core.index_add(self._h, x, keys, None if replace else out, threads, replace)
        self._kind = kind
        if kind == "str":
            for i, v in enumerate(vals):
                if v not in self._skey:
                    k = int(keys[i])
                    self._skey[v], self._sname[k] = k, v
            self._snext += len(new)
            return stored
        return out if ids is None else stored

    def delete(self, ids: Ids) -> int:
        """Removes the rows of the given ids (ids not present are ignored); returns how many were
        removed. Deleted rows are tombstones that search skips, compacted once they are a quarter
        of the rows; a deleted int id is never handed out again by ``add`` without ids.

        Example:
            >>> import numpy as np, vectro
            >>> index = vectro.Index("int8")
            >>> _ = index.add(np.random.default_rng(0).standard_normal((5, 64), np.float32))
            >>> index.delete([1, 3, 99])      # 99 is not there: ignored
            2
            >>> index.ids
            array([0, 2, 4], dtype=uint64)
        """
        with self._mutating():
            keys = self._c_keys(ids, "skip")
            if self._h is None or len(keys) == 0:
                return 0
            done = _core.index_delete(self._h, keys)
            if self._kind == "str":
                for k in keys.tolist():
                    name = self._sname.pop(k, None)
                    if name is not None:
                        del self._skey[name]
            return done

    # ----- search ----------------------------------------------------------------------------
    def search(self, queries: ArrayLike, k: int = 10, *, filter: Ids | None = None,
               oversample: float | None = None, rerank_oversample: float | None = None,
               bound_scale: float = 1.0, threads: int = 0,
               progress: Callable[[int, int], object] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Returns (ids, scores), each (nq, k), best first (higher is better for "ip" and
        "cosine"; for "l2" the squared distance, lower is better). Slots beyond the rows that can
        be returned hold vectro.NO_ID (None for str ids, in an object array) and NaN. Scores are
        exact float32 where the last stage rescored against the originals, else the last codec's
        estimate. ``filter``: an allow-list (any iterable of ids of the index's kind; ids not in
        the index are ignored): only those rows are returned. ``oversample`` (>= 1): rescore k x
        oversample candidates (without a rerank codec it needs the originals); None: without
        originals no rescoring, with them by error bound where the codec gives one, else k x 4;
        ``bound_scale`` (0, 16] scales those bounds: below 1 fewer rows are rescored, at the risk
        of a missed neighbour (rabitq-1 on the sample: 0.8 rescores 0.71x the rows and still finds
        the exact top 10; 0.6 half the rows at recall@10 0.9987). Ctrl-C stops a long search (KeyboardInterrupt).
        ``progress``: ``callback(done, total)`` (rows, or blocks of queries), called at most every
        50 ms and once at the end; return False to cancel (VectroError "cancelled"), and an
        exception it raises stops the search and propagates, as in ``encode``.
        ``last_stats`` then tells how many (query, row) pairs were scanned and rescored, and the
        ``mode`` the answer came from ("codes", "originals", "rerank" or "rerank+originals").

        The search is exhaustive (every live row is scored on its codes; there is no approximate
        graph or partition), so recall is lost only to the codes, and rescoring wins it back.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 64), np.float32)
            >>> index = vectro.Index("binary", metric="cosine", keep_originals=True)
            >>> _ = index.add(X)
            >>> ids, scores = index.search(X[:2], k=3, oversample=10)
            >>> ids
            array([[  0, 489, 518],
                   [  1, 562, 814]], dtype=uint64)
            >>> scores.round(2)                  # exact cosines: rescored against the originals
            array([[1.  , 0.35, 0.35],
                   [1.  , 0.39, 0.37]], dtype=float32)
            >>> index.last_stats["mode"], index.last_stats["rescored"]   # 2 queries x 3 x 10
            ('originals', 60)
        """
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
        if self._h is None:
            raise _core.VectroError("the index is empty: add vectors first")
        dim = self.dim
        if qx.shape[1] != dim:
            raise ValueError(f"queries have dimension {qx.shape[1]}, the index {dim}")
        qx = np.ascontiguousarray(qx)
        k, nq = int(k), len(qx)
        if self.rerank is not None:
            mode = "rerank+originals" if self.keep_originals else "rerank"
        elif self.keep_originals:
            mode = "originals"
        elif oversample is None:
            mode = "codes"
        else:
            raise ValueError("rescoring needs the float originals: keep_originals=True, or "
                             "Index.load(..., originals=...)")
        rows = np.empty((nq, k), np.uint64)
        scores = np.empty((nq, k), np.float32)
        # Int ids need no Python state (the kind never changes once int, and the C index locks
        # itself); str ids read the name maps, kept in step with the C index under this lock.
        with _NoLock() if self._kind == "int" else self._lock.read():
            flt = None if filter is None else self._c_keys(filter, "skip")
            scanned, rescored = _core.index_search(
                self._h, qx, k, float(oversample or 0.0), float(rerank_oversample or 0.0),
                float(bound_scale), threads, flt, rows, scores, progress)
            if self._kind == "str":
                out = np.full(rows.shape, None, object)
                valid = rows != NO_ID
                out[valid] = [self._sname[v] for v in rows[valid].tolist()]
            else:
                out = rows
        self.last_stats = {"scanned": scanned, "rescored": rescored, "mode": mode,
                           "mapped_rows": self._mapped_rows()}
        if len(shape) == 1:
            return out[0], scores[0]
        return out, scores

    # ----- files -----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Writes the index to a .vqz file (atomically): the first codec's codes, the ids (uint64
        in the file's id column; str ids in its metadata), the metric, the next default id.
        Deleted rows are left out. A rerank codec's codes go to ``<path>.rerank.vqz`` and held
        originals to ``<path>.originals.npy``, both written before the main file and found by
        :meth:`load`, so the loaded index answers as this one does.

        Example:
            >>> import numpy as np, os, vectro
            >>> index = vectro.Index("int8", rerank="f16")
            >>> _ = index.add(np.random.default_rng(0).standard_normal((100, 64), np.float32))
            >>> index.save("index.vqz")
            >>> sorted(f for f in os.listdir() if f.startswith("index"))
            ['index.vqz', 'index.vqz.rerank.vqz']
        """
        path = os.fspath(path)
        with self._lock.read():
            if self._h is None:
                if self.dim is None:
                    raise _core.VectroError("the index is empty and has no dimension: nothing to save")
                self.codec._ensure(self.dim)
                self._attach(_core.index_new(self.codec._h, None if self.rerank is None else self.rerank._h,
                                             METRICS[self.metric], self.keep_originals))
            extra = None
            if self._kind == "str":
                names = [self._sname[k] for k in self._keys().tolist()]
                extra = '"id_kind": "str", "str_ids": ' + json.dumps(names)
            _core.index_save(self._h, path, extra)

    def _mapped_rows(self) -> int:
        return 0 if self._h is None else _core.index_mapped_rows(self._h)

    @property
    def mapped(self) -> bool:
        """Whether rows are searched in place from a memory map of the file (``load(mmap=True)``).

        Example:
            >>> import numpy as np, vectro
            >>> index = vectro.Index("int8")
            >>> _ = index.add(np.random.default_rng(0).standard_normal((100, 32), np.float32))
            >>> index.save("mapped.vqz")
            >>> index.mapped, vectro.Index.load("mapped.vqz", mmap=True).mapped
            (False, True)
        """
        return self._mapped_rows() > 0

    @classmethod
    def load(cls, path: str | os.PathLike, *, originals: str | os.PathLike | np.ndarray | None = None,
             rerank: str | os.PathLike | None = None, mmap: bool = False) -> Index:
        """Reads an index saved by :meth:`save`, or any .vqz (without ids: ids 0..n-1; ids that
        repeat are refused). ``originals``: float32 rows in the file's order (a .npy path, or an
        array) for exact rescoring; by default the ``.originals.npy`` that save wrote, when there
        is one. ``rerank``: a .vqz of the same rows in a higher-precision codec (default: the
        ``.rerank.vqz`` that save wrote). By default everything is read into memory.

        ``mmap=True`` searches the first codec's codes and scales in place, from a memory map of
        the file (every block is checked against its CRC-32C once, by reading, before it is
        mapped): RAM then holds the ids, the id map and the norms, not the codes. Rows added
        later live in memory, and ``save`` to the same file appends them (new blocks, then a new
        commit) without rewriting the rows already there. Like SQLite's mmap mode, this trades a
        guarantee: vectro's writers replace a file by rename or append past its end, which an
        open map survives, but if another program truncates the file while it is mapped, touching
        the lost pages raises SIGBUS and the process dies. The default (read into memory with
        pread) turns that case into an error. ``mmap`` is ignored for files with no rows.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 64), np.float32)
            >>> index = vectro.Index("int8")
            >>> _ = index.add(X)
            >>> index.save("idx.vqz")
            >>> vectro.Index.load("idx.vqz")
            Index('int8', metric='cosine', 1000 vectors, no originals)
            >>> np.save("originals.npy", X)         # the float rows, in the file's order
            >>> vectro.Index.load("idx.vqz", originals="originals.npy")
            Index('int8', metric='cosine', 1000 vectors, originals held)
        """
        path = os.fspath(path)
        if originals is not None and not isinstance(originals, (str, os.PathLike)):
            o = np.asarray(originals)
            r = VqzReader(path)
            n, d = len(r), r.dim
            if o.dtype != np.float32 or o.ndim != 2 or o.shape != (n, d):
                raise ValueError(f"originals must be float32 of shape {(n, d)}, got {o.dtype} {o.shape}")
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                f = os.path.join(tmp, "originals.npy")
                np.save(f, o)
                return cls.load(path, originals=f, rerank=rerank, mmap=mmap)
        # Mismatched originals or rerank rows raise VectroError, a ValueError naming the file.
        h = _core.index_load(path, None if originals is None else os.fspath(originals),
                             None if rerank is None else os.fspath(rerank), -1, bool(mmap))
        info = _core.index_info(h)
        meta = {}
        try:
            meta = json.loads(info["metadata"]) if info["metadata"] else {}
        except ValueError:
            meta = {}
        metric = {v: m for m, v in METRICS.items()}[info["metric"]]
        index = cls(Codec.from_bytes(info["codec"]), metric,
                    rerank=None if info["rerank"] is None else Codec.from_bytes(info["rerank"]))
        index._attach(h)
        if isinstance(meta, dict) and meta.get("id_kind") == "str":
            names = meta.get("str_ids")
            keys = index._keys().tolist()
            if not isinstance(names, list) or len(names) != len(keys) or \
                    not all(isinstance(s, str) for s in names) or len(set(names)) != len(names):
                raise _core.VectroError(f"{path}: the metadata's str_ids do not match the file's rows")
            index._kind = "str"
            index._skey = dict(zip(names, keys))
            index._sname = dict(zip(keys, names))
            index._snext = max(keys) + 1 if keys else 0
        elif len(index):
            index._kind = "int"
        return index

    def __repr__(self) -> str:
        extra = f", rerank={self.rerank.precision!r}" if self.rerank is not None else ""
        orig = "originals held" if self.originals_held else "no originals"
        if self.mapped:
            orig += ", mapped"
        return f"Index({self.codec.precision!r}, metric={self.metric!r}{extra}, {len(self)} vectors, {orig})"
