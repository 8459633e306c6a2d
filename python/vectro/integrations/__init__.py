"""Bridges to other libraries (FAISS, Hugging Face datasets, LangChain, LlamaIndex), one module each.

Each module imports its library only when it is used, and each library comes with its own pip
extra (``pip install vectro[faiss]``, ``[datasets]``, ``[langchain]``, ``[llama-index]``), so
``import vectro`` never pulls any of them in.
"""

from __future__ import annotations

import importlib


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
