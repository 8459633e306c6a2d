"""Weaviate: Vectro codes as Weaviate objects (the SDK's ``DataObject``: a UUID made from the uint64
id, float32 vectors reconstructed from the codes, the source shard and row as properties), a
collection whose HNSW index quantizes the way the vectro precision does (``Configure.VectorIndex
.Quantizer`` bq / sq / pq / rq), and near-vector search with exact local rescoring.

Needs ``pip install 'vectro[weaviate]'`` (weaviate-client 4). Weaviate takes float32 vectors only
and quantizes them itself. Not verified against a live server (embedded Weaviate downloads a binary,
which cannot run here): tested through the real SDK against a loopback REST + gRPC server that
records the requests and answers as Weaviate's API documents.

The examples of the store need a Weaviate server, which the docs test cannot start: they are
marked ``+SKIP`` (tests/python/test_integrations_weaviate.py runs the same calls through the SDK
against a loopback server). The functions' examples run.

Example:
    >>> import numpy as np, vectro, weaviate  # doctest: +SKIP
    >>> from vectro.integrations import weaviate as wv  # doctest: +SKIP
    >>> client = weaviate.connect_to_local()  # doctest: +SKIP
    >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
    >>> store = wv.Store(client, "Docs", metric="cosine")  # doctest: +SKIP
    >>> vectro.save("docs-int8.vqz", vectro.quantize_embeddings(X, "int8"))  # doctest: +SKIP
    >>> store.upload("docs-int8.vqz", vector_index_config=wv.quantization_config("int8").native).count  # doctest: +SKIP
    100
    >>> ids, scores = store.search(X[:2], k=3, rescore=wv.Originals("docs-int8.vqz"))  # doctest: +SKIP
    >>> ids[:, 0]  # doctest: +SKIP
    array([0, 1], dtype=uint64)
"""

from __future__ import annotations

import math
import os
import uuid
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
    import weaviate
    from numpy.typing import ArrayLike

    from .._codec import QuantizedEmbeddings
    from ._common import PrecisionLike, UploadData

EXTRA = "weaviate"
BATCH = 500  # objects per insert_many (one gRPC BatchObjects request)
SHARD_KEY, ROW_KEY = "vectro_shard", "vectro_row"


def _config():
    return lazy_import("weaviate.classes.config", EXTRA)


def _distance(metric: str):
    vd = _config().VectorDistances
    return {"ip": vd.DOT, "cosine": vd.COSINE, "l2": vd.L2_SQUARED}[metric]


def object_uuid(i: int) -> str:
    """The Weaviate UUID of a uint64 id: the id in the UUID's low 64 bits (reversible).

    Example:
        >>> from vectro.integrations import weaviate
        >>> weaviate.object_uuid(5), weaviate.object_uuid(2**64 - 1)
        ('00000000-0000-0000-0000-000000000005', '00000000-0000-0000-ffff-ffffffffffff')
    """
    return str(uuid.UUID(int=int(i)))


def id_of(u: str | uuid.UUID) -> int:
    """The uint64 id back from an :func:`object_uuid`; ValueError for a UUID vectro did not make.

    Example:
        >>> from vectro.integrations import weaviate
        >>> weaviate.id_of("00000000-0000-0000-0000-000000000005")
        5
        >>> weaviate.id_of("9b2f1c9e-0000-4000-8000-000000000005")
        Traceback (most recent call last):
        ...
        ValueError: object 9b2f1c9e-0000-4000-8000-000000000005 was not written by vectro (its UUID is not a uint64 id)
    """
    v = uuid.UUID(str(u)).int
    if v >> 64:
        raise ValueError(f"object {u} was not written by vectro (its UUID is not a uint64 id)")
    return v


