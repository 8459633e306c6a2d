"""vectro.integrations.milvus on milvus-lite 2.5 (the Milvus engine, embedded: it is started by the
client on a file in a temporary directory and stopped with it). Skips, saying why, without
pymilvus / milvus-lite 2.5."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import ranking
import vectro

pymilvus = pytest.importorskip("pymilvus", reason="pymilvus is not installed: pip install 'vectro[milvus]'")
milvus_lite = pytest.importorskip("milvus_lite", reason="milvus-lite is not installed: pip install 'vectro[milvus]'")
from vectro.integrations import Originals, PartialUploadError  # noqa: E402
from vectro.integrations import milvus as mv  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    c = pymilvus.MilvusClient(str(tmp_path_factory.mktemp("milvus") / "vectro.db"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def data(sample):
    corpus, queries = sample
    return corpus[:1000], queries[:20]


def hamming(a, b):
    return np.unpackbits(a[:, None, :] ^ b[None], axis=2).sum(2)


def test_binary_codes_hamming_equals_vectro(client, data, tmp_path):
    x, q = data
    path = tmp_path / "part-3.vqz"
    vectro.save(path, vectro.quantize_embeddings(x, "binary"), ids=np.arange(len(x)) + 10)
    store = mv.Store(client, "bin", metric="ip")
    rep = store.upload(path)
    assert (rep.vectors, rep.detail["field_type"], store.count()) == ("codes", "BINARY_VECTOR", len(x))
    row = client.get("bin", ids=[15], output_fields=["vectro_shard", "vectro_row"])[0]
    assert (row["vectro_shard"], row["vectro_row"]) == ("part-3.vqz", 5)
    ids, scores = store.search(q, k=10)
    h = hamming(np.packbits(q > 0, axis=1), np.packbits(x > 0, axis=1))  # Vectro's codes: packbits(x > 0)
    want = np.argsort(h, axis=1, kind="stable")[:, :11]
    np.testing.assert_array_equal(scores, 384 - 2 * np.take_along_axis(h, want[:, :10], 1))  # Milvus's Hamming = ours
    assert ranking.agree(ids - 10, want, -np.take_along_axis(h, want, 1).astype(float), 0.5)
    index = vectro.Index(vectro.Codec("binary"), metric="ip")  # the plain sign bits (Index("binary") centres)
    index.add(x)
    vids, _ = index.search(q, k=10)
    np.testing.assert_array_equal(np.take_along_axis(h, vids.astype(np.int64), 1),
                                  np.take_along_axis(h, (ids - 10).astype(np.int64), 1))
    ids_r, s_r = store.search(q, k=10, oversample=10, rescore=Originals(x, ids=np.arange(len(x)) + 10))
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10] + 10
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids_r.tolist(), exact.tolist())]) >= 0.85


def test_f16_and_bf16_fields_search_like_vectro(client, data):
    x, q = data
    store = mv.Store(client, "half", metric="ip")
    assert store.upload(vectro.quantize_embeddings(x, "f16")).detail["field_type"] == "FLOAT16_VECTOR"
    ids, scores = store.search(q, k=10)
    index = vectro.Index("f16", metric="ip")
    index.add(x)
    want, want_s = index.search(q.astype(np.float16).astype(np.float32), k=11)  # Milvus takes float16 queries
    np.testing.assert_allclose(scores, want_s[:, :10], rtol=1e-3, atol=1e-4)
    assert ranking.agree(ids, want, want_s, 1e-3)

    bf = mv.Store(client, "bhalf", metric="l2")
    qb = vectro.quantize_embeddings(x[:300], "bf16")
    assert bf.upload(qb).detail["field_type"] == "BFLOAT16_VECTOR"
    ids, scores = bf.search(q, k=5)
    xr = vectro.reconstruct_embeddings(qb)
    qr = vectro.reconstruct_embeddings(vectro.quantize_embeddings(q, "bf16"))  # bfloat16 queries
    s = ((qr[:, None] - xr[None]) ** 2).sum(-1)  # Milvus's L2 is squared, as vectro's
    want = np.argsort(s, axis=1, kind="stable")[:, :6]
    np.testing.assert_allclose(scores, np.take_along_axis(s, want[:, :5], 1), rtol=1e-3)
    assert ranking.agree(ids, want, -np.take_along_axis(s, want, 1), 1e-3)


def test_reconstructions_cosine(client, data):
    x, q = data
    qe = vectro.quantize_embeddings(x[:300], "int8")
    store = mv.Store(client, "int8cos", metric="cosine")
    assert store.upload(qe, payload={"title": [f"t{i}" for i in range(300)]}).vectors == "float32"
    ids, scores = store.search(q, k=5, filter="vectro_row < 100")
    xr = vectro.reconstruct_embeddings(qe)[:100]
    s = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (xr / np.linalg.norm(xr, axis=1, keepdims=True)).T
    want = np.argsort(-s, axis=1, kind="stable")[:, :6]
    np.testing.assert_allclose(scores, np.take_along_axis(s, want[:, :5], 1), atol=1e-5)
    assert ranking.agree(ids, want, np.take_along_axis(s, want, 1), 1e-5)


def test_recreated_collection_takes_its_new_vector_type(client, data):
    # pymilvus caches a collection's schema by name across drop_collection: a collection dropped
    # (by the store or by the client directly) and made again with another vector type must be
    # written with the new type, not fail encoding rows for the old one.
    x, q = data
    store = mv.Store(client, "retyped")
    assert store.upload(x[:50], precision="f16").detail["field_type"] == "FLOAT16_VECTOR"
    store.drop()
    assert store.upload(x[:50], precision="int8").detail["field_type"] == "FLOAT_VECTOR"
    assert store.count() == 50
    client.drop_collection("retyped")
    assert store.upload(x[:50], precision="binary").detail["field_type"] == "BINARY_VECTOR"
    ids, _ = store.search(q[:2], k=3)
    assert ids.shape == (2, 3) and store.count() == 50


def test_bad_input_and_failed_uploads(client, data):
    x, _ = data
    store = mv.Store(client, "guard", metric="ip")
    with pytest.raises(ValueError, match="Milvus cannot hold int8 codes"):
        store.upload(vectro.quantize_embeddings(x[:5], "int8"), vectors="codes")
    with pytest.raises(ValueError, match="divisible by 8"):
        store.upload(vectro.quantize_embeddings(x[:5, :20], "binary"), vectors="codes")
    with pytest.raises(ValueError, match="beyond what the database's ids hold"):
        store.upload(vectro.quantize_embeddings(x[:2], "f16"), ids=np.array([2**63, 1], np.uint64))
    assert not client.has_collection("guard")
    store.upload(vectro.quantize_embeddings(x[:50], "f16"))
    with pytest.raises(ValueError, match="holds FLOAT16_VECTOR of 384 dims .IP.; this upload FLOAT16_VECTOR of 128"):
        store.upload(vectro.quantize_embeddings(x[:5, :128], "f16"), ids=np.arange(100, 105))
    with pytest.raises(ValueError, match="id 49 is already in collection"):
        store.upload(vectro.quantize_embeddings(x[:5], "f16"), ids=[100, 101, 102, 103, 49])
    with pytest.raises(ValueError, match=r"\(IP\); this upload FLOAT16_VECTOR of 384 dims \(L2\)"):
        mv.Store(client, "guard", metric="l2").upload(vectro.quantize_embeddings(x[:5], "f16"), ids=np.arange(100, 105))
    assert store.count() == 50

    real, calls = client.insert, []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise ConnectionError("server went away")
        return real(*a, **kw)

    client.insert = flaky
    try:
        with pytest.raises(PartialUploadError) as e:
            store.upload(vectro.quantize_embeddings(x[50:200], "f16"), ids=np.arange(50, 200), batch_size=40)
        assert e.value.written == 80 and store.count() == 130
        np.testing.assert_array_equal(e.value.written_ids, np.arange(50, 130))
        calls.clear()
        with pytest.raises(RuntimeError, match="dropped again"):
            mv.Store(client, "fresh").upload(vectro.quantize_embeddings(x[:200], "f16"), batch_size=40)
        assert not client.has_collection("fresh")
    finally:
        client.insert = real


def test_quantization_config_is_a_milvus_index(client, data):
    x, _ = data
    plans = {p: mv.quantization_config(p, metric="cosine") for p in ("binary", "int8", "pq-96x4", "f16", "bf16")}
    assert plans["binary"].native["index_type"] == "BIN_IVF_FLAT" and plans["binary"].native["metric_type"] == "HAMMING"
    assert plans["pq-96x4"].native["params"] == {"nlist": 1024, "m": 96, "nbits": 4}
    assert plans["int8"].native["index_type"] == "IVF_SQ8" and plans["int8"].precision == "f16"
    assert plans["bf16"].precision == "bf16"
    for plan in plans.values():  # pymilvus's own IndexParams takes each
        ip = client.prepare_index_params()
        ip.add_index(**plan.native)
        assert ip[0].index_type == plan.native["index_type"]
    plan = plans["binary"]
    store = mv.Store(client, "planned", metric="cosine")
    store.upload(vectro.quantize_embeddings(x[:100], plan.precision), index_params={**plan.native,
                                                                                    "index_type": "BIN_FLAT",
                                                                                    "params": {}})
    assert client.describe_index("planned", "vector")["metric_type"] == "HAMMING"


def test_example_script(monkeypatch, capsys):
    # in this process (the clients are imported already): a subprocess spent seconds importing them
    monkeypatch.setattr(sys, "argv", ["milvus_example.py"])
    runpy.run_path(str(ROOT / "examples" / "milvus_example.py"), run_name="__main__")
    assert "recall@10" in capsys.readouterr().out
