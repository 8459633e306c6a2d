"""vectro.integrations.langchain against LangChain's own conformance suites (langchain-tests:
VectorStoreIntegrationTests, EmbeddingsUnitTests, EmbeddingsIntegrationTests), and on the shipped
real MiniLM embeddings against langchain-core's InMemoryVectorStore: same neighbours, scores within
the int8 error, filters, MMR, async variants, and crash-safe dump/load."""
import inspect
import json
import os
from pathlib import Path

import numpy as np
import pytest
import vectro

pytest.importorskip("langchain_core", reason="langchain-core is not installed: pip install 'vectro[langchain]'")
_TEST_EXTRA = "pip install 'vectro[integrations-test]'"
pytest.importorskip("langchain_tests", reason=f"langchain-tests is not installed: {_TEST_EXTRA}")
pytest.importorskip("pytest_asyncio", reason=f"pytest-asyncio is not installed: {_TEST_EXTRA}")

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, VectorStoreIntegrationTests  # noqa: E402
from langchain_tests.unit_tests import EmbeddingsUnitTests  # noqa: E402
from vectro.integrations.langchain import VectroEmbeddings, VectroVectorStore  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _async_tests_run_on_asyncio(cls):
    """The suites' async tests need pytest-asyncio; instead of asyncio_mode = auto for the whole
    repository, mark just these (the mark is added to the suite's own functions, so the suite's
    check that no standard test was overridden still holds)."""
    for name in dir(cls):
        fn = getattr(cls, name)
        if name.startswith("test_") and inspect.iscoroutinefunction(fn):
            pytest.mark.asyncio(fn)
    return cls


@_async_tests_run_on_asyncio
class TestVectroVectorStoreInt8(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self):
        store = VectroVectorStore(embedding=self.get_embeddings(), codec="int8")
        yield store
        store.delete()


@_async_tests_run_on_asyncio
class TestVectroVectorStoreF16Reloaded(VectorStoreIntegrationTests):
    """The same suite on a store that went through dump/load (empty) and keeps originals."""

    @pytest.fixture()
    def vectorstore(self, tmp_path):
        VectroVectorStore(embedding=self.get_embeddings(), codec="f16", keep_originals=True).dump(tmp_path / "s")
        store = VectroVectorStore.load(tmp_path / "s", self.get_embeddings())
        yield store
        store.delete()


@_async_tests_run_on_asyncio
class TestVectroEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self):
        return VectroEmbeddings

    @property
    def embedding_model_params(self):
        return {"embeddings": DeterministicFakeEmbedding(size=64), "codec": "int8"}


@_async_tests_run_on_asyncio
class TestVectroEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self):
        return VectroEmbeddings

    @property
    def embedding_model_params(self):
        return {"embeddings": DeterministicFakeEmbedding(size=64), "codec": "int4-g32", "cache_queries": True}


class SampleEmbeddings(Embeddings):
    """The shipped all-MiniLM-L6-v2 vectors of the sample passages, looked up by text; counts calls."""

    def __init__(self):
        texts = (SAMPLE / "corpus.txt").read_text("utf-8").splitlines()
        queries = (SAMPLE / "queries.txt").read_text("utf-8").splitlines()
        vecs = np.concatenate([np.load(SAMPLE / "corpus.npy"), np.load(SAMPLE / "queries.npy")])
        self.table = dict(zip(texts + queries, vecs))
        self.calls = 0

    def embed_documents(self, texts):
        self.calls += 1
        return [self.table[t].tolist() for t in texts]

    def embed_query(self, text):
        self.calls += 1
        return self.table[text].tolist()


@pytest.fixture(scope="module")
def corpus():
    texts = (SAMPLE / "corpus.txt").read_text("utf-8").splitlines()[:1500]
    queries = (SAMPLE / "queries.txt").read_text("utf-8").splitlines()[:30]
    metas = [{"n": i, "parity": "even" if i % 2 == 0 else "odd", "tags": [f"t{i % 5}"]}
             for i in range(len(texts))]
    return texts, metas, queries


@pytest.fixture(scope="module")
def emb():
    return SampleEmbeddings()


