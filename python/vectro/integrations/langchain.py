"""LangChain (langchain-core 1.x): ``VectroVectorStore``, a VectorStore whose vectors are vectro
codes (documents and metadata kept beside them, saved crash-safely), and ``VectroEmbeddings``, an
Embeddings wrapper that keeps what any embeddings model returns as codes and serves their
reconstructions.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from vectro.integrations.langchain import VectroVectorStore
    >>> store = VectroVectorStore(embedding=DeterministicFakeEmbedding(size=64), codec="int8")
    >>> store.add_texts(["apples", "pears"], metadatas=[{"kind": "fruit"}, {"kind": "fruit"}], ids=["a", "p"])
    ['a', 'p']
    >>> [d.id for d in store.similarity_search("apples", k=1, filter={"kind": "fruit"})]
    ['a']
"""

# The classes subclass LangChain's own, so they live in _langchain and are imported on first use: this
# module, like every vectro.integrations module, imports without its client installed, and
# naming a class without langchain-core raises ImportError naming the extra.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and linters; at run time __getattr__ imports them
    from ._langchain import VectroEmbeddings, VectroVectorStore

__all__ = ["VectroEmbeddings", "VectroVectorStore"]


def __getattr__(name: str):
    if name in __all__:
        from . import require

        require("langchain_core", "langchain", "vectro.integrations.langchain")
        value = getattr(importlib.import_module("._langchain", __package__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
