"""Ctrl-C during every long C call (issue 12, item 15): a KeyboardInterrupt that arrives while the
call runs in C (the GIL released) stops it from inside, between chunks, and leaves no output file.

How: a helper thread simulates Ctrl-C (``_thread.interrupt_main``) as soon as the main thread
releases the GIL, which, with a switch interval of 1000 s, it does only inside the C call. Our SIGINT
handler notes where Python handled the signal (the line that called ``_core``) and, through a probe,
whether the call's work was already complete then. A call that did not check for interrupts would
run to its end first: its late error, its file or its outputs would then be there. The C tests
(hostile.long_calls_can_be_cancelled, index.index_save_load_can_be_cancelled) check the
cancellation paths themselves; these check that every Python entry point wires them up.
"""
from __future__ import annotations

import _thread
import linecache
import os
import signal
import sys
import threading

import numpy as np
import pytest
import vectro
from vectro import _core


def interrupted(call, probe=None):
    """Runs call() with Ctrl-C simulated once it is inside C; returns (KeyboardInterrupt, where),
    where = [(line that was running, probe())] at the moment Python handled the signal."""
    where, state = [], {"done": False}

    def handler(signum, frame):
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
        where.append((line, probe() if probe else None))
        if not state["done"]:  # once interrupted() has its answer, a late signal only records
            raise KeyboardInterrupt

    go = threading.Event()

    def helper():
        go.wait()
        _thread.interrupt_main()

    old_handler = signal.signal(signal.SIGINT, handler)
    old_interval = sys.getswitchinterval()
    t = threading.Thread(target=helper)
    t.start()
    sys.setswitchinterval(1000.0)
    result = None
    try:
        go.set()
        call()
    except BaseException as e:  # noqa: B036 - KeyboardInterrupt is the point
        result = e
    finally:
        state["done"] = True
        sys.setswitchinterval(old_interval)
        t.join()
        signal.signal(signal.SIGINT, old_handler)
    if not isinstance(result, KeyboardInterrupt):
        pytest.fail(f"the call ended with {result!r}, not KeyboardInterrupt (signal handled at {where})")
    return result, where


def assert_inside(e, where):
    """The interrupt was handled once, on the line calling into _core, with no error pending (a
    call that ran to its late error would have set one first)."""
    assert len(where) == 1 and "_core." in where[0][0], where
    assert e.__context__ is None, repr(e.__context__)


