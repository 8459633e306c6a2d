"""Files: .vqz round trips for every codec, streaming writes, random access, ids and metadata,
corruption and failure handling, the input formats (.npy, .fvecs, Parquet), and compression in
bounded memory."""
import os
import shutil
import subprocess

import numpy as np
import pytest
import vectro

RNG = np.random.default_rng(11)
ALL = ["int8", "int16", "int4", "int4-g32", "f16", "bf16", "binary", "uint8"]


def data(n, d):
    return RNG.standard_normal((n, d)).astype(np.float32)


@pytest.mark.parametrize("precision", ALL)
def test_round_trip_every_codec(tmp_path, precision):
    x = data(1000, 77)
    q = vectro.quantize_embeddings(x, precision)
    ids = np.arange(1000, dtype=np.uint64) * 7 + 3
    path = tmp_path / "x.vqz"
    vectro.save(path, q, ids=ids, metadata={"model": "all-MiniLM-L6-v2", "n": 1000})
    back = vectro.load(path, verify=True)
    np.testing.assert_array_equal(back.codes, q.codes)
    if q.scales is not None:
        np.testing.assert_array_equal(back.scales, q.scales)
    np.testing.assert_array_equal(back.ids, ids)
    np.testing.assert_array_equal(vectro.reconstruct_embeddings(back), vectro.reconstruct_embeddings(q))
    r = vectro.VqzReader(path)
    assert r.metadata == {"model": "all-MiniLM-L6-v2", "n": 1000} and r.precision == q.precision
    if precision == "uint8":
        np.testing.assert_array_equal(r.codec.ranges, q.codec.ranges)


def test_streaming_writer_random_access(tmp_path):
    path = tmp_path / "s.vqz"
    chunks = [data(n, 64) for n in (1, 999, 4096, 17, 3000)]
    with vectro.VqzWriter(path, "int8", ids=True, block_rows=512) as w:
        start = 0
        for c in chunks:
            w.append(c, ids=np.arange(start, start + len(c), dtype=np.uint64))
            start += len(c)
    x = np.vstack(chunks)
    r = vectro.VqzReader(path)
    assert len(r) == len(x) and r.dim == 64 and r.info["blocks"] == -(-len(x) // 512)
    whole = vectro.quantize_embeddings(x)
    for a, b in [(0, 1), (500, 530), (511, 513), (1024, 4000), (len(x) - 3, len(x))]:
        part = r[a:b]
        np.testing.assert_array_equal(part.codes, whole.codes[a:b])
        np.testing.assert_array_equal(part.ids, np.arange(a, b, dtype=np.uint64))
    assert sum(len(c.codes) for c in r.iter_chunks(1000)) == len(x)
    with pytest.raises(IndexError):
        r.read(0, len(x) + 1)


def test_empty_and_abort(tmp_path):
    path = tmp_path / "e.vqz"
    with vectro.VqzWriter(path, vectro.Codec("f16", 12)):
        pass
    assert len(vectro.VqzReader(path)) == 0
    vectro.VqzReader(path).verify()
    keep = path.read_bytes()
    with pytest.raises(RuntimeError):
        with vectro.VqzWriter(path, "int8") as w:
            w.append(data(10, 12))
            raise RuntimeError("boom")
    assert path.read_bytes() == keep
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.vqz"]


def test_failed_write_leaves_existing_file(tmp_path):
    path = tmp_path / "f.vqz"
    vectro.save(path, vectro.quantize_embeddings(data(10, 8)))
    keep = path.read_bytes()
    bad = data(100, 8)
    bad[57, 3] = np.nan
    with pytest.raises(vectro.VectroError, match="row 57"):
        with vectro.VqzWriter(path, "int8") as w:
            w.append(bad)
    assert path.read_bytes() == keep
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.vqz"]
    with pytest.raises(vectro.VectroError, match="missing-dir"):
        vectro.save(tmp_path / "missing-dir" / "x.vqz", vectro.quantize_embeddings(data(3, 8)))
    with pytest.raises(vectro.VectroError):
        vectro.save("/proc/vectro-readonly.vqz", vectro.quantize_embeddings(data(3, 8)))


def test_corruption_is_detected(tmp_path):
    path = tmp_path / "c.vqz"
    q = vectro.quantize_embeddings(data(300, 16))
    vectro.save(path, q, metadata="hello")
    raw = path.read_bytes()
    bad = tmp_path / "bad.vqz"
    for cut in range(0, len(raw), 97):  # truncations
        bad.write_bytes(raw[:cut])
        with pytest.raises(vectro.VectroError):
            vectro.load(bad, verify=True)
    for off in range(0, len(raw), 53):  # a flipped byte anywhere: never silently wrong data
        b = bytearray(raw)
        b[off] ^= 0x5A
        bad.write_bytes(bytes(b))
        try:
            back = vectro.load(bad, verify=True)
        except vectro.VectroError:
            continue
        pytest.fail(f"flipped byte at {off} went unnoticed ({back})")
    bad.write_bytes(b"not a vqz file at all" * 10)
    with pytest.raises(vectro.VectroError):
        vectro.VqzReader(bad)


def test_newer_major_version_refused(tmp_path):
    path = tmp_path / "v.vqz"
    vectro.save(path, vectro.quantize_embeddings(data(5, 8)))
    info = vectro.VqzReader(path).info
    raw = bytearray(path.read_bytes())
    # the format version follows the 8-byte magic (docs/format.md)
    assert raw[8] | raw[9] << 8 == info["version_major"]
    raw[8] = info["version_major"] + 1
    path.write_bytes(bytes(raw))
    with pytest.raises(vectro.VectroError, match="version"):
        vectro.VqzReader(path)


@pytest.mark.parametrize("fmt", ["npy16", "npy64", "fortran", "fvecs", "bvecs", "ivecs"])
def test_read_embeddings_formats(tmp_path, fmt):
    x = data(257, 24)
    if fmt == "npy16":
        path, want = tmp_path / "a.npy", x.astype(np.float16)
        np.save(path, want)
    elif fmt == "npy64":
        path, want = tmp_path / "a.npy", x.astype(np.float64)
        np.save(path, want)
    elif fmt == "fortran":
        path, want = tmp_path / "a.npy", np.asfortranarray(x)
        np.save(path, want)
    else:
        kind = {"fvecs": np.float32, "bvecs": np.uint8, "ivecs": np.int32}[fmt]
        want = (np.abs(x) * 50).astype(kind) if kind != np.float32 else x
        path = tmp_path / f"a.{fmt}"
        dim = np.full((len(x), 1), 24, np.int32).view(np.uint8)
        path.write_bytes(np.hstack([dim, np.ascontiguousarray(want).view(np.uint8).reshape(len(x), -1)]).tobytes())
    got = np.vstack(list(vectro.read_embeddings(path, chunk_rows=50)))
    np.testing.assert_array_equal(got, np.asarray(want, dtype=np.float32))


def test_read_embeddings_bad_files(tmp_path):
    with pytest.raises(vectro.VectroError, match="missing.npy"):
        list(vectro.read_embeddings(tmp_path / "missing.npy"))
    np.save(tmp_path / "i.npy", np.arange(6, dtype=np.int64).reshape(2, 3))
    with pytest.raises(vectro.VectroError):
        list(vectro.read_embeddings(tmp_path / "i.npy"))
    np.save(tmp_path / "t.npy", data(10, 4))
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[:-5])
    with pytest.raises(vectro.VectroError, match="t.npy"):
        list(vectro.read_embeddings(tmp_path / "t.npy"))


