"""vectro.integrations.pinecone through the real Pinecone SDK against a loopback HTTP server (on
127.0.0.1, started and stopped here) that records every request and answers as Pinecone's API
reference documents (upsert, query, describe_index_stats, delete). Not the live service. Skips,
saying why, without the pinecone SDK."""

import json
import runpy
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import vectro

pinecone = pytest.importorskip("pinecone", reason="the pinecone SDK is not installed: pip install 'vectro[pinecone]'")
from vectro.integrations import Originals, PartialUploadError  # noqa: E402
from vectro.integrations import pinecone as pc  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class FakePinecone:
    """A Pinecone data plane in memory: dense vectors per namespace, dot-product queries."""

    def __init__(self, dim=None):
        self.dim, self.ns, self.requests, self.fail_upsert_at = dim, {}, [], None
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append((self.path, dict(self.headers), body))
                status, out = outer.answer(self.path, body)
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.host = f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, path, body):
        ns = body.get("namespace", "")
        if path == "/vectors/upsert":
            n_up = sum(1 for p, _, _ in self.requests if p == "/vectors/upsert")
            if n_up == self.fail_upsert_at:
                return 400, {"code": 3, "message": "Request size too large", "details": []}
            for v in body["vectors"]:
                self.dim = self.dim or len(v["values"])
                self.ns.setdefault(ns, {})[v["id"]] = np.array(v["values"], np.float32)
            return 200, {"upsertedCount": len(body["vectors"])}
        if path == "/query":
            store = self.ns.get(ns, {})
            ids = list(store)
            s = np.array([store[i] for i in ids]) @ np.array(body["vector"], np.float32) if ids else np.empty(0)
            top = np.argsort(-s, kind="stable")[:body["topK"]]
            return 200, {"matches": [{"id": ids[t], "score": float(s[t]), "values": []} for t in top],
                         "namespace": ns, "usage": {"readUnits": 5}}
        if path == "/describe_index_stats":
            return 200, {"namespaces": {k: {"vectorCount": len(v)} for k, v in self.ns.items()},
                         "dimension": self.dim or 0, "indexFullness": 0.0,
                         "totalVectorCount": sum(len(v) for v in self.ns.values())}
        if path == "/vectors/delete":
            if body.get("deleteAll"):
                self.ns.pop(ns, None)
            return 200, {}
        return 404, {"message": f"no route {path}"}

    def upserts(self):
        return [b for p, _, b in self.requests if p == "/vectors/upsert"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = FakePinecone()
    yield f
    f.close()


def index_for(fake):
    return pinecone.Pinecone(api_key="vectro-test").Index(host=fake.host)


def test_upload_batches_within_limits_and_search(fake, sample, tmp_path):
    x, q = sample[0][:1200], sample[1][:10]
    path = tmp_path / "part-1.vqz"
    ids = np.arange(len(x), dtype=np.uint64) * 7 + 2**40
    vectro.save(path, vectro.quantize_embeddings(x, "f16"), ids=ids)
    store = pc.Store(index_for(fake), namespace="docs", metric="ip")
    rep = store.upload(path, payload={"lang": ["en"] * len(x), "tags": [["a", "b"]] * len(x)})
    ups = fake.upserts()
    assert rep.detail["requests"] == len(ups) > 1
    for body in ups:  # within Pinecone's documented limits: 1,000 vectors and 2 MB a request
        assert len(body["vectors"]) <= 1000 and len(json.dumps(body)) <= 2 * 1024 * 1024
        assert body["namespace"] == "docs"
    sent = [v for b in ups for v in b["vectors"]]
    assert [v["id"] for v in sent] == [str(i) for i in ids]  # string ids, every one once, in order
    np.testing.assert_array_equal(np.array(sent[3]["values"], np.float32), x[3].astype(np.float16))
    assert sent[3]["metadata"] == {"vectro_shard": "part-1.vqz", "vectro_row": 3, "lang": "en", "tags": ["a", "b"]}
    headers = fake.requests[-1][1]
    assert headers["Api-Key"] == "vectro-test"
    assert store.count() == len(x) and store.dim == 384

    got, scores = store.search(q, k=10)
    xf = x.astype(np.float16).astype(np.float32)
    want = np.argsort(-(q @ xf.T), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(got, ids[want])
    qb = [b for p, _, b in fake.requests if p == "/query"][0]
    assert (qb["topK"], qb["namespace"], qb["includeValues"]) == (10, "docs", False)
    got_r, s_r = store.search(q, k=5, oversample=4, rescore=Originals(x, ids=ids))
    np.testing.assert_array_equal(got_r, ids[np.argsort(-(q @ x.T), axis=1)[:, :5]])
    assert [b for p, _, b in fake.requests if p == "/query"][-1]["topK"] == 20
    store.drop()
    assert store.count() == 0


def test_vector_count_limit_and_binary_reconstructions(fake):
    x = np.random.default_rng(0).standard_normal((2500, 8)).astype(np.float32)
    store = pc.Store(index_for(fake), metric="ip")
    store.upload(vectro.quantize_embeddings(x, "binary"))
    assert [len(b["vectors"]) for b in fake.upserts()] == [1000, 1000, 500]
    assert set(fake.upserts()[0]["vectors"][0]["values"]) <= {-1.0, 1.0}


def test_bad_input_before_any_request_and_partial_failure(fake, sample):
    x = sample[0][:300]
    store = pc.Store(index_for(fake), namespace="n", metric="ip")
    with pytest.raises(TypeError, match="Pinecone metadata holds strings"):
        store.upload(vectro.quantize_embeddings(x, "f16"), payload={"m": [{"nested": 1}] * 300})
    with pytest.raises(ValueError, match="float32 dense vectors only"):
        store.upload(vectro.quantize_embeddings(x, "f16"), vectors="float16")
    with pytest.raises(ValueError, match="ids repeat"):
        store.upload(vectro.quantize_embeddings(x[:2], "f16"), ids=[1, 1])
    assert fake.upserts() == []
    store.upload(vectro.quantize_embeddings(x[:10], "f16"))
    with pytest.raises(ValueError, match="holds 384 dimensions, this upload 128; nothing was written"):
        store.upload(vectro.quantize_embeddings(x[:10, :128], "f16"))
    assert len(fake.upserts()) == 1
    fake.fail_upsert_at = 3  # the third upsert request overall is refused
    with pytest.raises(PartialUploadError) as e:
        store.upload(vectro.quantize_embeddings(x, "f16"), ids=np.arange(100, 400), max_vectors=100)
    assert e.value.written == 100
    np.testing.assert_array_equal(e.value.written_ids, np.arange(100, 200))
    assert store.count() == 110
    with pytest.raises(ValueError, match="at most 10000 matches"):
        store.search(x[:1], k=5000, oversample=4, rescore=Originals(x))


def test_plan_and_index_spec():
    plan = pc.quantization_config("binary", metric="cosine")
    assert (plan.vectors, plan.oversample, plan.native["metric"]) == ("float32", 10.0, "cosine")
    assert pc.index_spec(384, "l2") == {"dimension": 384, "metric": "euclidean", "vector_type": "dense"}
    with pytest.raises(ValueError, match="1..20000 dimensions"):
        pc.index_spec(30000)


def test_example_script(monkeypatch, capsys):
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)  # the dry run: no service here
    monkeypatch.setattr(sys, "argv", ["pinecone_example.py"])
    runpy.run_path(str(ROOT / "examples" / "pinecone_example.py"), run_name="__main__")
    assert "dry run: 1000 vectors in" in capsys.readouterr().out
