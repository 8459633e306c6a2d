"""Failures found by hostile testing (issue 12), each with the test that caught it: ragged Arrow
rows, chunk_rows=0, output == input, file modes, temporary names, symlinks, Ctrl-C during long C
calls, unreadable metadata, trailing bytes after a codec, and what `python -m vectro` claims."""
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import vectro
from vectro import _core

RNG = np.random.default_rng(12)


def data(n, d):
    return RNG.standard_normal((n, d)).astype(np.float32)


# -- 5: ragged Arrow / Parquet rows ------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_ragged_list_rows_refused_naming_the_first_bad_row(tmp_path, fmt):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    def write(rows, name):
        t = pa.table({"emb": pa.array(rows, pa.list_(pa.float32()))})
        p = tmp_path / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(t, p)
        else:
            with pa.ipc.new_file(str(p), t.schema) as w:
                w.write_table(t)
        return p

    # [[1], [2, 3, 4]]: 4 values over 2 rows would reshape into [[1, 2], [3, 4]].
    p = write([[1.0], [2.0, 3.0, 4.0]], "a")
    with pytest.raises(ValueError, match=r"row 1 has 3 values, row 0 has 1"):
        list(vectro.read_embeddings(p))
    with pytest.raises(ValueError, match="row 1"):
        vectro.compress_file(p, tmp_path / "a.vqz", "f16")
    assert not (tmp_path / "a.vqz").exists()
    # A bad row in a later chunk is named by its row in the file, not in the chunk.
    rows = [[float(i), 1.0] for i in range(10)] + [[1.0, 2.0, 3.0, 4.0]] + [[0.0, 1.0]]
    p = write(rows, "b")
    with pytest.raises(ValueError, match=r"row 10 has 4 values, row 0 has 2"):
        list(vectro.read_embeddings(p, chunk_rows=4))
    ok = write([[1.0, 2.0], [3.0, 4.0]], "c")
    np.testing.assert_array_equal(np.vstack(list(vectro.read_embeddings(ok))), [[1, 2], [3, 4]])


# -- 6: chunk_rows must be positive ------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_chunk_rows_zero_refused(tmp_path, bad):
    src = tmp_path / "x.npy"
    np.save(src, data(10, 4))
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        next(vectro.read_embeddings(src, chunk_rows=bad))
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        vectro.compress_file(src, tmp_path / "x.vqz", "int8", chunk_rows=bad)
    assert not (tmp_path / "x.vqz").exists()


# -- 7: output == input ------------------------------------------------------------------------
def test_compress_file_refuses_to_overwrite_its_input(tmp_path):
    src = tmp_path / "same.npy"
    np.save(src, data(20, 8))
    keep = src.read_bytes()
    os.symlink("same.npy", tmp_path / "link.npy")
    os.link(src, tmp_path / "hard.npy")
    for dst in (src, tmp_path / "link.npy", tmp_path / "hard.npy", str(tmp_path / "." / "same.npy")):
        with pytest.raises(ValueError, match="is the input file"):
            vectro.compress_file(src, dst, "int8")
    assert src.read_bytes() == keep


# -- 12, 13, 14: Codec.save as the C writers --------------------------------------------------
def test_codec_save_mode_umask_long_names_and_links(tmp_path):
    codec = vectro.Codec("uint8").fit(data(100, 8))
    old = os.umask(0o022)
    try:
        p = tmp_path / "c.vqc"
        codec.save(p)
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o644  # new: 0666 narrowed by the umask
        os.chmod(p, 0o600)
        codec.save(p)
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600  # replaced: the mode stays
        os.symlink("c.vqc", tmp_path / "l.vqc")
        vectro.Codec("uint8").fit(data(100, 8) * 2).save(tmp_path / "l.vqc")
        assert os.path.islink(tmp_path / "l.vqc")  # written through: the link stays
        assert vectro.Codec.load(p).ranges[1].max() > codec.ranges[1].max()
        long = tmp_path / ("y" * 246 + ".vqc")  # 250 characters, at NAME_MAX with any long suffix
        codec.save(long)
        assert vectro.Codec.load(long).ranges.tolist() == codec.ranges.tolist()
        assert sorted(f.name for f in tmp_path.iterdir()) == sorted(["c.vqc", "l.vqc", long.name])
    finally:
        os.umask(old)


