"""Inputs built by hand, not drawn at random, so that plausible wrong kernels fail from Python too:
exact rounding ties for int8 (round half to even), the row maximum in each SIMD tail position,
and the 4-bit pq table's quantization step measured against exact table scores. Every kernel this
CPU runs is checked (vectro.set_backend)."""
import struct

import numpy as np
import pytest
import vectro
from vectro import _core

KERNELS = vectro.get_backend_info()["available_kernels"]


@pytest.fixture(params=KERNELS)
def kernel(request):
    vectro.set_backend(request.param)
    yield request.param
    vectro.set_backend("auto")


@pytest.mark.parametrize("d", [9, 16, 33, 67, 130])
def test_int8_ties_round_half_to_even(kernel, d):
    # max |x| = 127 makes the scale 1 and the reciprocal exactly 1: every x.5 is an exact tie.
    ties = np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 125.5, -126.5], np.float32)
    want = np.array([0, 2, 2, 4, 0, -2, -2, 126, -126], np.int8)
    nt = min(len(ties), d - 1)
    for shift in range(0, d, max(1, d // 7)):  # ties in every lane position, the tail included
        x = np.zeros((1, d), np.float32)
        pos = (np.arange(nt) + shift) % (d - 1) + 1
        x[0, 0] = 127.0
        x[0, pos] = ties[:nt]
        q = vectro.quantize_embeddings(x, "int8")
        assert q.scales[0] == 1.0
        np.testing.assert_array_equal(q.codes[0, pos], want[:nt], err_msg=f"{kernel}, d={d}, shift={shift}")


@pytest.mark.parametrize("d", [1, 7, 8, 15, 17, 31, 33, 63, 65, 100, 129])
def test_row_max_in_every_tail_position(kernel, d):
    # The largest |x| sits at each position in turn, the last ones being what a vector loop's
    # tail (or an overlapping reload) must still see.
    rng = np.random.default_rng(d)
    for j in range(d):
        x = rng.uniform(-1, 1, (1, d)).astype(np.float32)
        x[0, j] = -3.0 if j % 2 else 3.0
        q = vectro.quantize_embeddings(x, "int8")
        assert q.scales[0] == np.float32(3.0) / np.float32(127.0), (kernel, d, j)
        assert abs(int(q.codes[0, j])) == 127, (kernel, d, j)


def _pq_centroids(codec):
    """The k-means centroids from the serialized codec, read as docs/format.md lays them out."""
    blob = codec.to_bytes()
    off = 40 + 32  # version 1.1 header and extension
    (flags,) = struct.unpack_from("<I", blob, 36)
    assert flags & 2, "a trained pq codec carries state"
    (size,) = struct.unpack_from("<Q", blob, off)
    m, k, ds, _ = struct.unpack_from("<IIII", blob, off + 8)
    cen = np.frombuffer(blob, "<f4", m * k * ds, off + 8 + 16).reshape(m, k, ds)
    return cen


def test_pq4_scores_within_the_table_step(kernel):
    # 4-bit pq scores look up tables quantized to bytes with one step delta per query (the widest
    # pair of subspace ranges over 253 steps). Each entry is off by at most delta / 2, so the
    # score error has RMS about delta * sqrt(m / 12): a coarser step shows directly.
    rng = np.random.default_rng(3)
    d, m, n, nq = 64, 16, 1500, 12
    x = rng.standard_normal((n, d)).astype(np.float32)
    codec = vectro.Codec(f"pq-{m}x4", train_iters=4, seed=1).fit(x)
    cen = _pq_centroids(codec)
    q = codec.encode(x)
    xh = codec.decode(q)
    queries = rng.standard_normal((nq, d)).astype(np.float32)
    rows = np.empty((nq, n), np.uint64)
    scores = np.empty((nq, n), np.float32)
    _core.search_codes(codec._h, q.codes, None, None, queries, n, 0, rows, scores, 1)
    ratios, worst = [], 0.0
    for i in range(nq):
        exact = xh.astype(np.float64) @ queries[i].astype(np.float64)
        err = scores[i] - exact[rows[i].astype(np.int64)]
        tables = np.einsum("mkd,md->mk", cen, queries[i].reshape(m, -1))
        rng_ = tables.max(1) - tables.min(1)
        delta = max(rng_[0::2] + rng_[1::2]) / 253.0
        ratios.append(np.sqrt(np.mean(err ** 2)) / (delta * np.sqrt(m / 12.0)))
        worst = max(worst, np.abs(err).max() / (m * delta / 2))
    assert worst <= 1.0 + 1e-3, worst  # never past m half-steps
    assert 0.5 < np.mean(ratios) < 1.3, ratios  # the step is delta, not a multiple of it
