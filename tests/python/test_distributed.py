"""vectro.distributed on a real Dask LocalCluster (2 worker processes, loopback only, one cluster
for the module): sharded compression equal to compress_file bit for bit after a worker is killed
mid-shard, resume, sharded search equal to one Index, kept ids and collisions, bad inputs, CLI."""
import json
import os
import shutil

import numpy as np
import pytest
import vectro

distributed = pytest.importorskip("distributed", reason="needs dask[distributed]: pip install 'vectro[distributed]'")
pa = pytest.importorskip("pyarrow", reason="needs pyarrow: pip install 'vectro[distributed]'")
import pyarrow.parquet as pq  # noqa: E402
import vectro.distributed as vd  # noqa: E402

D = 48


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0", silence_logs=50)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def write_fvecs(path, x):
    np.hstack([np.full((len(x), 1), x.shape[1], np.int32).view(np.float32), x]).tofile(path)


def write_parquet(path, x, ids=None, row_group=2500, fixed=False):
    t = pa.list_(pa.float32(), x.shape[1]) if fixed else pa.list_(pa.float32())
    cols = {"emb": pa.array(list(x), type=t)}
    if ids is not None:
        cols["id"] = pa.array(ids, pa.int64())
    pq.write_table(pa.table(cols), path, row_group_size=row_group)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Five files in four layouts (npy f32 and f64, fvecs, Parquet list and fixed-size list):
    the dataset in order, and the same rows as one .npy for the single-process reference."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(20)
    parts = [rng.standard_normal((n, D)).astype(np.float32) for n in (9000, 6000, 7000, 8000, 5000)]
    np.save(d / "p0.npy", parts[0])
    np.save(d / "p1.npy", parts[1].astype(np.float64))
    parts[1] = parts[1].astype(np.float64).astype(np.float32)
    write_fvecs(d / "p2.fvecs", parts[2])
    write_parquet(d / "p3.parquet", parts[3])
    write_parquet(d / "p4.parquet", parts[4], fixed=True, row_group=2000)
    x = np.vstack(parts)
    np.save(d.parent / "all_rows.npy", x)
    files = [str(d / f) for f in ("p0.npy", "p1.npy", "p2.fvecs", "p3.parquet", "p4.parquet")]
    return files, x, str(d.parent / "all_rows.npy")


def shards_of(out):
    m = vd.read_manifest(out)
    qs = [vectro.load(os.path.join(out, e["shard"]), verify=True) for e in m["shards"]]
    return m, qs


