"""Files changed under an open reader, checksum-valid files that decode to NaN/Inf, headers that
ask for huge allocations, and valid but very wide files: each gives a clear error or the right
answer, never a crash. scripts/test_python_asan.sh runs this file under AddressSanitizer."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import vectro
from vectro import _core


def _write(path, n=2000, d=64, precision="int8", block_rows=100):
    x = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    q = vectro.quantize_embeddings(x, precision)
    with vectro.VqzWriter(path, q.codec, block_rows=block_rows) as w:
        w.append_quantized(q)
    return q


def test_truncated_under_an_open_reader_raises_not_sigbus(tmp_path):
    """Before the fix the reader mapped the file, and reading a page past the new end raised
    SIGBUS, which killed Python. Run in a child so that a crash fails this test cleanly."""
    path = tmp_path / "t.vqz"
    _write(path)
    code = textwrap.dedent(f"""
        import os, vectro
        r = vectro.VqzReader({str(path)!r})
        r.read(0, 50)                        # block 0 checked and read
        os.truncate({str(path)!r}, 4096)      # truncated in place while open
        for call in (lambda: r.read(0, 50), lambda: r.read(1500, 1600), r.verify,
                     lambda: r.read(0, len(r))):
            try:
                call()
            except vectro.VectroError as e:
                assert "changed while open" in str(e), e
            else:
                raise SystemExit("a read of the truncated file succeeded")
        print("ok")
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "ok", (p.returncode, p.stdout, p.stderr)


def test_replaced_by_rename_under_an_open_reader_keeps_the_old_file(tmp_path):
    path = tmp_path / "r.vqz"
    q = _write(path)
    r = vectro.VqzReader(path)
    _write(tmp_path / "other.vqz", n=10, d=8, precision="f16")
    os.replace(tmp_path / "other.vqz", path)
    got = r.read()
    assert np.array_equal(got.codes, q.codes) and np.array_equal(got.scales, q.scales)
    r.verify()


# ---- checksum-valid files that decode to NaN/Inf ------------------------------------------------

def _crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli, reflected 0x82F63B78), written here from its definition."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _nonfinite_file(path, kind):
    """A .vqz that passes every checksum (the writer checks scales, not codes) but decodes to Inf
    or NaN: f16/bf16 codes with an all-ones exponent, or an int8 scale of 3e38."""
    n, d = 6, 8
    if kind == "int8":
        codes = np.full((n, d), 127, np.int8)
        scales = np.ones(n, np.float32)
        scales[4] = 3e38
        q = vectro.QuantizedEmbeddings(codes, scales, codec=vectro.Codec("int8"))
    else:
        codes = np.zeros((n, d), np.uint16)
        codes[4, 2] = 0x7C00 if kind == "f16" else 0x7F80
        if kind == "f16-nan":
            codes[4, 2] = 0x7E00
        if kind != "bf16":
            codes = codes.view(np.float16)
        q = vectro.QuantizedEmbeddings(codes, None, codec=vectro.Codec("bf16" if kind == "bf16" else "f16"))
    vectro.save(path, q)
    return q


@pytest.mark.parametrize("kind", ["f16", "f16-nan", "bf16", "int8"])
def test_codes_decoding_to_nonfinite_are_refused(tmp_path, kind):
    path = tmp_path / "nan.vqz"
    q = _nonfinite_file(path, kind)
    with pytest.raises(vectro.VectroError, match="row 4 decodes to NaN or Inf"):
        q.codec.decode(q)
    r = vectro.VqzReader(path)
    with pytest.raises(vectro.VectroError, match="row 4 decodes to NaN or Inf"):
        r.verify()
    with pytest.raises(vectro.VectroError, match="row 4 decodes to NaN or Inf"):
        vectro.load(path)
    # search over such a file never sees those codes: loading the index refuses
    idx_path = tmp_path / "idx.vqz"
    with vectro.VqzWriter(idx_path, q.codec, ids=True, metadata={"vectro_index": 1, "metric": "cosine"}) as w:
        w.append_quantized(q, np.arange(len(q.codes), dtype=np.uint64))
    with pytest.raises(vectro.VectroError, match="decodes to NaN or Inf"):
        vectro.Index.load(idx_path)