def rows(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


@pytest.fixture(scope="module")
def corrupt_vqz(tmp_path_factory):
    """A 15 MB rabitq-1 file (slow to decode: ~0.3 s to verify) whose last block is corrupt: a
    verify or whole read that ran to the end would raise VectroError."""
    path = str(tmp_path_factory.mktemp("intr") / "big.vqz")
    codec = vectro.Codec("rabitq-1")
    chunk = rows(20_000, 512)
    with vectro.VqzWriter(path, codec) as w:
        for _ in range(10):
            w.append(chunk)
    info = vectro.VqzReader(path).info
    with open(path, "r+b") as f:  # a byte in the last block's codes
        f.seek(info["file_size"] - 4096)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(vectro.VectroError):
        vectro.VqzReader(path).verify()
    return path


def test_verify_is_interruptible(corrupt_vqz):
    r = vectro.VqzReader(corrupt_vqz)
    assert_inside(*interrupted(r.verify))


def test_whole_file_read_is_interruptible(corrupt_vqz):
    r = vectro.VqzReader(corrupt_vqz)
    with pytest.raises(vectro.VectroError):
        vectro.VqzReader(corrupt_vqz).read()
    assert_inside(*interrupted(r.read))


def test_quality_is_interruptible():
    x = rows(120_000, 256)
    x[-1, 0] = np.nan  # measured to the end, it raises "row ... holds NaN or Inf"
    with pytest.raises(vectro.VectroError):
        _core.quality(x, x)
    assert_inside(*interrupted(lambda: _core.quality(x, x)))


def check_search_call(name, run):
    """run(ids, scores) fills (400, 10) results: search at the end, rescore query by query (the
    last query's last), so a sentinel in the last row means the call had not finished."""
    ids = np.full((400, 10), 12345, np.uint64)
    scores = np.zeros((400, 10), np.float32)
    e, where = interrupted(lambda: run(ids, scores), probe=lambda: bool((ids[-1] == 12345).all()))
    assert_inside(e, where)
    assert where[0][1], f"{name} had written its results when the interrupt was handled"


def test_search_and_rescore_are_interruptible():
    L2 = 2  # vec_metric
    x, q = rows(60_000, 128, 1), rows(400, 128, 2)
    cand = np.tile(np.arange(20_000, dtype=np.uint64), (len(q), 1))
    check_search_call("search_f32", lambda i, s: _core.search_f32(x, q, 10, L2, i, s, 1))
    check_search_call("rescore", lambda i, s: _core.rescore(x, q, cand, 10, L2, i, s, 1))


def test_kmeans_is_interruptible():
    x = rows(20_000, 256, 3)
    seen = {}

    def probe():  # the assignment is written by the final pass only
        return bool((seen["asg"] == 0xFFFFFFFF).all())

    real = _core.kmeans

    def spy(*args):  # keeps the assignment array _cluster.kmeans hands to the C call
        seen["asg"] = args[8]
        seen["asg"].fill(0xFFFFFFFF)
        return real(*args)

    _core.kmeans = spy
    try:
        e, where = interrupted(lambda: vectro.kmeans(x, 256, iters=20), probe=probe)
    finally:
        _core.kmeans = real
    assert len(where) == 1 and "real(*args)" in where[0][0] and where[0][1], where


def test_codec_fit_is_interruptible():
    codec, x = vectro.Codec("pq-32x8"), rows(20_000, 256, 4)
    e, where = interrupted(lambda: codec.fit(x))
    assert_inside(e, where)
    assert not codec.trained  # a completed fit would have trained it


def test_encode_and_decode_stop_on_a_raising_progress_callback():
    codec = vectro.Codec("pq-32x8").fit(rows(3000, 256, 5))
    x = rows(20_000, 256, 6)
    calls = []

    def stop(done, total):
        calls.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        codec.encode(x, threads=1, progress=stop)
    assert len(calls) == 1 and calls[0] < len(x)
    q = codec.encode(x)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        codec.decode(q, threads=1, progress=stop)
    assert len(calls) == 1


def test_index_add_save_load_are_interruptible(tmp_path):
    codec = vectro.Codec("pq-32x8").fit(rows(3000, 256, 7))
    x = rows(60_000, 256, 8)
    index = vectro.Index(codec, metric="l2", keep_originals=True, rerank="int8")
    assert_inside(*interrupted(lambda: index.add(x, threads=1)))
    assert len(index) == 0  # add is atomic: a completed add would hold every row
    index.add(x)
    path = tmp_path / "i.vqz"
    e, where = interrupted(lambda: index.save(path), probe=lambda: not os.path.exists(path))
    assert_inside(e, where)
    assert where[0][1] and sorted(os.listdir(tmp_path)) == []  # no file, no sidecar, no temporary
    index.save(path)
    # A corrupt last block in the rerank sidecar, read last (after the codes and the originals):
    # a load that ran to the end would fail on it.
    rerank = str(path) + ".rerank.vqz"
    with open(rerank, "r+b") as f:
        f.seek(os.path.getsize(rerank) - 4096)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(vectro.VectroError):
        vectro.Index.load(path)
    assert_inside(*interrupted(lambda: vectro.Index.load(path)))


def test_compress_file_leaves_no_file(tmp_path):
    src, dst = tmp_path / "x.npy", tmp_path / "x.vqz"
    x = rows(60_000, 256, 9)
    x[-1, 0] = np.nan  # compressed to the end, the last chunk is refused
    np.save(src, x)
    codec = vectro.Codec("pq-32x8").fit(rows(3000, 256, 10))
    with pytest.raises(vectro.VectroError):
        vectro.compress_file(src, dst, codec)
    # Ctrl-C lands in the encoding or between chunks (the reading of a chunk of at most 64 MiB
    # holds it back): either way long before the last chunk, and no file is left.
    e, where = interrupted(lambda: vectro.compress_file(src, dst, codec, threads=1))
    assert len(where) == 1 and e.__context__ is None, (where, e.__context__)
    assert sorted(os.listdir(tmp_path)) == ["x.npy"]
