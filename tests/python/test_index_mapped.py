"""Index.load(mmap=True): the codes searched in place from a memory map (RSS does not grow by
their size), answers equal to the copying load, saves that append to the file without rewriting
it, what happens when the file changes under the map, and the search progress callback."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import vectro


def _rows(n, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((16, d)).astype(np.float32)
    return (centres[rng.integers(0, 16, n)] + 0.5 * rng.standard_normal((n, d))).astype(np.float32)


def _same(a, b, q, **kw):
    ia, sa = a.search(q, k=10, **kw)
    ib, sb = b.search(q, k=10, **kw)
    assert ia.tolist() == ib.tolist()
    np.testing.assert_array_equal(sa, sb)


@pytest.mark.parametrize("codec,metric", [("int8", "cosine"), ("binary", "ip"), ("f16", "l2")])
def test_mapped_answers_as_copied_and_saves_append(tmp_path, codec, metric):
    x, q = _rows(1300), _rows(7, seed=1)
    path = tmp_path / "m.vqz"
    ref = vectro.Index(codec, metric)
    ref.add(x[:1000])
    ref.save(path)
    m = vectro.Index.load(path, mmap=True)
    assert m.mapped and "mapped" in repr(m) and not vectro.Index.load(path).mapped
    _same(ref, m, q)
    _same(vectro.Index.load(path), m, q)
    for a, b in ((1000, 1150), (1150, 1300)):
        before = path.read_bytes()
        assert (m.add(x[a:b]) == ref.add(x[a:b])).all()
        m.save(path)
        after = path.read_bytes()
        # Appended: nothing before the old end changed but the two 32-byte commit slots.
        assert len(after) > len(before)
        assert after[:96] == before[:96] and after[160:len(before)] == before[160:]
        _same(ref, m, q)
    again = vectro.Index.load(path, mmap=True)
    assert len(again) == 1300 and again.last_stats is None
    _same(ref, again, q)
    _same(ref, again, q, filter=[3, 999, 1001, 1149, 1151, 1299])
    assert again.last_stats["mapped_rows"] == 1300
    assert ref.delete([4, 1200]) == again.delete([4, 1200]) == 2
    _same(ref, again, q)
    again.save(path)  # deletes: a rewrite
    _same(ref, vectro.Index.load(path, mmap=True), q)


def test_str_ids_survive_appending_saves(tmp_path):
    x = _rows(300)
    path = tmp_path / "s.vqz"
    ix = vectro.Index("int8", "cosine")
    ix.add(x[:200], ids=[f"doc{i}" for i in range(200)])
    ix.save(path)
    m = vectro.Index.load(path, mmap=True)
    m.add(x[200:], ids=[f"doc{i}" for i in range(200, 300)])
    m.save(path)
    back = vectro.Index.load(path, mmap=True)
    assert back.search(x[[5, 250]], k=1)[0].tolist() == [["doc5"], ["doc250"]]
    assert list(back.ids) == [f"doc{i}" for i in range(300)]


_RSS = textwrap.dedent("""
    import sys, numpy as np, vectro
    page = __import__("os").sysconf("SC_PAGE_SIZE")
    def mem():
        size, res, shared = open("/proc/self/statm").read().split()[:3]
        return int(res) * page, (int(res) - int(shared)) * page
    q = np.random.default_rng(1).standard_normal((20, 384)).astype(np.float32)
    r0, a0 = mem()
    ix = vectro.Index.load(sys.argv[1], mmap=sys.argv[2] == "1")
    r1, a1 = mem()
    ids, _ = ix.search(q, k=10)
    r2, a2 = mem()
    print(r1 - r0, a2 - a0, ids[:, 0].sum())
""")


def test_mapped_load_does_not_copy_the_codes(tmp_path):
    n, d = 100_000, 384
    x = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    path = tmp_path / "big.vqz"
    ix = vectro.Index("int8", "cosine")  # its norms are computed at load, through the map
    ix.add(x)
    ix.save(path)
    del ix, x
    codes = n * d  # int8: a byte a dimension
    got = {}
    for mapped in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", _RSS, str(path), mapped], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        got[mapped] = [int(v) for v in out.stdout.split()]
    print("RSS growth at load, anonymous growth after a search (bytes):", got, "codes:", codes)
    assert got["0"][0] > 0.8 * codes  # the copying load holds the codes
    assert got["1"][0] < 0.3 * codes  # the mapped one: ids, id map, nothing of the codes
    assert got["1"][1] < 0.3 * codes  # searched pages are the file's (shared), not a copy
    assert got["0"][2] == got["1"][2]  # the same answers


_UNDER = textwrap.dedent("""
    import os, sys, numpy as np, vectro
    path, mode = sys.argv[1], sys.argv[2]
    ix = vectro.Index.load(path, mmap=mode != "copy")
    q = np.ones((1, 32), np.float32)
    want = ix.search(q, k=3)[0].tolist()
    if mode == "replace":  # another writer replaces the file by rename: the map keeps the old one
        other = vectro.Index("int8", "ip")
        other.add(np.zeros((5, 32), np.float32) + 1)
        other.save(path)
    else:  # truncated in place, as no vectro writer does
        os.truncate(path, 200)
    print(ix.search(q, k=3)[0].tolist() == want, flush=True)
