"""What every vectro.integrations module shares: the data to upload (a .vqz file, a VqzReader,
QuantizedEmbeddings or float arrays) as validated chunks of codes and ids, local exact rescoring
from originals, the Plan a database should use, and the errors. Public vectro API only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

import vectro

METRICS = ("ip", "cosine", "l2")
VECTORS = ("auto", "codes", "float32", "float16")
MAX_INT64 = 2**63 - 1
if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    # what every Store.upload takes, and what every quantization_config takes
    UploadData = str | os.PathLike | vectro.VqzReader | vectro.QuantizedEmbeddings | ArrayLike
    PrecisionLike = vectro.Choice | vectro.Codec | vectro.QuantizedEmbeddings | str

# Candidates to rescore per result (k x this) by default, from vectro's measurements on the shipped
# sample (README "Search"): binary reaches recall@10 0.935 at 10x and 0.975 at 20x; 4-bit codes and
# pq reach >= 0.96 at 4x; int8 and half precision lose almost nothing and need only 2x.
DEFAULT_OVERSAMPLE = {"binary": 10.0, "int4": 4.0, "pq": 10.0, "rabitq": 10.0}


def default_oversample(precision: str) -> float:
    """k x this many candidates are rescored by default for codes of ``precision``."""
    base = precision.split("-")[0]
    return DEFAULT_OVERSAMPLE.get(base, 2.0)


class PartialUploadError(RuntimeError):
    """A bulk load failed part-way on a database without transactions. ``written`` is how many
    vectors were stored and ``written_ids`` their ids (uint64), so the caller can resume or delete
    them; ``__cause__`` is the database's own error.

    Example:
        >>> import numpy as np
        >>> from vectro.integrations import PartialUploadError
        >>> e = PartialUploadError("upsert of batch 3 failed", written_ids=np.arange(512))  # what a Store raises
        >>> e.written, int(e.written_ids[-1])     # resume from id 512, or delete ids 0..511
        (512, 511)
        >>> str(e)
        'upsert of batch 3 failed; 512 vectors were written before the failure (ids in .written_ids)'
    """

    def __init__(self, message: str, written_ids: np.ndarray) -> None:
        self.written_ids = np.asarray(written_ids, np.uint64)
        self.written = int(len(self.written_ids))
        super().__init__(f"{message}; {self.written} vectors were written before the failure "
                         f"(ids in .written_ids)")


@dataclass
class UploadReport:
    """What an upload wrote: ``count`` vectors into ``name`` as ``vectors`` ("codes", "float32",
    "float16"), ``precision`` of the source codes, ``dim``, and the database's own ``detail``.
    Every ``Store.upload`` returns one.

    Example:
        >>> from vectro.integrations import UploadReport
        >>> r = UploadReport(name="docs", count=1000, dim=384, precision="binary", vectors="codes")
        >>> f"{r.count} x {r.dim} {r.precision} {r.vectors} into {r.name}"
        '1000 x 384 binary codes into docs'
    """

    name: str
    count: int
    dim: int
    precision: str
    vectors: str
    detail: dict = field(default_factory=dict)


@dataclass
class Plan:
    """The configuration a database should use for a vectro precision (from :func:`vectro.choose`
    or a name): ``precision`` to quantize with before upload, ``vectors`` for ``upload``,
    ``oversample`` for ``search``, ``native``: the database's own configuration object (Qdrant
    models, Milvus index parameters, Weaviate ``Configure`` objects, pgvector SQL), and a ``note``
    saying what the database does with it.

    Example:
        >>> from vectro.integrations import pgvector
        >>> plan = pgvector.quantization_config("binary")
        >>> plan.precision, plan.vectors, plan.oversample, plan.native["column_type"]
        ('binary', 'codes', 10.0, 'bit')
    """

    precision: str
    vectors: str
    oversample: float | None
    native: object
    note: str = ""


def precision_of(choice) -> str:
    """A precision string from a vectro.Choice, a Codec, QuantizedEmbeddings or a name."""
    if isinstance(choice, str):
        return vectro.Codec(choice).precision
    if hasattr(choice, "precision"):  # Choice, Codec, QuantizedEmbeddings
        return str(choice.precision)
    raise TypeError(f"expected a vectro.Choice, Codec, QuantizedEmbeddings or precision name, got "
                    f"{type(choice).__name__}")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return metric


def check_vectors(vectors: str) -> str:
    if vectors not in VECTORS:
        raise ValueError(f"vectors must be one of {VECTORS}, got {vectors!r}")
    return vectors


class Source:
    """The rows to upload, validated before anything is written: codes (read in chunks from a
    .vqz so memory stays bounded), their uint64 ids (given, stored in the file, or 0..n-1) and
    optional payload columns (name -> sequence of n values).

    ``data`` may be a .vqz path, a :class:`vectro.VqzReader`, :class:`vectro.QuantizedEmbeddings`,
    or float embeddings (n, d), quantized here with ``precision`` (default "f16"; "float32" keeps
    the floats as they are).

    Example:
        >>> import numpy as np
        >>> from vectro.integrations import Source
        >>> X = np.random.default_rng(0).standard_normal((1000, 64), np.float32)
        >>> src = Source(X, ids=np.arange(1000) + 5, payload={"title": [f"doc {i}" for i in range(1000)]},
        ...              precision="int8")
        >>> src.precision, src.n, src.dim, src.ids[:3], list(src.payload)
        ('int8', 1000, 64, array([5, 6, 7], dtype=uint64), ['title'])
    """

    def __init__(self, data: str | os.PathLike | vectro.VqzReader | vectro.QuantizedEmbeddings | ArrayLike,
                 ids: ArrayLike | None = None, payload: dict | None = None, *, precision: str | None = None,
                 max_id: int = 2**64 - 1) -> None:
        self.reader = None
        if isinstance(data, (str, os.PathLike)):
            data = vectro.VqzReader(data)
        if isinstance(data, vectro.VqzReader):
            self.reader = data
            self.codec, self.dim, self.n = data.codec, data.dim, len(data)
            self._q = None
            file_ids = None
            if data.has_ids and ids is None:
                file_ids = np.concatenate([c.ids for c in data.iter_chunks()]) if self.n else np.empty(0, np.uint64)
            ids = ids if ids is not None else file_ids
        elif isinstance(data, vectro.QuantizedEmbeddings):
            if len(data.shape) != 2:
                raise ValueError(f"expected (n, d) quantized embeddings, got shape {data.shape}")
            self._q, self.codec, self.dim, self.n = data, data.codec, data.dim, len(data)
            ids = ids if ids is not None else data.ids
        else:
            x = np.asarray(data)
            if x.dtype.kind != "f" or x.ndim != 2:
                raise TypeError(f"data must be a .vqz path, VqzReader, QuantizedEmbeddings or float (n, d) "
                                f"embeddings, got {type(data).__name__} {getattr(x, 'dtype', '')} "
                                f"{getattr(x, 'shape', '')}")
            if x.shape[1] == 0 or not np.isfinite(x).all():
                raise ValueError("embeddings must have at least one dimension and hold no NaN or Inf")
            if precision == "float32":  # the floats themselves, unquantized (a baseline, or rescoring data)
                self._q, self._x, self.codec = None, np.ascontiguousarray(x, np.float32), None
                self.dim, self.n = x.shape[1], len(x)
            else:
                self._q = vectro.quantize_embeddings(x, precision or "f16")
                self.codec, self.dim, self.n = self._q.codec, self._q.dim, len(self._q)
        self.precision = self.codec.precision if self.codec is not None else "float32"
        # codes of x - c (center=True): a database searching them with plain queries would rank
        # wrongly, so the stores keep their reconstructions (which add c back) instead
        self.centred = bool(self.codec is not None and self.codec.center)
        self.ids = check_ids(ids, self.n, max_id)
        self.payload = check_payload(payload, self.n)

    def chunks(self, rows: int) -> Iterator[tuple[int, vectro.QuantizedEmbeddings]]:
        """Yields (start row, codes of rows [start, start + rows)); float32 rows for "float32".

        Example:
            >>> import numpy as np
            >>> from vectro.integrations import Source
            >>> src = Source(np.random.default_rng(0).standard_normal((1000, 64), np.float32))
            >>> [(start, len(q)) for start, q in src.chunks(400)]
            [(0, 400), (400, 400), (800, 200)]
        """
        rows = max(1, int(rows))
        for a in range(0, self.n, rows):
            b = min(a + rows, self.n)
            if self.codec is None:
                yield a, self._x[a:b]
            elif self.reader is not None:
                yield a, self.reader.read(a, b)
            else:
                q = self._q
                yield a, vectro.QuantizedEmbeddings(q.codes[a:b], None if q.scales is None else q.scales[a:b],
                                                    codec=q.codec, dim=self.dim)

    def floats(self, q: vectro.QuantizedEmbeddings) -> np.ndarray:
        """Reconstructions (float32) of one chunk.

        Example:
            >>> import numpy as np
            >>> from vectro.integrations import Source
            >>> src = Source(np.random.default_rng(0).standard_normal((1000, 64), np.float32), precision="int8")
            >>> start, q = next(src.chunks(400))
            >>> src.floats(q).shape, src.floats(q).dtype
            ((400, 64), dtype('float32'))
        """
        if isinstance(q, np.ndarray):
            return q
        return vectro.reconstruct_embeddings(q).reshape(len(q), self.dim)


def centred_codes_error(precision: str, db: str) -> ValueError:
    """The error for codes of a centred codec asked to be stored as they are in a database."""
    return ValueError(f"the {precision} codes of a centred codec (center=True; vectro.Index(name) centres by default) "
                      f"code x - c, which {db} would compare with plain queries: store reconstructions "
                      f"(vectors='float16' or 'float32', what vectors='auto' picks for them) or quantize with "
                      f"an uncentred vectro.Codec({precision!r})")


def check_ids(ids, n: int, max_id: int = 2**64 - 1) -> np.ndarray:
    """uint64 ids, one per row, distinct and <= max_id; 0..n-1 when None."""
    if ids is None:
        if n and n - 1 > max_id:
            raise ValueError(f"{n} rows need ids up to {n - 1}, beyond the database's {max_id}")
        return np.arange(n, dtype=np.uint64)
    if isinstance(ids, np.ndarray):
        a = ids
    else:  # a list of Python ints: NumPy would turn [5, 2**63] into float64 and lose the id
        a = np.empty(len(ids), dtype=object)
        a[:] = list(ids)
    if a.ndim != 1 or len(a) != n:
        raise ValueError(f"ids must be one per vector: shape ({n},), got {a.shape}")
    if a.dtype.kind == "O":
        bad = [v for v in a if isinstance(v, bool) or not isinstance(v, (int, np.integer))]
        if bad:
            raise TypeError(f"ids must be integers (uint64), got {type(bad[0]).__name__} {bad[0]!r}")
        a = np.array([int(v) for v in a], dtype=object)
    elif a.dtype.kind not in "ui":
        raise TypeError(f"ids must be integers (uint64), got {a.dtype}")
    if a.dtype.kind == "i" and n and int(a.min()) < 0:
        raise ValueError(f"ids must be >= 0, got {int(a.min())} at row {int(np.argmin(a))}")
    if a.dtype.kind == "O":
        big = [i for i, v in enumerate(a) if v < 0 or v > 2**64 - 1]
        if big:
            raise ValueError(f"ids must be in [0, 2**64), got {a[big[0]]} at row {big[0]}")
    a = a.astype(np.uint64)
    if n and int(a.max()) > max_id:
        row = int(np.argmax(a))
        raise ValueError(f"id {int(a[row])} at row {row} is beyond what the database's ids hold (max {max_id})")
    if len(np.unique(a)) != n:
        u, c = np.unique(a, return_counts=True)
        raise ValueError(f"ids repeat within the upload, e.g. {int(u[c > 1][0])}")
    return a


def check_payload(payload, n: int) -> dict:
    """name -> list of n values (payload columns / properties / metadata)."""
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise TypeError(f"payload must be a dict of column name -> sequence of values, got {type(payload).__name__}")
    out = {}
    for k, v in payload.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise ValueError(f"payload names must be identifiers (letters, digits, _), got {k!r}")
        vals = list(v)
        if len(vals) != n:
            raise ValueError(f"payload {k!r} has {len(vals)} values for {n} vectors")
        out[k] = vals
    return out


def as_queries(queries, dim: int | None) -> tuple[np.ndarray, bool]:
    """(nq, d) float32 queries and whether a single (d,) query was given."""
    q = np.asarray(queries, dtype=np.float32)
    single = q.ndim == 1
    q = q.reshape(1, -1) if single else q
    if q.ndim != 2 or q.shape[1] == 0:
        raise ValueError(f"queries must be (d,) or (nq, d), got shape {np.shape(queries)}")
    if dim is not None and q.shape[1] != dim:
        raise ValueError(f"queries have dimension {q.shape[1]}, the collection {dim}")
    if not np.isfinite(q).all():
        raise ValueError("queries hold NaN or Inf")
    return np.ascontiguousarray(q), single


def exact_scores(q: np.ndarray, x: np.ndarray, metric: str) -> np.ndarray:
    """Scores of queries (nq, d) against rows (nq, c, d): inner product, cosine (higher is better)
    or squared L2 (lower is better), as vectro.Index returns them. Computed in float64, so rows of
    extreme but finite magnitude (1e19, 1e-22) neither overflow nor underflow on the way; a score
    past float32's range then reads Inf (or 0) when the caller narrows it, as in the library."""
    q = np.asarray(q, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if metric == "ip":
        return np.einsum("qd,qcd->qc", q, x)
    if metric == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
        xn = np.linalg.norm(x, axis=2)
        return np.einsum("qd,qcd->qc", qn, x) / np.maximum(xn, 1e-30)
    diff = x - q[:, None, :]
    return np.einsum("qcd,qcd->qc", diff, diff)


def order(scores: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Column order of the best k per row (stable: ties keep candidate order)."""
    key = scores if metric == "l2" else -scores
    return np.argsort(key, axis=1, kind="stable")[:, :k]


NO_ID = vectro.NO_ID


class Originals:
    """Float originals kept outside the database, for exact local rescoring of the candidates a
    database returns: an (n, d) float array, a .npy path (memory-mapped) or a .vqz file (f16 or
    int8 codes are near-lossless: decoded once), with the ids of its rows (default: the .vqz's
    ids, else 0..n-1).

    Example:
        >>> import numpy as np
        >>> from vectro.integrations import Originals
        >>> o = Originals(np.eye(3, dtype=np.float32), ids=[10, 11, 12])
        >>> o.rescore(np.array([[0, 1, 0]], np.float32), np.array([[10, 11]], np.uint64), 1, "ip")[0].tolist()
        [[11]]
    """

    def __init__(self, data: str | os.PathLike | vectro.VqzReader | vectro.QuantizedEmbeddings | ArrayLike,
                 ids: ArrayLike | None = None) -> None:
        file_ids = None
        if isinstance(data, (str, os.PathLike)) and os.fspath(data).endswith(".npy"):
            x = np.load(os.fspath(data), mmap_mode="r")
        elif isinstance(data, (str, os.PathLike, vectro.VqzReader)):
            r = data if isinstance(data, vectro.VqzReader) else vectro.VqzReader(data)
            q = r.read()
            file_ids = q.ids
            x = vectro.reconstruct_embeddings(q).reshape(len(r), r.dim)
        elif isinstance(data, vectro.QuantizedEmbeddings):
            file_ids = data.ids
            x = vectro.reconstruct_embeddings(data).reshape(len(data), data.dim)
        else:
            x = np.asarray(data, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"originals must be (n, d), got shape {x.shape}")
        self.x = x
        self.ids = check_ids(ids if ids is not None else file_ids, len(x))
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]

    @property
    def dim(self) -> int:
        """The originals' dimension d.

        Example:
            >>> import numpy as np
            >>> from vectro.integrations import Originals
            >>> Originals(np.zeros((10, 384), np.float32)).dim
            384
        """
        return int(self.x.shape[1])

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Row numbers of ``ids`` (any shape); raises KeyError naming an id it does not hold.

        Example:
            >>> import numpy as np
            >>> from vectro.integrations import Originals
            >>> o = Originals(np.zeros((1000, 8), np.float32), ids=np.arange(1000, 2000))
            >>> o.rows_of([1005, 1000])
            array([5, 0])
        """
        flat = np.asarray(ids, np.uint64).ravel()
        pos = np.searchsorted(self._sorted, flat)
        pos = np.minimum(pos, len(self._sorted) - 1)
        bad = self._sorted[pos] != flat
        if bad.any():
            raise KeyError(f"id {int(flat[bad][0])} from the database is not among the originals")
        return self._order[pos].reshape(np.shape(ids))

    def rescore(self, queries: np.ndarray, cand: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Exact top k among candidate ids (nq, c; NO_ID marks empty slots): (ids, scores).

        Example:
            >>> import numpy as np, vectro
            >>> from vectro.integrations import Originals
            >>> X = np.random.default_rng(0).standard_normal((1000, 64), np.float32)
            >>> index = vectro.Index("binary")
            >>> _ = index.add(X)
            >>> candidates, _ = index.search(X[:2], k=20)       # what a database would return
            >>> ids, scores = Originals(X).rescore(X[:2], candidates, 3, "cosine")
            >>> ids[:, 0], scores[:, 0].round(3)
            (array([0, 1], dtype=uint64), array([1., 1.], dtype=float32))
        """
        nq = len(queries)
        valid = cand != NO_ID
        safe = np.where(valid, cand, cand[valid][0] if valid.any() else 0)
        if not valid.any():
            return np.full((nq, k), NO_ID, np.uint64), np.full((nq, k), np.nan, np.float32)
        rows = self.rows_of(safe)
        x = np.asarray(self.x[rows.ravel()], dtype=np.float32).reshape(nq, cand.shape[1], -1)
        s = exact_scores(queries, x, metric).astype(np.float32)
        s[~valid] = np.inf if metric == "l2" else -np.inf
        return finish(cand, s, metric, k)


def finish(cand: np.ndarray, scores: np.ndarray, metric: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best k of candidates (nq, c) by score, padded with NO_ID / NaN like vectro.Index."""
    nq, c = cand.shape
    ids = np.full((nq, k), NO_ID, np.uint64)
    out = np.full((nq, k), np.nan, np.float32)
    if c:
        o = order(scores, metric, min(k, c))
        take_ids = np.take_along_axis(cand, o, 1)
        take_s = np.take_along_axis(scores, o, 1)
        empty = ~np.isfinite(take_s) | (take_ids == NO_ID)
        take_ids[empty] = NO_ID
        take_s = take_s.astype(np.float32)
        take_s[empty] = np.nan
        ids[:, :o.shape[1]] = take_ids
        out[:, :o.shape[1]] = take_s
    return ids, out


def pad(rows: list[list[tuple[int, float]]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-query lists of (id, score) into (ids, scores) arrays of width k."""
    ids = np.full((len(rows), k), NO_ID, np.uint64)
    scores = np.full((len(rows), k), np.nan, np.float32)
    for i, r in enumerate(rows):
        for j, (a, s) in enumerate(r[:k]):
            ids[i, j] = a
            scores[i, j] = s
    return ids, scores


def candidates_for(k: int, oversample: float | None) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if oversample is None:
        return int(k)
    if not oversample >= 1:
        raise ValueError(f"oversample must be >= 1, got {oversample!r}")
    return int(np.ceil(k * float(oversample)))


def lazy_import(module: str, extra: str):
    """Imports a database client, or says which pip extra brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"this integration needs {module.split('.')[0]}: pip install 'vectro[{extra}]' "
                          f"({e})") from e
