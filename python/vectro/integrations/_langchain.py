"""The classes of vectro.integrations.langchain (documented there), which subclass LangChain's
own and so need langchain-core installed: that module imports this one on first use."""

from __future__ import annotations

import math
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Callable, Union

import numpy as np

from . import require
from ._store import DocIndex, match_metadata

require("langchain_core", "langchain", "vectro.integrations.langchain")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.vectorstores import VectorStore  # noqa: E402
from langchain_core.vectorstores.utils import maximal_marginal_relevance  # noqa: E402

from .._codec import Codec  # noqa: E402

if TYPE_CHECKING:
    from .._codec import QuantizedEmbeddings
    from .._index import Index

# what ``filter=`` takes: a metadata dict ({"source": "a.txt"}, "$in", "$gte", ...) or a predicate
Filter = Union[dict, Callable[[Document], bool], None]


class VectroVectorStore(VectorStore):
    """A LangChain VectorStore on a :class:`vectro.Index`: vectors are stored as codes (int8 by
    default: 3.9x smaller than float32 at cosine 0.9999) and searched on the codes.

    Args:
        embedding: any LangChain Embeddings.
        codec: a vectro precision ("int8", "int4-g32", "binary", "pq-48x8", ...) or a Codec.
            Codecs that need training (uint8, pq) are fitted on the first batch added.
        metric: "cosine" (default), "ip" or "l2"; scores are similarities for the first two and
            squared distances for "l2".
        rerank: a second codec for two-stage search (e.g. codec="binary", rerank="int8").
        keep_originals: also keep float32 vectors, for exact rescoring (``oversample``) and MMR.
        oversample: rescore k x oversample candidates (needs keep_originals or rerank).

    Filters (``filter=``) are a metadata dict (``{"source": "a.txt"}``; values may be
    ``{"$in": [...]}``, ``{"$gte": 3}``, ...; ``$and``/``$or`` lists) or a callable taking a
    Document. They become an allow-list for the index, so k results come back whenever k
    documents match.

    Persistence: :meth:`dump` writes a directory (the index as .vqz, the documents as JSON, a
    manifest replaced atomically); :meth:`load` reads it.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from vectro.integrations.langchain import VectroVectorStore
        >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
        >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
        ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
        ['a', 'p', 'c']
        >>> [(d.id, round(score, 3)) for d, score in store.similarity_search_with_score("apples", k=2)]
        [('a', 1.0), ('c', 0.179)]
    """

    def __init__(self, embedding: Embeddings, codec: str | Codec = "int8", *, metric: str = "cosine",
                 rerank: str | Codec | None = None, keep_originals: bool = False,
                 oversample: float | None = None) -> None:
        self.embedding = embedding
        self._store = DocIndex(codec, metric, rerank=rerank, keep_originals=keep_originals,
                               oversample=oversample)

    @property
    def embeddings(self) -> Embeddings:
        """The Embeddings the store embeds texts and queries with.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> model = DeterministicFakeEmbedding(size=64)
            >>> VectroVectorStore(model).embeddings is model
            True
        """
        return self.embedding

    @property
    def index(self) -> Index:
        """The underlying :class:`vectro.Index` (ids are the document ids).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> store.index
            Index('int8', metric='cosine', 3 vectors, no originals)
            >>> store.index.ids
            array(['a', 'p', 'c'], dtype=object)
        """
        return self._store.index

    def __len__(self) -> int:
        return len(self._store)

    def __bool__(self) -> bool:
        # An empty store is still a store: frameworks test "if vector_store:" (StorageContext
        # would otherwise swap an empty one for its own default).
        return True

    # ----- writing ---------------------------------------------------------------------------
    def _records(self, texts: list[str], metadatas) -> list[dict]:
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"got {len(texts)} texts and {len(metadatas)} metadatas")
        return [{"text": t, "metadata": dict(metadatas[i]) if metadatas is not None and metadatas[i] else {}}
                for i, t in enumerate(texts)]

    @staticmethod
    def _ids(n: int, ids) -> list[str]:
        if ids is not None and len(ids) != n:
            raise ValueError(f"got {n} texts and {len(ids)} ids")
        return [str(i) if i is not None else str(uuid.uuid4())
                for i in (ids if ids is not None else [None] * n)]

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
                  ids: list[str] | None = None, **kwargs: Any) -> list[str]:
        """Embeds and stores texts; an id already present is replaced (codes, text and metadata).
        Returns the ids (new UUIDs where none are given).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> store.add_texts(["red apples"], ids=["a"])     # "a" replaced
            ['a']
            >>> len(store), store.get_by_ids(["a"])[0].page_content
            (3, 'red apples')
        """
        texts = list(texts)
        ids_ = self._ids(len(texts), ids)
        records = self._records(texts, metadatas)
        if not texts:
            return []
        vectors = self.embedding.embed_documents(texts)
        return self._store.upsert(ids_, vectors, records)

    async def aadd_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
                         ids: list[str] | None = None, **kwargs: Any) -> list[str]:
        texts = list(texts)
        ids_ = self._ids(len(texts), ids)
        records = self._records(texts, metadatas)
        if not texts:
            return []
        vectors = await self.embedding.aembed_documents(texts)
        return self._store.upsert(ids_, vectors, records)

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs.pop("ids", None)
        if ids is None:
            ids = [d.id for d in documents]
        return self.add_texts([d.page_content for d in documents], [d.metadata for d in documents],
                              ids=ids, **kwargs)

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs.pop("ids", None)
        if ids is None:
            ids = [d.id for d in documents]
        return await self.aadd_texts([d.page_content for d in documents], [d.metadata for d in documents],
                                     ids=ids, **kwargs)

    def delete(self, ids: Sequence[str] | None = None, **kwargs: Any) -> bool:
        """Deletes by id (missing ids are ignored); ``ids=None`` deletes everything.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> store.delete(["c", "zz"]), len(store)
            (True, 2)
        """
        self._store.delete(ids)
        return True

    async def adelete(self, ids: Sequence[str] | None = None, **kwargs: Any) -> bool:
        return self.delete(ids)

    # ----- reading ---------------------------------------------------------------------------
    @staticmethod
    def _doc(id_: str, record: dict) -> Document:
        return Document(id=id_, page_content=record["text"], metadata=dict(record["metadata"]))

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The Documents of ``ids`` that are present (missing ids are skipped).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> store.get_by_ids(["p", "zz"])
            [Document(id='p', metadata={'kind': 'fruit'}, page_content='pears')]
        """
        return [self._doc(i, r) for i, r in self._store.get(ids)]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return self.get_by_ids(ids)

    def _allow(self, filter) -> list[str] | None:
        if filter is None:
            return None
        if callable(filter):
            return self._store.allow(lambda i, r: bool(filter(self._doc(i, r))))
        if isinstance(filter, dict):
            return self._store.allow(lambda i, r: match_metadata(r["metadata"], filter))
        raise TypeError(f"filter must be a metadata dict or a callable taking a Document, got {type(filter).__name__}")

    def _hits(self, embedding, k: int, filter, oversample) -> list[tuple[str, float, dict]]:
        return self._store.search(embedding, k, self._allow(filter), oversample)

    def similarity_search_with_score_by_vector(self, embedding: list[float], k: int = 4, filter: Filter = None,
                                               *, oversample: float | None = None,
                                               **kwargs: Any) -> list[tuple[Document, float]]:
        """(Document, score) best first; the score is cosine or inner product (higher is better),
        or the squared L2 distance for metric "l2" (lower is better). ``oversample``: rescore
        k x oversample candidates (needs ``keep_originals`` or ``rerank``).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> vector = store.embeddings.embed_query("pears")
            >>> [(d.id, round(score, 3)) for d, score in store.similarity_search_with_score_by_vector(vector, k=2)]
            [('p', 1.0), ('c', 0.049)]
        """
        return [(self._doc(i, r), s) for i, s, r in self._hits(embedding, k, filter, oversample)]

    def similarity_search_with_score(self, query: str, k: int = 4, filter: Filter = None,
                                     **kwargs: Any) -> list[tuple[Document, float]]:
        return self.similarity_search_with_score_by_vector(self.embedding.embed_query(query), k, filter, **kwargs)

    async def asimilarity_search_with_score(self, query: str, k: int = 4, filter: Filter = None,
                                            **kwargs: Any) -> list[tuple[Document, float]]:
        vec = await self.embedding.aembed_query(query)
        return self.similarity_search_with_score_by_vector(vec, k, filter, **kwargs)

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, filter: Filter = None,
                                    **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)]

    async def asimilarity_search_by_vector(self, embedding: list[float], k: int = 4, filter: Filter = None,
                                           **kwargs: Any) -> list[Document]:
        return self.similarity_search_by_vector(embedding, k, filter, **kwargs)

    def similarity_search(self, query: str, k: int = 4, filter: Filter = None, **kwargs: Any) -> list[Document]:
        """The k Documents most similar to ``query``, best first; ``filter`` keeps only matching ones.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> [d.id for d in store.similarity_search("apples", k=3, filter={"kind": "fruit"})]
            ['a', 'p']
            >>> [d.id for d in store.similarity_search("apples", k=3, filter=lambda d: d.id != "a")]
            ['c', 'p']
        """
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, filter: Filter = None, **kwargs: Any) -> list[Document]:
        return [d for d, _ in await self.asimilarity_search_with_score(query, k, filter, **kwargs)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        # Relevance in [0, 1]: cosine (and inner product of normalized vectors) maps [-1, 1]
        # linearly; a squared L2 distance d of normalized vectors maps as 1 - sqrt(d) / 2.
        if self._store.metric == "l2":
            return lambda d: 1.0 - math.sqrt(max(d, 0.0)) / 2.0
        return lambda s: (1.0 + s) / 2.0

    def max_marginal_relevance_search_by_vector(self, embedding: list[float], k: int = 4, fetch_k: int = 20,
                                                lambda_mult: float = 0.5, filter: Filter = None,
                                                **kwargs: Any) -> list[Document]:
        """Maximal marginal relevance among the ``fetch_k`` best: the candidates' vectors are the
        originals when kept, else the codes' reconstructions.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> vector = store.embeddings.embed_query("apples")
            >>> [d.id for d in store.max_marginal_relevance_search_by_vector(vector, k=2, fetch_k=3)]
            ['a', 'p']
        """
        hits = self._hits(embedding, max(k, fetch_k), filter, kwargs.get("oversample"))
        if not hits:
            return []
        vecs = self._store.vectors([i for i, _, _ in hits])
        chosen = maximal_marginal_relevance(np.asarray(embedding, dtype=np.float32), list(vecs),
                                            k=min(k, len(hits)), lambda_mult=lambda_mult)
        return [self._doc(hits[j][0], hits[j][2]) for j in chosen]

    def max_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20,
                                      lambda_mult: float = 0.5, filter: Filter = None, **kwargs: Any) -> list[Document]:
        return self.max_marginal_relevance_search_by_vector(self.embedding.embed_query(query), k, fetch_k,
                                                            lambda_mult, filter, **kwargs)

    async def amax_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20,
                                             lambda_mult: float = 0.5, filter: Filter = None,
                                             **kwargs: Any) -> list[Document]:
        vec = await self.embedding.aembed_query(query)
        return self.max_marginal_relevance_search_by_vector(vec, k, fetch_k, lambda_mult, filter, **kwargs)

    async def amax_marginal_relevance_search_by_vector(self, embedding: list[float], k: int = 4,
                                                       fetch_k: int = 20, lambda_mult: float = 0.5,
                                                       filter: Filter = None, **kwargs: Any) -> list[Document]:
        return self.max_marginal_relevance_search_by_vector(embedding, k, fetch_k, lambda_mult, filter, **kwargs)

    # ----- construction and files ------------------------------------------------------------
    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, *,
                   ids: list[str] | None = None, codec: str | Codec = "int8", **kwargs: Any) -> VectroVectorStore:
        """A store made from texts in one call; ``kwargs`` are the constructor's (``metric``,
        ``rerank``, ``keep_originals``, ``oversample``).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore.from_texts(["x", "y"], DeterministicFakeEmbedding(size=64), codec="binary",
            ...                                      rerank="int8")
            >>> store.index
            Index('binary', metric='cosine', rerank='int8', 2 vectors, no originals)
        """
        store = cls(embedding, codec, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, *,
                          ids: list[str] | None = None, codec: str | Codec = "int8",
                          **kwargs: Any) -> VectroVectorStore:
        store = cls(embedding, codec, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    def dump(self, path: str | os.PathLike) -> None:
        """Saves the store to directory ``path`` (created if needed), crash-safely: a crash
        mid-save leaves the previous save readable.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> store.dump("my_store")              # load() reads it back
            >>> len(VectroVectorStore.load("my_store", store.embeddings))
            3
        """
        self._store.save(path, {"framework": "langchain"})

    @classmethod
    def load(cls, path: str | os.PathLike, embedding: Embeddings, **kwargs: Any) -> VectroVectorStore:
        """Reads a store saved by :meth:`dump`; ``embedding`` must be the model it was built with.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroVectorStore
            >>> store = VectroVectorStore(DeterministicFakeEmbedding(size=64), codec="int8")
            >>> store.add_texts(["apples", "pears", "cars"], ids=["a", "p", "c"],
            ...                 metadatas=[{"kind": "fruit"}, {"kind": "fruit"}, {"kind": "vehicle"}])
            ['a', 'p', 'c']
            >>> store.dump("my_store")
            >>> loaded = VectroVectorStore.load("my_store", DeterministicFakeEmbedding(size=64))
            >>> [d.id for d in loaded.similarity_search("pears", k=1)]
            ['p']
        """
        store = cls.__new__(cls)
        store.embedding = embedding
        store._store, _ = DocIndex.load(path, **kwargs)
        return store


class VectroEmbeddings(Embeddings):
    """Wraps any LangChain Embeddings: what the model returns is compressed with a vectro codec and
    kept as codes (one entry per distinct text), and the reconstructions are served, so a
    repeated text costs no model call and the cache holds codes, not floats.

    Args:
        embeddings: the model to wrap.
        codec: a vectro precision or Codec ("int8" by default: cosine to the original >= 0.9999
            on real sentence embeddings). Codecs that need training are fitted on the first batch.
        cache_queries: also keep query embeddings (by default only documents are kept).

    ``nbytes`` is what the kept codes occupy; ``codes(texts)`` returns them as QuantizedEmbeddings.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from vectro.integrations.langchain import VectroEmbeddings
        >>> emb = VectroEmbeddings(DeterministicFakeEmbedding(size=64), "int8")
        >>> vectors = emb.embed_documents(["apples", "pears", "apples"])   # the model sees 2 texts
        >>> len(vectors), len(vectors[0]), len(emb), emb.nbytes
        (3, 64, 2, 136)
    """

    def __init__(self, embeddings: Embeddings, codec: str | Codec = "int8", *, cache_queries: bool = False) -> None:
        self.embeddings = embeddings
        self.codec = codec if isinstance(codec, Codec) else Codec(codec)
        self.cache_queries = bool(cache_queries)
        self._rows: dict[str, int] = {}
        self._codes: list[np.ndarray] = []
        self._scales: list[np.ndarray | None] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        """Bytes the kept codes (and scales) occupy.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroEmbeddings
            >>> emb = VectroEmbeddings(DeterministicFakeEmbedding(size=64), "int8")
            >>> _ = emb.embed_documents(["apples", "pears"])
            >>> emb.nbytes          # 2 x (64 int8 codes + a float32 scale)
            136
        """
        return sum(c.nbytes for c in self._codes) + sum(s.nbytes for s in self._scales if s is not None)

    def _keep(self, texts: list[str], vectors) -> None:
        """Encodes the vectors of texts not kept yet and keeps their codes."""
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) != len(texts):
            raise ValueError(f"the wrapped model returned shape {x.shape} for {len(texts)} texts")
        with self._lock:
            if self.codec.needs_training and not self.codec.trained:
                self.codec.fit(x)
            q = self.codec.encode(x)
            for i, t in enumerate(texts):
                if t not in self._rows:
                    self._rows[t] = len(self._codes)
                    self._codes.append(q.codes[i])
                    self._scales.append(None if q.scales is None else q.scales[i])

    def codes(self, texts: list[str]) -> QuantizedEmbeddings:
        """The kept codes of ``texts`` (each must have been embedded) as QuantizedEmbeddings.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroEmbeddings
            >>> emb = VectroEmbeddings(DeterministicFakeEmbedding(size=64), "int8")
            >>> _ = emb.embed_documents(["apples", "pears"])
            >>> emb.codes(["pears"])
            QuantizedEmbeddings(precision='int8', shape=(1, 64), nbytes=68, compression_ratio=3.76)
        """
        from .._codec import QuantizedEmbeddings

        rows = [self._rows[t] for t in texts]
        codes = np.stack([self._codes[r] for r in rows])
        scales = None if self._scales[rows[0]] is None else np.stack([self._scales[r] for r in rows])
        return QuantizedEmbeddings(codes, scales, codec=self.codec, dim=self.codec.dim)

    def _missing(self, texts: list[str]) -> list[str]:
        return [t for t in dict.fromkeys(texts) if t not in self._rows]

    def _served(self, texts: list[str]) -> list[list[float]]:
        return self.codec.decode(self.codes(texts)).tolist() if texts else []

    def _roundtrip(self, vector) -> list[float]:
        """A vector not kept: encoded and decoded, so queries see what documents see."""
        if self.codec.needs_training and not self.codec.trained:
            raise ValueError(f"codec {self.codec.precision!r} must be fitted before embedding a query: "
                             "embed documents first, or pass a fitted vectro.Codec")
        return self.codec.decode(self.codec.encode(np.asarray([vector], np.float32)))[0].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The reconstructions of the texts' codes; texts not kept yet are embedded by the wrapped
        model (once each) and kept as codes.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroEmbeddings
            >>> emb = VectroEmbeddings(DeterministicFakeEmbedding(size=64), "int8")
            >>> import numpy as np
            >>> v = np.array(emb.embed_documents(["apples"])[0])
            >>> exact = np.array(DeterministicFakeEmbedding(size=64).embed_documents(["apples"])[0])
            >>> round(float(v @ exact / np.linalg.norm(v) / np.linalg.norm(exact)), 4)   # cosine to the model's
            1.0
        """
        texts = list(texts)
        missing = self._missing(texts)
        if missing:
            self._keep(missing, self.embeddings.embed_documents(missing))
        return self._served(texts)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        texts = list(texts)
        missing = self._missing(texts)
        if missing:
            self._keep(missing, await self.embeddings.aembed_documents(missing))
        return self._served(texts)

    # Kept queries live under their own key: a model may embed a query and a document differently.
    _QUERY = "\x00query\x00"

    def embed_query(self, text: str) -> list[float]:
        """The query's embedding through the same codec (so queries see what documents see); kept
        only with ``cache_queries=True``.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from vectro.integrations.langchain import VectroEmbeddings
            >>> emb = VectroEmbeddings(DeterministicFakeEmbedding(size=64), "int8")
            >>> len(emb.embed_query("apples")), len(emb)       # not kept by default
            (64, 0)
        """
        if not self.cache_queries:
            return self._roundtrip(self.embeddings.embed_query(text))
        key = self._QUERY + text
        if key not in self._rows:
            self._keep([key], [self.embeddings.embed_query(text)])
        return self._served([key])[0]

    async def aembed_query(self, text: str) -> list[float]:
        if not self.cache_queries:
            return self._roundtrip(await self.embeddings.aembed_query(text))
        key = self._QUERY + text
        if key not in self._rows:
            self._keep([key], [await self.embeddings.aembed_query(text)])
        return self._served([key])[0]