def test_same_neighbours_as_in_memory_store_on_real_embeddings(corpus, emb):
    texts, metas, queries = corpus
    ids = [f"d{i}" for i in range(len(texts))]
    ref = InMemoryVectorStore(emb)
    ref.add_texts(texts, metas, ids=ids)
    store = VectroVectorStore.from_texts(texts, emb, metas, ids=ids, codec="int8")
    assert len(store) == len(texts) and store.index.codec.precision == "int8"
    hit = total = 0
    for q in queries:
        want = ref.similarity_search_with_score(q, k=10)
        got = store.similarity_search_with_score(q, k=10)
        assert [d.metadata for d, _ in got] == [store.get_by_ids([d.id])[0].metadata for d, _ in got]
        hit += len({d.id for d, _ in want} & {d.id for d, _ in got})
        total += 10
        # int8 codes: the cosine moves by well under 0.01
        scores = dict((d.id, s) for d, s in want)
        for d, s in got:
            if d.id in scores:
                assert abs(s - scores[d.id]) < 0.01
    assert hit / total >= 0.98
    # kept originals + oversampling: exact scores, so the very same answers as the float store
    exact = VectroVectorStore.from_texts(texts, emb, metas, ids=ids, codec="int4-g32", keep_originals=True,
                                         oversample=10)
    for q in queries[:10]:
        want = ref.similarity_search_with_score(q, k=5)
        got = exact.similarity_search_with_score(q, k=5)
        assert [d.id for d, _ in got] == [d.id for d, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


def test_filters_return_k_matches(corpus, emb):
    texts, metas, queries = corpus
    store = VectroVectorStore.from_texts(texts, emb, metas, codec="int8")
    q = queries[0]
    odd = store.similarity_search(q, k=10, filter={"parity": "odd"})
    assert len(odd) == 10 and all(d.metadata["parity"] == "odd" for d in odd)
    rng = store.similarity_search(q, k=10, filter={"n": {"$gte": 100, "$lt": 110}})
    assert sorted(d.metadata["n"] for d in rng) == list(range(100, 110))
    both = store.similarity_search(q, k=3, filter={"$or": [{"n": 7}, {"n": {"$in": [8, 9]}}]})
    assert sorted(d.metadata["n"] for d in both) == [7, 8, 9]
    tagged = store.similarity_search(q, k=5, filter={"tags": {"$contains": "t3"}, "parity": {"$ne": "even"}})
    assert len(tagged) == 5 and all("t3" in d.metadata["tags"] and d.metadata["n"] % 2 for d in tagged)
    fn = store.similarity_search(q, k=4, filter=lambda d: d.metadata["n"] < 4)
    assert sorted(d.metadata["n"] for d in fn) == [0, 1, 2, 3]
    assert store.similarity_search(q, k=4, filter={"parity": "none"}) == []
    # the filtered answer is the unfiltered ranking restricted to the matches
    full = [d for d in store.similarity_search(q, k=len(texts)) if d.metadata["parity"] == "odd"][:10]
    assert [d.id for d in full] == [d.id for d in odd]
    with pytest.raises(ValueError, match="unknown filter operator"):
        store.similarity_search(q, k=1, filter={"n": {"$regex": "x"}})


def test_mmr_equals_in_memory_store_with_originals(corpus, emb):
    texts, metas, queries = corpus
    ids = [f"d{i}" for i in range(len(texts))]
    ref = InMemoryVectorStore(emb)
    ref.add_texts(texts, metas, ids=ids)
    store = VectroVectorStore.from_texts(texts, emb, metas, ids=ids, codec="int8", keep_originals=True,
                                         oversample=10)
    for q in queries[:5]:
        want = ref.max_marginal_relevance_search(q, k=5, fetch_k=20, lambda_mult=0.3)
        got = store.max_marginal_relevance_search(q, k=5, fetch_k=20, lambda_mult=0.3)
        assert [d.id for d in got] == [d.id for d in want]
    codes_only = VectroVectorStore.from_texts(texts, emb, metas, ids=ids, codec="int8")
    got = codes_only.max_marginal_relevance_search(queries[0], k=5, fetch_k=20, filter={"parity": "even"})
    assert len(got) == 5 and all(d.metadata["parity"] == "even" for d in got)


async def _async_matches_sync(corpus, emb):
    texts, metas, queries = corpus
    store = VectroVectorStore(emb, "int8")
    ids = await store.aadd_texts(texts[:200], metas[:200])
    assert len(ids) == 200
    s1 = store.similarity_search_with_score(queries[1], k=5, filter={"parity": "even"})
    s2 = await store.asimilarity_search_with_score(queries[1], k=5, filter={"parity": "even"})
    assert s1 == s2
    assert await store.amax_marginal_relevance_search(queries[1], k=3) == \
        store.max_marginal_relevance_search(queries[1], k=3)
    await store.adelete(ids[:100])
    assert len(store) == 100 and await store.aget_by_ids(ids[:2]) == []
    rel = await store.asimilarity_search_with_relevance_scores(queries[1], k=3)
    assert all(0.0 <= r <= 1.0 for _, r in rel)


@pytest.mark.asyncio
async def test_async_variants(corpus, emb):
    await _async_matches_sync(corpus, emb)


def test_dump_load_round_trip_and_crash_safety(tmp_path, corpus, emb, monkeypatch):
    texts, metas, queries = corpus
    path = tmp_path / "store"
    store = VectroVectorStore.from_texts(texts[:300], emb, metas[:300], codec="int4-g32")
    store.dump(path)
    loaded = VectroVectorStore.load(path, emb)
    for q in queries[:5]:
        assert loaded.similarity_search_with_score(q, k=5) == store.similarity_search_with_score(q, k=5)
    assert sorted(os.listdir(path)) == ["MANIFEST.json", "docs-1.json", "index-1.vqz"]

    # a save that dies before its manifest is written leaves the previous save in force
    store.add_texts(texts[300:400], metas[300:400])
    real_replace = os.replace

    def dying_replace(src, dst):
        if os.path.basename(dst) == "MANIFEST.json":
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(OSError, match="disk full"):
        store.dump(path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert len(VectroVectorStore.load(path, emb)) == 300
    store.dump(path)  # the next save completes and clears the dead generation's files
    assert len(VectroVectorStore.load(path, emb)) == 400
    assert sorted(os.listdir(path)) == ["MANIFEST.json", "docs-2.json", "index-2.vqz"]

    # documents that do not match the index are refused, not served
    docs = json.loads((path / "docs-2.json").read_text())
    docs["ids"][0] = "someone-else"
    (path / "docs-2.json").write_text(json.dumps(docs))
    with pytest.raises(vectro.VectroError, match="not the same"):
        VectroVectorStore.load(path, emb)
    with pytest.raises(FileNotFoundError):
        VectroVectorStore.load(tmp_path / "nothing", emb)


def test_metadata_must_serialize_to_dump(tmp_path, emb, corpus):
    store = VectroVectorStore(emb)
    store.add_texts(corpus[0][:1], [{"when": object()}])
    with pytest.raises(ValueError, match="JSON-serializable"):
        store.dump(tmp_path / "s")
    assert not (tmp_path / "s" / "MANIFEST.json").exists()


def test_embeddings_wrapper_keeps_codes_and_serves_reconstructions(corpus):
    texts = corpus[0][:500]
    model = SampleEmbeddings()
    wrapped = VectroEmbeddings(model, "int8")
    got = np.array(wrapped.embed_documents(texts), np.float32)
    orig = np.array(model.embed_documents(texts), np.float32)
    cos = (got * orig).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(orig, axis=1)
    assert cos.min() > 0.9999
    calls = model.calls
    again = np.array(wrapped.embed_documents(texts[::-1]), np.float32)  # served from the codes
    assert model.calls == calls
    np.testing.assert_array_equal(again, got[::-1])
    assert len(wrapped) == 500 and wrapped.nbytes == 500 * (384 + 4)  # int8 codes + one scale each
    np.testing.assert_array_equal(vectro.reconstruct_embeddings(wrapped.codes(texts[:3])), got[:3])
    # a store over the wrapper answers as well as over the model
    store = VectroVectorStore.from_texts(texts, wrapped, codec="f16")
    assert store.similarity_search(texts[7], k=1)[0].page_content == texts[7]
    with pytest.raises(ValueError, match="fitted"):
        VectroEmbeddings(model, "pq-48x8").embed_query(texts[0])
