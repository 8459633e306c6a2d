"""vectro.Index shared between threads: concurrent adds, upserts, deletes and searches, with
every result checked (issue 13: concurrent adds used to misalign originals and ids, repeat default
ids, and make a concurrent search fail). Run under ASan/TSan by scripts/test_python_asan.sh."""

import threading

import numpy as np
import vectro

D = 32


def unit_rows(n, seed):
    x = np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def run_all(fns):
    errors = []

    def wrap(f):
        try:
            f()
        except BaseException as e:  # noqa: BLE001 - reported below with the thread's error
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(f,)) for f in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_concurrent_adds_keep_ids_codes_and_originals_in_step():
    index = vectro.Index("int8", metric="cosine", keep_originals=True)
    batches = [unit_rows(50, s) for s in range(8)]
    got = {}

    def adder(s):
        def f():
            for i in range(5):
                got[(s, i)] = index.add(batches[s][i * 10:(i + 1) * 10])
        return f

    run_all([adder(s) for s in range(8)])
    assert len(index) == 400
    all_ids = np.concatenate(list(got.values()))
    assert len(np.unique(all_ids)) == 400  # default ids never repeat
    for (s, i), ids in got.items():
        rows = batches[s][i * 10:(i + 1) * 10]
        np.testing.assert_array_equal(index.get(ids), rows)  # originals follow their ids
        found, _ = index.search(rows, k=1)
        assert found[:, 0].tolist() == ids.tolist()  # and so do the codes
        found, _ = index.search(rows, k=1, oversample=4)
        assert found[:, 0].tolist() == ids.tolist()


def test_searches_during_mutations_see_consistent_states():
    """Searches run while other threads add, upsert and delete: every answer must be a state the
    index was in (a vector searched for is found under its own id, or not at all once deleted)."""
    base = unit_rows(300, 1)
    index = vectro.Index("int8", metric="ip", keep_originals=True)
    index.add(base)
    extra = unit_rows(200, 2)
    stop = threading.Event()
    bad = []

    def searcher(seed):
        def f():
            rng = np.random.default_rng(seed)
            while not stop.is_set():
                rows = rng.integers(0, 300, 16)
                ids, scores = index.search(base[rows], k=3)
                for r, row_ids in zip(rows.tolist(), ids.tolist()):
                    # rows < 100 are never touched; the others may be deleted meanwhile
                    if r < 100 and row_ids[0] != r:
                        bad.append((r, row_ids))
                    if row_ids[0] not in (r, int(vectro.NO_ID)) and r >= 100 and r in row_ids[1:]:
                        bad.append((r, row_ids))
                flt = index.search(base[rows[:2]], k=2, filter=[int(rows[0]), 5000])[0]
                assert set(flt.ravel().tolist()) <= {int(rows[0]), 5000, int(vectro.NO_ID)}
        return f

    def mutator():
        for i in range(20):
            index.add(extra[i * 10:(i + 1) * 10], ids=np.arange(1000 + i * 10, 1010 + i * 10))
            index.delete(range(100 + i * 5, 105 + i * 5))
            index.upsert(extra[i * 10:i * 10 + 2], ids=[1000 + i * 10, 9000 + i])
        stop.set()

    run_all([searcher(s) for s in range(4)] + [mutator])
    assert not bad, bad[:5]
    assert len(index) == 300 + 200 - 100 + 20
    for i in range(20):
        ids, _ = index.search(extra[i * 10 + 1:i * 10 + 2], k=2)
        assert set(ids[0].tolist()) == {1001 + i * 10, 9000 + i}  # the same vector under both ids
    survivors = [r for r in range(300) if not 100 <= r < 200]
    assert index.search(base[survivors], k=1)[0][:, 0].tolist() == survivors


def test_concurrent_string_id_upserts_are_idempotent():
    x = unit_rows(64, 3)
    names = [f"n{i}" for i in range(64)]
    index = vectro.Index("int8", metric="cosine")

    def up(seed):
        def f():
            order = np.random.default_rng(seed).permutation(64)
            for j in range(0, 64, 8):
                sel = order[j:j + 8]
                index.upsert(x[sel], ids=[names[i] for i in sel])
        return f

    run_all([up(s) for s in range(6)])
    assert len(index) == 64 and sorted(index.ids.tolist()) == sorted(names)
    assert index.search(x, k=1)[0][:, 0].tolist() == names
