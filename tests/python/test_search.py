"""vectro.Index: search on codes against exact search, rescoring, ids through save/load, and the
bad inputs of the search issue."""
import numpy as np
import pytest
import vectro


def exact_topk(db, q, k, metric):
    if metric == "cosine":
        db = db / np.linalg.norm(db, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    if metric == "l2":
        s = -((q[:, None, :].astype(np.float64) - db[None].astype(np.float64)) ** 2).sum(-1)
    else:
        s = q.astype(np.float64) @ db.T.astype(np.float64)
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def recall(a, b):
    return np.mean([len(set(x.tolist()) & set(y.tolist())) / a.shape[1] for x, y in zip(a, b)])


@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
@pytest.mark.parametrize("precision", ["int8", "f16", "int4-g32", "binary", "uint8"])
def test_codes_search_equals_brute_force_on_reconstructions(metric, precision):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((700, 40)).astype(np.float32)
    q = rng.standard_normal((9, 40)).astype(np.float32)
    # the plain codec: an Index given a name centres it (test_quality_e5.py covers centred search)
    index = vectro.Index(vectro.Codec(precision), metric=metric)
    index.add(x)
    ids, scores = index.search(q, k=7)
    rec = vectro.reconstruct_embeddings(index.codec.encode(x))
    if precision == "binary":  # binary search ranks by Hamming: the query is sign(q) * mean|q|
        q = np.where(q > 0, 1.0, -1.0).astype(np.float32) * np.abs(q).mean(axis=1, keepdims=True)
    want = exact_topk(rec, q, 7, metric)
    assert recall(ids.astype(np.int64), want) >= 0.99  # ties in float rounding may swap a neighbour
    assert np.all(np.diff(scores, axis=1) <= 1e-6) if metric != "l2" else np.all(np.diff(scores, axis=1) >= -1e-6)


def test_recall_on_real_embeddings_with_rescoring(sample):
    corpus, queries = sample
    exact = exact_topk(corpus, queries, 10, "ip")
    results = {}
    # binary ranks by Hamming distance (the query's signs): 0.52 alone, 0.935 at 10x, 0.975 at 20x
    for precision, over in [("int8", None), ("int8", 4), ("binary", None), ("binary", 20)]:
        index = vectro.Index(precision, metric="ip", keep_originals=True)
        index.add(corpus)
        ids, _ = index.search(queries, k=10, oversample=over)
        results[(precision, over)] = recall(ids.astype(np.int64), exact)
    assert results[("int8", 4)] >= 0.99
    assert results[("binary", 20)] >= 0.95
    assert results[("binary", 20)] > results[("binary", None)]


def test_ids_survive_save_and_load(tmp_path, sample):
    corpus, queries = sample
    ids = np.arange(len(corpus), dtype=np.uint64) * 1_000_003 + 2**40
    index = vectro.Index("int8", metric="cosine", keep_originals=True)
    index.add(corpus[:1500], ids=ids[:1500])
    index.add(corpus[1500:], ids=ids[1500:])
    a_ids, a_scores = index.search(queries[:20], k=10, oversample=3)
    index.save(tmp_path / "i.vqz")
    np.save(tmp_path / "orig.npy", corpus)
    back = vectro.Index.load(tmp_path / "i.vqz", originals=tmp_path / "orig.npy")
    assert len(back) == len(corpus) and back.metric == "cosine"
    b_ids, b_scores = back.search(queries[:20], k=10, oversample=3)
    np.testing.assert_array_equal(a_ids, b_ids)
    np.testing.assert_allclose(a_scores, b_scores, rtol=1e-6)
    assert set(b_ids.ravel().tolist()) <= set(ids.tolist())


def test_search_bad_inputs():
    x = np.random.default_rng(1).standard_normal((20, 8)).astype(np.float32)
    index = vectro.Index("int8", metric="ip")
    with pytest.raises(vectro.VectroError, match="empty"):
        index.search(x[:1], k=3)
    index.add(x)
    ids, scores = index.search(x[:2], k=25)  # more than the index holds: documented fill
    assert (ids[:, 20:] == vectro.NO_ID).all() and np.isnan(scores[:, 20:]).all()
    assert sorted(ids[0, :20].tolist()) == list(range(20))
    with pytest.raises(ValueError, match="k"):
        index.search(x[:1], k=0)
    with pytest.raises(ValueError, match="dimension"):
        index.search(np.ones((1, 9), np.float32), k=1)
    bad = x[:3].copy()
    bad[2, 1] = np.nan
    with pytest.raises(vectro.VectroError, match="2"):
        index.search(bad, k=1)
    with pytest.raises(vectro.VectroError, match="already"):
        index.add(x[:2], ids=[3, 99])
    with pytest.raises(vectro.VectroError, match="collide"):
        index.add(x[:2], ids=[100, 100])
    noorig = vectro.Index("int8", keep_originals=False)
    noorig.add(x)
    with pytest.raises(ValueError, match="originals"):
        noorig.search(x[:1], k=1, oversample=2)


def test_add_generated_ids_after_given_ones():
    """Generated ids continue after the largest int id ever held, so they never collide with ids
    given earlier (nor with deleted ones), and the index keeps insertion order."""
    x = np.random.default_rng(5).standard_normal((6, 8)).astype(np.float32)
    index = vectro.Index("int8", metric="cosine")
    assert index.add(x[:2], ids=[9, 3]).tolist() == [9, 3]
    assert index.add(x[2:4]).tolist() == [10, 11]
    index.add(x[4:5], ids=[0])
    index.delete([11])
    assert index.add(x[5:]).tolist() == [12]
    assert index.ids.tolist() == [9, 3, 10, 0, 12]
    assert index.search(x[[0, 1, 2, 4, 5]], k=1)[0][:, 0].tolist() == [9, 3, 10, 0, 12]


def test_cli_search(tmp_path, sample):
    import shutil
    import subprocess

    exe = shutil.which("vectro")
    if exe is None:
        pytest.skip("the vectro command is not on PATH")
    corpus, queries = sample
    np.save(tmp_path / "c.npy", corpus)
    np.save(tmp_path / "q.npy", queries[:25])
    ids = np.arange(len(corpus), dtype=np.uint64) + 5000
    index = vectro.Index("binary", metric="ip")
    index.add(corpus, ids=ids)
    index.save(tmp_path / "i.vqz")
    exact = vectro.Index.load(tmp_path / "i.vqz", originals=tmp_path / "c.npy")
    r = subprocess.run([exe, "search", "-k", "10", "--rescore", tmp_path / "c.npy", "--oversample", "10",
                        tmp_path / "i.vqz", tmp_path / "q.npy"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = np.array([line.split("\t") for line in r.stdout.splitlines()])
    got = rows[:, 2].astype(np.uint64).reshape(25, 10)
    want, _ = exact.search(queries[:25], k=10, oversample=10)
    np.testing.assert_array_equal(got, want)
    bad = subprocess.run([exe, "search", tmp_path / "i.vqz", tmp_path / "missing.npy"], capture_output=True, text=True)
    assert bad.returncode == 3 and "missing.npy" in bad.stderr
    assert subprocess.run([exe, "search", "-k", "0", "a", "b"], capture_output=True).returncode == 2
    # rescoring by a scaled error bound: the same rows as Index.search with that bound_scale
    rq = vectro.Index("rabitq-1", metric="ip", keep_originals=True)
    rq.add(corpus, ids=ids)
    rq.save(tmp_path / "r.vqz")
    (tmp_path / "r.vqz.originals.npy").unlink()  # the originals come from --rescore below
    r = subprocess.run([exe, "search", "-k", "10", "--rescore", tmp_path / "c.npy", "--bound-scale", "0.8",
                        tmp_path / "r.vqz", tmp_path / "q.npy"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = np.array([line.split("\t") for line in r.stdout.splitlines()])[:, 2].astype(np.uint64).reshape(25, 10)
    np.testing.assert_array_equal(got, rq.search(queries[:25], k=10, bound_scale=0.8)[0])
    assert "by error bound" in r.stderr
    bad = subprocess.run([exe, "search", "--bound-scale", "0", tmp_path / "r.vqz", tmp_path / "q.npy"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--bound-scale" in bad.stderr


def test_strided_queries(sample):
    corpus, queries = sample
    index = vectro.Index("int8", metric="ip", keep_originals=True)
    index.add(corpus)
    a = index.search(queries[::2], k=5, oversample=2)[0]
    b = index.search(np.ascontiguousarray(queries[::2]), k=5, oversample=2)[0]
    np.testing.assert_array_equal(a, b)


def test_rerank_pipeline(sample, tmp_path):
    corpus, queries = sample
    exact = exact_topk(corpus, queries, 10, "ip")
    two = vectro.Index("binary", metric="ip", rerank="int8", keep_originals=True)
    two.add(corpus)
    ids, scores = two.search(queries, k=10)
    assert recall(ids.astype(np.int64), exact) >= 0.95
    assert two.last_stats["rescored"] > 0
    # Without originals the int8 stage is the last: its scores are int8 estimates, recall still high.
    lean = vectro.Index("binary", metric="ip", rerank="int8", keep_originals=False)
    lean.add(corpus)
    ids2, _ = lean.search(queries, k=10, oversample=10)
    assert recall(ids2.astype(np.int64), exact) >= 0.9
    # The rerank stage read from a higher-precision .vqz, and the float stage from a .npy.
    b = vectro.Index("binary", metric="ip")
    b.add(corpus)
    b.save(tmp_path / "b.vqz")
    i8 = vectro.Index("int8", metric="ip")
    i8.add(corpus)
    i8.save(tmp_path / "i8.vqz")
    np.save(tmp_path / "orig.npy", corpus)
    back = vectro.Index.load(tmp_path / "b.vqz", rerank=tmp_path / "i8.vqz", originals=tmp_path / "orig.npy")
    ids3, scores3 = back.search(queries, k=10)
    np.testing.assert_array_equal(ids3, ids)
    np.testing.assert_array_equal(scores3, scores)


def test_rerank_bad_inputs(sample, tmp_path):
    corpus, _ = sample
    b = vectro.Index("binary", metric="ip")
    b.add(corpus)
    b.save(tmp_path / "b.vqz")
    other = vectro.Index("int8", metric="ip")
    other.add(corpus[:, :32])
    other.save(tmp_path / "small.vqz")
    with pytest.raises(ValueError, match="dimension"):
        vectro.Index.load(tmp_path / "b.vqz", rerank=tmp_path / "small.vqz")
    short = vectro.Index("int8", metric="ip")
    short.add(corpus[:10])
    short.save(tmp_path / "short.vqz")
    with pytest.raises(ValueError, match="rows"):
        vectro.Index.load(tmp_path / "b.vqz", rerank=tmp_path / "short.vqz")
    with pytest.raises(ValueError, match="shape"):
        vectro.Index.load(tmp_path / "b.vqz", originals=corpus[:, :10])
    with pytest.raises(ValueError, match="oversample"):
        b.search(corpus[:1], k=3, oversample=0.5)


def test_many_ids_checked_with_numpy():
    index = vectro.Index("binary", metric="ip", keep_originals=False)
    n = 1_000_000
    x = np.ones((n, 8), np.float32)
    index.add(x, ids=np.arange(n, dtype=np.uint64) * 3)
    with pytest.raises(vectro.VectroError, match="already"):
        index.add(x[:2], ids=[7, 2_999_997])
    index.add(x[:2], ids=[1, 2])
    assert len(index) == n + 2 and index.ids[-1] == 2


def test_cli_search_rescore_from_vqz(tmp_path, sample):
    import shutil
    import subprocess

    exe = shutil.which("vectro")
    if exe is None:
        pytest.skip("the vectro command is not on PATH")
    corpus, queries = sample
    np.save(tmp_path / "q.npy", queries[:20])
    b = vectro.Index("binary", metric="ip")
    b.add(corpus)
    b.save(tmp_path / "b.vqz")
    i8 = vectro.Index("int8", metric="ip")
    i8.add(corpus)
    i8.save(tmp_path / "i8.vqz")
    r = subprocess.run([exe, "search", "-k", "10", "--rescore", tmp_path / "i8.vqz", "--oversample", "10",
                        tmp_path / "b.vqz", tmp_path / "q.npy"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # Index("int8") is centred; the CLI names a codec with its flags, as --codec takes it back
    assert "(binary --center, ip); candidates rescored with the int8 --center codes" in r.stderr
    got = np.array([line.split("\t") for line in r.stdout.splitlines()])[:, 2].astype(np.uint64).reshape(20, 10)
    two = vectro.Index.load(tmp_path / "b.vqz", rerank=tmp_path / "i8.vqz")
    want, _ = two.search(queries[:20], k=10, oversample=10)
    np.testing.assert_array_equal(got, want)
    small = vectro.Index("int8", metric="ip")
    small.add(corpus[:5])
    small.save(tmp_path / "small.vqz")
    bad = subprocess.run([exe, "search", "--rescore", tmp_path / "small.vqz", tmp_path / "b.vqz", tmp_path / "q.npy"],
                         capture_output=True, text=True)
    # two files that do not match: a usage error (exit 2, the README table), not refused data
    assert bad.returncode == 2 and "small.vqz" in bad.stderr
