"""User-facing behaviour from the docs issue: a VqzReader slice past the end, verify()'s result,
a progress callback returning False cancels, the compression ratio of an empty selection."""

import os

import numpy as np
import pytest
import vectro


@pytest.fixture
def thousand(tmp_path):
    X = np.random.default_rng(0).standard_normal((1000, 32)).astype(np.float32)
    path = tmp_path / "x.vqz"
    vectro.save(path, vectro.quantize_embeddings(X, "int8"))
    return path


def test_slice_past_the_end_is_an_error(thousand):
    r = vectro.VqzReader(thousand)
    with pytest.raises(IndexError, match=r"rows \[1000, 2000\) are outside the file's 1000"):
        r[1000:2000]
    with pytest.raises(IndexError, match="outside"):
        r[5000:]
    with pytest.raises(IndexError):
        r[1000]
    assert r[900:2000].shape == (100, 32)  # clipped at the end, as Python slices are
    assert r[-10:].shape == (10, 32)
    assert r[10:10].shape == (0, 32)  # an empty request is not an error


def test_empty_selection_has_the_codec_ratio(thousand):
    r = vectro.VqzReader(thousand)
    empty = r[10:10]
    assert empty.compression_ratio == pytest.approx(r[0:10].compression_ratio)
    assert "nan" not in repr(empty)


def test_verify_returns_what_it_checked(thousand):
    r = vectro.VqzReader(thousand)
    got = r.verify()
    assert got == {"rows": 1000, "blocks": r.info["blocks"], "bytes": os.path.getsize(thousand)}


def test_progress_returning_false_cancels():
    X = np.random.default_rng(1).standard_normal((20000, 64)).astype(np.float32)
    calls = []

    def stop(done, total):
        calls.append(done)
        return False

    with pytest.raises(vectro.VectroError, match="cancelled: the progress callback returned False"):
        vectro.quantize_embeddings(X, "int8", progress=stop)
    assert calls
    q = vectro.quantize_embeddings(X, "int8")
    with pytest.raises(vectro.VectroError, match="cancelled"):
        vectro.reconstruct_embeddings(q, progress=stop)
    # None (no return statement) and True go on
    assert len(vectro.quantize_embeddings(X, "int8", progress=lambda d, t: None)) == 20000
    assert len(vectro.quantize_embeddings(X, "int8", progress=lambda d, t: True)) == 20000


def test_compress_file_cancelled_writes_nothing(tmp_path):
    src = tmp_path / "x.npy"
    np.save(src, np.random.default_rng(2).standard_normal((3000, 16)).astype(np.float32))
    dst = tmp_path / "x.vqz"
    with pytest.raises(vectro.VectroError, match="cancelled"):
        vectro.compress_file(src, dst, "int8", chunk_rows=1000, progress=lambda d, t: d < 2000)
    assert not dst.exists()
    assert sorted(os.listdir(tmp_path)) == ["x.npy"]  # no temporary left behind


@pytest.mark.parametrize("precision", ["uint4", "uint6", "uint8", "int4-g32", "rabitq-4"])
@pytest.mark.parametrize("center", [False, True])
def test_codec_bytes_round_trip_and_index(precision, center):
    """Found by running the choosing-a-codec guide: an uncentred uint4 codec serialized 32 bytes
    short of what its reader expects (format 2.x always carries the 1.1 extension), so
    Codec.from_bytes, .vqz files and Index("uint4") (which copies its codec) all failed."""
    if precision not in vectro.PRECISIONS and precision.split("-")[0] not in ("rabitq",):
        pytest.skip(f"{precision} is not a codec of this build")
    X = np.random.default_rng(3).standard_normal((500, 64)).astype(np.float32)
    c = vectro.Codec(precision, center=center).fit(X)
    again = vectro.Codec.from_bytes(c.to_bytes())
    assert again.to_bytes() == c.to_bytes()
    index = vectro.Index(c, metric="ip")
    index.add(X)
    assert index.search(X[:2], k=1)[0][:, 0].tolist() == [0, 1]
