"""vectro.integrations.weaviate through the real weaviate-client (v4) against a loopback server
started here: REST (schema) over HTTP and gRPC (BatchObjects, Search, Aggregate) on 127.0.0.1,
built from the client's own protobuf definitions. It records every request and answers as
Weaviate's API documents, searching its objects exactly. Not a live Weaviate. Skips, saying why,
without weaviate-client."""

import json
import runpy
import sys
import threading
import uuid
import warnings
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import vectro

with warnings.catch_warnings():  # authlib, which the client imports, warns about its own httpx module
    warnings.simplefilter("ignore")
    weaviate = pytest.importorskip("weaviate", reason="weaviate-client is not installed: "
                                   "pip install 'vectro[weaviate]'")
grpc = pytest.importorskip("grpc", reason="grpcio is not installed: pip install 'vectro[weaviate]'")
from vectro.integrations import Originals, PartialUploadError  # noqa: E402
from vectro.integrations import weaviate as wv  # noqa: E402
from weaviate.proto.v1 import aggregate_pb2, batch_pb2, search_get_pb2, weaviate_pb2_grpc  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning",
                                      "ignore:The httpx module is deprecated")


def floats(b):
    return np.frombuffer(b, "<f4").astype(np.float32)


def vec_of(m):
    """The vector of a BatchObject or NearVector, however the client packed it."""
    if m.vectors:
        return floats(m.vectors[0].vector_bytes)
    return floats(m.vector_bytes) if m.vector_bytes else np.array(m.vector, np.float32)


class FakeWeaviate(weaviate_pb2_grpc.WeaviateServicer):
    """Collections in memory: schema over REST, objects and exact near-vector search over gRPC."""

    def __init__(self):
        self.schema, self.objects, self.requests = {}, {}, []
        self.refuse_rows = set()  # BatchObjects answers these indexes with an error (per batch)
        self.fail_batch_at = None
        outer = self

        class H(BaseHTTPRequestHandler):
            def handle_one(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n)) if n else None
                outer.requests.append(("REST", self.command, self.path, body))
                status, out = outer.rest(self.command, self.path, body)
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

            def log_message(self, *a):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(self, self.grpc)
        self.grpc_port = self.grpc.add_insecure_port("127.0.0.1:0")
        self.grpc.start()

    def rest(self, method, path, body):
        if path.startswith("/v1/meta"):
            return 200, {"version": "1.32.0", "hostname": "http://127.0.0.1", "modules": {}}
        if path == "/v1/schema" and method == "POST":
            self.schema[body["class"]] = body
            self.objects.setdefault(body["class"], {})
            return 200, body
        if path.startswith("/v1/schema/"):
            name = path.split("/")[3].split("?")[0]
            if method == "DELETE":
                self.schema.pop(name, None)
                self.objects.pop(name, None)
                return 200, {}
            return (200, self.schema[name]) if name in self.schema else (404, {"error": [{"message": "not found"}]})
        return 404, {"error": [{"message": f"no route {method} {path}"}]}

    # gRPC
    def BatchObjects(self, request, context):
        self.requests.append(("gRPC", "BatchObjects", request))
        n_batches = sum(1 for r in self.requests if r[1] == "BatchObjects")
        if self.fail_batch_at is not None and n_batches >= self.fail_batch_at:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "message larger than max")
        errors = []
        for i, o in enumerate(request.objects):
            if i in self.refuse_rows:
                errors.append(batch_pb2.BatchObjectsReply.BatchError(index=i, error="vector lengths don't match"))
                continue
            vec = vec_of(o)
            props = dict(o.properties.non_ref_properties.items()) if o.HasField("properties") else {}
            self.objects.setdefault(o.collection, {})[o.uuid] = (vec, props)
        return batch_pb2.BatchObjectsReply(took=0.001, errors=errors)

    def Search(self, request, context):
        self.requests.append(("gRPC", "Search", request))
        objs = self.objects.get(request.collection, {})
        uuids = list(objs)
        results = []
        if request.HasField("near_vector"):
            q = vec_of(request.near_vector)
            metric = self.schema[request.collection]["vectorConfig"]["default"]["vectorIndexConfig"]["distance"]
            x = np.array([objs[u][0] for u in uuids])
            if metric == "dot":
                dist = -(x @ q)
            elif metric == "cosine":
                dist = 1 - (x @ q) / np.linalg.norm(x, axis=1) / np.linalg.norm(q)
            else:  # l2-squared
                dist = ((x - q) ** 2).sum(1)
            order = np.argsort(dist, kind="stable")[:request.limit]
            for t in order:
                results.append(search_get_pb2.SearchResult(metadata=search_get_pb2.MetadataResult(
                    id=uuids[t], id_as_bytes=uuid.UUID(uuids[t]).bytes, distance=float(dist[t]),
                    distance_present=True)))
        else:  # fetch_objects
            for u in uuids[:request.limit]:
                md = search_get_pb2.MetadataResult(id=u, id_as_bytes=uuid.UUID(u).bytes)
                if request.metadata.vector:
                    md.vector_bytes = objs[u][0].astype("<f4").tobytes()
                    md.vectors.add(name="default", vector_bytes=objs[u][0].astype("<f4").tobytes(),
                                   type=1)
                results.append(search_get_pb2.SearchResult(metadata=md))
        return search_get_pb2.SearchReply(took=0.001, results=results)

    def Aggregate(self, request, context):
        n = len(self.objects.get(request.collection, {}))
        return aggregate_pb2.AggregateReply(single_result=aggregate_pb2.AggregateReply.Single(objects_count=n))

    def batches(self):
        return [r[2] for r in self.requests if r[1] == "BatchObjects"]

    def close(self):
        self.grpc.stop(0)
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def server():
    s = FakeWeaviate()
    yield s
    s.close()