def test_cluster_is_loopback_only(client):
    psutil = pytest.importorskip("psutil", reason="psutil (a dependency of distributed) lists sockets")
    info = client.scheduler_info()
    assert len(info["workers"]) == 2
    assert all(a.startswith("tcp://127.0.0.1:") for a in [client.scheduler.address, *info["workers"]])
    pids = [os.getpid(), *client.run(os.getpid).values()]  # scheduler and nannies live in this process
    listening = [c.laddr for p in pids for c in psutil.Process(p).net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 5 and all(a.ip == "127.0.0.1" for a in listening), listening


def test_worker_killed_mid_shard_result_equals_compress_file(client, inputs, tmp_path):
    files, x, all_npy = inputs
    out = tmp_path / "ds"
    shard_dir = out / "shards"
    marker = str(tmp_path / "killed")

    def start_killer(shard_dir, marker):
        # In each worker: as soon as this process has a shard half written (its temporary file
        # exists), the first worker to see one kills itself (SIGKILL: no cleanup runs).
        import signal
        import threading
        import time

        pid = os.getpid()
        real_dir = os.path.realpath(shard_dir)

        def open_files():
            out = set()
            for fd in os.listdir("/proc/self/fd"):
                try:
                    out.add(os.readlink(f"/proc/self/fd/{fd}"))
                except OSError:
                    pass
            return out

        def watch():
            end = time.time() + 60
            while time.time() < end and not os.path.exists(marker):
                try:
                    names = os.listdir(shard_dir)
                except FileNotFoundError:
                    names = []
                # the writer's temporary is ".<shard>.vqz.<random>.tmp" (no pid in it): this process's
                # is the one it holds open
                tmp = [n for n in names if n.endswith(".tmp")]
                if tmp:
                    mine = open_files()
                    tmp = [n for n in tmp if os.path.join(real_dir, n) in mine]
                if tmp:
                    try:
                        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                    except FileExistsError:
                        return
                    shard = tmp[0].lstrip(".").split(".vqz.")[0] + ".vqz"
                    done = os.path.exists(os.path.join(shard_dir, shard))
                    os.write(fd, json.dumps({"pid": pid, "tmp": tmp[0], "complete_shard_existed": done}).encode())
                    os.close(fd)
                    os.kill(pid, signal.SIGKILL)
                time.sleep(0.0002)

        threading.Thread(target=watch, daemon=True).start()
        return pid

    os.makedirs(shard_dir)
    before = set(client.run(start_killer, str(shard_dir), marker).values())
    r = vd.compress(files, out, "uint8-cal", client=client, shard_rows=3000, chunk_rows=100)
    killed = json.load(open(marker))
    assert killed["pid"] in before and not killed["complete_shard_existed"]
    client.wait_for_workers(2, timeout=30)
    assert killed["pid"] not in set(client.run(os.getpid).values())  # the nanny started a new one
    assert not [n for n in os.listdir(shard_dir) if n.endswith(".tmp")]  # the dead attempt's file is gone
    assert r["rows"] == len(x) and r["shards"] == 13

    ref_path = tmp_path / "ref.vqz"
    vectro.compress_file(all_npy, ref_path, "uint8-cal")
    ref = vectro.load(ref_path)
    m, qs = shards_of(out)
    np.testing.assert_array_equal(np.vstack([q.codes for q in qs]), ref.codes)
    assert ref.scales is None and all(q.scales is None for q in qs)
    np.testing.assert_array_equal(np.concatenate([q.ids for q in qs]), np.arange(len(x), dtype=np.uint64))
    assert vectro.Codec.load(out / "codec.vqc").to_bytes() == vectro.VqzReader(ref_path).codec.to_bytes()
    assert vd.verify(out, client) == len(x)
    assert [e["source"] for e in m["shards"]][-2:] == [files[4]] * 2  # 2000-row groups, <= 3000 a shard: 2000 + 3000


def test_sharded_search_equals_one_index(client, inputs, tmp_path):
    files, x, _ = inputs
    q = np.random.default_rng(3).standard_normal((7, D)).astype(np.float32)
    out = tmp_path / "int8"
    vd.compress(files, out, "int8", client=client, shard_rows=4000, metric="cosine")
    index = vectro.Index(vectro.Codec("int8"), "cosine", keep_originals=False)  # compress's (Index("int8") centres)
    index.add(x)
    sharded = vd.ShardedIndex(out, client)
    for k in (1, 10):
        a, b = sharded.search(q, k), index.search(q, k)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    one = sharded.search(q[0], 5)
    np.testing.assert_array_equal(one[0], index.search(q[0], 5)[0])
    # Each shard is searched in place: opened mapped, one block (segment) per shard.
    from vectro.distributed import _manifest, _search
    root, man = _manifest.load(out)
    shard = _search.open_shard(root, man["shards"][0], "cosine", False)
    assert shard.mapped and vectro.VqzReader(os.path.join(root, man["shards"][0]["shard"])).info["blocks"] == 1

    # rabitq-1 with originals: each shard rescores by error bound against its memory-mapped
    # originals, so the merged result is the exact top k, as one Index's.
    out2 = tmp_path / "rabitq"
    vd.compress(files, out2, "rabitq-1", client=client, shard_rows=6000, metric="ip", originals=True)
    index = vectro.Index(vectro.Codec.load(out2 / "codec.vqc"), "ip", keep_originals=True)
    index.add(x)
    sharded = vd.ShardedIndex(out2, client)
    a, b = sharded.search(q, 10), index.search(q, 10)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    np.testing.assert_array_equal(a[0], exact)
    over = sharded.search(q, 10, oversample=4)[0]  # per-shard candidates: a superset of one Index's
    assert (over == exact).mean() >= (index.search(q, 10, oversample=4)[0] == exact).mean()


def test_resume_redoes_only_damaged_shards(inputs, tmp_path):
    files, x, _ = inputs
    out = tmp_path / "ds"
    first = vd.compress(files[:3], out, "int8", shard_rows=5000)
    assert first["written"] == first["shards"] == 6
    _, before = shards_of(out)
    shard = out / "shards" / "shard-000002.vqz"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    (out / "shards" / "shard-000004.vqz").unlink()
    (out / "shards" / "shard-000001.vqz.999.0.tmp").write_bytes(b"a dead attempt")
    with pytest.raises(vectro.VectroError, match="shard-000002.vqz: CRC-32"):
        vd.verify(out)
    with pytest.raises(vectro.VectroError, match="shard-000002.vqz: CRC-32"):
        vd.ShardedIndex(out)
    again = vd.compress(files[:3], out, "int8", shard_rows=5000)
    assert (again["written"], again["skipped"]) == (2, 4)
    _, after = shards_of(out)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a.codes, b.codes)
        np.testing.assert_array_equal(a.ids, b.ids)
    assert not list((out / "shards").glob("*.tmp"))
    # a crash before the manifest: no manifest, the dataset says it is incomplete; a rerun finishes
    (out / "manifest.json").unlink()
    with pytest.raises(vectro.VectroError, match="incomplete"):
        vd.ShardedIndex(out)
    assert vd.compress(files[:3], out, "int8", shard_rows=5000)["written"] == 0
    # another metric or originals change every shard's bytes: nothing is kept
    assert vd.compress(files[:3], out, "int8", shard_rows=5000, metric="ip")["written"] == 6
    assert vd.compress(files[:3], out, "int8", shard_rows=5000, metric="ip", originals=True)["written"] == 6
    # a smaller job in the same directory: the shards it does not make are removed
    assert vd.compress(files[:1], out, "int8", shard_rows=5000)["shards"] == 2
    assert sorted(p.name for p in (out / "shards").glob("*.vqz")) == ["shard-000000.vqz", "shard-000001.vqz"]


