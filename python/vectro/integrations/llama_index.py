"""LlamaIndex (llama-index-core 0.14.x): ``VectroVectorStore``, a BasePydanticVectorStore whose
vectors are vectro codes, with the nodes kept beside them (``stores_text = True``), metadata
filters (``MetadataFilters``), deletion by ref_doc_id, MMR queries and crash-safe persistence.

Example:
    >>> from llama_index.core import Document, StorageContext, VectorStoreIndex
    >>> from llama_index.core.embeddings import MockEmbedding
    >>> from vectro.integrations.llama_index import VectroVectorStore
    >>> store = VectroVectorStore(codec="int8")
    >>> index = VectorStoreIndex.from_documents(
    ...     [Document(text="apples"), Document(text="pears")],
    ...     storage_context=StorageContext.from_defaults(vector_store=store),
    ...     embed_model=MockEmbedding(embed_dim=8))
    >>> len(store)
    2
"""

# The classes subclass LlamaIndex's own, so they live in _llama_index and are imported on first use: this
# module, like every vectro.integrations module, imports without its client installed, and
# naming a class without llama-index-core raises ImportError naming the extra.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and linters; at run time __getattr__ imports them
    from ._llama_index import VectroVectorStore

STORE_DIR_SUFFIX = ".vectro"  # StorageContext.persist names the store "<ns>__vector_store.json"

__all__ = ["STORE_DIR_SUFFIX", "VectroVectorStore"]
_LAZY = ("VectroVectorStore",)


def __getattr__(name: str):
    if name in _LAZY:
        from . import require

        require("llama_index.core", "llama-index", "vectro.integrations.llama_index")
        value = getattr(importlib.import_module("._llama_index", __package__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
