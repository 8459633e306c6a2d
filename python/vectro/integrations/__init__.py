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
"""

from __future__ import annotations

import importlib

from ._common import METRICS, Originals, PartialUploadError, Plan, Source, UploadReport

MODULES = ("pgvector", "qdrant", "milvus", "weaviate", "pinecone")

__all__ = ["METRICS", "MODULES", "Originals", "PartialUploadError", "Plan", "Source", "UploadReport", *MODULES]


def __getattr__(name: str):
    # the database modules are imported on first use; they import their clients lazily in turn
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