def test_kept_ids_and_collisions(client, tmp_path):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((3000, 16)).astype(np.float32), rng.standard_normal((2000, 16)).astype(np.float32)
    ida = np.arange(3000) * 10 + 7
    write_parquet(tmp_path / "a.parquet", a, ids=ida, row_group=1000)
    write_parquet(tmp_path / "b.parquet", b, ids=np.arange(2000) * 10 + 5, row_group=1000)
    out = tmp_path / "ds"
    files = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    r = vd.compress(files, out, "int8", client=client, id_column="id", shard_rows=1000)
    assert r["shards"] == 5
    m, qs = shards_of(out)
    np.testing.assert_array_equal(np.concatenate([q.ids for q in qs])[:3000], ida)
    got, _ = vd.ShardedIndex(out, client).search(a[:3], 1)
    np.testing.assert_array_equal(got[:, 0], ida[:3])

    write_parquet(tmp_path / "c.parquet", b, ids=np.arange(2000) * 10 + 1007, row_group=1000)  # 1007 is in a
    files[1] = str(tmp_path / "c.parquet")
    out2 = tmp_path / "ds2"
    with pytest.raises(vectro.VectroError, match=r"id 1007 is in both .*a\.parquet .*c\.parquet"):
        vd.compress(files, out2, "int8", client=client, id_column="id", shard_rows=1000)
    assert not (out2 / "manifest.json").exists()


