"""vectro.integrations.pgvector against a real PostgreSQL + pgvector that this module starts (initdb
+ pg_ctl in a temporary directory, a free port, as a non-root user) and stops. Skips, saying why,
when psycopg or the server or the extension is missing (scripts/setup_pgvector.sh installs them)."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pg_server
import pytest
import ranking
import vectro

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed: pip install 'vectro[pgvector]'")
from vectro.integrations import Originals  # noqa: E402
from vectro.integrations import pgvector as pgv  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    why = pg_server.why_not()
    if why:
        pytest.skip(why)
    s = pg_server.PgServer().start()
    try:
        with psycopg.connect(s.dsn(), autocommit=True) as c:
            c.execute("CREATE EXTENSION vector")
        yield s
    finally:
        s.stop()


@pytest.fixture
def conn(server):
    c = psycopg.connect(server.dsn(), autocommit=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def data(sample):
    corpus, queries = sample
    return corpus[:2000], queries[:40]


def table_exists(conn, name):
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def test_centred_binary_codes_go_in_as_reconstructions(conn, data):
    # Index("binary") centres: its codes are the bits of x - c, which a bit column searched with
    # binary_quantize(q) would rank wrongly; the store keeps the reconstructions (c added back)
    x, q = data
    qe = vectro.Codec("binary", center=True).fit(x).encode(x)
    store = pgv.Store(conn, "bin_centred", metric="ip")
    rep = store.upload(qe)
    assert (rep.vectors, rep.detail["embedding"]) == ("float32", "vector(384)")
    ids, scores = store.search(q, k=10, rescore=None)
    exact = q.astype(np.float64) @ vectro.reconstruct_embeddings(qe).T.astype(np.float64)
    np.testing.assert_allclose(scores, np.take_along_axis(exact, ids.astype(np.int64), 1), atol=1e-4)
    np.testing.assert_allclose(scores, -np.sort(-exact, axis=1)[:, :10], atol=1e-4)


def test_binary_codes_equal_binary_quantize_and_hamming_topk_equals_vectro_index(conn, data):
    x, q = data
    store = pgv.Store(conn, "bin_exact", metric="ip")
    rep = store.upload(vectro.quantize_embeddings(x, "binary"), originals=x)
    assert (rep.count, rep.vectors, rep.detail["embedding"]) == (len(x), "codes", "bit(384)")
    # Vectro's binary codes are pgvector's binary_quantize of the same floats, row for row
    bad = conn.execute("SELECT count(*) FROM bin_exact WHERE embedding <> binary_quantize(original)::bit(384)")
    assert bad.fetchone()[0] == 0
    ids, scores = store.search(q, k=10, rescore=None)
    index = vectro.Index(vectro.Codec("binary"), metric="ip")  # the plain sign bits (Index("binary") centres)
    index.add(x)
    want, _ = index.search(q, k=10)
    np.testing.assert_array_equal(ids, want)  # ties in Hamming distance go to the lower id in both
    ham = np.unpackbits(np.packbits(x > 0, axis=1)[ids.astype(np.int64)] ^ np.packbits(q > 0, axis=1)[:, None],
                        axis=2).sum(2)
    np.testing.assert_array_equal(scores, 384 - 2 * ham)


def test_halfvec_topk_equals_vectro_index_on_f16_codes(conn, data):
    x, q = data
    store = pgv.Store(conn, "half_exact", metric="ip")
    store.upload(vectro.quantize_embeddings(x, "f16"))
    assert store.columns()["embedding"] == "halfvec(384)"
    got = conn.execute("SELECT embedding::text FROM half_exact WHERE id = 7").fetchone()[0]
    np.testing.assert_array_equal(np.array(got.strip("[]").split(","), np.float32), x[7].astype(np.float16))
    ids, scores = store.search(q, k=10, rescore=None)
    # pgvector rounds the query to halfvec too: vectro.Index gets the same rounded query
    qh = q.astype(np.float16).astype(np.float32)
    index = vectro.Index("f16", metric="ip")
    index.add(x)
    want, want_s = index.search(qh, k=11)
    np.testing.assert_allclose(scores, want_s[:, :10], rtol=1e-5, atol=1e-6)
    assert ranking.agree(ids, want, want_s, 1e-5)  # where neighbours are not tied, the order agrees


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_reconstructions_in_vector_column_search_exactly(conn, data, metric):
    x, q = data
    qe = vectro.quantize_embeddings(x[:500], "int8")
    store = pgv.Store(conn, f"int8_{metric}", metric=metric)
    rep = store.upload(qe, vectors="float32")
    assert rep.vectors == "float32" and store.columns()["embedding"] == "vector(384)"
    ids, scores = store.search(q[:10], k=5)
    xr = vectro.reconstruct_embeddings(qe)
    if metric == "cosine":
        s = (q[:10] / np.linalg.norm(q[:10], axis=1, keepdims=True)) @ (xr / np.linalg.norm(xr, axis=1,
                                                                                              keepdims=True)).T
        want = np.argsort(-s, axis=1, kind="stable")[:, :5]
        np.testing.assert_allclose(scores, np.take_along_axis(s, want, 1), atol=1e-5)
    else:
        s = ((q[:10, None, :] - xr[None]) ** 2).sum(-1)
        want = np.argsort(s, axis=1, kind="stable")[:, :5]
        np.testing.assert_allclose(scores, np.take_along_axis(s, want, 1), rtol=1e-4)
    np.testing.assert_array_equal(ids, want)


def test_two_stage_search_in_sql_and_locally_with_hnsw(conn, data, tmp_path):
    x, q = data
    ids_in = np.arange(len(x), dtype=np.uint64) * 3 + 5  # ids that are not row numbers
    path = tmp_path / "bin.vqz"
    vectro.save(path, vectro.quantize_embeddings(x, "binary"), ids=ids_in)
    store = pgv.Store(conn, "two_stage", metric="ip")
    store.upload(str(path), originals=x, original_type="halfvec", payload={"row": np.arange(len(x))})
    sql = store.create_index("hnsw")
    assert "USING hnsw (embedding bit_hamming_ops)" in sql
    plan = conn.execute("EXPLAIN " + store.sql_search().replace("%(q)s", "'" + pgv._literal(q[0]) + "'")
                        .replace("%(c)s", "100").replace("%(k)s", "10")).fetchall()
    assert any("two_stage_embedding_hnsw_idx" in r[0] for r in plan), plan
    exact = ids_in[np.argsort(-(q @ x.T), axis=1)[:, :10]]
    ids_db, s_db = store.search(q, k=10, oversample=10)  # rescored in SQL by the halfvec originals
    f16 = tmp_path / "orig.vqz"
    vectro.save(f16, vectro.quantize_embeddings(x, "f16"), ids=ids_in)
    ids_loc, s_loc = store.search(q, k=10, oversample=10, rescore=Originals(f16))
    for got in (ids_db, ids_loc):
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got.tolist(), exact.tolist())])
        assert recall >= 0.85
    assert set(np.unique(ids_db)) <= set(ids_in.tolist())
    # the same candidates rescored by the same f16 values give the same scores where ids agree
    both = ids_db == ids_loc
    np.testing.assert_allclose(s_db[both], s_loc[both], rtol=1e-5, atol=1e-6)
    rows = conn.execute("SELECT id, row FROM two_stage WHERE id = ANY(%s)", ([5, 8],)).fetchall()
    assert sorted(rows) == [(5, 0), (8, 1)]


def test_append_and_payload_types(conn, data):
    x, _ = data
    store = pgv.Store(conn, "append", metric="ip")
    qe = vectro.quantize_embeddings(x[:100], "f16")
    payload = {"title": [f"doc {i}" for i in range(100)], "score": np.linspace(0, 1, 100),
                "meta": [{"i": i} if i % 2 else None for i in range(100)], "flag": [bool(i % 3) for i in range(100)]}
    store.upload(qe, ids=np.arange(100), payload=payload, index="hnsw")
    store.upload(vectro.quantize_embeddings(x[100:150], "f16"), ids=np.arange(100, 150),
                 payload={k: v[:50] for k, v in payload.items()}, index="hnsw")  # the index exists: kept
    assert store.count() == 150 and store.indexed()
    cols = store.columns()
    assert (cols["title"], cols["score"], cols["meta"], cols["flag"]) == ("text", "double precision", "jsonb",
                                                                          "boolean")
    row = conn.execute("SELECT title, score, meta, flag FROM append WHERE id = 3").fetchone()
    assert row == ("doc 3", pytest.approx(3 / 99), {"i": 3}, False)
    assert conn.execute("SELECT meta FROM append WHERE id = 2").fetchone()[0] is None


def test_bad_input_writes_nothing(conn, data, monkeypatch):
    x, _ = data
    store = pgv.Store(conn, "guarded", metric="ip")
    with pytest.raises(ValueError, match="pgvector cannot hold int8 codes"):
        store.upload(vectro.quantize_embeddings(x[:10], "int8"), vectors="codes")
    with pytest.raises(ValueError, match="beyond what the database's ids hold"):
        store.upload(vectro.quantize_embeddings(x[:2], "binary"), ids=np.array([1, 2**63], np.uint64))
    with pytest.raises(ValueError, match="ids repeat"):
        store.upload(vectro.quantize_embeddings(x[:2], "binary"), ids=[4, 4])
    with pytest.raises(ValueError, match=r"ids must be in \[0, 2\*\*64\), got -1 at row 0"):
        store.upload(vectro.quantize_embeddings(x[:2], "binary"), ids=[-1, 4])
    assert not table_exists(conn, "guarded")

    # a failure in the middle of the COPY rolls back the CREATE TABLE too
    monkeypatch.setattr(pgv, "COPY_BYTES", 100 * 60)

    def chunks_then_fail(self, rows, _orig=pgv.Source.chunks):
        for i, c in enumerate(_orig(self, rows)):
            if i == 2:
                raise OSError("disk gone")
            yield c

    monkeypatch.setattr(pgv.Source, "chunks", chunks_then_fail)
    with pytest.raises(OSError, match="disk gone"):
        store.upload(vectro.quantize_embeddings(x[:1000], "binary"))
    assert not table_exists(conn, "guarded")
    monkeypatch.undo()

    store.upload(vectro.quantize_embeddings(x[:100], "binary"))
    with pytest.raises(ValueError, match="dimension 384, this upload 128"):
        store.upload(vectro.quantize_embeddings(x[:5, :128], "binary"), ids=[500, 501, 502, 503, 504])
    with pytest.raises(ValueError, match="precision 'binary', this upload 'f16'"):
        store.upload(vectro.quantize_embeddings(x[:5], "f16"), ids=[500, 501, 502, 503, 504])
    # the last id collides with a stored one: the database refuses, the whole upload is rolled back
    with pytest.raises(ValueError, match="ids already in table .*nothing was written"):
        store.upload(vectro.quantize_embeddings(x[:300], "binary"), ids=np.arange(1000, 1300).tolist()[:-1] + [7])
    assert store.count() == 100
    with pytest.raises(ValueError, match="queries have dimension 3"):
        store.search(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="metric 'ip', not 'l2'"):
        pgv.Store(conn, "guarded", metric="l2")
    conn.execute("CREATE TABLE not_ours (id int)")
    with pytest.raises(ValueError, match="not made by vectro"):
        pgv.Store(conn, "not_ours")


def test_upload_commits_on_a_connection_without_autocommit(server, data):
    x, _ = data
    c = psycopg.connect(server.dsn())  # autocommit off: psycopg opens transactions implicitly
    store = pgv.Store(c, "no_autocommit", metric="ip")
    store.upload(vectro.quantize_embeddings(x[:50], "binary"))
    assert store.count() == 50
    with psycopg.connect(server.dsn()) as other:  # committed: another session sees the rows
        assert other.execute("SELECT count(*) FROM no_autocommit").fetchone()[0] == 50
    c.close()


def test_quantization_config_and_sql_helpers(conn):
    plan = pgv.quantization_config("binary", metric="cosine")
    assert (plan.precision, plan.vectors, plan.native["column_type"], plan.oversample) == ("binary", "codes", "bit",
                                                                                         10.0)
    plan = pgv.quantization_config(vectro.Codec("int8"), metric="cosine")
    assert (plan.precision, plan.vectors, plan.native["opclass"]) == ("f16", "float16", "halfvec_cosine_ops")
    store = pgv.Store(conn, "helpers", metric="l2")
    assert store.sql_create_table(8, "halfvec", "vector") == (
        'CREATE TABLE "helpers" (\n  id bigint PRIMARY KEY,\n  embedding halfvec(8) NOT NULL,\n  original vector(8)\n)')


def test_example_script(server, monkeypatch, capsys):
    # in this process (psycopg is imported already): a subprocess spent seconds importing
    monkeypatch.setattr(sys, "argv", ["pgvector_example.py", server.dsn()])
    runpy.run_path(str(ROOT / "examples" / "pgvector_example.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "recall@10" in out and "binary_quantize" in out
