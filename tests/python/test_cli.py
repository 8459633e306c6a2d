"""The `vectro` command line (C), installed by pip: its output, and exit codes scripts can rely on
(0 ok, 1 data refused, 2 usage, 3 unreadable or malformed file)."""
import shutil
import subprocess

import numpy as np
import pytest
import vectro

VECTRO = shutil.which("vectro")
pytestmark = pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")


def run(*args):
    return subprocess.run([VECTRO, *map(str, args)], capture_output=True, text=True)


def test_version_help_info():
    assert run("--version").stdout.strip() == f"vectro {vectro.__version__}"
    for cmd in ("eval", "codecs", "info"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "usage: vectro " + cmd in r.stdout
    r = run("info")
    assert r.returncode == 0 and vectro.get_backend_info()["kernel"] in r.stdout
    assert run().returncode == 2 and run("frobnicate").returncode == 2


def test_codecs_sizes_match_python():
    out = run("codecs", "--dim", 384).stdout
    for p in ("int8", "int16", "int4", "int4-g32", "f16", "bf16", "binary", "rabitq-1", "rabitq-4", "rabitq-8",
              "pq-96x4", "pq-48x8", "pq-48x4", "uint8", "uint4", "uint6"):
        line = next(line for line in out.splitlines() if line.split()[0] == p)
        assert int(line.split()[1]) == vectro.Codec(p).bytes_per_vector(384), line
    assert run("codecs", "--dim", 0).returncode == 2


def test_eval_matches_python(sample, tmp_path):
    corpus, queries = sample
    r = run("eval", "--codec", "int8", "--queries", "data/sample/queries.npy", "data/sample/corpus.npy")
    assert r.returncode == 0, r.stderr
    py = vectro.evaluate(corpus, "int8", queries=queries)
    lines = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:]}
    assert float(lines["cosine"][2]) == pytest.approx(py["cosine_mean"], abs=2e-6)
    assert float(lines["recall@10"][1]) == pytest.approx(py["recall_at_k"], abs=1e-4)
    assert int(lines["bytes/vector"][1]) == 388


def test_eval_bad_inputs_name_the_file(tmp_path):
    assert run("eval").returncode == 2
    assert run("eval", "--codec", "int3", "x.npy").returncode == 2
    assert run("eval", "-k", "0", "x.npy").returncode == 2
    r = run("eval", tmp_path / "missing.npy")
    assert r.returncode == 3 and "missing.npy" in r.stderr
    good = tmp_path / "good.npy"
    np.save(good, np.random.default_rng(0).standard_normal((50, 16)).astype(np.float32))
    raw = good.read_bytes()
    (tmp_path / "trunc.npy").write_bytes(raw[:-3])
    r = run("eval", tmp_path / "trunc.npy")
    assert r.returncode == 3 and "trunc.npy" in r.stderr and "truncated" in r.stderr
    (tmp_path / "magic.npy").write_bytes(b"NOTNPY" + raw[6:])
    assert run("eval", tmp_path / "magic.npy").returncode == 3
    np.save(tmp_path / "ints.npy", np.arange(12, dtype=np.int32).reshape(3, 4))
    r = run("eval", tmp_path / "ints.npy")
    assert r.returncode == 3 and "dtype" in r.stderr
    bad = np.ones((20, 8), np.float32)
    bad[13, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    r = run("eval", tmp_path / "nan.npy")
    assert r.returncode == 1 and "row 13" in r.stderr
    np.save(tmp_path / "f64.npy", np.asfortranarray(np.random.default_rng(1).standard_normal((30, 8))))
    assert run("eval", tmp_path / "f64.npy").returncode == 0
