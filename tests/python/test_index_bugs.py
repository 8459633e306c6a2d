"""The bugs issue 13 lists, each pinned with only the API that existed before it (so every test here
fails on the code before the fix), plus `vectro search` honouring the metric stored in the file."""

import shutil
import subprocess
import threading

import numpy as np
import pytest
import vectro


def data(n=200, d=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_load_with_originals_then_add_then_search(tmp_path):
    x = data()
    index = vectro.Index("int8", metric="cosine")
    index.add(x[:150])
    index.save(tmp_path / "i.vqz")
    np.save(tmp_path / "o.npy", x[:150])
    back = vectro.Index.load(tmp_path / "i.vqz", originals=tmp_path / "o.npy")
    back.add(x[150:])
    ids, _ = back.search(x[[3, 160]], k=1, oversample=3)  # failed: "originals have shape ..."
    assert ids[:, 0].tolist() == [3, 160]


def test_load_vqz_without_ids(tmp_path):
    x = data(30)
    vectro.save(tmp_path / "plain.vqz", vectro.quantize_embeddings(x, "int8"))
    index = vectro.Index.load(tmp_path / "plain.vqz")  # failed: TypeError
    assert index.ids.tolist() == list(range(30))


def test_originals_are_opt_in():
    index = vectro.Index("int8")
    assert index.keep_originals is False  # was True: a float32 copy (4x the int8 codes) by default
    assert "no originals" in repr(index)


def test_results_survive_save_and_load(tmp_path):
    x = data(400, 64)
    index = vectro.Index("rabitq-4", metric="ip", keep_originals=True)
    index.add(x)
    a = index.search(x[:30], k=10)
    index.save(tmp_path / "r.vqz")
    b = vectro.Index.load(tmp_path / "r.vqz").search(x[:30], k=10)  # was: silently without originals
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_reserved_and_fractional_ids_refused():
    x = data(2)
    index = vectro.Index("int8")
    with pytest.raises(ValueError):
        index.add(x[:1], ids=[2**64 - 1])  # was accepted though it is vectro.NO_ID
    with pytest.raises(ValueError):
        index.add(x[:1], ids=np.array([1.7]))  # became id 1
    assert len(index) == 0


def test_duplicate_ids_in_a_file_refused(tmp_path):
    x = data(4)
    with vectro.VqzWriter(tmp_path / "dup.vqz", "int8", ids=True) as w:
        w.append(x, ids=np.array([1, 2, 2, 3], np.uint64))
    with pytest.raises(vectro.VectroError):
        vectro.Index.load(tmp_path / "dup.vqz")  # was accepted: search returned one id k times


def test_concurrent_adds_stay_consistent():
    """Adds from 8 threads (default ids and given ids) while others search: every vector is found
    under its own id, ids never repeat, and no search fails."""
    x = data(800, 32, seed=5)
    index = vectro.Index("int8", metric="cosine", keep_originals=True)
    index.add(x[:8])
    errors = []

    def add_default(t):
        try:
            for j in range(8 + t * 12, 8 + (t + 1) * 12, 3):
                index.add(x[j:j + 3])
        except Exception as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    def add_given(t):
        try:
            for j in range(400 + t * 50, 400 + (t + 1) * 50, 10):
                index.add(x[j:j + 10], ids=np.arange(10**6 + j, 10**6 + j + 10, dtype=np.uint64))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def search():
        try:
            for _ in range(30):
                index.search(x[:4], k=3)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    # Default ids first (given ids move the next default id past them), then given ids.
    for adder in (add_default, add_given):
        threads = [threading.Thread(target=adder, args=(t,)) for t in range(8)]
        threads += [threading.Thread(target=search) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    ids = index.ids
    assert len(ids) == len(set(ids.tolist())) == 8 + 96 + 400
    want = np.concatenate([np.arange(0, 104), 10**6 + np.arange(400, 800)]).astype(np.uint64)
    assert set(ids.tolist()) == set(want.tolist())
    rows = np.concatenate([np.arange(0, 104), np.arange(400, 800)])
    found, _ = index.search(x[rows], k=1, oversample=2)
    pos = {int(i): n for n, i in enumerate(ids.tolist())}
    # A vector added with default ids got one of 0..103; each given id maps to its own vector.
    given = rows >= 400
    assert (found[given, 0] == (10**6 + rows[given]).astype(np.uint64)).all()
    assert len(set(found[~given, 0].tolist())) == 104
    assert all(int(i) in pos for i in found[:, 0])


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_cli_search_uses_the_metric_in_the_file(tmp_path, metric):
    exe = shutil.which("vectro")
    if exe is None:
        pytest.skip("the vectro command is not on PATH")
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((300, 16)) * rng.uniform(0.2, 3, (300, 1))).astype(np.float32)
    q = rng.standard_normal((7, 16)).astype(np.float32)
    index = vectro.Index("int8", metric=metric)
    index.add(x, ids=np.arange(300, dtype=np.uint64) * 3)
    index.save(tmp_path / "i.vqz")
    np.save(tmp_path / "q.npy", q)
    r = subprocess.run([exe, "search", "-k", "5", tmp_path / "i.vqz", tmp_path / "q.npy"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = np.array([line.split("\t") for line in r.stdout.splitlines()])[:, 2].astype(np.uint64).reshape(7, 5)
    np.testing.assert_array_equal(got, index.search(q, k=5)[0])  # was scored by inner product
