"""A failed open, read, write or rename (the library's VEC_E_IO, and the same failures in vectro's
Python helpers) raises vectro.VectroIOError on every path: an OSError (errno, filename) that is
also a VectroError, whose str() is the message naming the file."""
import errno
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import vectro

X = np.arange(64, dtype=np.float32).reshape(8, 8) / 64


def _check(e: BaseException, path, err) -> None:
    assert isinstance(e, vectro.VectroIOError)
    assert isinstance(e, OSError) and isinstance(e, vectro.VectroError)
    assert e.errno == err, (e.errno, str(e))
    assert e.strerror == (os.strerror(err) if err else None)
    assert e.filename == os.fspath(path)
    assert os.path.basename(os.fspath(path)) in str(e)
    assert not str(e).startswith("[Errno")  # the library's message, not OSError's formatting
    back = pickle.loads(pickle.dumps(e))  # Dask and multiprocessing send it between processes
    assert type(back) is type(e) and str(back) == str(e)
    assert (back.errno, back.filename) == (e.errno, e.filename)


def _raises(fn, path, err) -> None:
    with pytest.raises(vectro.VectroIOError) as ei:
        fn()
    _check(ei.value, path, err)


@pytest.fixture
def blocker(tmp_path):
    """A regular file used as a folder: every path under it fails with ENOTDIR, even as root
    (a read-only folder stops nobody when the tests run as root)."""
    f = tmp_path / "plainfile"
    f.write_bytes(b"x")
    return f


@pytest.mark.parametrize("where", ["missing", "under_a_file"])
def test_writes_into_a_missing_or_impossible_folder(tmp_path, blocker, where):
    bad, err = ((tmp_path / "missing" / "x.vqz", errno.ENOENT) if where == "missing"
                else (blocker / "x.vqz", errno.ENOTDIR))
    _raises(lambda: vectro.save(bad, vectro.quantize_embeddings(X)), bad, err)  # C writer

    def writer():
        with vectro.VqzWriter(bad, "int8") as w:
            w.append(X)
    _raises(writer, bad, err)
    _raises(lambda: vectro.Codec("int8", 8).save(bad), bad, err)  # Python atomic writer
    np.save(tmp_path / "in.npy", X)
    _raises(lambda: vectro.compress_file(tmp_path / "in.npy", bad), bad, err)
    ix = vectro.Index("int8")
    ix.add(X)
    _raises(lambda: ix.save(bad), bad, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy", "plainfile"]  # no temporaries


def test_reads_of_a_missing_file(tmp_path):
    missing = tmp_path / "nothere.vqz"
    _raises(lambda: vectro.load(missing), missing, errno.ENOENT)
    _raises(lambda: vectro.VqzReader(missing), missing, errno.ENOENT)
    _raises(lambda: vectro.Codec.load(missing), missing, errno.ENOENT)
    _raises(lambda: vectro.Index.load(missing), missing, errno.ENOENT)
    npy = tmp_path / "nothere.npy"
    _raises(lambda: next(vectro.read_embeddings(npy)), npy, errno.ENOENT)
    _raises(lambda: vectro.compress_file(npy, tmp_path / "out.vqz"), npy, errno.ENOENT)
    with pytest.raises(OSError):  # what callers that only know OSError catch
        vectro.load(missing)
    with pytest.raises(vectro.VectroError):  # and those that only know VectroError
        vectro.load(missing)


def test_reading_a_folder(tmp_path):
    _raises(lambda: next(vectro.read_embeddings(tmp_path)), tmp_path, errno.EISDIR)


def test_non_regular_target_has_no_errno(tmp_path):
    """A refusal that is not an OS error (a pipe would be replaced by the rename) is still a
    VectroIOError, with errno None."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _raises(lambda: vectro.Codec("int8", 8).save(fifo), fifo, None)
    _raises(lambda: vectro.save(fifo, vectro.quantize_embeddings(X)), fifo, None)


FULL_DISK = r"""
import resource, signal, sys, numpy as np, vectro
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
x = np.random.default_rng(0).standard_normal((2000, 64)).astype(np.float32)
out = sys.argv[1]
for name, fn in [("save", lambda: vectro.save(out + "/a.vqz", vectro.quantize_embeddings(x))),
                 ("codec", lambda: vectro.Codec("pq-8x8", 64).fit(x).save(out + "/c.vqc"))]:
    try:
        fn()
        print(name, "wrote")
    except vectro.VectroIOError as e:
        print(name, e.errno, isinstance(e, OSError), e.filename.endswith((".vqz", ".vqc")))
"""


def test_a_full_disk_like_failure(tmp_path):
    """RLIMIT_FSIZE makes a write fail part way (EFBIG), as a full disk does (ENOSPC): the error
    is a VectroIOError with the OS error, from the C writer and from the Python one, and nothing
    is left behind."""
    r = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == [f"save {errno.EFBIG} True True", f"codec {errno.EFBIG} True True"], r.stdout
    assert list(tmp_path.iterdir()) == []


def test_dev_full_as_a_target_is_refused_not_written(tmp_path):
    """/dev/full is a device: refused before any byte is written (it would be replaced by the
    rename), with the same class."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    _raises(lambda: vectro.save("/dev/full", vectro.quantize_embeddings(X)), "/dev/full", None)
    assert not os.path.isfile("/dev/full")