def quantization_config(choice: PrecisionLike, *, metric: str = "ip", k: int = 10,
                        oversample: float | None = None) -> Plan:
    """Weaviate's HNSW index configuration for a vectro precision (a vectro.Choice, Codec or name):
    binary -> BQ; int8/uint8/int16 -> SQ (8-bit); int4 -> RQ at 4 bits; rabitq-B -> RQ at B bits
    (RaBitQ is what Weaviate's RQ implements), centred when the codec is; pq-MxB -> PQ with M
    segments; f16/bf16 -> no quantizer. The rescore limit is k x ``oversample``. ``native`` is the
    ``Configure.VectorIndex.hnsw(...)`` object for ``upload(vector_index_config=...)``.

    Example:
        >>> from vectro.integrations import weaviate
        >>> plan = weaviate.quantization_config("int8", k=10)
        >>> plan.vectors, plan.oversample, plan.native.quantizer.rescoreLimit   # SQ, 10 x 2 rescored
        ('float32', 2.0, 20)
    """
    cfg = _config().Configure
    check_metric(metric)
    p = precision_of(choice)
    base = p.split("-")[0]
    os_ = oversample or default_oversample(p)
    limit = int(math.ceil(k * os_))
    q = None
    if base == "binary":
        q = cfg.VectorIndex.Quantizer.bq(rescore_limit=limit)
    elif base in ("int8", "uint8", "int16"):
        q = cfg.VectorIndex.Quantizer.sq(rescore_limit=limit)
    elif base in ("int4", "rabitq"):
        bits = 4 if base == "int4" else int(p.split("-")[1]) if "-" in p else 4
        centred = bool(getattr(getattr(choice, "codec", choice), "center", False))
        q = cfg.VectorIndex.Quantizer.rq(bits=bits, rescore_limit=limit, centering=centred or None)
    elif base == "pq":
        segments = int(p[3:].split("x")[0])
        q = cfg.VectorIndex.Quantizer.pq(segments=segments)
    native = cfg.VectorIndex.hnsw(distance_metric=_distance(metric), quantizer=q)
    return Plan(precision="f16" if q is not None else (p if p in ("f16", "bf16") else "f16"),
                vectors="float32", oversample=os_ if q is not None else None, native=native,
                note="Weaviate takes float32 vectors and quantizes them in its index" if q is not None else
                "no quantizer: Weaviate keeps the float32 vectors")


def data_objects(src: Source, a: int, q: QuantizedEmbeddings | np.ndarray, *,
                 shard: str | None = None) -> list:
    """The SDK's DataObjects for rows [a, a + len(q)) of ``src``.

    Example:
        >>> import numpy as np
        >>> from vectro.integrations import Source, weaviate
        >>> src = Source(np.ones((3, 16), np.float32), ids=[7, 8, 9], payload={"lang": ["en", "de", "fr"]})
        >>> start, q = next(src.chunks(3))
        >>> obj = weaviate.data_objects(src, start, q)[1]
        >>> obj.uuid, obj.properties, len(obj.vector)
        ('00000000-0000-0000-0000-000000000008', {'vectro_row': 1, 'lang': 'de'}, 16)
    """
    DataObject = lazy_import("weaviate.classes.data", EXTRA).DataObject
    x = src.floats(q)
    out = []
    for j in range(len(x)):
        i = a + j
        props = {ROW_KEY: i} if shard is None else {SHARD_KEY: shard, ROW_KEY: i}
        for k, v in src.payload.items():
            val = v[i].item() if isinstance(v[i], np.generic) else v[i]
            if val is not None:
                props[k] = val
        out.append(DataObject(properties=props, uuid=object_uuid(src.ids[i]), vector=x[j].tolist()))
    return out


