"""vectro.integrations.llama_index end to end through LlamaIndex itself (llama-index-core has no
conformance suite): VectorStoreIndex.from_documents, retrievers with and without metadata filters,
delete_ref_doc, MMR, persist/reload, on the shipped real MiniLM embeddings, against LlamaIndex's
own SimpleVectorStore: the same top-k when rescored, and measured recall on the codes alone."""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_index.core", reason="llama-index-core is not installed: pip install 'vectro[llama-index]'")

from llama_index.core import Document, StorageContext, VectorStoreIndex  # noqa: E402
from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from llama_index.core.bridge.pydantic import PrivateAttr  # noqa: E402
from llama_index.core.node_parser import SentenceSplitter  # noqa: E402
from llama_index.core.vector_stores.types import (  # noqa: E402
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from vectro.integrations.llama_index import VectroVectorStore  # noqa: E402

try:
    import pytest_asyncio  # noqa: F401

    _HAS_ASYNCIO = True
except ImportError:
    _HAS_ASYNCIO = False

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
N, NQ, K = 1000, 30, 10


class SampleEmbedding(BaseEmbedding):
    """The shipped all-MiniLM-L6-v2 vectors of the sample passages, looked up by text."""

    _table: dict = PrivateAttr()

    def __init__(self, **kwargs):
        super().__init__(model_name="sample-minilm", embed_batch_size=256, **kwargs)
        texts = (SAMPLE / "corpus.txt").read_text("utf-8").splitlines()
        texts += (SAMPLE / "queries.txt").read_text("utf-8").splitlines()
        vecs = np.concatenate([np.load(SAMPLE / "corpus.npy"), np.load(SAMPLE / "queries.npy")])
        self._table = dict(zip(texts, vecs))

    def _get_query_embedding(self, query):
        return self._table[query].tolist()

    async def _aget_query_embedding(self, query):
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text):
        return self._table[text].tolist()


@pytest.fixture(scope="module")
def emb():
    return SampleEmbedding()


@pytest.fixture(scope="module")
def docs():
    texts = (SAMPLE / "corpus.txt").read_text("utf-8").splitlines()[:N]
    out = []
    for i, t in enumerate(texts):
        meta = {"n": i, "parity": "even" if i % 2 == 0 else "odd"}
        # embed the passage alone, so that its vector is the shipped one
        out.append(Document(text=t, doc_id=f"doc{i}", metadata=meta,
                            excluded_embed_metadata_keys=list(meta), excluded_llm_metadata_keys=list(meta)))
    return out


@pytest.fixture(scope="module")
def queries():
    return (SAMPLE / "queries.txt").read_text("utf-8").splitlines()[:NQ]


def build(docs, emb, vector_store=None):
    """VectorStoreIndex.from_documents: parse, embed, store."""
    ctx = StorageContext.from_defaults(vector_store=vector_store) if vector_store is not None else None
    return VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=emb,
                                           transformations=[SentenceSplitter(chunk_size=1024)])


@pytest.fixture(scope="module")
def nodes(docs, emb):
    """The documents parsed and embedded once, for the tests that need an index but not the parse."""
    out = SentenceSplitter(chunk_size=1024)(docs)
    for n in out:
        n.embedding = emb.get_text_embedding(n.get_content(metadata_mode="embed"))
    return out


def build_nodes(nodes, emb, vector_store):
    """VectorStoreIndex over nodes that already carry their embeddings."""
    return VectorStoreIndex([n.model_copy() for n in nodes], embed_model=emb,
                            storage_context=StorageContext.from_defaults(vector_store=vector_store))


def top(index, q, k=K, filters=None):
    hits = index.as_retriever(similarity_top_k=k, filters=filters).retrieve(q)
    return [h.node.ref_doc_id for h in hits], [h.score for h in hits]


@pytest.fixture(scope="module")
def reference(docs, emb):
    return build(docs, emb)  # LlamaIndex's SimpleVectorStore


def test_rescored_top_k_equals_simple_vector_store(docs, emb, queries, reference):
    store = VectroVectorStore(codec="int4-g32", keep_originals=True, oversample=10)
    index = build(docs, emb, store)
    assert len(store) == N
    for q in queries:
        want_ids, want_s = top(reference, q)
        got_ids, got_s = top(index, q)
        assert got_ids == want_ids
        np.testing.assert_allclose(got_s, want_s, atol=1e-5)


@pytest.mark.parametrize("codec,min_recall", [("int8", 0.97), ("int4-g32", 0.92), ("binary", 0.45)])
def test_codes_alone_recall(nodes, emb, queries, reference, codec, min_recall):
    # measured on these 1000 passages and 30 queries: int8 0.987, int4-g32 0.943, binary 0.533
    index = build_nodes(nodes, emb, VectroVectorStore(codec=codec))
    hit = 0
    for q in queries:
        hit += len(set(top(reference, q)[0]) & set(top(index, q)[0]))
    assert hit / (K * len(queries)) >= min_recall


