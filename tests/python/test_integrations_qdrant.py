"""vectro.integrations.qdrant on qdrant-client's local mode (a real Qdrant engine in Python: it
stores float16/uint8 vectors and searches exhaustively; it ignores quantization settings, which
are checked against the client's own models instead). Skips, saying why, without qdrant-client."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import ranking
import vectro

qdrant_client = pytest.importorskip("qdrant_client", reason="qdrant-client is not installed: "
                                    "pip install 'vectro[qdrant]'")
from qdrant_client import QdrantClient, models  # noqa: E402
from vectro.integrations import Originals, PartialUploadError  # noqa: E402
from vectro.integrations import qdrant as qd  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client():
    c = QdrantClient(":memory:")
    yield c
    c.close()


@pytest.fixture(scope="module")
def data(sample):
    corpus, queries = sample
    return corpus[:1500], queries[:30]


def test_f16_codes_as_float16_points_search_like_vectro_index(client, data, tmp_path):
    x, q = data
    ids = np.arange(len(x), dtype=np.uint64) + np.uint64(2**63 + 11)  # beyond int64: Qdrant ids are unsigned
    path = tmp_path / "shard-07.vqz"
    vectro.save(path, vectro.quantize_embeddings(x, "f16"), ids=ids)
    store = qd.Store(client, "docs", metric="ip")
    rep = store.upload(path)
    assert (rep.vectors, rep.detail["datatype"], store.count()) == ("codes", "float16", len(x))
    p = client.retrieve("docs", ids=[int(ids[5])], with_vectors=True, with_payload=True)[0]
    assert p.payload == {"vectro_shard": "shard-07.vqz", "vectro_row": 5}
    np.testing.assert_array_equal(np.array(p.vector, np.float32), x[5].astype(np.float16))
    got, scores = store.search(q, k=10)
    index = vectro.Index("f16", metric="ip")
    index.add(x, ids=ids)
    want, want_s = index.search(q, k=11)
    np.testing.assert_allclose(scores, want_s[:, :10], rtol=1e-5, atol=1e-6)
    assert ranking.agree(got, want, want_s, 1e-5)


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_reconstructions_and_local_rescoring(client, data, metric):
    x, q = data
    store = qd.Store(client, f"bin_{metric}", metric=metric)
    rep = store.upload(vectro.quantize_embeddings(x, "binary"), payload={"lang": ["en"] * len(x)})
    assert rep.vectors == "float32"
    ids, scores = store.search(q, k=10, oversample=10, rescore=Originals(x))
    if metric == "cosine":
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        s = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ xn.T
        exact = np.argsort(-s, axis=1)[:, :10]
    else:
        s = ((q[:, None] - x[None]) ** 2).sum(-1)
        exact = np.argsort(s, axis=1)[:, :10]
    np.testing.assert_allclose(scores, np.take_along_axis(s, ids.astype(np.int64), 1), rtol=1e-4, atol=1e-5)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), exact.tolist())])
    assert recall >= 0.85
    flt = models.Filter(must=[models.FieldCondition(key="vectro_row", range=models.Range(lt=100))])
    ids_f, _ = store.search(q[:3], k=5, query_filter=flt)
    assert (ids_f < 100).all()


def test_uint8_codes_stored_as_uint8(client):
    codes = np.random.default_rng(1).integers(0, 256, (200, 32), dtype=np.uint8)
    store = qd.Store(client, "u8", metric="ip")
    rep = store.upload(vectro.from_codes(codes, "uint8"))
    assert (rep.vectors, rep.detail["datatype"]) == ("codes", "uint8")
    qv = np.random.default_rng(2).standard_normal((4, 32)).astype(np.float32)
    ids, scores = store.search(qv, k=5)
    s = qv @ codes.T.astype(np.float32)
    np.testing.assert_array_equal(ids, np.argsort(-s, axis=1, kind="stable")[:, :5])


def test_bad_input_and_failed_uploads(client, data):
    x, _ = data
    store = qd.Store(client, "guard", metric="ip")
    with pytest.raises(ValueError, match="Qdrant cannot hold int8 codes"):
        store.upload(vectro.quantize_embeddings(x[:10], "int8"), vectors="codes")
    with pytest.raises(ValueError, match="ids repeat"):
        store.upload(vectro.quantize_embeddings(x[:2], "f16"), ids=[3, 3])
    with pytest.raises(TypeError, match="ids must be integers"):
        store.upload(vectro.quantize_embeddings(x[:2], "f16"), ids=np.array([1.5, 2.0]))
    assert not client.collection_exists("guard")
    store.upload(vectro.quantize_embeddings(x[:100], "f16"))
    with pytest.raises(ValueError, match="holds 384 dims, Dot, float16; this upload 128 dims"):
        store.upload(vectro.quantize_embeddings(x[:5, :128], "f16"), ids=np.arange(500, 505))
    with pytest.raises(ValueError, match="float32; nothing was written"):
        store.upload(vectro.quantize_embeddings(x[:5], "int8"), ids=np.arange(500, 505))
    with pytest.raises(ValueError, match="Cosine"):
        qd.Store(client, "guard", metric="cosine").upload(vectro.quantize_embeddings(x[:5], "f16"),
                                                          ids=np.arange(500, 505))
    assert store.count() == 100

    real = client.upsert
    calls = []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise ConnectionError("server went away")
        return real(*a, **kw)

    client.upsert = flaky
    with pytest.raises(PartialUploadError) as e:  # an existing collection: says what was written
        store.upload(vectro.quantize_embeddings(x[100:400], "f16"), ids=np.arange(100, 400), batch_size=50)
    assert e.value.written == 100 and store.count() == 200
    np.testing.assert_array_equal(e.value.written_ids, np.arange(100, 200))
    calls.clear()
    new = qd.Store(client, "fresh", metric="ip")
    with pytest.raises(RuntimeError, match="the collection was deleted again"):  # a new one: removed
        new.upload(vectro.quantize_embeddings(x[:300], "f16"), batch_size=50)
    assert not client.collection_exists("fresh")


@pytest.mark.filterwarnings("ignore:Local mode performs exact")
def test_quantization_config_matches_qdrant_models(client, data):
    x, q = data
    b = qd.quantization_config("binary")
    assert isinstance(b.native["quantization_config"], models.BinaryQuantization)
    assert b.native["search_params"].quantization == models.QuantizationSearchParams(rescore=True, oversampling=10.0)
    s = qd.quantization_config(vectro.Codec("int8"))
    assert s.native["quantization_config"].scalar.type == models.ScalarType.INT8
    r2 = qd.quantization_config("rabitq-2")
    assert r2.native["quantization_config"].binary.encoding == models.BinaryQuantizationEncoding.TWO_BITS
    p = qd.quantization_config("pq-96x4", dim=384)  # 48 bytes for 1536: 32x
    assert p.native["quantization_config"].product.compression == models.CompressionRatio.X32
    with pytest.raises(ValueError, match="pass dim"):
        qd.quantization_config("pq-96x4")
    choice = vectro.choose(x[:600], min_recall_at_10=0.9, candidates=("binary", "int8", "f16"), sample=600)
    plan = qd.quantization_config(choice)
    assert plan.precision == "f16" and plan.native["quantization_config"] is not None
    for pl in (b, s, r2, p):  # the client's own validation, and a collection made with it
        cfg = pl.native["quantization_config"]
        assert type(cfg).model_validate(cfg.model_dump()) == cfg
        req = models.CreateCollection(vectors=models.VectorParams(size=384, distance=models.Distance.DOT),
                                      quantization_config=cfg)  # the request a server receives
        assert models.CreateCollection.model_validate_json(req.model_dump_json()).quantization_config == cfg
    store = qd.Store(client, "quantized", metric="ip")
    store.upload(vectro.quantize_embeddings(x, plan.precision), quantization_config=b.native["quantization_config"])
    # local mode takes the setting and drops it (it searches exhaustively): what the docs say
    assert client.get_collection("quantized").config.quantization_config is None
    ids, _ = store.search(q, k=10, search_params=b.native["search_params"])
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    assert np.mean([len(set(a) & set(c)) / 10 for a, c in zip(ids.tolist(), exact.tolist())]) > 0.99


def test_local_path_mode_persists(tmp_path, data):
    x, _ = data
    c = QdrantClient(path=str(tmp_path / "qd"))
    qd.Store(c, "p", metric="ip").upload(vectro.quantize_embeddings(x[:20], "f16"), ids=np.arange(20) + 7)
    c.close()
    c = QdrantClient(path=str(tmp_path / "qd"))
    store = qd.Store(c, "p")
    assert store.count() == 20
    assert store.search(x[3], k=1)[0].tolist() == [10]
    c.close()


@pytest.mark.filterwarnings("ignore:Local mode performs exact")
def test_example_script(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["qdrant_example.py"])
    runpy.run_path(str(ROOT / "examples" / "qdrant_example.py"), run_name="__main__")
    assert "recall@10" in capsys.readouterr().out
