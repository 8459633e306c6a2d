"""Milvus: Vectro codes in a Milvus collection (FLOAT16_VECTOR for f16, BFLOAT16_VECTOR for bf16,
BINARY_VECTOR searched by Hamming distance for binary, FLOAT_VECTOR reconstructions otherwise),
inserted in batches of row lists, searched in Milvus with optional exact local rescoring; and the
Milvus index (IVF_SQ8, IVF_PQ, BIN_IVF_FLAT, ...) that matches a vectro precision.

Needs ``pip install 'vectro[milvus]'`` (pymilvus 2.5 and milvus-lite 2.5, whose embedded server
takes float16, bfloat16 and binary vectors; milvus-lite 3 takes float vectors only). Tested with
milvus-lite 2.5.1, which builds FLAT / BIN_FLAT indexes only; a Milvus server builds the rest.

The examples of the classes and methods below use the ``client`` this one opens; the docs test
opens one for the module and drops its collections between examples (a milvus-lite server keeps
its file open until the process ends, so the examples share one).

Example:
    >>> import numpy as np, vectro
    >>> from pymilvus import MilvusClient
    >>> from vectro.integrations import milvus
    >>> client = MilvusClient("./milvus.db")              # milvus-lite: a server in a local file
    >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
    >>> store = milvus.Store(client, "binary_docs", metric="ip")
    >>> store.upload(vectro.quantize_embeddings(X, "binary")).detail["field_type"]
    'BINARY_VECTOR'
    >>> ids, scores = store.search(X[:2], k=3, oversample=10, rescore=milvus.Originals(X))
    >>> ids[:, 0]
    array([0, 1], dtype=uint64)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    MAX_INT64,
    Originals,
    PartialUploadError,
    Plan,
    Source,
    UploadReport,
    as_queries,
    candidates_for,
    centred_codes_error,
    check_metric,
    check_vectors,
    default_oversample,
    lazy_import,
    pad,
    precision_of,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from pymilvus import MilvusClient

    from ._common import PrecisionLike, UploadData

EXTRA = "milvus"
BATCH = 1000  # rows per insert: lists of row dicts insert fast, one huge NumPy batch does not
FIELD, ID = "vector", "id"
SHARD_KEY, ROW_KEY = "vectro_shard", "vectro_row"
MILVUS_METRIC = {"ip": "IP", "cosine": "COSINE", "l2": "L2"}
MAX_DIM = 32768  # Milvus's default proxy.maxDimension


def _pymilvus():
    return lazy_import("pymilvus", EXTRA)


def field_type(precision: str, dim: int, vectors: str, centred: bool = False) -> tuple[str, str]:
    """(Milvus vector type name, what is stored: "codes" or "float32"/"float16" reconstructions);
    ``centred``: codes of a codec with center=True, which Milvus cannot hold as codes.

    Example:
        >>> from vectro.integrations import milvus
        >>> milvus.field_type("f16", 384, "auto"), milvus.field_type("binary", 384, "auto")
        (('FLOAT16_VECTOR', 'codes'), ('BINARY_VECTOR', 'codes'))
        >>> milvus.field_type("int8", 384, "auto")    # no 8-bit vectors: float32 reconstructions
        ('FLOAT_VECTOR', 'float32')
    """
    check_vectors(vectors)
    if precision == "float32":  # unquantized floats
        return ("FLOAT16_VECTOR", "float16") if vectors == "float16" else ("FLOAT_VECTOR", "float32")
    native = {"f16": "FLOAT16_VECTOR", "bf16": "BFLOAT16_VECTOR", "binary": "BINARY_VECTOR"}.get(precision)
    if centred:
        if vectors == "codes":
            raise centred_codes_error(precision, "Milvus")
        native = None
    if native == "BINARY_VECTOR" and dim % 8:
        if vectors == "codes":
            raise ValueError(f"Milvus binary vectors need a dimension divisible by 8, got {dim}")
        native = None
    if vectors == "codes":
        if native is None:
            raise ValueError(f"Milvus cannot hold {precision} codes: its vector types are float32, float16, "
                             "bfloat16 and binary; store reconstructions with vectors='float16' or 'float32', "
                             "or let Milvus quantize (quantization_config)")
        return native, "codes"
    if vectors == "auto":
        return (native, "codes") if native else ("FLOAT_VECTOR", "float32")
    if vectors == "float16":
        return "FLOAT16_VECTOR", "codes" if precision == "f16" else "float16"
    return "FLOAT_VECTOR", "float32"


def quantization_config(choice: PrecisionLike, *, metric: str = "ip", dim: int | None = None,
                        oversample: float | None = None) -> Plan:
    """The Milvus index for a vectro precision (a vectro.Choice, Codec or name), for a Milvus
    server: binary -> Vectro's binary codes in a BINARY_VECTOR field, BIN_IVF_FLAT with HAMMING,
    rescored; int8/uint8/int4 -> float16 vectors with IVF_SQ8 (Milvus's 8-bit scalar
    quantizer); pq-MxB -> IVF_PQ with m=M, nbits=B; f16/bf16 -> their own vector types, HNSW.
    ``native`` is the keyword arguments of ``IndexParams.add_index``. milvus-lite builds FLAT
    indexes whatever is asked.

    Example:
        >>> from vectro.integrations import milvus
        >>> plan = milvus.quantization_config("int8")
        >>> plan.precision, plan.oversample, plan.native
        ('f16', 2.0, {'field_name': 'vector', 'index_type': 'IVF_SQ8', 'metric_type': 'IP', 'params': {'nlist': 1024}})
    """
    check_metric(metric)
    p = precision_of(choice)
    base = p.split("-")[0]
    mt = MILVUS_METRIC[metric]
    if base == "binary":
        return Plan("binary", "codes", oversample or default_oversample(p),
                    {"field_name": FIELD, "index_type": "BIN_IVF_FLAT", "metric_type": "HAMMING",
                     "params": {"nlist": 1024}},
                    "Vectro's binary codes are Milvus binary vectors; Hamming candidates, rescored with originals")
    if base == "pq":
        mm, bits = (int(t) for t in p[3:].split("x"))
        return Plan("f16", "codes", oversample or default_oversample(p),
                    {"field_name": FIELD, "index_type": "IVF_PQ", "metric_type": mt,
                     "params": {"nlist": 1024, "m": mm, "nbits": bits}},
                    "Milvus trains its own product quantizer on the float16 vectors")
    if base in ("int8", "uint8", "int4", "int16", "rabitq"):
        return Plan("f16", "codes", oversample or default_oversample(p),
                    {"field_name": FIELD, "index_type": "IVF_SQ8", "metric_type": mt, "params": {"nlist": 1024}},
                    "Milvus quantizes the float16 vectors to 8 bits in its IVF_SQ8 index")
    return Plan(p if p in ("f16", "bf16") else "f16", "codes", None,
                {"field_name": FIELD, "index_type": "HNSW", "metric_type": mt,
                 "params": {"M": 16, "efConstruction": 200}},
                "half-precision vectors hold the codes exactly")


class MilvusStore:
    """A Milvus collection of Vectro codes: ``id`` INT64 primary key (ids < 2**63), ``vector``,
    and dynamic fields for the source shard and row and the caller's payload.

    ``client`` is a ``pymilvus.MilvusClient`` (a server URI or a milvus-lite file).

    Example:
        >>> import numpy as np, vectro
        >>> from vectro.integrations import milvus
        >>> # client = pymilvus.MilvusClient("./milvus.db"), as in the module's example
        >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
        >>> store = milvus.Store(client, "docs", metric="cosine")
        >>> store.upload(vectro.quantize_embeddings(X, "f16"))
        UploadReport(name='docs', count=100, dim=16, precision='f16', vectors='codes',
                     detail={'field_type': 'FLOAT16_VECTOR', 'shard': None})
        >>> store.search(X[0], k=3)[0]
        array([ 0, 85, 97], dtype=uint64)
    """

    def __init__(self, client: MilvusClient, collection: str, *, metric: str = "ip") -> None:
        _pymilvus()
        if not isinstance(collection, str) or not collection:
            raise ValueError(f"collection must be a non-empty name, got {collection!r}")
        self.client, self.collection, self.metric = client, collection, check_metric(metric)

    def _field(self) -> tuple[str, int, str] | None:
        """(vector type name, dim, index metric) of the existing collection, or None."""
        if not self.client.has_collection(self.collection):
            return None
        desc = self.client.describe_collection(self.collection)
        vf = [f for f in desc["fields"] if f["name"] == FIELD]
        if not vf:
            raise ValueError(f"collection {self.collection!r} has no {FIELD!r} field: it was not made by vectro")
        dtype = vf[0]["type"].name
        dim = int(vf[0]["params"]["dim"])
        metric = None
        if self.client.list_indexes(self.collection):
            metric = self.client.describe_index(self.collection, FIELD).get("metric_type")
        return dtype, dim, metric

    @property
    def dim(self) -> int | None:
        """The vector field's dimension (None before the collection exists).

        Example:
            >>> import numpy as np, vectro
            >>> from vectro.integrations import milvus
            >>> # client = pymilvus.MilvusClient("./milvus.db"), as in the module's example
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = milvus.Store(client, "docs")
            >>> store.dim is None
            True
            >>> _ = store.upload(X); store.dim
            16
        """
        f = self._field()
        return None if f is None else f[1]

    def count(self) -> int:
        """The number of entities in the collection.

        Example:
            >>> import numpy as np, vectro
            >>> from vectro.integrations import milvus
            >>> # client = pymilvus.MilvusClient("./milvus.db"), as in the module's example
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = milvus.Store(client, "docs")
            >>> _ = store.upload(X, ids=np.arange(100, 200)); store.count()
            100
        """
        res = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])

    def drop(self) -> None:
        """Drops the collection if it exists.

        Example:
            >>> import numpy as np, vectro
            >>> from vectro.integrations import milvus
            >>> # client = pymilvus.MilvusClient("./milvus.db"), as in the module's example
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = milvus.Store(client, "docs")
            >>> _ = store.upload(X)
            >>> store.drop(); client.has_collection("docs")
            False
        """
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)
        self._forget_schema()

    def _forget_schema(self) -> None:
        # pymilvus 2.5 caches each collection's schema by name and keeps it across drop_collection,
        # so rows for a collection made again under the same name with another vector type would
        # be encoded for the old type. Its cache is private: where it is absent there is nothing
        # to forget.
        try:
            cache = self.client._get_connection().schema_cache
        except AttributeError:
            return
        cache.pop(self.collection, None)

    def _metric_for(self, dtype: str) -> str:
        return "HAMMING" if dtype == "BINARY_VECTOR" else MILVUS_METRIC[self.metric]

    def upload(self, data: UploadData, ids: ArrayLike | None = None, *, payload: dict | None = None,
               precision: str | None = None, vectors: str = "auto", shard: str | None = None,
               index_params: dict | None = None,
               batch_size: int = BATCH) -> UploadReport:
        """Inserts the rows (collection created when absent, with a FLAT / BIN_FLAT index unless
        ``index_params`` (keyword arguments of ``add_index``, e.g. a Plan's ``native``) say
        otherwise).

        ``vectors``: "auto" (f16, bf16 and binary codes as themselves, else float32
        reconstructions), "codes", "float16" or "float32". Ids must be < 2**63 (INT64) and not
        in the collection yet (Milvus would keep both copies): checked, with dimension, type and
        metric, before anything is written. Milvus has no transactions: if a batch fails, a
        collection this call created is dropped again, and in an existing one
        :class:`PartialUploadError` says which ids were written.

        Example:
            >>> import numpy as np, vectro
            >>> from vectro.integrations import milvus
            >>> # client = pymilvus.MilvusClient("./milvus.db"), as in the module's example
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> vectro.save("docs.vqz", vectro.quantize_embeddings(X, "int8"), ids=np.arange(100) * 10)
            >>> store = milvus.Store(client, "articles")
            >>> report = store.upload("docs.vqz", payload={"lang": ["en"] * 50 + ["de"] * 50})
            >>> report.vectors, report.detail      # int8 codes: Milvus holds their reconstructions
            ('float32', {'field_type': 'FLOAT_VECTOR', 'shard': 'docs.vqz'})
        """
        pm = _pymilvus()
        src = Source(data, ids, payload, precision=precision, max_id=MAX_INT64)
        dtype, held = field_type(src.precision, src.dim, vectors, src.centred)
        if src.dim > MAX_DIM:
            raise ValueError(f"Milvus vectors hold at most {MAX_DIM} dimensions, got {src.dim}")
        if shard is None and src.reader is not None:
            shard = os.path.basename(src.reader.path)
        for k in src.payload:
            if k in (SHARD_KEY, ROW_KEY, ID, FIELD):
                raise ValueError(f"payload key {k!r} is vectro's own")
        have = self._field()
        if have is not None:
            if have[:2] != (dtype, src.dim) or (have[2] and have[2] != self._metric_for(dtype)):
                raise ValueError(f"collection {self.collection!r} holds {have[0]} of {have[1]} dims ({have[2]}); "
                                 f"this upload {dtype} of {src.dim} dims ({self._metric_for(dtype)}); "
                                 "nothing was written")
            self._check_new_ids(src.ids)
        else:
            schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
            schema.add_field(ID, pm.DataType.INT64, is_primary=True)
            schema.add_field(FIELD, getattr(pm.DataType, dtype), dim=src.dim)
            ip = self.client.prepare_index_params()
            ip.add_index(**(index_params or {"field_name": FIELD, "metric_type": self._metric_for(dtype),
                                             "index_type": "BIN_FLAT" if dtype == "BINARY_VECTOR" else "FLAT"}))
            self.client.create_collection(self.collection, schema=schema, index_params=ip)
            self._forget_schema()
        conv = _encoder(dtype)
        written = []
        try:
            for a, q in src.chunks(batch_size):
                if held == "codes":
                    vecs = q.codes
                else:
                    vecs = src.floats(q)
                    if held == "float16":
                        vecs = vecs.astype(np.float16)
                rows = []
                for j in range(len(q)):
                    r = {ID: int(src.ids[a + j]), FIELD: conv(vecs[j]), ROW_KEY: a + j}
                    if shard is not None:
                        r[SHARD_KEY] = shard
                    for k, v in src.payload.items():
                        val = v[a + j]
                        r[k] = val.item() if isinstance(val, np.generic) else val
                    rows.append(r)
                self.client.insert(self.collection, rows)
                written.append(src.ids[a:a + len(q)])
        except Exception as e:
            done = np.concatenate(written) if written else np.empty(0, np.uint64)
            if have is None:
                self.client.drop_collection(self.collection)
                raise RuntimeError(f"upload to new collection {self.collection!r} failed after {len(done)} rows; "
                                   "the collection was dropped again") from e
            raise PartialUploadError(f"upload to collection {self.collection!r} failed", done) from e
        return UploadReport(self.collection, src.n, src.dim, src.precision, held, {"field_type": dtype,
                                                                                   "shard": shard})

    def _check_new_ids(self, ids: np.ndarray, chunk: int = 4096) -> None:
        for a in range(0, len(ids), chunk):
            part = [int(i) for i in ids[a:a + chunk]]
            hit = self.client.query(self.collection, filter=f"{ID} in {part}", output_fields=[ID], limit=1)
            if hit:
                raise ValueError(f"id {hit[0][ID]} is already in collection {self.collection!r} (Milvus would "
                                 "keep a second copy); nothing was written")

    def search(self, queries: ArrayLike, k: int = 10, *, oversample: float | None = None,
               rescore: Originals | None = None,
               search_params: dict | None = None, filter: str = "") -> tuple[np.ndarray, np.ndarray]:
        """Top k per query: (ids uint64 (nq, k), scores float32 (nq, k)) as vectro.Index gives
        them; a binary field is searched by Hamming distance on the queries' sign bits (Vectro's
        binary codes of the queries) and scores ``d - 2 * hamming`` unless rescored. With
        ``rescore`` (an :class:`Originals`), k x ``oversample`` candidates (default 10 for binary,
        else 2) are rescored exactly here.

        Example:
            >>> import numpy as np, vectro
            >>> from vectro.integrations import milvus
            >>> # client = pymilvus.MilvusClient("./milvus.db"), as in the module's example
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = milvus.Store(client, "passages", metric="cosine")
            >>> _ = store.upload(X, precision="f16", payload={"lang": ["en"] * 50 + ["de"] * 50})
            >>> ids, scores = store.search(X[:2], k=3, rescore=milvus.Originals(X))   # exact cosines
            >>> ids, scores.round(2)
            (array([[ 0, 85, 97],
                   [ 1, 22, 52]], dtype=uint64), array([[1.  , 0.59, 0.52],
                   [1.  , 0.72, 0.46]], dtype=float32))
            >>> store.search(X[0], k=2, filter='lang == "de"', rescore=milvus.Originals(X))[0]
            array([85, 97], dtype=uint64)
        """
        have = self._field()
        if have is None:
            raise ValueError(f"collection {self.collection!r} does not exist: upload first")
        dtype, dim, _ = have
        q, single = as_queries(queries, dim)
        binary = dtype == "BINARY_VECTOR"
        c = candidates_for(k, (oversample or (10.0 if binary else 2.0)) if rescore is not None else None)
        if binary:
            import vectro

            data = [bytes(r) for r in vectro.quantize_embeddings(q, "binary").codes]
        else:
            conv = _encoder(dtype)
            data = [conv(r.astype(np.float16) if dtype == "FLOAT16_VECTOR" else r) for r in q]
        params = {"metric_type": self._metric_for(dtype), **(search_params or {})}
        res = self.client.search(self.collection, data=data, anns_field=FIELD, limit=c, search_params=params,
                                 filter=filter)
        if binary:
            def conv_s(h):
                return float(dim - 2 * h)
        else:
            def conv_s(v):
                return float(v)
        rows = [[(int(h["id"]), conv_s(h["distance"])) for h in hits] for hits in res]
        ids, scores = pad(rows, c)
        if rescore is not None:
            ids, scores = rescore.rescore(q, ids, k, self.metric)
        return (ids[0], scores[0]) if single else (ids, scores)


def _encoder(dtype: str):
    """Row -> what pymilvus takes for the field type."""
    if dtype == "BINARY_VECTOR":
        return lambda r: bytes(np.ascontiguousarray(r, np.uint8))
    if dtype == "FLOAT16_VECTOR":
        return lambda r: np.ascontiguousarray(r, np.float16)
    if dtype == "BFLOAT16_VECTOR":
        ml = lazy_import("ml_dtypes", EXTRA)
        return lambda r: np.ascontiguousarray(r).view(np.uint16).view(ml.bfloat16) if r.dtype == np.uint16 \
            else np.asarray(r, np.float32).astype(ml.bfloat16)
    return lambda r: np.ascontiguousarray(r, np.float32)


Store = MilvusStore
__all__ = ["MilvusStore", "Store", "Originals", "field_type", "quantization_config"]