def test_parquet_embeddings(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    x = data(500, 16)
    table = pa.table({"id": np.arange(500), "emb": pa.array(list(x), type=pa.list_(pa.float32()))})
    pq.write_table(table, tmp_path / "e.parquet", row_group_size=128)
    got = np.vstack(list(vectro.read_embeddings(tmp_path / "e.parquet", chunk_rows=100)))
    np.testing.assert_array_equal(got, x)
    vectro.compress_file(tmp_path / "e.parquet", tmp_path / "e.vqz", "int8")
    np.testing.assert_array_equal(vectro.load(tmp_path / "e.vqz").codes, vectro.quantize_embeddings(x).codes)


def test_compress_file_matches_in_memory(tmp_path, sample):
    corpus, _ = sample
    np.save(tmp_path / "c.npy", corpus)
    for p in ("int8", "uint8", "binary"):
        codec = vectro.compress_file(tmp_path / "c.npy", tmp_path / f"c-{p}.vqz", p, chunk_rows=333)
        back = vectro.load(tmp_path / f"c-{p}.vqz", verify=True)
        want = codec.encode(corpus)
        np.testing.assert_array_equal(back.codes, want.codes)


VECTRO = shutil.which("vectro")


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
def test_cli_compress_in_bounded_memory(tmp_path):
    """An input of ~400 MB compresses under a 120 MB address-space cap (ulimit -v): memory is set
    by the chunk, not by the input. The result equals the in-memory encoding of a sample."""
    d, n = 256, 400_000  # 409.6 MB of float32
    path = tmp_path / "big.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(0)
    for a in range(0, n, 50_000):
        mm[a:a + 50_000] = rng.standard_normal((50_000, d), dtype=np.float32)
    mm.flush()
    del mm
    out = tmp_path / "big.vqz"
    cmd = f"ulimit -v 120000 && {VECTRO} compress --quiet --chunk 20000 --threads 2 {path} {out}"
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(path) > 3 * 120_000 * 1024
    q = vectro.VqzReader(out)
    assert len(q) == n
    head = np.load(path, mmap_mode="r")[:1000]
    np.testing.assert_array_equal(q[:1000].codes, vectro.quantize_embeddings(np.asarray(head)).codes)
    # the same under a cap too small for the input, to show the cap bites
    small = subprocess.run(["bash", "-c", f"ulimit -v 120000 && python3 -c 'import numpy as np; "
                                           f"np.load(\"{path}\")'"], capture_output=True, text=True)
    assert small.returncode != 0


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
def test_cli_file_commands(tmp_path, sample):
    corpus, _ = sample
    np.save(tmp_path / "c.npy", corpus)
    run = lambda *a: subprocess.run([VECTRO, *map(str, a)], capture_output=True, text=True)  # noqa: E731
    r = run("compress", "--codec", "int4-g32", "--metadata", '{"model": "minilm"}', tmp_path / "c.npy",
            tmp_path / "c.vqz")
    assert r.returncode == 0, r.stderr
    info = run("info", tmp_path / "c.vqz").stdout
    assert "int4" in info and "4000 x 384" in info and "minilm" in info
    assert run("verify", tmp_path / "c.vqz").returncode == 0
    r = run("decompress", tmp_path / "c.vqz", tmp_path / "back.npy")
    assert r.returncode == 0, r.stderr
    back = np.load(tmp_path / "back.npy")
    want = vectro.reconstruct_embeddings(vectro.quantize_embeddings(corpus, "int4-g32"))
    np.testing.assert_array_equal(back, want)
    ev = run("eval", "--original", tmp_path / "c.npy", tmp_path / "c.vqz")
    assert ev.returncode == 0 and "cosine" in ev.stdout
    raw = bytearray((tmp_path / "c.vqz").read_bytes())
    raw[len(raw) // 2] ^= 1
    (tmp_path / "bad.vqz").write_bytes(bytes(raw))
    r = run("verify", tmp_path / "bad.vqz")
    assert r.returncode == 3 and "bad.vqz" in r.stderr
    (tmp_path / "back.npy").write_bytes(b"keep me")
    r = run("decompress", tmp_path / "bad.vqz", tmp_path / "back.npy")
    assert r.returncode == 3 and (tmp_path / "back.npy").read_bytes() == b"keep me"
    r = run("compress", tmp_path / "c.npy", tmp_path / "no-such-dir" / "x.vqz")
    assert r.returncode == 3 and "no-such-dir" in r.stderr
    assert run("compress", "--codec", "int3", tmp_path / "c.npy", tmp_path / "x.vqz").returncode == 2
    for cmd in ("compress", "decompress", "verify", "bench"):
        assert run(cmd, "--help").returncode == 0
    b = run("bench", "--mb", 8)
    assert b.returncode == 0 and "int4-g32" in b.stdout


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
def test_full_disk_and_crash_leave_no_complete_looking_file(tmp_path, sample):
    """A file-size limit stands in for a full disk. With SIGXFSZ ignored the write fails cleanly
    (exit 3, no temporary, the old file intact); with the default action the process is killed
    mid-write, like a crash: the old file is still intact, and any leftover temporary is
    recognisably incomplete, never a file that looks finished."""
    corpus, _ = sample
    src = tmp_path / "c.npy"
    np.save(src, np.vstack([corpus] * 3))
    out = tmp_path / "out.vqz"
    vectro.save(out, vectro.quantize_embeddings(corpus[:10]))
    keep = out.read_bytes()
    limit_kb = 1024  # the compressed file needs ~4.6 MB
    r = subprocess.run(["bash", "-c", f"trap '' XFSZ; ulimit -f {limit_kb}; {VECTRO} compress --quiet {src} {out}"],
                       capture_output=True, text=True)
    assert r.returncode == 3 and "out.vqz" in r.stderr, r.stderr
    assert out.read_bytes() == keep
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npy", "out.vqz"]
    r = subprocess.run(["bash", "-c", f"ulimit -f {limit_kb}; exec {VECTRO} compress --quiet {src} {out}"],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert out.read_bytes() == keep
    for p in tmp_path.iterdir():
        if p.name not in ("c.npy", "out.vqz"):
            with pytest.raises(vectro.VectroError):
                vectro.VqzReader(p)


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
def test_progress_bar_only_on_a_terminal(tmp_path, sample):
    import pty

    corpus, _ = sample
    np.save(tmp_path / "c.npy", corpus)
    master, slave = pty.openpty()
    p = subprocess.Popen([VECTRO, "compress", tmp_path / "c.npy", tmp_path / "a.vqz"], stderr=slave,
                         stdout=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    p.wait()
    os.close(master)
    tty_err = b"".join(chunks).decode()
    assert p.returncode == 0 and "ETA" in tty_err and "100.0%" in tty_err and "MB/s" in tty_err
    piped = subprocess.run([VECTRO, "compress", tmp_path / "c.npy", tmp_path / "b.vqz"], capture_output=True,
                           text=True)
    assert piped.returncode == 0 and "ETA" not in piped.stderr
    quiet = subprocess.run([VECTRO, "compress", "--quiet", tmp_path / "c.npy", tmp_path / "c.vqz"],
                           capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stderr == ""