def test_vqz_writer_replaced_file_keeps_mode_and_link(tmp_path):
    p = tmp_path / "x.vqz"
    q = vectro.quantize_embeddings(data(5, 8))
    vectro.save(p, q)
    os.chmod(p, 0o600)
    os.symlink("x.vqz", tmp_path / "l.vqz")
    vectro.save(tmp_path / "l.vqz", q, metadata={"v": 2})
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600 and os.path.islink(tmp_path / "l.vqz")
    assert vectro.VqzReader(p).metadata == {"v": 2}


# -- 15: Ctrl-C during long C calls -----------------------------------------------------------
class Interrupted(Exception):
    pass


def _interrupt_during(call, wait=0.05):
    """Runs call() in the main thread while another thread sends it SIGINT every 50 ms from `wait`
    s on (a single timed signal could land after a fast machine had finished the call); the
    handler raises Interrupted while the call runs. Returns whether the call was interrupted."""
    running = [True]

    def handler(signum, frame):
        if running[0]:
            raise Interrupted()

    old = signal.signal(signal.SIGINT, handler)
    stop = threading.Event()

    def fire():
        if stop.wait(wait):
            return
        while not stop.is_set():
            os.kill(os.getpid(), signal.SIGINT)
            stop.wait(0.05)

    sender = threading.Thread(target=fire, daemon=True)
    try:
        sender.start()
        try:
            call()
        except Interrupted:
            return True
        return False
    finally:
        running[0] = False
        stop.set()
        sender.join()
        signal.signal(signal.SIGINT, old)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_a_long_search_inside_the_call():
    # A search long enough (several seconds single-threaded) that the signal lands inside it. The
    # outputs are written only when the whole scan is done, so a call that was stopped leaves the
    # sentinel in place: that is what tells "stopped inside" from "raised after finishing".
    n, d, nq, k = 60000, 256, 400, 10
    x = data(n, d)
    qx = data(nq, d)
    ids = np.full((nq, k), 7, np.uint64)
    scores = np.full((nq, k), -5.0, np.float32)
    t0 = time.perf_counter()
    stopped = _interrupt_during(lambda: _core.search_f32(x, qx, k, 0, ids, scores, 1))
    took = time.perf_counter() - t0
    assert stopped
    assert (ids == 7).all() and (scores == -5.0).all(), f"the search ran to the end ({took:.1f} s)"
    # Index.search on int8 codes is ~20x faster than the float scan above (0.23 s for these 400
    # queries with AVX-512, before the signal at 0.3 s): ten times the queries keep it long.
    index = vectro.Index("int8", metric="ip")
    index.add(x)
    qmany = np.tile(qx, (10, 1))
    assert _interrupt_during(lambda: index.search(qmany, k=k, threads=1))


# -- 16: unclear errors -------------------------------------------------------------------------
def _vqz_with_metadata(path, meta: bytes):
    """A valid .vqz whose metadata bytes are exactly meta (built by the format test's writer)."""
    sys.path.insert(0, os.path.dirname(__file__))
    from test_format_independent import codec_blob, write_vqz

    lo, hi = vectro.Codec("int8").calibration_quantiles
    q = vectro.quantize_embeddings(data(3, 4))
    path.write_bytes(write_vqz(codec_blob(1, 4, lo, hi), 1, 4, 4, 1, 8, q.codes.tobytes(), q.scales, None, meta))