@pytest.fixture
def client(server):
    c = weaviate.connect_to_custom(http_host="127.0.0.1", http_port=server.http.server_port, http_secure=False,
                                   grpc_host="127.0.0.1", grpc_port=server.grpc_port, grpc_secure=False,
                                   skip_init_checks=True)
    yield c
    c.close()


def test_objects_schema_and_search_through_the_sdk(server, client, sample, tmp_path):
    x, q = sample[0][:800], sample[1][:10]
    ids = np.arange(len(x), dtype=np.uint64) + np.uint64(2**63)
    path = tmp_path / "shard-2.vqz"
    vectro.save(path, vectro.quantize_embeddings(x, "int8"), ids=ids)
    plan = wv.quantization_config("int8", metric="ip")
    store = wv.Store(client, "Docs", metric="ip")
    rep = store.upload(path, vector_index_config=plan.native, payload={"lang": ["en"] * len(x)})
    assert rep.count == len(x)
    create = [r for r in server.requests if r[:3] == ("REST", "POST", "/v1/schema")][0][3]
    vic = create["vectorConfig"]["default"]["vectorIndexConfig"]
    assert vic["distance"] == "dot" and vic["sq"] == {"enabled": True, "rescoreLimit": 20}
    assert create["vectorConfig"]["default"]["vectorizer"] == {"none": {}}
    batches = server.batches()
    assert [len(b.objects) for b in batches] == [500, 300]
    o = batches[0].objects[3]
    assert o.uuid == str(uuid.UUID(int=int(ids[3]))) and o.collection == "Docs"
    xr = vectro.reconstruct_embeddings(vectro.load(path))
    np.testing.assert_array_equal(vec_of(o), xr[3])  # float32 reconstructions
    props = dict(o.properties.non_ref_properties.items())
    assert props == {"vectro_shard": "shard-2.vqz", "vectro_row": 3, "lang": "en"}
    assert store.count() == len(x)

    got, scores = store.search(q, k=10)
    want = np.argsort(-(q @ xr.T), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(got, ids[want])
    np.testing.assert_allclose(scores, np.take_along_axis(q @ xr.T, want, 1), rtol=1e-5, atol=1e-6)
    got_r, _ = store.search(q, k=5, oversample=4, rescore=Originals(x, ids=ids))
    np.testing.assert_array_equal(got_r, ids[np.argsort(-(q @ x.T), axis=1)[:, :5]])
    last = [r[2] for r in server.requests if r[1] == "Search"][-1]
    assert last.limit == 20 and last.collection == "Docs"


def test_quantizer_configs_are_the_sdks():
    cfgs = {p: wv.quantization_config(p, metric="cosine").native for p in ("binary", "int8", "int4", "rabitq-1",
                                                                          "pq-96x4", "f16")}
    js = {p: c._to_dict() for p, c in cfgs.items()}
    assert js["binary"]["bq"] == {"enabled": True, "rescoreLimit": 100}
    assert js["int8"]["sq"]["enabled"] and js["int4"]["rq"]["bits"] == 4 and js["rabitq-1"]["rq"]["bits"] == 1
    assert js["pq-96x4"]["pq"]["segments"] == 96
    assert not any(k in js["f16"] for k in ("bq", "sq", "pq", "rq")) and js["f16"]["distance"] == "cosine"
    centred = wv.quantization_config(vectro.Codec("rabitq-2", center=True)).native._to_dict()
    assert centred["rq"]["centering"] is True


def test_bad_input_and_failed_uploads(server, client, sample):
    x = sample[0][:300]
    store = wv.Store(client, "Guard", metric="cosine")
    with pytest.raises(ValueError, match="float32 vectors only"):
        store.upload(vectro.quantize_embeddings(x, "f16"), vectors="codes")
    with pytest.raises(ValueError, match="ids repeat"):
        store.upload(vectro.quantize_embeddings(x[:2], "f16"), ids=[5, 5])
    with pytest.raises(ValueError, match="capital letter"):
        wv.Store(client, "lower")
    assert server.batches() == [] and "Guard" not in server.schema
    store.upload(vectro.quantize_embeddings(x[:20], "f16"))
    with pytest.raises(ValueError, match="holds 384-dimensional vectors, this upload 128; nothing was written"):
        store.upload(vectro.quantize_embeddings(x[:5, :128], "f16"), ids=np.arange(100, 105))
    server.refuse_rows = {7}
    with pytest.raises(PartialUploadError) as e:  # the server refused one object of the first batch
        store.upload(vectro.quantize_embeddings(x[20:120], "f16"), ids=np.arange(20, 120), batch_size=50)
    assert e.value.written == 49 and 27 not in e.value.written_ids.tolist()
    server.refuse_rows = set()
    server.fail_batch_at = len(server.batches()) + 1
    with pytest.raises(RuntimeError, match="deleted again"):  # a new collection is removed on failure
        wv.Store(client, "Fresh").upload(vectro.quantize_embeddings(x[:10], "f16"))
    assert "Fresh" not in server.schema


def test_example_script(monkeypatch, capsys):
    monkeypatch.delenv("WEAVIATE_URL", raising=False)  # the dry run: no server here
    monkeypatch.setattr(sys, "argv", ["weaviate_example.py"])
    runpy.run_path(str(ROOT / "examples" / "weaviate_example.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert '"bq"' in out and "objects in" in out


def test_uuid_mapping():
    assert wv.id_of(wv.object_uuid(2**64 - 1)) == 2**64 - 1
    with pytest.raises(ValueError, match="not written by vectro"):
        wv.id_of("ffffffff-ffff-4fff-8fff-ffffffffffff")
