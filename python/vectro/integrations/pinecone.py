"""Pinecone: Vectro codes as Pinecone upserts (string ids, float32 dense values reconstructed from
the codes, metadata with the source shard and row), batched within Pinecone's request limits, and
queries whose candidates can be rescored exactly and locally.

Needs ``pip install 'vectro[pinecone]'`` (the ``pinecone`` SDK). Pinecone takes float32 dense
vectors only and quantizes inside the service, so Vectro's saving is on your side (a .vqz for
rescoring, local copies), not in the index. Not verified against the live service: tested through
the real SDK against a loopback HTTP server that answers as Pinecone's API reference documents.

The examples of the store need the Pinecone service (an API key), which the docs test cannot
reach: they are marked ``+SKIP`` (tests/python/test_integrations_pinecone.py runs the same calls
through the SDK against a loopback server). The functions' examples run.

Example:
    >>> import numpy as np, vectro  # doctest: +SKIP
    >>> from pinecone import Pinecone  # doctest: +SKIP
    >>> from vectro.integrations import pinecone as pc  # doctest: +SKIP
    >>> index = Pinecone(api_key="...").Index(host="https://docs-xxxx.svc.pinecone.io")  # doctest: +SKIP
    >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
    >>> store = pc.Store(index, namespace="docs", metric="cosine")  # doctest: +SKIP
    >>> vectro.save("docs-f16.vqz", vectro.quantize_embeddings(X, "f16"))  # doctest: +SKIP
    >>> store.upload("docs-f16.vqz").count  # doctest: +SKIP
    100
    >>> ids, scores = store.search(X[:2], k=3, rescore=pc.Originals("docs-f16.vqz"))  # doctest: +SKIP
    >>> ids[:, 0]  # doctest: +SKIP
    array([0, 1], dtype=uint64)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
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

    from ._common import PrecisionLike, UploadData

EXTRA = "pinecone"
# Pinecone's documented limits: an upsert carries at most 1,000 vectors and 2 MB; metadata is at
# most 40 KB a record; ids at most 512 characters; dense vectors at most 20,000 dimensions; a
# query's top_k at most 10,000.
MAX_BATCH_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_DIM = 20000
MAX_TOP_K = 10000
PINECONE_METRIC = {"ip": "dotproduct", "cosine": "cosine", "l2": "euclidean"}
SHARD_KEY, ROW_KEY = "vectro_shard", "vectro_row"


def index_spec(dim: int, metric: str = "ip") -> dict:
    """Keyword arguments of ``Pinecone.create_index`` (besides name and spec) for these vectors.

    Example:
        >>> from vectro.integrations import pinecone
        >>> pinecone.index_spec(384, "cosine")
        {'dimension': 384, 'metric': 'cosine', 'vector_type': 'dense'}
    """
    check_metric(metric)
    if not 1 <= dim <= MAX_DIM:
        raise ValueError(f"Pinecone dense vectors have 1..{MAX_DIM} dimensions, got {dim}")
    return {"dimension": int(dim), "metric": PINECONE_METRIC[metric], "vector_type": "dense"}


def quantization_config(choice: PrecisionLike, *, metric: str = "ip", oversample: float | None = None) -> Plan:
    """Pinecone has no quantization setting: it stores float32 and quantizes internally. The plan
    uploads reconstructions of the chosen codes (f16 codes are exact float values) and keeps
    ``oversample`` for local rescoring from a .vqz of the codes.

    Example:
        >>> from vectro.integrations import pinecone
        >>> plan = pinecone.quantization_config("binary", metric="cosine")
        >>> plan.vectors, plan.oversample, plan.native
        ('float32', 10.0, {'metric': 'cosine', 'vector_type': 'dense'})
    """
    check_metric(metric)
    p = precision_of(choice)
    return Plan(precision=p, vectors="float32", oversample=oversample or default_oversample(p),
                native={"metric": PINECONE_METRIC[metric], "vector_type": "dense"},
                note="Pinecone takes float32 dense vectors only; rescore locally from the codes "
                     "(Originals) for exact scores")


def _meta_value(k: str, v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v):
        return list(v)
    raise TypeError(f"payload {k!r}: Pinecone metadata holds strings, numbers, booleans or lists of strings, "
                    f"got {type(v).__name__}")


def upsert_batches(src: Source, vectors: np.ndarray | None = None, *, shard: str | None = None,
                   max_vectors: int = MAX_BATCH_VECTORS,
                   max_bytes: int = MAX_REQUEST_BYTES) -> Iterator[tuple[np.ndarray, list[dict]]]:
    """Yields (ids, list of Pinecone vector dicts {"id", "values", "metadata"}) whose JSON stays
    within ``max_vectors`` and ``max_bytes`` a request. Every record is checked (metadata size,
    value types) as it is built; :meth:`PineconeStore.upload` builds them all before sending.

    Example:
        >>> import numpy as np
        >>> from vectro.integrations import Source, pinecone
        >>> src = Source(np.ones((2500, 16), np.float32), payload={"lang": ["en"] * 2500})
        >>> [len(records) for ids, records in pinecone.upsert_batches(src)]
        [1000, 1000, 500]
        >>> next(pinecone.upsert_batches(src))[1][7]["id"], next(pinecone.upsert_batches(src))[1][7]["metadata"]
        ('7', {'vectro_row': 7, 'lang': 'en'})
    """
    batch, ids, size = [], [], 64  # 64: the request's own JSON around the vectors
    for a, q in src.chunks(max_vectors):
        x = src.floats(q)
        for j in range(len(x)):
            i = a + j
            meta = {ROW_KEY: i} if shard is None else {SHARD_KEY: shard, ROW_KEY: i}
            for k, v in src.payload.items():
                if v[i] is not None:  # Pinecone has no null: a missing value is an absent key
                    meta[k] = _meta_value(k, v[i])
            m_bytes = len(json.dumps(meta))
            if m_bytes > MAX_METADATA_BYTES:
                raise ValueError(f"row {i}: metadata of {m_bytes} bytes is over Pinecone's {MAX_METADATA_BYTES}")
            rec = {"id": str(int(src.ids[i])), "values": x[j].tolist(), "metadata": meta}
            n = len(json.dumps(rec)) + 2
            if batch and (len(batch) == max_vectors or size + n > max_bytes):
                yield np.array(ids, np.uint64), batch
                batch, ids, size = [], [], 64
            if size + n > max_bytes:
                raise ValueError(f"row {i} alone is {n} bytes, over Pinecone's {max_bytes} a request")
            batch.append(rec)
            ids.append(src.ids[i])
            size += n
    if batch:
        yield np.array(ids, np.uint64), batch


class PineconeStore:
    """One namespace of a Pinecone index, holding Vectro codes as float32 reconstructions with
    string ids (the uint64 ids in decimal).

    ``index`` is the SDK's data-plane object, ``Pinecone(api_key=...).Index(host=...)``. The
    index's metric is fixed when it is created (:func:`index_spec`); ``metric`` here must match it.

    Example:
        >>> import numpy as np, vectro  # doctest: +SKIP
        >>> from pinecone import Pinecone  # doctest: +SKIP
        >>> from vectro.integrations import pinecone as pc  # doctest: +SKIP
        >>> index = Pinecone(api_key="...").Index(host="https://docs-xxxx.svc.pinecone.io")  # doctest: +SKIP
        >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
        >>> store = pc.Store(index, namespace="docs", metric="cosine")  # doctest: +SKIP
        >>> store.upload(X, precision="int8").vectors     # Pinecone holds float32 reconstructions  # doctest: +SKIP
        'float32'
    """

    def __init__(self, index: object, namespace: str = "", *, metric: str = "ip") -> None:
        lazy_import("pinecone", EXTRA)
        self.index, self.namespace, self.metric = index, namespace, check_metric(metric)

    def stats(self) -> dict:
        """The index's ``describe_index_stats()`` as a dict.

        Example:
            >>> import numpy as np, vectro  # doctest: +SKIP
            >>> from pinecone import Pinecone  # doctest: +SKIP
            >>> from vectro.integrations import pinecone as pc  # doctest: +SKIP
            >>> index = Pinecone(api_key="...").Index(host="https://docs-xxxx.svc.pinecone.io")  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> _ = pc.Store(index, namespace="docs").upload(X)  # doctest: +SKIP
            >>> pc.Store(index, namespace="docs").stats()["namespaces"]  # doctest: +SKIP
            {'docs': {'vector_count': 100}}
        """
        s = self.index.describe_index_stats()
        return s.to_dict() if hasattr(s, "to_dict") else dict(s)

    @property
    def dim(self) -> int | None:
        """The index's dimension (None when unknown).

        Example:
            >>> import numpy as np, vectro  # doctest: +SKIP
            >>> from pinecone import Pinecone  # doctest: +SKIP
            >>> from vectro.integrations import pinecone as pc  # doctest: +SKIP
            >>> index = Pinecone(api_key="...").Index(host="https://docs-xxxx.svc.pinecone.io")  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> store = pc.Store(index, namespace="docs")  # doctest: +SKIP
            >>> _ = store.upload(X); store.dim  # doctest: +SKIP
            16
        """
        d = self.stats().get("dimension")
        return int(d) if d else None

    def count(self) -> int:
        """The number of vectors in this store's namespace.

        Example:
            >>> import numpy as np, vectro  # doctest: +SKIP
            >>> from pinecone import Pinecone  # doctest: +SKIP
            >>> from vectro.integrations import pinecone as pc  # doctest: +SKIP
            >>> index = Pinecone(api_key="...").Index(host="https://docs-xxxx.svc.pinecone.io")  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> store = pc.Store(index, namespace="docs")  # doctest: +SKIP
            >>> _ = store.upload(X); store.count()  # doctest: +SKIP
            100
        """
        ns = self.stats().get("namespaces") or {}
        entry = ns.get(self.namespace) or {}
        return int(entry.get("vector_count", entry.get("vectorCount", 0)))

    def drop(self) -> None:
        """Deletes every vector of the namespace (the index itself stays).

        Example:
            >>> import numpy as np, vectro  # doctest: +SKIP
            >>> from pinecone import Pinecone  # doctest: +SKIP
            >>> from vectro.integrations import pinecone as pc  # doctest: +SKIP
            >>> index = Pinecone(api_key="...").Index(host="https://docs-xxxx.svc.pinecone.io")  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> store = pc.Store(index, namespace="docs")  # doctest: +SKIP
            >>> _ = store.upload(X)  # doctest: +SKIP
            >>> store.drop(); store.count()  # doctest: +SKIP
            0
        """
        self.index.delete(delete_all=True, namespace=self.namespace)

    def upload(self, data: UploadData, ids: ArrayLike | None = None, *, payload: dict | None = None,
               precision: str | None = None, vectors: str = "auto", shard: str | None = None,
               max_vectors: int = MAX_BATCH_VECTORS, max_bytes: int = MAX_REQUEST_BYTES) -> UploadReport:
        """Upserts the rows in requests of at most ``max_vectors`` vectors and ``max_bytes`` of
        JSON. Every request is built and checked (dimension against the index, ids, metadata)
        before the first is sent. Pinecone has no transactions: a failed request raises
        :class:`PartialUploadError` with the ids written before it.

        Example:
            >>> import numpy as np, vectro  # doctest: +SKIP
            >>> from pinecone import Pinecone  # doctest: +SKIP
            >>> from vectro.integrations import pinecone as pc  # doctest: +SKIP
            >>> index = Pinecone(api_key="...").Index(host="https://docs-xxxx.svc.pinecone.io")  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> store = pc.Store(index, namespace="docs")  # doctest: +SKIP
            >>> q = vectro.quantize_embeddings(X, "int8")  # doctest: +SKIP
            >>> store.upload(q, payload={"lang": ["en"] * 50 + ["de"] * 50})  # doctest: +SKIP
            UploadReport(name='docs', count=100, dim=16, precision='int8', vectors='float32',
                         detail={'requests': 1, 'shard': None})
        """
        src = Source(data, ids, payload, precision=precision)
        if check_vectors(vectors) not in ("auto", "float32"):
            raise ValueError("Pinecone stores float32 dense vectors only: vectors='float32' (or 'auto')")
        if src.dim > MAX_DIM:
            raise ValueError(f"Pinecone dense vectors have at most {MAX_DIM} dimensions, got {src.dim}")
        if shard is None and src.reader is not None:
            shard = os.path.basename(src.reader.path)
        for k in src.payload:
            if k in (SHARD_KEY, ROW_KEY):
                raise ValueError(f"payload key {k!r} is vectro's own")
        have = self.dim
        if have is not None and have != src.dim:
            raise ValueError(f"the Pinecone index holds {have} dimensions, this upload {src.dim}; nothing was written")
        batches = list(upsert_batches(src, shard=shard, max_vectors=max_vectors, max_bytes=max_bytes))
        written = []
        for b_ids, recs in batches:
            try:
                self.index.upsert(vectors=recs, namespace=self.namespace)
            except Exception as e:
                done = np.concatenate(written) if written else np.empty(0, np.uint64)
                raise PartialUploadError(f"Pinecone upsert to namespace {self.namespace!r} failed", done) from e
            written.append(b_ids)
        return UploadReport(self.namespace, src.n, src.dim, src.precision, "float32",
                            {"requests": len(batches), "shard": shard})

    def search(self, queries: ArrayLike, k: int = 10, *, oversample: float | None = None,
               rescore: Originals | None = None, filter: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top k per query, one Pinecone query each: (ids uint64, scores float32), Pinecone's
        scores (dot product, cosine; for "euclidean" its own distance score) unless ``rescore``
        (an :class:`Originals`) rescores k x ``oversample`` (default 4) candidates exactly.
        ``filter``: Pinecone's metadata filter.

        Example:
            >>> import numpy as np, vectro  # doctest: +SKIP
            >>> from pinecone import Pinecone  # doctest: +SKIP
            >>> from vectro.integrations import pinecone as pc  # doctest: +SKIP
            >>> index = Pinecone(api_key="...").Index(host="https://docs-xxxx.svc.pinecone.io")  # doctest: +SKIP
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)  # doctest: +SKIP
            >>> store = pc.Store(index, namespace="docs", metric="cosine")  # doctest: +SKIP
            >>> _ = store.upload(X, precision="int8", payload={"lang": ["en"] * 50 + ["de"] * 50})  # doctest: +SKIP
            >>> ids, scores = store.search(X[:2], k=3, rescore=pc.Originals(X))  # doctest: +SKIP
            >>> ids[:, 0], scores[:, 0].round(2)        # each row finds itself, cosine 1  # doctest: +SKIP
            (array([0, 1], dtype=uint64), array([1., 1.], dtype=float32))
            >>> store.search(X[0], k=2, filter={"lang": {"$eq": "de"}})[0] >= 50  # doctest: +SKIP
            array([ True,  True])
        """
        q, single = as_queries(queries, None)
        c = candidates_for(k, (oversample or 4.0) if rescore is not None else None)
        if c > MAX_TOP_K:
            raise ValueError(f"Pinecone returns at most {MAX_TOP_K} matches a query; k x oversample is {c}")
        rows = []
        for row in q:
            r = self.index.query(vector=row.tolist(), top_k=c, namespace=self.namespace, filter=filter,
                                 include_values=False, include_metadata=False)
            rows.append([(int(m.id), float(m.score)) for m in r.matches])
        ids, scores = pad(rows, c)
        if rescore is not None:
            ids, scores = rescore.rescore(q, ids, k, self.metric)
        return (ids[0], scores[0]) if single else (ids, scores)


Store = PineconeStore
__all__ = ["PineconeStore", "Store", "Originals", "index_spec", "quantization_config", "upsert_batches"]
