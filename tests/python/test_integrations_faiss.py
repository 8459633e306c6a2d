"""vectro.to_faiss / vectro.from_faiss against real faiss-cpu: the same codes give the same distances
and top-k in both libraries, FAISS's own encoders agree with the carried-over ranges and codebooks,
and write_index/read_index round trips keep codes and ids bit for bit."""
import numpy as np
import pytest
import vectro

faiss = pytest.importorskip("faiss", reason="faiss-cpu is not installed: pip install 'vectro[faiss]'")

N, NQ, K = 2000, 40, 10


@pytest.fixture(scope="module", autouse=True)
def _one_faiss_thread():
    # FAISS's OpenMP threads spin-wait: on a loaded 2-core CI machine one thread is much faster
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def data(sample):
    corpus, queries = sample
    return np.ascontiguousarray(corpus[:N]), np.ascontiguousarray(queries[:NQ])


def assert_same_topk(ids_a, s_a, ids_b, s_b, *, atol, higher=True):
    """Best-first results of two searches agree: the score columns match within atol, and every id
    clearly inside the k-th score (by more than 2 atol) is returned by both (near-ties may swap)."""
    ids_a, ids_b = np.asarray(ids_a).astype(np.int64), np.asarray(ids_b).astype(np.int64)
    np.testing.assert_allclose(s_a, s_b, rtol=0, atol=atol)
    for ia, sa, ib, sb in zip(ids_a, s_a, ids_b, s_b):
        kth = sa[-1]
        inside_a = set(ia[(sa - kth) * (1 if higher else -1) > 2 * atol].tolist())
        inside_b = set(ib[(sb - kth) * (1 if higher else -1) > 2 * atol].tolist())
        assert inside_a <= set(ib.tolist()) and inside_b <= set(ia.tolist())


