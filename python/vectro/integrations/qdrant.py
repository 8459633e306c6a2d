"""Qdrant: Vectro codes as Qdrant points (float16 or uint8 vectors where the codes are exactly such
numbers, else reconstructions), ids kept, the source shard and row in the payload; search in
Qdrant with exact local rescoring; and the Qdrant quantization (ScalarQuantization,
BinaryQuantization, ProductQuantization and QuantizationSearchParams) that matches a vectro
precision, for servers that quantize themselves.

Needs ``pip install 'vectro[qdrant]'`` (qdrant-client). Tested with qdrant-client's local mode
(``QdrantClient(":memory:")`` or ``path=``), which stores float16/uint8 vectors but ignores
quantization settings and searches exhaustively; a Qdrant server applies them.

Example:
    >>> import numpy as np, vectro
    >>> from qdrant_client import QdrantClient
    >>> from vectro.integrations import qdrant as db
    >>> X = np.random.default_rng(0).standard_normal((100, 16)).astype(np.float32)
    >>> store = db.Store(QdrantClient(":memory:"), "docs", metric="ip")
    >>> store.upload(vectro.quantize_embeddings(X, "f16")).vectors
    'codes'
    >>> ids, scores = store.search(X[:2], k=3)
    >>> ids[:, 0].tolist()
    [0, 1]
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    Originals,
    PartialUploadError,
    Plan,
    Source,
    UploadReport,
    as_queries,
    candidates_for,
    check_metric,
    check_vectors,
    default_oversample,
    lazy_import,
    pad,
    precision_of,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from qdrant_client import QdrantClient, models

    from ._common import PrecisionLike, UploadData

EXTRA = "qdrant"
BATCH = 256  # points per upsert request
SHARD_KEY, ROW_KEY = "vectro_shard", "vectro_row"


def _models():
    return lazy_import("qdrant_client.models", EXTRA)


def _distance(metric: str):
    m = _models()
    return {"ip": m.Distance.DOT, "cosine": m.Distance.COSINE, "l2": m.Distance.EUCLID}[metric]


def _identity_uint8(codec) -> bool:
    """uint8 codes whose values are the vector (ranges 0..255, as vectro.from_codes makes them)."""
    r = codec.ranges if codec is not None and codec.precision.startswith("uint8") and not codec.center else None
    return r is not None and bool((r[0] == 0).all() and (r[1] == 255).all())


def datatype_for(src: Source, vectors: str) -> tuple[str, str]:
    """(Qdrant datatype "float16" / "uint8" / "float32", what is stored: "codes" or
    reconstructions "float32" / "float16").

    Example:
        >>> import numpy as np, vectro
        >>> from vectro.integrations import Source, qdrant
        >>> X = np.random.default_rng(0).standard_normal((10, 16), np.float32)
        >>> qdrant.datatype_for(Source(vectro.quantize_embeddings(X, "f16")), "auto")   # f16 codes are float16s
        ('float16', 'codes')
        >>> qdrant.datatype_for(Source(vectro.quantize_embeddings(X, "int8")), "auto")  # reconstructions
        ('float32', 'float32')
    """
    check_vectors(vectors)
    if src.precision == "float32":  # unquantized floats
        return ("float16", "float16") if vectors == "float16" else ("float32", "float32")
    native = "float16" if src.precision == "f16" else "uint8" if _identity_uint8(src.codec) else None
    if vectors == "codes":
        if native is None:
            raise ValueError(f"Qdrant cannot hold {src.precision} codes: its vector types are float32, float16 and "
                             "uint8 (values 0..255 compared as numbers); store reconstructions with "
                             "vectors='float16' or 'float32', or let a Qdrant server quantize "
                             "(quantization_config)")
        return native, "codes"
    if vectors == "auto":
        return (native, "codes") if native else ("float32", "float32")
    if vectors == "float16" and src.precision == "f16":
        return "float16", "codes"
    return vectors, vectors


def quantization_config(choice: PrecisionLike, *, dim: int | None = None, oversample: float | None = None,
                        always_ram: bool = True) -> Plan:
    """Qdrant's own quantization for a vectro precision (a vectro.Choice, Codec or name), for a
    Qdrant server: binary -> BinaryQuantization (1 bit), rabitq-2 -> BinaryQuantization
    two_bits, int8/uint8 -> ScalarQuantization INT8 (Qdrant has no 4-bit scalar type: int4 maps
    there too), pq -> ProductQuantization with the nearest compression ratio; f16/bf16 need no
    quantization (float16 vectors). ``native`` = {"quantization_config", "search_params"}: pass
    them to ``create_collection`` and ``query_points``. Vectors are uploaded as float16 (f16),
    which Qdrant rescoring then reads. Local mode accepts these settings and ignores them.
    ``dim`` (default: the Choice's) sets pq's compression ratio.

    Example:
        >>> from vectro.integrations import qdrant
        >>> plan = qdrant.quantization_config("binary")
        >>> plan.vectors, plan.oversample, type(plan.native["quantization_config"]).__name__
        ('codes', 10.0, 'BinaryQuantization')
        >>> plan.native["search_params"].quantization.rescore     # query_points(..., search_params=...)
        True
    """
    m = _models()
    p = precision_of(choice)
    base = p.split("-")[0]
    os_ = oversample or default_oversample(p)
    q = None
    if base == "binary" or p == "rabitq-1":
        q = m.BinaryQuantization(binary=m.BinaryQuantizationConfig(always_ram=always_ram))
    elif base == "rabitq":
        q = m.BinaryQuantization(binary=m.BinaryQuantizationConfig(
            always_ram=always_ram, encoding=m.BinaryQuantizationEncoding.TWO_BITS))
    elif base in ("int8", "uint8", "int4", "int16"):
        q = m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, always_ram=always_ram))
    elif base == "pq":
        d = dim or getattr(choice, "dim", None)
        if d is None:
            raise ValueError("pq's compression ratio depends on the dimension: pass dim=")
        mm, bits = (int(t) for t in p[3:].split("x"))
        ratio = min((4, 8, 16, 32, 64), key=lambda r: abs(math.log(4 * d / (mm * bits / 8) / r)))
        q = m.ProductQuantization(product=m.ProductQuantizationConfig(
            compression=m.CompressionRatio(f"x{ratio}"), always_ram=always_ram))
    if q is None:
        return Plan(precision="f16", vectors="codes", oversample=None,
                    native={"quantization_config": None, "search_params": None},
                    note="float16 vectors hold f16 codes exactly; no quantization needed")
    params = m.SearchParams(quantization=m.QuantizationSearchParams(rescore=True, oversampling=os_))
    return Plan(precision="f16", vectors="codes", oversample=os_,
                native={"quantization_config": q, "search_params": params},
                note="a Qdrant server quantizes the float16 vectors itself and rescores with them; "
                     "local mode ignores quantization (exhaustive search)")


class QdrantStore:
    """A Qdrant collection of Vectro codes, one unnamed vector per point, ids as Qdrant's unsigned
    integer ids, payload {vectro_shard, vectro_row} plus the caller's.

    ``client`` is a ``qdrant_client.QdrantClient`` (server or local mode).

    Example:
        >>> import numpy as np, vectro
        >>> from qdrant_client import QdrantClient
        >>> from vectro.integrations import qdrant
        >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
        >>> store = qdrant.Store(QdrantClient(":memory:"), "docs", metric="cosine")
        >>> store.upload(vectro.quantize_embeddings(X, "f16"))
        UploadReport(name='docs', count=100, dim=16, precision='f16', vectors='codes',
                     detail={'datatype': 'float16', 'shard': None})
        >>> store.search(X[0], k=3)[0]
        array([ 0, 85, 97], dtype=uint64)
    """

    def __init__(self, client: QdrantClient, collection: str, *, metric: str = "ip") -> None:
        lazy_import("qdrant_client", EXTRA)
        if not isinstance(collection, str) or not collection:
            raise ValueError(f"collection must be a non-empty name, got {collection!r}")
        self.client, self.collection, self.metric = client, collection, check_metric(metric)

    def _params(self):
        if not self.client.collection_exists(self.collection):
            return None
        v = self.client.get_collection(self.collection).config.params.vectors
        if isinstance(v, dict):
            raise ValueError(f"collection {self.collection!r} has named vectors {sorted(v)}; this store uses one "
                             "unnamed vector")
        return v

    @property
    def dim(self) -> int | None:
        """The collection's vector dimension (None before it exists).

        Example:
            >>> import numpy as np, vectro
            >>> from qdrant_client import QdrantClient
            >>> from vectro.integrations import qdrant
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = qdrant.Store(QdrantClient(":memory:"), "docs")
            >>> store.dim is None
            True
            >>> _ = store.upload(X); store.dim
            16
        """
        p = self._params()
        return None if p is None else int(p.size)

    def count(self) -> int:
        """The exact number of points in the collection.

        Example:
            >>> import numpy as np, vectro
            >>> from qdrant_client import QdrantClient
            >>> from vectro.integrations import qdrant
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = qdrant.Store(QdrantClient(":memory:"), "docs")
            >>> _ = store.upload(X, ids=np.arange(100, 200)); store.count()
            100
        """
        return int(self.client.count(self.collection, exact=True).count)

    def drop(self) -> None:
        """Deletes the collection if it exists.

        Example:
            >>> import numpy as np, vectro
            >>> from qdrant_client import QdrantClient
            >>> from vectro.integrations import qdrant
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> client = QdrantClient(":memory:")
            >>> store = qdrant.Store(client, "docs")
            >>> _ = store.upload(X)
            >>> store.drop(); client.collection_exists("docs")
            False
        """
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)

    def upload(self, data: UploadData, ids: ArrayLike | None = None, *, payload: dict | None = None,
               precision: str | None = None, vectors: str = "auto", shard: str | None = None,
               quantization_config: models.QuantizationConfig | None = None,
               batch_size: int = BATCH) -> UploadReport:
        """Upserts the rows as points (collection created when absent).

        ``data``: a .vqz path, VqzReader, QuantizedEmbeddings or float embeddings (quantized with
        ``precision``, default "f16"). ``vectors``: "auto" (f16 codes as float16, identity uint8
        codes as uint8, else float32 reconstructions), "codes", "float16" or "float32".
        ``shard`` (default: the .vqz file name) and each row's number go in the payload.
        ``quantization_config``: Qdrant's, for a new collection (see :func:`quantization_config`).

        Dimension, datatype and distance of an existing collection, ids and payload are checked
        before anything is sent. Qdrant has no transactions: if a batch fails, a collection this
        call created is deleted again, and in an existing one :class:`PartialUploadError` says
        which ids were written.

        Example:
            >>> import numpy as np, vectro
            >>> from qdrant_client import QdrantClient
            >>> from vectro.integrations import qdrant
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> vectro.save("docs.vqz", vectro.quantize_embeddings(X, "binary"), ids=np.arange(100) * 10)
            >>> store = qdrant.Store(QdrantClient(":memory:"), "docs")
            >>> report = store.upload("docs.vqz", payload={"lang": ["en"] * 50 + ["de"] * 50})
            >>> report.vectors, report.detail    # binary codes: Qdrant holds their reconstructions
            ('float32', {'datatype': 'float32', 'shard': 'docs.vqz'})
        """
        m = _models()
        src = Source(data, ids, payload)
        dtype, held = datatype_for(src, vectors)
        if shard is None and src.reader is not None:
            shard = os.path.basename(src.reader.path)
        params = self._params()
        want = m.VectorParams(size=src.dim, distance=_distance(self.metric), datatype=m.Datatype(dtype))
        if params is not None:
            got_dt = (params.datatype or m.Datatype.FLOAT32).value
            if params.size != src.dim or params.distance != want.distance or got_dt != dtype:
                raise ValueError(f"collection {self.collection!r} holds {params.size} dims, {params.distance.value}, "
                                 f"{got_dt}; this upload {src.dim} dims, {want.distance.value}, {dtype}; "
                                 "nothing was written")
        for k in src.payload:
            if k in (SHARD_KEY, ROW_KEY):
                raise ValueError(f"payload key {k!r} is vectro's own")
        created = params is None
        if created:
            self.client.create_collection(self.collection, vectors_config=want,
                                          quantization_config=quantization_config)
        written = []
        try:
            for a, q in src.chunks(batch_size):
                b = a + len(q)
                if held == "codes":
                    vec = q.codes.astype(np.float32) if dtype == "uint8" else q.codes
                else:
                    vec = src.floats(q)
                    if held == "float16":
                        vec = vec.astype(np.float16)
                pl = []
                for i in range(a, b):
                    d = {ROW_KEY: i} if shard is None else {SHARD_KEY: shard, ROW_KEY: i}
                    for k, v in src.payload.items():
                        d[k] = v[i].item() if isinstance(v[i], np.generic) else v[i]
                    pl.append(d)
                ids_b = src.ids[a:b]
                self.client.upsert(self.collection, wait=True,
                                   points=m.Batch(ids=[int(i) for i in ids_b], vectors=vec.tolist(), payloads=pl))
                written.append(ids_b)
        except Exception as e:
            done = np.concatenate(written) if written else np.empty(0, np.uint64)
            if created:
                self.client.delete_collection(self.collection)
                raise RuntimeError(f"upload to new collection {self.collection!r} failed after {len(done)} points; "
                                   "the collection was deleted again") from e
            raise PartialUploadError(f"upload to collection {self.collection!r} failed", done) from e
        return UploadReport(self.collection, src.n, src.dim, src.precision, held, {"datatype": dtype,
                                                                                   "shard": shard})

    def search(self, queries: ArrayLike, k: int = 10, *, oversample: float | None = None,
               rescore: Originals | None = None, search_params: models.SearchParams | None = None,
               query_filter: models.Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top k per query: (ids uint64 (nq, k), scores float32 (nq, k)) as vectro.Index gives
        them (squared L2 for "l2"). With ``rescore`` (an :class:`Originals`), Qdrant returns k x
        ``oversample`` candidates (default 4) and they are rescored exactly
        here. ``search_params`` (e.g. a Plan's) and ``query_filter`` go to Qdrant.

        Example:
            >>> import numpy as np, vectro
            >>> from qdrant_client import QdrantClient
            >>> from vectro.integrations import qdrant
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> from qdrant_client import models
            >>> store = qdrant.Store(QdrantClient(":memory:"), "docs", metric="cosine")
            >>> _ = store.upload(X, precision="int8", payload={"lang": ["en"] * 50 + ["de"] * 50})
            >>> ids, scores = store.search(X[:2], k=3, rescore=qdrant.Originals(X))   # exact cosines
            >>> ids, scores.round(2)
            (array([[ 0, 85, 97],
                   [ 1, 22, 52]], dtype=uint64), array([[1.  , 0.59, 0.52],
                   [1.  , 0.72, 0.46]], dtype=float32))
            >>> german = models.Filter(must=[models.FieldCondition(key="lang", match=models.MatchValue(value="de"))])
            >>> store.search(X[0], k=2, query_filter=german)[0]         # rows 50..99 only
            array([85, 97], dtype=uint64)
        """
        m = _models()
        q, single = as_queries(queries, self.dim)
        c = candidates_for(k, (oversample or 4.0) if rescore is not None else None)
        reqs = [m.QueryRequest(query=row.tolist(), limit=c, params=search_params, filter=query_filter)
                for row in q]
        res = self.client.query_batch_points(self.collection, requests=reqs)
        sq = self.metric == "l2"  # Qdrant's Euclid score is the distance; vectro's the square
        rows = [[(int(p.id), p.score ** 2 if sq else p.score) for p in r.points] for r in res]
        ids, scores = pad(rows, c)
        if rescore is not None:
            ids, scores = rescore.rescore(q, ids, k, self.metric)
        return (ids[0], scores[0]) if single else (ids, scores)


Store = QdrantStore
__all__ = ["QdrantStore", "Store", "Originals", "datatype_for", "quantization_config"]
