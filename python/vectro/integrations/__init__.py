"""Vectro codes in vector databases: one module per database, each importing its client only when
used and installed by its own pip extra (``pip install 'vectro[pgvector]'``, ``[qdrant]``,
``[milvus]``, ``[weaviate]``, ``[pinecone]``, or ``[integrations]`` for all).

Every module has the same shape, so switching databases is a one-line change:

- ``Store(connection_or_client, name, metric=...)`` with ``upload(data, ids=None, payload=None,
  ...)``, ``search(queries, k, oversample=..., rescore=...)`` returning ``(ids, scores)`` as
  :meth:`vectro.Index.search` does, ``count()`` and ``drop()``;
- ``quantization_config(choice)``: the :class:`Plan` (precision, stored vectors, oversampling and
  the database's own configuration objects) for a :func:`vectro.choose` result or a precision.

``data`` is always a .vqz path, a :class:`vectro.VqzReader`, :class:`vectro.QuantizedEmbeddings`
or float embeddings; :class:`Originals` rescores a database's candidates locally and exactly.

Example:
    >>> from vectro.integrations import pgvector as db     # or qdrant, milvus, weaviate, pinecone
    >>> db.Store.__name__
    'PgVectorStore'

Bridges to other libraries (FAISS, Hugging Face datasets, LangChain, LlamaIndex) live here too,
one module each with its own extra (``[faiss]``, ``[datasets]``, ``[langchain]``,
``[llama-index]``); ``import vectro`` never pulls any of them in.
"""

from __future__ import annotations

import importlib

from ._common import METRICS, Originals, PartialUploadError, Plan, Source, UploadReport

MODULES = ("pgvector", "qdrant", "milvus", "weaviate", "pinecone", "faiss", "datasets", "langchain",
           "llama_index")

__all__ = ["METRICS", "MODULES", "Originals", "PartialUploadError", "Plan", "Source", "UploadReport", *MODULES]


def __getattr__(name: str):
    # the database modules are imported on first use; they import their clients lazily in turn
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def require(module: str, extra: str, what: str):
    """Imports ``module`` or raises ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{what} needs {module.split('.')[0]}: pip install 'vectro[{extra}]'") from e


def index_from_codes(q, ids, metric: str):
    """A vectro.Index holding QuantizedEmbeddings ``q`` as they are (nothing re-encoded), with
    ``ids`` (uint64 or str, default 0..n-1) and ``metric``. It goes through the .vqz format that
    Index.load reads, so it relies on nothing but the public API and that file format."""
    import os
    import shutil
    import tempfile

    import numpy as np

    from .._files import VqzWriter
    from .._index import Index

    n = len(q)
    meta = {"vectro_index": 2, "metric": metric, "id_kind": "int"}
    if ids is None:
        ids = np.arange(n, dtype=np.uint64)
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"ids must have shape ({n},), got {ids.shape}")
    if ids.dtype.kind in "OUS":
        names = [str(v) for v in ids.tolist()]
        if not all(isinstance(v, str) for v in ids.tolist()):
            raise ValueError("ids mix strings and other values: use one kind")
        meta.update(id_kind="str", str_ids=names)
        file_ids = np.arange(n, dtype=np.uint64)  # the row numbers; the names are in the metadata
        distinct = len(set(names))
    else:
        file_ids = ids.astype(np.uint64)
        distinct = len(np.unique(file_ids))
    if distinct != n:
        raise ValueError(f"{n - distinct} ids repeat; vectro ids are unique")
    tmp = tempfile.mkdtemp(prefix="vectro-index-")
    try:
        path = os.path.join(tmp, "index.vqz")
        with VqzWriter(path, q.codec, ids=True, metadata=meta) as w:
            if n:
                w.append_quantized(q, file_ids)
        return Index.load(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