""")


@pytest.mark.parametrize("mode", ["replace", "copy", "truncate"])
def test_file_changed_under_the_map(tmp_path, mode):
    path = tmp_path / "u.vqz"
    ix = vectro.Index("int8", "ip")
    ix.add(_rows(5000))
    ix.save(path)
    out = subprocess.run([sys.executable, "-c", _UNDER, str(path), mode], capture_output=True,
                         text=True, timeout=120)
    if mode == "truncate":  # documented: SIGBUS, as SQLite's mmap mode
        assert out.returncode == -signal.SIGBUS, (out.returncode, out.stderr)
    else:
        assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr


def test_searches_during_appending_saves_from_threads(tmp_path):
    x = _rows(2600, seed=3)
    path = tmp_path / "t.vqz"
    base = vectro.Index("f16", "cosine")
    base.add(x[:1000])
    base.save(path)
    m = vectro.Index.load(path, mmap=True)
    stop, bad = threading.Event(), []

    def searcher(seed):
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            i = rng.integers(0, 1000, 8)
            ids, _ = m.search(x[i], k=1)
            if ids[:, 0].tolist() != i.tolist():
                bad.append((i.tolist(), ids[:, 0].tolist()))

    ts = [threading.Thread(target=searcher, args=(s,)) for s in range(4)]
    for t in ts:
        t.start()
    for a in range(1000, 2600, 200):
        m.add(x[a:a + 200])
        m.save(path)
    stop.set()
    for t in ts:
        t.join()
    assert not bad
    back = vectro.Index.load(path, mmap=True)
    assert len(back) == 2600
    assert back.search(x[[0, 1500, 2599]], k=1)[0][:, 0].tolist() == [0, 1500, 2599]


def test_search_progress_callback_cancels_and_raises(tmp_path):
    x = _rows(20000)
    ix = vectro.Index("int8", "cosine")
    ix.add(x)
    calls = []
    ids, _ = ix.search(x[:50], k=5, progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1] and ids[:, 0].tolist() == list(range(50))
    with pytest.raises(vectro.VectroError, match="cancelled"):
        ix.search(x[:50], k=5, progress=lambda d, t: False)

    class Boom(Exception):
        pass

    seen = []

    def boom(d, t):
        seen.append(d)
        raise Boom

    with pytest.raises(Boom):
        ix.search(x[:50], k=5, progress=boom)
    assert len(seen) == 1  # stopped at the first call
    with pytest.raises(TypeError):
        ix.search(x[:2], k=5, progress=3)
    path = tmp_path / "p.vqz"
    ix.save(path)
    m = vectro.Index.load(path, mmap=True)
    with pytest.raises(vectro.VectroError, match="cancelled"):
        m.search(x[:50], k=5, progress=lambda d, t: False)
    calls.clear()
    m.search(x[:50], k=5, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (20000, 20000)
    assert os.path.getsize(path) > 0


def test_cli_search_mmap_answers_as_the_copying_load(tmp_path):
    exe = shutil.which("vectro")
    if exe is None:
        pytest.skip("the vectro command is not on PATH")
    x, q = _rows(3000), _rows(5, seed=4)
    ix = vectro.Index("int8", "l2")
    ix.add(x)
    ix.save(tmp_path / "i.vqz")
    np.save(tmp_path / "q.npy", q)
    out = [subprocess.run([exe, "search", "-k", "5", *flag, tmp_path / "i.vqz", tmp_path / "q.npy"],
                          capture_output=True, text=True) for flag in ([], ["--mmap"])]
    assert out[0].returncode == 0 and out[1].returncode == 0, out[1].stderr
    assert out[0].stdout == out[1].stdout and len(out[0].stdout.splitlines()) == 25


def test_mapped_with_rerank_and_originals_sidecars(tmp_path):
    x, q = _rows(3000, d=48), _rows(6, d=48, seed=5)
    ix = vectro.Index("binary", "cosine", rerank="int8", keep_originals=True)
    ix.add(x)
    ix.save(tmp_path / "r.vqz")  # sidecars: r.vqz.rerank.vqz, r.vqz.originals.npy
    m, c = vectro.Index.load(tmp_path / "r.vqz", mmap=True), vectro.Index.load(tmp_path / "r.vqz")
    assert m.mapped and m.originals_held and m.rerank is not None
    for kw in ({}, {"oversample": 5, "rerank_oversample": 3}, {"filter": list(range(0, 3000, 7))}):
        _same(ix, m, q, **kw)
        _same(c, m, q, **kw)
    m.add(x[:10] + 1)  # copies the mapped originals in; the save rewrites (sidecars)
    m.save(tmp_path / "r.vqz")
    assert len(vectro.Index.load(tmp_path / "r.vqz", mmap=True)) == 3010