def test_bad_inputs_name_the_file(client, inputs, tmp_path):
    files, x, _ = inputs
    np.save(tmp_path / "d40.npy", np.ones((10, 40), np.float32))
    with pytest.raises(ValueError, match=r"d40\.npy: dimension 40, but .*p0\.npy has 48"):
        vd.compress([files[0], str(tmp_path / "d40.npy")], tmp_path / "o1")
    ragged = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"emb": pa.array([[1.0] * D] * 5 + [[1.0] * 47], pa.list_(pa.float32()))}), ragged)
    with pytest.raises(ValueError, match=r"ragged\.parquet: row 5 has dimension 47"):
        vd.compress([files[0], str(ragged)], tmp_path / "o2", client=client)  # raised in a task, on a worker
    (tmp_path / "bad.fvecs").write_bytes(np.array([4, 0, 0, 0, 0, 3], np.int32).tobytes() + b"xx")
    with pytest.raises(ValueError, match=r"bad\.fvecs: 26 bytes is not a whole number"):
        vd.compress([str(tmp_path / "bad.fvecs")], tmp_path / "o3")
    with pytest.raises(FileNotFoundError, match=r"nothere\.npy: no such file"):
        vd.compress([str(tmp_path / "nothere.npy")], tmp_path / "o4", client=client)
    (tmp_path / "trunc.npy").write_bytes((tmp_path / "d40.npy").read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"trunc\.npy: truncated"):
        vd.compress([str(tmp_path / "trunc.npy")], tmp_path / "o5")
    with pytest.raises(ValueError, match=r"p0\.npy: ids can be kept from a Parquet column only"):
        vd.compress(files[:1], tmp_path / "o7", id_column="id")
    with pytest.raises(ValueError, match="Codec object must know its dimension"):
        vd.compress(files[:1], tmp_path / "o6", vectro.Codec("int8"))

    # a manifest that does not match its shards: one shard swapped for another of the same size
    out = tmp_path / "ds"
    vd.compress(files[:1], out, "int8", shard_rows=3000)
    shutil.copy(out / "shards" / "shard-000000.vqz", out / "shards" / "shard-000001.vqz")
    with pytest.raises(vectro.VectroError, match="shard-000001.vqz: CRC-32 does not match"):
        vd.ShardedIndex(out, client)
    (out / "shards" / "shard-000001.vqz").write_bytes(b"garbage")
    with pytest.raises(vectro.VectroError, match=r"shard-000001\.vqz: 7 bytes, the manifest says"):
        vd.verify(out, client)
    man = json.loads((out / "manifest.json").read_text())
    man["version"] = 99
    (out / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(vectro.VectroError, match="manifest version 99 is newer"):
        vd.read_manifest(out)


def test_cli(client, inputs, tmp_path, capsys):
    files, x, _ = inputs
    addr = ["--scheduler", client.scheduler.address]
    out = str(tmp_path / "ds")
    assert vd.main(["compress", *files[:2], "-o", out, "--codec", "int4", "--shard-rows", "5000", *addr]) == 0
    cap = capsys.readouterr()
    assert "vectro-dask: shards 4/4  rows 15,000/15,000" in cap.err and "15,000 rows x 48 in 4 shards" in cap.out
    qpath = tmp_path / "q.npy"
    np.save(qpath, x[:3])
    res = tmp_path / "res.npz"
    assert vd.main(["search", out, "--queries", str(qpath), "-k", "4", "--output", str(res), *addr]) == 0
    want = vd.ShardedIndex(out).search(x[:3], 4)[0]
    np.testing.assert_array_equal(np.load(res)["ids"], want)
    assert vd.main(["verify", out]) == 0
    capsys.readouterr()
    assert vd.main(["compress", str(tmp_path / "missing.npy"), "-o", out]) == 2
    assert "missing.npy: no such file" in capsys.readouterr().err
    assert vd.main(["verify", str(tmp_path)]) == 2
    assert "no manifest" in capsys.readouterr().err
    assert vd.main(["verify", out, "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1"]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_fsspec_urls(tmp_path):
    """Inputs through fsspec (its in-memory file system, so in this process): a glob over a URL,
    npy read by byte ranges, Parquet through a file object."""
    import io

    fsspec = pytest.importorskip("fsspec", reason="needs fsspec: pip install 'vectro[distributed]'")
    fs = fsspec.filesystem("memory")
    rng = np.random.default_rng(9)
    xs = [rng.standard_normal((n, 24)).astype(np.float32) for n in (300, 500)]
    buf = io.BytesIO()
    np.save(buf, xs[0])
    fs.pipe("/vectro-i20/a.npy", buf.getvalue())
    buf = io.BytesIO()
    pq.write_table(pa.table({"e": pa.array(list(xs[1]), pa.list_(pa.float32()))}), buf, row_group_size=200)
    fs.pipe("/vectro-i20/b.parquet", buf.getvalue())
    try:
        r = vd.compress("memory://vectro-i20/*", tmp_path / "ds", "int8", shard_rows=250)
        m, qs = shards_of(tmp_path / "ds")
        assert [(e["source"].rsplit("/", 1)[1], e["rows"]) for e in m["shards"]] == [
            ("a.npy", 250), ("a.npy", 50), ("b.parquet", 200), ("b.parquet", 200), ("b.parquet", 100)]
        np.testing.assert_array_equal(np.vstack([q.codes for q in qs]), vectro.quantize_embeddings(np.vstack(xs)).codes)
        assert r["rows"] == 800
        with pytest.raises(FileNotFoundError, match="memory://vectro-i20/none/\\*: no embeddings files"):
            vd.compress("memory://vectro-i20/none/*", tmp_path / "ds2")
    finally:
        fs.rm("/vectro-i20", recursive=True)


def test_any_executor(inputs, tmp_path):
    """compress and verify on a plain concurrent.futures executor (processes, no Dask)."""
    import concurrent.futures as cf
    import multiprocessing

    files, x, _ = inputs
    vd.compress(files[:3], tmp_path / "here", "int8", shard_rows=5000)
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        r = vd.compress(files[:3], tmp_path / "pool", "int8", client=ex, shard_rows=5000)
        assert r["written"] == 6 and vd.verify(tmp_path / "pool", ex) == 22000
        with pytest.raises(TypeError, match="distributed.Client or None"):
            vd.ShardedIndex(tmp_path / "pool", ex)
    for a, b in zip(shards_of(tmp_path / "here")[1], shards_of(tmp_path / "pool")[1]):
        np.testing.assert_array_equal(a.codes, b.codes)
        np.testing.assert_array_equal(a.ids, b.ids)