VECTRO = shutil.which("vectro")


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
def test_cli_verify_and_decompress_refuse_nonfinite(tmp_path):
    path = tmp_path / "nan.vqz"
    _nonfinite_file(path, "f16")
    v = subprocess.run([VECTRO, "verify", str(path)], capture_output=True, text=True)
    assert v.returncode != 0 and "NaN or Inf" in v.stderr, (v.returncode, v.stdout, v.stderr)
    out = tmp_path / "out.npy"
    dec = subprocess.run([VECTRO, "decompress", str(path), str(out)], capture_output=True, text=True)
    assert dec.returncode != 0 and "NaN or Inf" in dec.stderr and not out.exists()


# ---- headers that ask for huge allocations ----------------------------------------------------

def _patch_codec_dim(blob: bytes, dim: int) -> bytes:
    """A serialized codec (docs/format.md: "VQCD", ..., u64 dim at 12, CRC-32C last) with another
    dimension and a valid checksum."""
    b = bytearray(blob)
    b[12:20] = struct.pack("<Q", dim)
    b[-4:] = struct.pack("<I", _crc32c(bytes(b[:-4])))
    return bytes(b)


def test_tiny_codec_file_cannot_ask_for_gigabytes(tmp_path):
    """A 76-byte rabitq .vqc naming d = 2^26 made Codec.load build 3 GB of rotation tables."""
    blob = vectro.Codec("rabitq-1", 64).to_bytes()
    path = tmp_path / "huge.vqc"
    path.write_bytes(_patch_codec_dim(blob, 1 << 26))
    assert path.stat().st_size < 100
    with pytest.raises(vectro.VectroError, match="more than a header may make a reader allocate"):
        vectro.Codec.load(path)
    assert vectro.Codec.from_bytes(_patch_codec_dim(blob, 4096)).dim == 4096  # real sizes load