def test_unreadable_metadata_gives_clear_errors(tmp_path):
    p = tmp_path / "u.vqz"
    _vqz_with_metadata(p, b'{"model": "caf\xe9"}')  # Latin-1, not UTF-8
    r = vectro.VqzReader(p)  # the file opens and its codes read
    assert len(r.read()) == 3
    with pytest.raises(vectro.VectroError, match=r"metadata is not UTF-8 text \(byte 14 is 0xe9\)"):
        _ = r.metadata
    deep = tmp_path / "d.vqz"
    _vqz_with_metadata(deep, b"[" * 100000 + b"]" * 100000)
    with pytest.raises(vectro.VectroError, match="nested too deeply"):
        _ = vectro.VqzReader(deep).metadata
    nested = {}
    cur = nested
    for _ in range(100000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(ValueError, match="nested too deeply"):
        vectro.VqzWriter(tmp_path / "n.vqz", "int8", metadata=nested)


def test_trailing_bytes_after_a_codec_refused(tmp_path):
    p = tmp_path / "c.vqc"
    vectro.Codec("uint8").fit(data(50, 6)).save(p)
    vectro.Codec.load(p)
    p.write_bytes(p.read_bytes() + b"\0")
    with pytest.raises(vectro.VectroError, match="followed by 1 unexpected bytes"):
        vectro.Codec.load(p)


@pytest.mark.parametrize("name,what", [("pq-2x4", "codebooks"), ("rabitq-2", "centre")])
def test_untrained_embedded_codec_named(tmp_path, name, what):
    sys.path.insert(0, os.path.dirname(__file__))
    from test_format_independent import write_vqz

    codec = vectro.Codec(name, 8, center=True) if name.startswith("rabitq") else vectro.Codec(name, 8)
    blob = codec.to_bytes()  # untrained: no state
    cid = 10 if name.startswith("pq") else 9
    cs = 1 if name.startswith("pq") else vectro.Codec(name, 8).fit(data(20, 8)).encode(data(1, 8)).codes.shape[1]
    sc = 0 if name.startswith("pq") else 4
    p = tmp_path / "u.vqz"
    p.write_bytes(write_vqz(blob, cid, 8, cs, sc, 4, b"", np.zeros(0, np.float32), None, b""))
    with pytest.raises(vectro.VectroError, match=f"embedded {name.split('-')[0]} codec is untrained \\(no {what}\\)"):
        vectro.VqzReader(p)


# -- 20: python -m vectro ----------------------------------------------------------------------
def test_python_m_vectro_timing_note(tmp_path, capsys):
    from vectro.__main__ import _timing_note, main

    assert "fit in this CPU's 32 MiB cache" in _timing_note(1_000_000, 32 << 20)
    assert "more than this CPU's 32 MiB cache: from RAM" in _timing_note(61_000_000, 32 << 20)
    assert "cache size is unknown" in _timing_note(61_000_000, None)
    for note in (_timing_note(1, 2), _timing_note(3, 2), _timing_note(3, None)):
        assert "bench/" not in note  # a pip user has no bench/ folder
    src = tmp_path / "x.npy"
    np.save(src, data(300, 16))
    assert main([str(src), "--precision", "binary", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "rel. L2 err  n/a: binary keeps signs only" in out and "not a search on the codes" in out
    assert "bench/" not in out


def test_non_regular_targets_are_refused_not_replaced(tmp_path):
    """Writing to a device, pipe or folder is refused and leaves it as it was: the atomic rename
    once turned /dev/null (writing as root) into a plain file for the whole machine."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    x = np.ones((3, 8), np.float32)
    with pytest.raises(OSError, match="not a regular file"):
        vectro.Codec("int8", 8).save(fifo)
    with pytest.raises((OSError, vectro.VectroError), match="not a regular file"):
        with vectro.VqzWriter(fifo, "int8") as w:
            w.append(x)
    np.save(tmp_path / "x.npy", x)
    vectro_cli = shutil.which("vectro")
    assert vectro_cli, "the vectro command is not on PATH"
    r = subprocess.run([vectro_cli, "compress", "--quiet", str(tmp_path / "x.npy"), str(fifo)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "not a regular file" in r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