def test_filters_doc_ids_and_node_ids(nodes, emb, queries, reference):
    store = VectroVectorStore(codec="int8", keep_originals=True, oversample=4)
    index = build_nodes(nodes, emb, store)
    odd = MetadataFilters(filters=[MetadataFilter(key="parity", value="odd")])
    rng = MetadataFilters(filters=[MetadataFilter(key="n", value=100, operator=FilterOperator.GTE),
                                   MetadataFilter(key="n", value=120, operator=FilterOperator.LT)])
    for f in (odd, rng):
        for q in queries[:5]:
            want_ids, want_s = top(reference, q, filters=f)
            got_ids, got_s = top(index, q, filters=f)
            assert got_ids == want_ids
            np.testing.assert_allclose(got_s, want_s, atol=1e-5)
    got = top(index, queries[0], filters=odd)[0]
    assert len(got) == K and all(int(d[3:]) % 2 for d in got)
    emb_q = emb.get_query_embedding(queries[0])
    only = store.query(VectorStoreQuery(query_embedding=emb_q, similarity_top_k=5, doc_ids=["doc3", "doc8"]))
    assert sorted(n.ref_doc_id for n in only.nodes) == ["doc3", "doc8"]
    some = store.query(VectorStoreQuery(query_embedding=emb_q, similarity_top_k=5, node_ids=only.ids[:1]))
    assert some.ids == only.ids[:1]
    none = MetadataFilters(filters=[MetadataFilter(key="parity", value="neither")])
    assert store.query(VectorStoreQuery(query_embedding=emb_q, similarity_top_k=5, filters=none)).ids == []


def test_delete_ref_doc_get_nodes_and_delete_nodes(docs, nodes, emb, queries):
    store = VectroVectorStore(codec="int8")
    index = build_nodes(nodes[:300], emb, store)
    q = queries[2]
    first = top(index, q, k=3)[0][0]
    index.delete_ref_doc(first, delete_from_docstore=True)
    assert first not in top(index, q, k=20)[0] and len(store) == 299
    assert len(store.get_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="parity", value="odd")]))) == \
        sum(1 for d in docs[:300] if d.metadata["parity"] == "odd" and d.doc_id != first)
    store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="parity", value="odd")]))
    assert all(int(d[3:]) % 2 == 0 for d in top(index, q, k=50)[0])
    nodes = store.get_nodes()
    assert len(nodes) == len(store) and all(n.text for n in nodes)
    store.clear()
    assert len(store) == 0 and top(index, q)[0] == []


def test_mmr_query(nodes, emb, queries):
    store = VectroVectorStore(codec="int8", keep_originals=True)
    build_nodes(nodes[:500], emb, store)
    res = store.query(VectorStoreQuery(query_embedding=emb.get_query_embedding(queries[0]), similarity_top_k=5,
                                       mode=VectorStoreQueryMode.MMR, mmr_threshold=0.5))
    assert len(res.ids) == 5 and len(set(res.ids)) == 5
    plain = store.query(VectorStoreQuery(query_embedding=emb.get_query_embedding(queries[0]), similarity_top_k=5))
    assert res.ids[0] == plain.ids[0]  # MMR starts from the best match


def test_persist_and_reload(tmp_path, nodes, emb, queries):
    store = VectroVectorStore(codec="int8")
    index = build_nodes(nodes[:400], emb, store)
    index.storage_context.persist(persist_dir=str(tmp_path))
    assert (tmp_path / "default__vector_store.vectro" / "MANIFEST.json").exists()
    again = VectroVectorStore.from_persist_dir(str(tmp_path))
    assert len(again) == 400
    reloaded = VectorStoreIndex.from_vector_store(again, embed_model=emb)
    for q in queries[:5]:
        assert top(reloaded, q) == top(index, q)
    reloaded.delete_ref_doc("doc5")
    assert len(again) == 399


async def test_async_paths(nodes, emb, queries):
    store = VectroVectorStore(codec="int8")
    index = build_nodes(nodes[:200], emb, store)
    hits = await index.as_retriever(similarity_top_k=3).aretrieve(queries[0])
    assert [h.node.ref_doc_id for h in hits] == top(index, queries[0], k=3)[0]
    await store.adelete("doc0")
    assert len(store) == 199


# The async test needs pytest-asyncio; marked here rather than by a repository-wide asyncio_mode.
test_async_paths = pytest.mark.asyncio(test_async_paths) if _HAS_ASYNCIO else pytest.mark.skip(
    reason="pytest-asyncio is not installed: pip install 'vectro[integrations-test]'")(test_async_paths)