def real_to_binary(x):
    out = np.empty((len(x), x.shape[1] // 8), np.uint8)
    for i in range(len(x)):
        faiss.real_to_binary(x.shape[1], faiss.swig_ptr(np.ascontiguousarray(x[i])), faiss.swig_ptr(out[i]))
    return out


def vectro_index(codec, x, metric):
    index = vectro.Index(codec, metric=metric, keep_originals=False)
    index.add(x)
    return index


def test_binary_bits_are_faiss_real_to_binary_and_hamming_distances_equal(data):
    x, q = data
    qe = vectro.quantize_embeddings(x, "binary")
    f = vectro.to_faiss(qe)
    assert isinstance(f, faiss.IndexBinaryFlat) and f.ntotal == N
    # FAISS packs LSB first; the bridge reorders vectro's packbits bytes to match its own encoder
    np.testing.assert_array_equal(faiss.vector_to_array(f.xb).reshape(N, -1), real_to_binary(x))
    D, ids = f.search(real_to_binary(q), K)
    vi = vectro_index(vectro.Codec("binary"), x, "ip")  # the plain sign bits (Index("binary") centres)
    vids, vs = vi.search(q, k=K)
    # vectro scores a binary row mean|q| * (d - 2 hamming)
    ham = np.rint((x.shape[1] - vs / np.abs(q).mean(axis=1, keepdims=True)) / 2)
    assert_same_topk(ids, D.astype(np.float64), vids, ham, atol=0.01, higher=False)
    back = vectro.from_faiss(f)
    bids, bs = back.search(q, k=K)
    np.testing.assert_array_equal(bs, vs)
    np.testing.assert_array_equal(bids, vids)


@pytest.mark.parametrize("metric", ["ip", "l2"])
@pytest.mark.parametrize("precision", ["f16", "bf16"])
def test_half_precision_scalar_quantizer_same_codes_same_results(data, precision, metric):
    x, q = data
    codec = vectro.Codec(precision)
    f = vectro.to_faiss(codec.encode(x), metric=metric)
    want_type = faiss.ScalarQuantizer.QT_fp16 if precision == "f16" else faiss.ScalarQuantizer.QT_bf16
    assert isinstance(f, faiss.IndexScalarQuantizer) and f.sq.qtype == want_type
    # FAISS's own encoder makes the same halves from the floats, to one unit in the last place (its
    # float -> half conversion rounds a few halfway cases the other way; vectro equals NumPy's)
    fe = f.sa_encode(x).view(np.uint16).astype(np.int32)
    ve = codec.encode(x).codes.view(np.uint16).astype(np.int32)
    assert np.abs(fe - ve).max() <= 1 and np.mean(fe == ve) > 0.999
    D, ids = f.search(q, K)
    vids, vs = vectro_index(codec, x, metric).search(q, k=K)
    atol = 1e-4 * float(np.abs(D).max())
    assert_same_topk(ids, D, vids, vs, atol=atol, higher=metric == "ip")


@pytest.mark.parametrize("precision,rounding", [("uint8", "nearest"), ("uint8", "truncate"),
                                                ("int8", "truncate")])
def test_calibrated_8bit_is_qt_8bit_with_the_same_ranges(data, precision, rounding):
    x, q = data
    codec = vectro.Codec(precision, rounding=rounding, calibrated=True).fit(x)
    qe = codec.encode(x)
    f = vectro.to_faiss(qe, metric="ip")
    assert f.sq.qtype == faiss.ScalarQuantizer.QT_8bit
    rec = vectro.reconstruct_embeddings(qe)
    # FAISS decodes the same codes to the same vectors (to float rounding) ...
    np.testing.assert_allclose(f.reconstruct_n(0, N), rec, rtol=0, atol=1e-6)
    # ... scores them exactly ...
    D, ids = f.search(q, K)
    exact = q.astype(np.float64) @ rec.T.astype(np.float64)
    np.testing.assert_allclose(D, np.take_along_axis(exact, ids, 1), atol=1e-4)
    best = np.sort(exact, axis=1)[:, ::-1][:, :K]
    np.testing.assert_allclose(D, best, atol=1e-4)
    # ... and its encoder, given the carried-over ranges, makes vectro's codes (rounded codes: FAISS
    # rounds halves up, vectro to even, so an exact .5 may differ by one)
    fe = f.sa_encode(x).astype(np.int16)
    ve = qe.codes.view(np.uint8).astype(np.int16) ^ (0x80 if precision == "int8" else 0)
    assert np.abs(fe - ve).max() <= 1 and np.mean(fe == ve) > 0.999
    # vectro's own search on those codes (an int8-quantized query) finds the same neighbours
    vids, _ = vectro_index(codec, x, "ip").search(q, k=K)
    overlap = np.mean([len(set(a) & set(b.astype(np.int64))) / K for a, b in zip(ids, vids)])
    assert overlap >= 0.95


@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_pq_8bit_is_index_pq_with_the_codebooks(data, metric):
    x, q = data
    codec = vectro.Codec("pq-48x8").fit(x)
    qe = codec.encode(x)
    f = vectro.to_faiss(qe, metric=metric)
    assert isinstance(f, faiss.IndexPQ) and f.pq.M == 48 and f.pq.nbits == 8
    np.testing.assert_array_equal(f.sa_encode(x), qe.codes)  # FAISS assigns the same centroids
    np.testing.assert_array_equal(f.reconstruct_n(0, N), vectro.reconstruct_embeddings(qe))
    D, ids = f.search(q, K)
    vids, vs = vectro_index(codec, x, metric).search(q, k=K)
    atol = 1e-4 * float(np.abs(D).max()) + (1e-4 * float((q * q).sum(1).max()) if metric == "l2" else 0)
    assert_same_topk(ids, D, vids, vs, atol=atol, higher=metric == "ip")


def test_pq_4bit_is_fast_scan_with_the_codebooks(data):
    x, q = data
    codec = vectro.Codec("pq-96x4").fit(x)
    qe = codec.encode(x)
    f = vectro.to_faiss(qe, metric="ip")
    assert isinstance(f, faiss.IndexPQFastScan) and f.pq.M == 96 and f.pq.nbits == 4
    np.testing.assert_array_equal(f.reconstruct_n(0, N), vectro.reconstruct_embeddings(qe))
    back = vectro.from_faiss(f, as_codes=True)  # unpacked from FAISS's 32-row blocks
    np.testing.assert_array_equal(back.codes, qe.codes)
    # both score with 8-bit look-up tables (each its own quantization): compare each to the exact
    # inner product with the decoded rows, within the tables' rounding
    exact = q.astype(np.float64) @ vectro.reconstruct_embeddings(qe).T.astype(np.float64)
    D, ids = f.search(q, K)
    vids, vs = vectro_index(codec, x, "ip").search(q, k=K)
    for got_ids, got in ((ids, D), (vids.astype(np.int64), vs)):
        np.testing.assert_allclose(got, np.take_along_axis(exact, got_ids, 1), atol=0.02)
    overlap = np.mean([len(set(a) & set(b.astype(np.int64))) / K for a, b in zip(ids, vids)])
    assert overlap >= 0.9


@pytest.mark.parametrize("precision", ["uint4", "uint6"])
def test_uint4_uint6_are_refused_naming_the_8bit_codec(data, precision):
    x, _ = data
    with pytest.raises(ValueError, match=f"{precision}-cal is not converted.*'uint8'"):
        vectro.to_faiss(vectro.Codec(precision).fit(x).encode(x))


@pytest.mark.parametrize("precision", ["uint8", "int8-cal", "pq-24x8", "pq-24x4"])
def test_centred_codecs_fold_the_centre_or_are_refused(data, precision):
    x, q = data
    x = x + np.linspace(-0.3, 0.3, x.shape[1], dtype=np.float32)  # a mean far from 0: centring matters
    codec = vectro.Codec(precision, center=True).fit(x)
    qe = codec.encode(x)
    f = vectro.to_faiss(qe, metric="ip")
    # FAISS decodes the centred codes to vectro's vectors: the centre is in its ranges or codebooks
    atol = 1e-6 if precision in ("uint8", "int8-cal") else 1e-5
    np.testing.assert_allclose(f.reconstruct_n(0, N), vectro.reconstruct_embeddings(qe), rtol=0, atol=atol)
    if precision != "pq-24x4":  # fast-scan scores through 8-bit tables: reconstruct is the check there
        D, ids = f.search(q, K)
        exact = q.astype(np.float64) @ vectro.reconstruct_embeddings(qe).T.astype(np.float64)
        np.testing.assert_allclose(D, np.take_along_axis(exact, ids, 1), atol=1e-4)
    index = vectro.Index("binary", metric="ip")  # centred by default
    index.add(x)
    with pytest.raises(ValueError, match=r"vectro.Codec\('binary'\)"):
        vectro.to_faiss(index)
    with pytest.raises(ValueError, match="centred binary"):
        vectro.to_faiss(vectro.Codec("binary", center=True).fit(x).encode(x))


@pytest.mark.parametrize("precision", ["binary", "f16", "uint8", "pq-24x8", "pq-24x4"])
def test_ids_and_write_read_index_round_trip(tmp_path, data, precision):
    x, q = data
    ids = np.arange(N, dtype=np.uint64) * 7919 + 10**12
    # a name gives a centred codec: uint8 carries its centre in FAISS's ranges; centred binary is
    # refused (test_centred_codecs_fold_the_centre_or_are_refused), so binary is the plain codec
    codec = vectro.Codec("binary") if precision == "binary" else precision
    index = vectro.Index(codec, metric="ip", keep_originals=False)
    index.add(x, ids=ids)
    f = vectro.to_faiss(index)
    wrapper = faiss.IndexBinaryIDMap2 if precision == "binary" else faiss.IndexIDMap2
    assert isinstance(f, wrapper) and f.ntotal == N
    path = str(tmp_path / "f.index")
    if precision == "binary":
        faiss.write_index_binary(f, path)
        g = faiss.read_index_binary(path)
        qq = real_to_binary(q)
    else:
        faiss.write_index(f, path)
        g = faiss.read_index(path)
        qq = q
    D1, I1 = f.search(qq, K)
    D2, I2 = g.search(qq, K)
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_array_equal(D1, D2)
    assert set(I1.ravel().tolist()) <= set(ids.astype(np.int64).tolist())  # FAISS answers in our ids
    # and back: the same codes and ids, so the same vectro answers. The centred uint8 comes back
    # as FAISS holds it, FAISS's truncating form of the same decode (float rounding may differ in
    # the last place) without vectro's centre correction: it answers as the reconstructions do.
    back = vectro.from_faiss(g)
    np.testing.assert_array_equal(back.ids, index.ids)
    r1, s1 = index.search(q, k=K)
    r2, s2 = back.search(q, k=K)
    if precision == "uint8":
        rec = back.get(back.ids).astype(np.float64)  # the decode FAISS holds
        full = q.astype(np.float64) @ rec.T
        want = np.argsort(-full, axis=1, kind="stable")[:, :K]
        assert_same_topk(back.ids[want], np.take_along_axis(full, want, 1), r2, s2, atol=1e-4)
        assert_same_topk(I1, D1, r2, s2, atol=1e-4)  # and so does FAISS
        assert not np.array_equal(s1, s2)  # vectro's own index adds the centre correction
    else:
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(s1, s2)
    qc = vectro.from_faiss(g, as_codes=True)
    np.testing.assert_array_equal(qc.ids, ids)


def test_faiss_trained_indexes_come_over(data):
    """Indexes FAISS trained itself (its k-means, its min/max ranges) read into vectro."""
    x, q = data
    pq = faiss.IndexPQ(x.shape[1], 16, 8, faiss.METRIC_INNER_PRODUCT)
    pq.pq.cp.niter = 5  # what is checked is the bridge, not FAISS's k-means
    pq.train(x)
    pq.add(x)
    v = vectro.from_faiss(pq)
    assert v.codec.precision == "pq-16x8" and v.metric == "ip"
    D, ids = pq.search(q, K)
    vids, vs = v.search(q, k=K)
    assert_same_topk(ids, D, vids, vs, atol=1e-4 * float(np.abs(D).max()))
    np.testing.assert_array_equal(v.codec.encode(x).codes, pq.sa_encode(x))

    sq = faiss.IndexScalarQuantizer(x.shape[1], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2)
    sq.train(x)
    sq.add(x)
    qc = vectro.from_faiss(sq, as_codes=True)
    np.testing.assert_allclose(vectro.reconstruct_embeddings(qc), sq.reconstruct_n(0, N), atol=1e-6)
    fe, ve = sq.sa_encode(x), qc.codec.encode(x).codes  # both truncate: FAISS's int(255 * t)
    assert np.abs(fe.astype(int) - ve).max() <= 1 and np.mean(fe == ve) > 0.999

    fs = faiss.IndexPQFastScan(x.shape[1], 48, 4, faiss.METRIC_INNER_PRODUCT)
    fs.pq.cp.niter = 5
    fs.train(x)
    fs.add(x)
    v4 = vectro.from_faiss(fs)
    np.testing.assert_array_equal(vectro.reconstruct_embeddings(vectro.from_faiss(fs, as_codes=True)),
                                  fs.reconstruct_n(0, N))
    D, ids = fs.search(q, K)
    vids, _ = v4.search(q, k=K)
    assert np.mean([len(set(a) & set(b.astype(np.int64))) / K for a, b in zip(ids, vids)]) >= 0.9


@pytest.mark.parametrize("precision,hint", [("int8", "uint8"), ("int4", "pq-<m>x4"), ("int16", "f16"),
                                            ("int4-g32", "pq-<m>x4"), ("rabitq-2", "binary")])
def test_codecs_faiss_cannot_hold_say_what_to_use(precision, hint):
    x = np.random.default_rng(0).standard_normal((300, 32)).astype(np.float32)
    with pytest.raises(ValueError, match=hint.replace("<", ".").replace(">", ".")):
        vectro.to_faiss(vectro.quantize_embeddings(x, precision))


def test_bad_requests_get_clear_errors():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 32)).astype(np.float32)
    with pytest.raises(ValueError, match="without rotate"):
        vectro.to_faiss(vectro.Codec("pq-8x4", rotate=True).fit(x).encode(x))
    cos = vectro.Index("f16")  # metric "cosine" by default
    cos.add(x)
    with pytest.raises(ValueError, match="no cosine"):
        vectro.to_faiss(cos)
    assert vectro.to_faiss(cos, metric="ip").metric_type == faiss.METRIC_INNER_PRODUCT
    with pytest.raises(ValueError, match="multiple of 8"):
        vectro.to_faiss(vectro.quantize_embeddings(x[:, :30], "binary"))
    with pytest.raises(ValueError, match="int64"):
        vectro.to_faiss(vectro.quantize_embeddings(x, "f16"), ids=[str(i) for i in range(300)])
    with pytest.raises(TypeError):
        vectro.to_faiss(x)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(32), 32, 4)
    with pytest.raises(ValueError, match="IndexIVFFlat"):
        vectro.from_faiss(ivf)
    sq4 = faiss.IndexScalarQuantizer(32, faiss.ScalarQuantizer.QT_4bit)
    sq4.train(x)
    with pytest.raises(ValueError, match="QT_4bit"):
        vectro.from_faiss(sq4)
    neg = faiss.IndexIDMap2(faiss.IndexScalarQuantizer(32, faiss.ScalarQuantizer.QT_fp16))
    neg.add_with_ids(x[:2], np.array([-5, 3], np.int64))
    with pytest.raises(ValueError, match="negative"):
        vectro.from_faiss(neg)


def test_str_ids_are_refused():
    x = np.random.default_rng(2).standard_normal((50, 16)).astype(np.float32)
    index = vectro.Index("f16", metric="ip")
    try:
        index.add(x, ids=[f"doc{i}" for i in range(50)])
    except (TypeError, ValueError):
        pytest.skip("this vectro.Index holds int ids only (the str-id Index is another branch)")
    with pytest.raises(ValueError, match="str ids"):
        vectro.to_faiss(index)