def test_tiny_vqz_cannot_ask_for_gigabytes(tmp_path):
    """A ~200-byte rabitq .vqz (no rows) whose header and embedded codec name d = 2^26."""
    path = tmp_path / "huge.vqz"
    with vectro.VqzWriter(path, vectro.Codec("rabitq-1", 64)):
        pass
    b = bytearray(path.read_bytes())
    hs, codec_size = struct.unpack_from("<I", b, 12)[0], struct.unpack_from("<I", b, 52)[0]
    b[hs:hs + codec_size] = _patch_codec_dim(bytes(b[hs:hs + codec_size]), 1 << 26)
    b[24:32] = struct.pack("<Q", 1 << 26)
    b[hs - 4:hs] = struct.pack("<I", _crc32c(bytes(b[:hs - 4])))
    b[-4:] = struct.pack("<I", _crc32c(bytes(b[:-4])))
    path.write_bytes(bytes(b))
    assert len(b) < 300
    with pytest.raises(vectro.VectroError, match="more than a header may make a reader allocate"):
        vectro.VqzReader(path)
    if VECTRO:
        r = subprocess.run([VECTRO, "info", str(path)], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "more than a header may make a reader allocate" in r.stderr


# ---- valid but very wide files ----------------------------------------------------------------

@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
def test_cli_decompress_and_eval_two_rows_of_a_million_dims(tmp_path):
    """Chunks were sized as 65536 rows x d: 256 GiB at d = 2^20, "out of memory" for 2 rows."""
    d = 1 << 20
    x = np.random.default_rng(1).standard_normal((2, d)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = lambda *a: subprocess.run([VECTRO, *map(str, a)], capture_output=True, text=True, timeout=120)  # noqa: E731
    c = run("compress", "--quiet", tmp_path / "x.npy", tmp_path / "x.vqz")
    assert c.returncode == 0, c.stderr
    dec = run("decompress", tmp_path / "x.vqz", tmp_path / "y.npy")
    assert dec.returncode == 0, dec.stderr
    assert np.abs(np.load(tmp_path / "y.npy") - x).max() < 0.05
    ev = run("eval", tmp_path / "x.vqz", "--original", tmp_path / "x.npy")
    assert ev.returncode == 0, ev.stderr


def test_python_chunks_are_sized_in_bytes(tmp_path):
    d = 1 << 20
    x = np.random.default_rng(2).standard_normal((20, d)).astype(np.float32)  # 80 MiB
    np.save(tmp_path / "x.npy", x)
    chunks = list(vectro.read_embeddings(tmp_path / "x.npy"))
    assert all(c.nbytes <= 64 << 20 for c in chunks) and sum(len(c) for c in chunks) == 20
    vectro.compress_file(tmp_path / "x.npy", tmp_path / "x.vqz", "int8")
    r = vectro.VqzReader(tmp_path / "x.vqz")
    parts = list(r.iter_chunks())
    assert sum(len(p.codes) for p in parts) == 20 and all(p.codes.nbytes <= 64 << 20 for p in parts)


# ---- extreme but finite magnitudes ------------------------------------------------------------

@pytest.mark.parametrize("scale", [1e19, 1e-22])
@pytest.mark.parametrize("metric", ["cosine", "l2", "ip"])
@pytest.mark.parametrize("codec", ["int8", "f16", "rabitq-2"])
def test_search_at_extreme_magnitudes(tmp_path, scale, metric, codec):
    """Rows (and queries) scaled by 1e19 overflowed float32 norms and dot products, by 1e-22
    underflowed them: NaN and -0 scores, recall near 0, even with exact rescoring. The index now
    works at the scale of the data and gives the neighbours and scores of the unscaled data."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 32)).astype(np.float32)
    q = x[:6] + np.float32(0.01) * rng.standard_normal((6, 32)).astype(np.float32)
    s = np.float32(scale)
    for over in (None, 4.0):
        # keep_originals: oversample=4.0 rescores against them (no longer the default, issue 13)
        ref = vectro.Index(codec, metric, keep_originals=True)
        ref.add(x)
        want_ids, want = ref.search(q, k=5, oversample=over)
        idx = vectro.Index(codec, metric, keep_originals=True)
        idx.add(x * s)
        ids, got = idx.search(q * s, k=5, oversample=over)
        assert not np.isnan(got).any() and not np.signbit(got[got == 0]).any()
        assert (ids[:, 0] == want_ids[:, 0]).all()
        assert np.mean(ids == want_ids) >= 0.9
        factor = 1.0 if metric == "cosine" else float(scale) ** 2
        expect = want.astype(np.float64) * factor
        ok = np.isfinite(expect) & (np.abs(expect) > 1e-37) & (np.abs(expect) < 3e38)
        np.testing.assert_allclose(got[ok], expect[ok], rtol=0.05, atol=0.02 * factor if metric == "cosine" else 0)
    # a query of ordinary magnitude against rows of 1e19 (cosine and ip rank the same)
    if metric != "l2":
        ids, got = idx.search(q, k=5)
        assert (ids[:, 0] == want_ids[:, 0]).all() and np.isfinite(got).all()
    # saved and loaded, with the originals at their own scale
    np.save(tmp_path / "x.npy", x * s)
    idx.save(tmp_path / "i.vqz")
    back = vectro.Index.load(tmp_path / "i.vqz", originals=tmp_path / "x.npy")
    ids2, got2 = back.search(q * s, k=5, oversample=4.0)
    assert (ids2[:, 0] == want_ids[:, 0]).all() and not np.isnan(got2).any()


def _truth(x, q, metric, k):
    """Top-k ids and scores in float64 on the float32 values given."""
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    if metric == 0:
        s = q64 @ x64.T
    elif metric == 1:
        s = (q64 @ x64.T) / np.linalg.norm(q64, axis=1)[:, None] / np.linalg.norm(x64, axis=1)[None, :]
    else:
        s = ((q64[:, None, :] - x64[None, :, :]) ** 2).sum(-1)
    order = np.argsort(s if metric == 2 else -s, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(s, order, 1), s


def _check_exact(ids, got, x, q, metric, k):
    """ids rank as the float64 truth (near-ties allowed), scores are the truth's where float32
    holds it, else Inf (past its range) or +0 (below it): never NaN or -0."""
    order, want, full = _truth(x, q, metric, k)
    mine = np.take_along_axis(full, ids.astype(np.int64), 1)
    mag = 1.0 if metric == 1 else np.abs(want).max(axis=1, keepdims=True)
    assert (np.abs(mine - want) <= 1e-5 * mag).all(), (ids[:, :3], order[:, :3])
    assert not np.isnan(got).any() and not np.signbit(got[got == 0]).any()
    ok = (np.abs(mine) >= 1e-30) & (np.abs(mine) <= 3e38)
    np.testing.assert_allclose(got[ok], mine[ok], rtol=1e-4)
    assert np.isinf(got[np.abs(mine) > 3.5e38]).all()


@pytest.mark.parametrize("scale", [1e19, 1e-22])
@pytest.mark.parametrize("metric", [0, 1, 2])  # ip, cosine, l2
def test_low_level_search_at_extreme_magnitudes(scale, metric):
    """The functions under Index (vec_search_f32/codes, vec_rescore(_codes), vec_search_rescore,
    reached from Python as _core.*) gave NaN/-0 scores and wrong neighbours for rows of 1e19 or
    1e-22: they now rank as float64 does, exactly on floats, and on codes as well as on the same
    rows unscaled; codecs that cannot hold such rows (f16, pq) refuse them."""
    rng = np.random.default_rng(11)
    x0, q0 = rng.standard_normal((400, 32)).astype(np.float32), rng.standard_normal((5, 32)).astype(np.float32)
    s = np.float32(scale)
    x, q, k = x0 * s, q0 * s, 10
    ids, got = np.empty((5, k), np.uint64), np.empty((5, k), np.float32)
    _core.search_f32(x, q, k, metric, ids, got, 1)
    _check_exact(ids, got, x, q, metric, k)
    cand = np.tile(np.arange(400, dtype=np.uint64), (5, 1))
    ids2, got2 = np.empty_like(ids), np.empty_like(got)
    _core.rescore(x, q, cand, k, metric, ids2, got2, 1)
    assert (ids2 == ids).all() and (got2 == got).all()
    truth = _truth(x0, q0, metric, k)[0]
    for prec in ("int8", "int4", "bf16", "rabitq-2", "uint8"):
        codec = vectro.Codec(prec)
        if codec.needs_training:
            codec.fit(x)
        qz = codec.encode(x)
        _core.search_codes(codec._h, qz.codes, qz.scales, None, q, k, metric, ids, got, 1)
        assert not np.isnan(got).any() and not np.signbit(got[got == 0]).any(), prec
        base = vectro.Codec(prec)
        if base.needs_training:
            base.fit(x0)
        bq = base.encode(x0)
        bids = np.empty_like(ids)
        _core.search_codes(base._h, bq.codes, bq.scales, None, q0, k, metric, bids, got2, 1)
        for j in range(5):
            mine = len(set(ids[j].tolist()) & set(truth[j].tolist()))
            theirs = len(set(bids[j].tolist()) & set(truth[j].tolist()))
            assert mine >= theirs - 2, (prec, j, mine, theirs)
        _core.rescore_codes(codec._h, qz.codes, qz.scales, None, q, cand, k, metric, ids2, got2, 1)
        assert (ids2 == ids).all() and (got2 == got).all(), prec
        for over in (40.0, 0.0) if prec.startswith("rabitq") else (40.0,):  # 40: every row
            _core.search_rescore(codec._h, qz.codes, qz.scales, x, None, q, k, metric, over, ids2, got2, 1, 1.0)
            _check_exact(ids2, got2, x, q, metric, k)
    for prec in ("f16", "pq-8x8"):
        codec = vectro.Codec(prec)
        with pytest.raises(vectro.VectroError):
            if codec.needs_training:
                codec.fit(x)
            codec.encode(x)