class WeaviateStore:
    """A Weaviate collection of Vectro codes: one self-provided vector per object, uuid from the
    uint64 id (:func:`object_uuid`), properties vectro_shard, vectro_row and the payload.

    ``client`` is a connected ``weaviate.WeaviateClient`` (v4).

    Example:
        >>> import numpy as np, vectro, weaviate  # doctest: +SKIP
        >>> from vectro.integrations import weaviate as wv  # doctest: +SKIP
        >>> client = weaviate.connect_to_local()  # doctest: +SKIP
        >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
        >>> store = wv.Store(client, "Docs", metric="cosine")  # doctest: +SKIP
        >>> store.upload(X, precision="int8").vectors     # Weaviate holds float32 reconstructions  # doctest: +SKIP
        'float32'
    """

    def __init__(self, client: weaviate.WeaviateClient, collection: str, *, metric: str = "ip") -> None:
        lazy_import("weaviate", EXTRA)
        if not isinstance(collection, str) or not collection[:1].isupper():
            raise ValueError(f"Weaviate collection names start with a capital letter, got {collection!r}")
        self.client, self.collection, self.metric = client, collection, check_metric(metric)

    @property
    def _col(self):
        return self.client.collections.get(self.collection)

    def count(self) -> int:
        """The number of objects in the collection.

        Example:
            >>> import numpy as np, vectro, weaviate  # doctest: +SKIP
            >>> from vectro.integrations import weaviate as wv  # doctest: +SKIP
            >>> client = weaviate.connect_to_local()  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> store = wv.Store(client, "Docs")  # doctest: +SKIP
            >>> _ = store.upload(X); store.count()  # doctest: +SKIP
            100
        """
        return int(self._col.aggregate.over_all(total_count=True).total_count)

    def drop(self) -> None:
        """Deletes the collection if it exists.

        Example:
            >>> import numpy as np, vectro, weaviate  # doctest: +SKIP
            >>> from vectro.integrations import weaviate as wv  # doctest: +SKIP
            >>> client = weaviate.connect_to_local()  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> store = wv.Store(client, "Docs")  # doctest: +SKIP
            >>> _ = store.upload(X)  # doctest: +SKIP
            >>> store.drop(); client.collections.exists("Docs")  # doctest: +SKIP
            False
        """
        if self.client.collections.exists(self.collection):
            self.client.collections.delete(self.collection)

    def _existing_dim(self) -> int | None:
        res = self._col.query.fetch_objects(limit=1, include_vector=True)
        if not res.objects:
            return None
        v = res.objects[0].vector
        v = v.get("default", next(iter(v.values()), None)) if isinstance(v, dict) else v
        return None if v is None else len(v)

    def upload(self, data: UploadData, ids: ArrayLike | None = None, *, payload: dict | None = None,
               precision: str | None = None, vectors: str = "auto", shard: str | None = None,
               vector_index_config: object | None = None,
               batch_size: int = BATCH) -> UploadReport:
        """Inserts the rows as objects (collection created when absent, with
        ``vector_index_config``, e.g. a Plan's ``native``; default HNSW with the store's metric).
        Float32 reconstructions are sent (Weaviate has no other vector type). The dimension of an
        existing collection, ids and payload are checked first. Weaviate has no transactions: a
        failed batch, or objects the server refused, raise :class:`PartialUploadError` with the ids
        written; a collection this call created is deleted again instead.

        Example:
            >>> import numpy as np, vectro, weaviate  # doctest: +SKIP
            >>> from vectro.integrations import weaviate as wv  # doctest: +SKIP
            >>> client = weaviate.connect_to_local()  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> store = wv.Store(client, "Docs", metric="cosine")  # doctest: +SKIP
            >>> plan = wv.quantization_config("binary")  # doctest: +SKIP
            >>> store.upload(vectro.quantize_embeddings(X, "binary"), vector_index_config=plan.native,  # doctest: +SKIP
            ...              payload={"lang": ["en"] * 50 + ["de"] * 50})  # doctest: +SKIP
            UploadReport(name='Docs', count=100, dim=16, precision='binary', vectors='float32', detail={'shard': None})
        """
        wc = _config()
        src = Source(data, ids, payload, precision=precision)
        if check_vectors(vectors) not in ("auto", "float32"):
            raise ValueError("Weaviate takes float32 vectors only (it quantizes them itself): vectors='float32'")
        if shard is None and src.reader is not None:
            shard = os.path.basename(src.reader.path)
        for k in src.payload:
            if k in (SHARD_KEY, ROW_KEY) or not k[:1].isalpha():
                raise ValueError(f"payload key {k!r} is vectro's own or not a Weaviate property name")
        created = not self.client.collections.exists(self.collection)
        if not created:
            have = self._existing_dim()
            if have is not None and have != src.dim:
                raise ValueError(f"collection {self.collection!r} holds {have}-dimensional vectors, this upload "
                                 f"{src.dim}; nothing was written")
        else:
            vic = vector_index_config or wc.Configure.VectorIndex.hnsw(distance_metric=_distance(self.metric))
            self.client.collections.create(self.collection,
                                           vector_config=wc.Configure.Vectors.self_provided(vector_index_config=vic))
        col = self._col
        written = []
        try:
            for a, q in src.chunks(batch_size):
                res = col.data.insert_many(data_objects(src, a, q, shard=shard))
                ids_b = src.ids[a:a + len(q)]
                if res.errors:
                    bad = sorted(res.errors)
                    ok = np.delete(ids_b, bad)
                    written.append(ok)
                    raise RuntimeError(f"Weaviate refused {len(bad)} objects, e.g. row {a + bad[0]}: "
                                       f"{res.errors[bad[0]].message}")
                written.append(ids_b)
        except Exception as e:
            done = np.concatenate(written) if written else np.empty(0, np.uint64)
            if created:
                self.client.collections.delete(self.collection)
                raise RuntimeError(f"upload to new collection {self.collection!r} failed after {len(done)} "
                                   "objects; the collection was deleted again") from e
            raise PartialUploadError(f"upload to collection {self.collection!r} failed", done) from e
        return UploadReport(self.collection, src.n, src.dim, src.precision, "float32", {"shard": shard})

    def search(self, queries: ArrayLike, k: int = 10, *, oversample: float | None = None,
               rescore: Originals | None = None, filters: object | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top k per query (one near_vector query each): (ids uint64, scores float32) as
        vectro.Index gives them, from Weaviate's distances (dot: -distance, cosine: 1 - distance,
        l2-squared: distance); with ``rescore`` (an :class:`Originals`) k x ``oversample``
        (default 4) candidates are rescored exactly. ``filters``: the SDK's ``Filter``.

        Example:
            >>> import numpy as np, vectro, weaviate  # doctest: +SKIP
            >>> from vectro.integrations import weaviate as wv  # doctest: +SKIP
            >>> client = weaviate.connect_to_local()  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> from weaviate.classes.query import Filter  # doctest: +SKIP
            >>> store = wv.Store(client, "Docs", metric="cosine")  # doctest: +SKIP
            >>> _ = store.upload(X, precision="int8", payload={"lang": ["en"] * 50 + ["de"] * 50})  # doctest: +SKIP
            >>> ids, scores = store.search(X[:2], k=3, rescore=wv.Originals(X))  # doctest: +SKIP
            >>> ids[:, 0], scores[:, 0].round(2)        # each row finds itself, cosine 1  # doctest: +SKIP
            (array([0, 1], dtype=uint64), array([1., 1.], dtype=float32))
            >>> store.search(X[0], k=2, filters=Filter.by_property("lang").equal("de"))[0] >= 50  # doctest: +SKIP
            array([ True,  True])
        """
        mq = lazy_import("weaviate.classes.query", EXTRA).MetadataQuery
        q, single = as_queries(queries, None)
        c = candidates_for(k, (oversample or 4.0) if rescore is not None else None)
        conv = {"ip": lambda dd: -dd, "cosine": lambda dd: 1.0 - dd, "l2": lambda dd: dd}[self.metric]
        rows = []
        col = self._col
        for row in q:
            res = col.query.near_vector(near_vector=row.tolist(), limit=c, filters=filters,
                                        return_metadata=mq(distance=True), return_properties=[])
            rows.append([(id_of(o.uuid), conv(float(o.metadata.distance))) for o in res.objects])
        ids, scores = pad(rows, c)
        if rescore is not None:
            ids, scores = rescore.rescore(q, ids, k, self.metric)
        return (ids[0], scores[0]) if single else (ids, scores)


Store = WeaviateStore
__all__ = ["WeaviateStore", "Store", "Originals", "data_objects", "id_of", "object_uuid", "quantization_config"]
