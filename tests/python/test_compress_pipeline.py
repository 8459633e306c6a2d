"""One compress-a-file pipeline (vec_compress_file): `vectro compress` and vectro.compress_file
write the same bytes for every codec and input format, whatever their chunk sizes; Parquet, read by
pyarrow in Python, feeds the same C writer and gives the same file as the .npy of its rows."""
import os
import shutil
import subprocess

import numpy as np
import pytest
import vectro

VECTRO = shutil.which("vectro")
N, D = 2500, 32
CODECS = ["int8", "int4-g8", "f16", "binary", "uint8", "int8-cal", "pq-8x4", "rabitq-2"]


def _fvecs(path, x):
    rows = np.empty((len(x), x.shape[1] + 1), np.float32)
    rows[:, 0] = np.array([x.shape[1]], np.int32).view(np.float32)[0]
    rows[:, 1:] = x
    rows.tofile(path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipeline")
    x = np.random.default_rng(7).standard_normal((N, D)).astype(np.float32)
    x[:, 3] *= 20  # an anisotropic column, so calibrated ranges matter
    np.save(d / "x32.npy", x)
    np.save(d / "x16.npy", x.astype(np.float16))
    _fvecs(d / "x.fvecs", x)
    return d, x


def _cli(*args):
    r = subprocess.run([VECTRO, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("src", ["x32.npy", "x16.npy", "x.fvecs"])
def test_cli_and_python_write_the_same_bytes(inputs, tmp_path, codec, src):
    d, _ = inputs
    _cli("compress", "--quiet", "--codec", codec, "--metadata", '{"m": 1}', d / src, tmp_path / "cli.vqz")
    vectro.compress_file(d / src, tmp_path / "py.vqz", codec, metadata={"m": 1}, chunk_rows=777)
    assert (tmp_path / "cli.vqz").read_bytes() == (tmp_path / "py.vqz").read_bytes()


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
def test_centred_rabitq_the_same_both_ways(inputs, tmp_path):
    d, _ = inputs
    _cli("compress", "--quiet", "--codec", "rabitq-4", "--center", "--seed", "3", "--chunk", "100",
         d / "x32.npy", tmp_path / "cli.vqz")
    c = vectro.compress_file(d / "x32.npy", tmp_path / "py.vqz", vectro.Codec("rabitq-4", center=True, seed=3))
    assert c.trained  # the pipeline trained the caller's codec
    assert (tmp_path / "cli.vqz").read_bytes() == (tmp_path / "py.vqz").read_bytes()


def test_codes_equal_the_in_memory_encoding(inputs, tmp_path):
    d, x = inputs
    codec = vectro.compress_file(d / "x32.npy", tmp_path / "a.vqz", "uint8", chunk_rows=100)
    q = vectro.load(tmp_path / "a.vqz")
    np.testing.assert_array_equal(q.codes, codec.encode(x).codes)


def test_progress_counts_the_files_rows_and_ends_once_at_total(inputs, tmp_path):
    d, _ = inputs
    seen = []
    vectro.compress_file(d / "x32.npy", tmp_path / "p.vqz", "pq-8x4", chunk_rows=100,
                         progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (N, N)
    assert all(t == N for _, t in seen) and [s for s, _ in seen] == sorted(s for s, _ in seen)


def test_a_codec_of_another_dimension_is_refused(inputs, tmp_path):
    d, _ = inputs
    with pytest.raises(ValueError, match="dimension 32"):
        vectro.compress_file(d / "x32.npy", tmp_path / "o.vqz", vectro.Codec("int8", 16))
    assert not (tmp_path / "o.vqz").exists()


def test_a_bad_row_is_named_by_its_row_in_the_file(tmp_path):
    x = np.ones((500, 8), np.float32)
    x[321, 2] = np.nan
    np.save(tmp_path / "n.npy", x)
    with pytest.raises(vectro.VectroError, match="row 321"):
        vectro.compress_file(tmp_path / "n.npy", tmp_path / "n.vqz", "int8", chunk_rows=100)
    assert sorted(os.listdir(tmp_path)) == ["n.npy"]


@pytest.mark.parametrize("codec", ["int8", "uint8", "pq-8x4"])
def test_parquet_feeds_the_same_writer(inputs, tmp_path, codec):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (the parquet extra)")
    import pyarrow.parquet as pq

    d, x = inputs
    pq.write_table(pa.table({"emb": pa.array(list(x), pa.list_(pa.float32()))}), tmp_path / "x.parquet")
    vectro.compress_file(tmp_path / "x.parquet", tmp_path / "pq.vqz", codec, chunk_rows=600)
    vectro.compress_file(d / "x32.npy", tmp_path / "np.vqz", codec)
    assert (tmp_path / "pq.vqz").read_bytes() == (tmp_path / "np.vqz").read_bytes()
