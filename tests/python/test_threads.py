"""Python threads sharing one vectro object (the GIL is released inside every C call): writers,
readers, codecs and indexes must stay memory-safe and give exact results, and a .vqz file must
appear only complete. scripts/test_python_asan.sh runs this file under AddressSanitizer."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import vectro

THREADS = 8


def _run(fns):
    """Runs each fn in its own thread, all released at once; returns their exceptions."""
    errors, start = [], threading.Barrier(len(fns))

    def wrap(fn):
        try:
            start.wait()
            fn()
        except BaseException as e:  # noqa: BLE001 - collected and judged by the test
            errors.append(e)

    ts = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def _rows(seed, n=300, d=48):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


@pytest.mark.parametrize("precision", ["int8", "f16", "int4"])
def test_writer_concurrent_appends_keep_every_row(tmp_path, precision):
    path = tmp_path / "w.vqz"
    codec = vectro.Codec(precision, 256)
    w = vectro.VqzWriter(path, codec, ids=True, block_rows=48)  # small blocks: many flushes
    batches = {t: _rows(t, 2000, 256) for t in range(THREADS)}

    def writer(t):
        def go():
            x = batches[t]
            for i in range(0, len(x), 125):  # floats and encoded rows, interleaved across threads
                ids = np.arange(t * 10_000 + i, t * 10_000 + i + 125, dtype=np.uint64)
                if (i // 125) % 2:
                    w.append_quantized(codec.encode(x[i:i + 125]), ids)
                else:
                    w.append(x[i:i + 125], ids, threads=2)
        return go

    assert _run([writer(t) for t in range(THREADS)]) == []
    w.close()
    r = vectro.VqzReader(path)
    r.verify()
    assert len(r) == len(w) == THREADS * 2000
    q = r.read()
    got = codec.decode(q)
    for t, x in batches.items():
        rows = np.argsort(q.ids)[t * 2000:(t + 1) * 2000]
        assert np.array_equal(q.ids[rows], np.arange(t * 10_000, t * 10_000 + 2000, dtype=np.uint64))
        assert np.allclose(got[rows], codec.decode(codec.encode(x)), atol=1e-6)


@pytest.mark.parametrize("finish", [True, False])
def test_close_or_abort_while_appending(tmp_path, finish):
    """close() waits for running appends and publishes exactly the rows of the appends that
    returned; appends after it raise ValueError; abort() leaves no file. Before the fix: a
    use-after-free (ASan) and a published file that verify rejected."""
    path = tmp_path / "c.vqz"
    w = vectro.VqzWriter(path, vectro.Codec("int8", 48), block_rows=32)
    w.append(_rows(0, 10))
    done, lock, stop = [10], threading.Lock(), threading.Event()
    x = _rows(1, 40)

    def appender():
        while not stop.is_set():
            try:
                w.append(x)
            except ValueError as e:
                assert "closed" in str(e)
                return
            with lock:
                done[0] += len(x)

    def closer():
        for _ in range(20):  # let the appenders run a little
            threading.Event().wait(0.002)
        w.close() if finish else w.abort()
        stop.set()

    assert _run([appender] * (THREADS - 1) + [closer]) == []
    if not finish:
        assert not path.exists() and os.listdir(tmp_path) == []
        return
    r = vectro.VqzReader(path)
    r.verify()
    assert len(r) == done[0]
    assert os.listdir(tmp_path) == ["c.vqz"]  # no temporary left


def test_append_after_close_raises(tmp_path):
    w = vectro.VqzWriter(tmp_path / "a.vqz", "int8")
    w.append(_rows(0, 5))
    w.close()
    w.close()  # a second close is harmless
    with pytest.raises(ValueError, match="closed"):
        w.append(_rows(0, 5))
    assert len(vectro.VqzReader(tmp_path / "a.vqz")) == 5


def test_reader_shared_by_threads(tmp_path):
    path = tmp_path / "r.vqz"
    x = _rows(3, 1000)
    q = vectro.quantize_embeddings(x, "int8")
    with vectro.VqzWriter(path, q.codec, block_rows=37) as w:
        w.append_quantized(q)
    r = vectro.VqzReader(path)

    def reader(t):
        def go():
            rng = np.random.default_rng(t)
            for _ in range(30):
                a = int(rng.integers(0, 990))
                b = int(rng.integers(a, 1000))
                part = r.read(a, b)
                assert np.array_equal(part.codes, q.codes[a:b])
                assert np.array_equal(part.scales, q.scales[a:b])
            r.verify()
        return go

    assert _run([reader(t) for t in range(THREADS)]) == []


def test_streaming_reader_shared_by_threads(tmp_path):
    """read_embeddings' C reader keeps a position: threads pulling from one generator get every
    row once (the generator refuses concurrent next(), the C handle is locked besides)."""
    x = _rows(4, 2000, 16)
    np.save(tmp_path / "x.npy", x)
    it = vectro.read_embeddings(tmp_path / "x.npy", chunk_rows=7)
    got, lock = [], threading.Lock()

    def puller():
        while True:
            try:
                with lock:
                    chunk = next(it)
            except StopIteration:
                return
            got.append(chunk)

    assert _run([puller] * 4) == []
    assert sum(len(c) for c in got) == 2000
    assert np.array_equal(np.sort(np.concatenate(got), axis=0), np.sort(x, axis=0))


def test_fit_inside_progress_callback_is_refused():
    """A progress callback that refits the codec of the running encode: before the fix the fit
    went through and the codes (made half by each state) decoded with errors of 200+ and no error
    raised; now the fit raises and the encode stops with that error."""
    x = _rows(5, 4000, 64) + 3
    codec = vectro.Codec("uint8", calibrated=True).fit(x)
    want = codec.encode(x)

    def progress(done, total):
        if done == total:
            codec.fit(x * 100 + 200)

    with pytest.raises(vectro.VectroError, match="while another call uses it"):
        codec.encode(x, progress=progress)
    again = codec.encode(x)  # the codec was not changed
    assert np.array_equal(again.codes, want.codes)
    assert np.abs(codec.decode(again) - x).max() < 0.1


@pytest.mark.parametrize("precision", ["uint8", "pq-8x8", "rabitq-2"])
def test_fit_while_other_threads_encode_and_decode(precision):
    """Threads encode, decode and refit one codec at once. Each fit either happens between calls
    or raises; every set of codes is exactly what one whole state makes (never a mix), and it is
    decoded by that state or refused, never decoded by another."""
    kw = {"calibrated": True} if precision == "uint8" else {"train_iters": 3} \
        if precision.startswith("pq") else {"center": True}
    a, b = _rows(6, 600, 32), _rows(7, 600, 32) * 50 + 100
    refs = [vectro.Codec(precision, **kw).fit(t, threads=1) for t in (a, b)]
    want = {}  # (input, state) -> (codes, decoded)
    for xi, x in enumerate((a, b)):
        for si, ref in enumerate(refs):
            q = ref.encode(x)
            want[xi, si] = (q.codes, ref.decode(q))
    codec = vectro.Codec(precision, **kw).fit(a, threads=1)

    def encoder(t):
        def go():
            for i in range(6):
                xi = (t + i) % 2
                q = codec.encode((a, b)[xi])
                made = [si for si in (0, 1) if np.array_equal(q.codes, want[xi, si][0])]
                assert made, "codes that no whole codec state makes"
                try:
                    y = codec.decode(q)
                except vectro.VectroError as e:
                    assert "another codec state" in str(e), e
                    continue
                assert any(np.array_equal(y, want[xi, si][1]) for si in made)
        return go

    def fitter():
        for i in range(6):
            try:
                codec.fit(a if i % 2 else b, threads=1)
            except vectro.VectroError as e:
                assert "while another call uses it" in str(e), e

    assert _run([encoder(t) for t in range(THREADS - 2)] + [fitter, fitter]) == []


def test_writer_keeps_the_state_it_opened_with(tmp_path):
    """Codes of a refit state are refused by a writer whose file stores the earlier state."""
    x = _rows(8, 100, 16) + 1
    codec = vectro.Codec("uint8", calibrated=True).fit(x)
    w = vectro.VqzWriter(tmp_path / "s.vqz", codec)
    w.append(x)
    codec.fit(x * 10)
    with pytest.raises(vectro.VectroError, match="another codec state"):
        w.append_quantized(codec.encode(x))
    w.close()


@pytest.mark.parametrize("rerank", [None, "int8"])
def test_index_add_and_search_from_threads(rerank):
    # Without a rerank codec, oversample= rescores against the originals: keep them (the default
    # became keep_originals=False in issue 13); with one, the rerank codes are what is rescored.
    index = vectro.Index("int4", "cosine", rerank=rerank, keep_originals=rerank is None)
    index.add(_rows(9, 200, 32))
    qs = _rows(10, 5, 32)

    def adder(t):
        def go():
            for i in range(5):
                base = 10_000 * (t + 1) + 100 * i
                index.add(_rows(100 * t + i, 40, 32), ids=np.arange(base, base + 40, dtype=np.uint64))
        return go

    def searcher():
        for i in range(10):
            ids, scores = index.search(qs, k=5, oversample=2.0 if i % 2 else None)
            assert ids.shape == (5, 5) and np.isfinite(scores).all()

    assert _run([adder(t) for t in range(3)] + [searcher] * 3) == []
    assert len(index) == 200 + 3 * 5 * 40
    assert len(np.unique(index.ids)) == len(index)
    x = np.concatenate([_rows(9, 200, 32)] + [_rows(100 * t + i, 40, 32) for t in range(3) for i in range(5)])
    ids, _ = index.search(x[:3], k=1, oversample=4.0)
    assert list(ids[:, 0]) == [0, 1, 2]
