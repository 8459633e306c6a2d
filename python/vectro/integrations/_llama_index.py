"""The classes of vectro.integrations.llama_index (documented there), which subclass LlamaIndex's
own and so need llama-index-core installed: that module imports this one on first use."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import require
from ._store import DocIndex
from .llama_index import STORE_DIR_SUFFIX

require("llama_index.core", "llama-index", "vectro.integrations.llama_index")

from llama_index.core.bridge.pydantic import PrivateAttr  # noqa: E402
from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings  # noqa: E402
from llama_index.core.schema import BaseNode  # noqa: E402
from llama_index.core.vector_stores.types import (  # noqa: E402
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import (  # noqa: E402
    build_metadata_filter_fn,
    metadata_dict_to_node,
    node_to_metadata_dict,
)


def _store_dir(persist_path: str) -> str:
    p = os.fspath(persist_path)
    return p[:-5] + STORE_DIR_SUFFIX if p.endswith(".json") else p


class VectroVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store on a :class:`vectro.Index`: node embeddings are stored as codes
    (int8 by default) and searched on the codes; the nodes themselves are kept beside them.

    Args:
        codec: a vectro precision ("int8", "int4-g32", "binary", "pq-48x8", ...) or a Codec;
            codecs that need training are fitted on the first batch added.
        metric: "cosine" (default, as SimpleVectorStore), "ip" or "l2" (scores are squared
            distances, lower is better).
        rerank: a second codec for two-stage search (e.g. codec="binary", rerank="int8").
        keep_originals: also keep float32 embeddings, for exact rescoring (``oversample``) and MMR.
        oversample: rescore k x oversample candidates (needs keep_originals or rerank).

    Queries: ``VectorStoreQueryMode.DEFAULT`` and ``MMR``; ``filters`` (MetadataFilters, every
    operator LlamaIndex's own filter function knows), ``doc_ids`` and ``node_ids`` restrict the
    candidates before the top k is taken.

    Example:
        >>> import numpy as np
        >>> from llama_index.core.schema import TextNode
        >>> from vectro.integrations.llama_index import VectroVectorStore
        >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
        >>> store = VectroVectorStore(codec="int8")
        >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
        ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
        ['a', 'p', 'c']
        >>> from llama_index.core.vector_stores.types import VectorStoreQuery
        >>> store.query(VectorStoreQuery(query_embedding=E[0], similarity_top_k=2)).ids
        ['a', 'c']
    """

    stores_text: bool = True
    flat_metadata: bool = False
    codec: Any = "int8"
    metric: str = "cosine"
    rerank: Any = None
    keep_originals: bool = False
    oversample: float | None = None

    _store: DocIndex = PrivateAttr()
    _by_ref: dict = PrivateAttr(default_factory=dict)

    def __init__(self, codec: Any = "int8", metric: str = "cosine", *, rerank: Any = None,
                 keep_originals: bool = False, oversample: float | None = None, **kwargs: Any) -> None:
        super().__init__(codec=codec, metric=metric, rerank=rerank, keep_originals=keep_originals,
                         oversample=oversample, **kwargs)
        self._store = DocIndex(codec, metric, rerank=rerank, keep_originals=keep_originals,
                               oversample=oversample)
        self._by_ref = {}

    @classmethod
    def class_name(cls) -> str:
        return "VectroVectorStore"

    @property
    def client(self) -> Any:
        """The underlying :class:`vectro.Index` (ids are the node ids).

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> store.client
            Index('int8', metric='cosine', 3 vectors, no originals)
        """
        return self._store.index

    def __len__(self) -> int:
        return len(self._store)

    def __bool__(self) -> bool:
        # An empty store is still a store: frameworks test "if vector_store:" (StorageContext
        # would otherwise swap an empty one for its own default).
        return True

    # ----- writing ---------------------------------------------------------------------------
    def add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        """Adds nodes (with their embeddings); a node id already present is replaced. Returns
        their ids.

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> store.add([TextNode(id_="p", text="green pears", embedding=E[1])])   # "p" replaced
            ['p']
            >>> len(store), [n.text for n in store.get_nodes(["p"])]
            (3, ['green pears'])
        """
        nodes = list(nodes)
        if not nodes:
            return []
        vectors = []
        for n in nodes:
            e = n.get_embedding() if n.embedding is not None else None
            if e is None:
                raise ValueError(f"node {n.node_id} has no embedding: embed nodes before adding them")
            vectors.append(e)
        ids = [n.node_id for n in nodes]
        records = [{"node": node_to_metadata_dict(n, remove_text=False, flat_metadata=self.flat_metadata),
                    "ref_doc_id": n.ref_doc_id} for n in nodes]
        old = {i: r.get("ref_doc_id") for i, r in self._store.get(ids)}
        self._store.upsert(ids, np.asarray(vectors, np.float32), records)
        for i, prev in old.items():
            self._by_ref.get(prev, set()).discard(i)
        for i, r in zip(ids, records):
            self._by_ref.setdefault(r["ref_doc_id"], set()).add(i)
        return ids

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Deletes every node of document ``ref_doc_id``.

        Example:
            >>> from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> store = VectroVectorStore()
            >>> nodes = [TextNode(id_=f"chunk{i}", text="...", embedding=[1.0, float(i)]) for i in range(3)]
            >>> for n in nodes:
            ...     n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="report.pdf")
            >>> _ = store.add(nodes)
            >>> store.delete("report.pdf"); len(store)
            0
        """
        ids = self._by_ref.pop(ref_doc_id, set())
        if ids:
            self._store.delete(list(ids))

    def delete_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None,
                     **delete_kwargs: Any) -> None:
        """Deletes the nodes among ``node_ids`` (all when None) that match ``filters``.

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery
            >>> store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="kind", value="vehicle")]))
            >>> [n.node_id for n in store.get_nodes()]
            ['a', 'p']
        """
        doomed = self._select(node_ids, filters, None)
        self._drop(doomed if doomed is not None else list(self._store.records))

    def clear(self) -> None:
        """Deletes every node.

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> store.clear(); len(store)
            0
        """
        self._drop(list(self._store.records))

    def _drop(self, ids: list[str]) -> None:
        for i, r in self._store.get(ids):
            self._by_ref.get(r.get("ref_doc_id"), set()).discard(i)
        self._store.delete(ids)

    # ----- reading ---------------------------------------------------------------------------
    def _select(self, node_ids, filters, doc_ids) -> list[str] | None:
        """The allow-list for node_ids / filters / doc_ids, or None when nothing restricts. An
        empty node_ids or doc_ids restricts nothing, as in LlamaIndex's other stores: the
        retriever of an index over a store that keeps its own nodes passes node_ids=[]."""
        if not node_ids and not doc_ids and (filters is None or not filters.filters):
            return None
        ids_ok = set(node_ids) if node_ids else None
        docs_ok = set(doc_ids) if doc_ids else None
        records = self._store.records
        match = build_metadata_filter_fn(lambda i: records[i]["node"], filters)
        return self._store.allow(
            lambda i, r: (ids_ok is None or i in ids_ok) and (docs_ok is None or r.get("ref_doc_id") in docs_ok)
            and match(i))

    @staticmethod
    def _node(record: dict) -> BaseNode:
        return metadata_dict_to_node(record["node"])

    def get_nodes(self, node_ids: list[str] | None = None,
                  filters: MetadataFilters | None = None) -> list[BaseNode]:
        """The nodes among ``node_ids`` (all when None) that match ``filters``.

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery
            >>> [n.text for n in store.get_nodes(["p", "c"])]
            ['pears', 'cars']
            >>> [n.node_id for n in store.get_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="kind",
            ...                                                                                    value="fruit")]))]
            ['a', 'p']
        """
        ids = self._select(node_ids, filters, None)
        ids = list(self._store.records) if ids is None else ids
        return [self._node(r) for _, r in self._store.get(ids)]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The top ``similarity_top_k`` nodes for ``query_embedding`` (DEFAULT or MMR mode), after
        ``filters``, ``doc_ids`` and ``node_ids`` restrict the candidates.

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery
            >>> result = store.query(VectorStoreQuery(query_embedding=E[0], similarity_top_k=2))
            >>> result.ids, [round(s, 3) for s in result.similarities]
            (['a', 'c'], [0.999, 0.097])
            >>> fruit = MetadataFilters(filters=[MetadataFilter(key="kind", value="fruit")])
            >>> store.query(VectorStoreQuery(query_embedding=E[2], similarity_top_k=2, filters=fruit)).ids
            ['p', 'a']
        """
        if query.query_embedding is None:
            raise ValueError("VectroVectorStore answers embedding queries: query_embedding is None")
        if query.mode not in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR):
            raise ValueError(f"query mode {query.mode!r} is not supported: use DEFAULT or MMR")
        k = int(query.similarity_top_k)
        allow = self._select(query.node_ids, query.filters, query.doc_ids)
        if query.mode == VectorStoreQueryMode.MMR:
            prefetch = int(kwargs.get("mmr_prefetch_k", max(4 * k, 20)))
            hits = self._store.search(query.query_embedding, prefetch, allow)
            if not hits:
                return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
            vecs = self._store.vectors([i for i, _, _ in hits])
            sims, ids = get_top_k_mmr_embeddings(
                list(query.query_embedding), vecs.tolist(), similarity_top_k=k,
                embedding_ids=[i for i, _, _ in hits],
                mmr_threshold=query.mmr_threshold or kwargs.get("mmr_threshold"))
            records = dict((i, r) for i, _, r in hits)
            return VectorStoreQueryResult(nodes=[self._node(records[i]) for i in ids],
                                          similarities=[float(s) for s in sims], ids=list(ids))
        hits = self._store.search(query.query_embedding, k, allow)
        return VectorStoreQueryResult(nodes=[self._node(r) for _, _, r in hits],
                                      similarities=[s for _, s, _ in hits], ids=[i for i, _, _ in hits])

    # ----- files -----------------------------------------------------------------------------
    def persist(self, persist_path: str, fs: Any = None) -> None:
        """Saves to a directory, crash-safely (StorageContext.persist's ``<ns>__vector_store.json``
        becomes the directory ``<ns>__vector_store.vectro``). Local files only.

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> import os
            >>> store.persist("storage/default__vector_store.json")
            >>> os.listdir("storage")
            ['default__vector_store.vectro']
        """
        if fs is not None and "file" not in getattr(fs, "protocol", ("file",)):
            raise NotImplementedError("VectroVectorStore persists to the local file system only")
        self._store.save(_store_dir(persist_path), {"framework": "llama_index", "flat_metadata": self.flat_metadata})

    @classmethod
    def from_persist_path(cls, persist_path: str, **kwargs: Any) -> VectroVectorStore:
        """Reads a store saved by :meth:`persist` (the .json path StorageContext used, or the directory).

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> store.persist("storage/default__vector_store.json")
            >>> len(VectroVectorStore.from_persist_path("storage/default__vector_store.json"))
            3
        """
        store_dir = _store_dir(persist_path)
        doc_index, config = DocIndex.load(store_dir, **kwargs)
        self = cls(codec=doc_index.index.codec, metric=doc_index.metric, keep_originals=doc_index.index.keep_originals,
                   oversample=doc_index.oversample, flat_metadata=bool(config.get("flat_metadata", False)))
        self._store = doc_index
        for i, r in doc_index.records.items():
            self._by_ref.setdefault(r.get("ref_doc_id"), set()).add(i)
        return self

    @classmethod
    def from_persist_dir(cls, persist_dir: str, namespace: str = "default", **kwargs: Any) -> VectroVectorStore:
        """Reads the store that ``StorageContext.persist(persist_dir)`` saved under ``namespace``.

        Example:
            >>> import numpy as np
            >>> from llama_index.core.schema import TextNode
            >>> from vectro.integrations.llama_index import VectroVectorStore
            >>> E = np.random.default_rng(0).standard_normal((3, 8)).tolist()
            >>> store = VectroVectorStore(codec="int8")
            >>> store.add([TextNode(id_=i, text=t, embedding=e, metadata={"kind": k}) for i, t, e, k in
            ...            zip("apc", ["apples", "pears", "cars"], E, ["fruit", "fruit", "vehicle"])])
            ['a', 'p', 'c']
            >>> store.persist("storage/default__vector_store.json")     # what StorageContext.persist("storage") does
            >>> VectroVectorStore.from_persist_dir("storage").client
            Index('int8', metric='cosine', 3 vectors, no originals)
        """
        return cls.from_persist_path(os.path.join(persist_dir, f"{namespace}__vector_store.json"), **kwargs)
