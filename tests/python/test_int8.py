"""int8 quantization through the Python API: exact math, layouts, dtypes, errors, threads."""
import threading
import time

import numpy as np
import pytest
import vectro
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference import ref_int8

RNG = np.random.default_rng(1234)


def randn(n, d, dtype=np.float32):
    return RNG.standard_normal((n, d)).astype(dtype)


def test_new_user_snippet():
    q = vectro.quantize_embeddings(np.random.randn(1000, 768).astype("float32"))
    x_hat = vectro.reconstruct_embeddings(q)
    assert x_hat.shape == (1000, 768) and x_hat.dtype == np.float32


@pytest.mark.parametrize("d", [1, 3, 16, 33, 384, 768, 1536, 4099])
def test_matches_numpy_reference(d):
    x = randn(17, d)
    x[3] = 0.0
    q = vectro.quantize_embeddings(x)
    codes, scales = ref_int8(x)
    np.testing.assert_array_equal(q.codes, codes)
    np.testing.assert_array_equal(q.scales, scales)
    x_hat = vectro.reconstruct_embeddings(q)
    np.testing.assert_array_equal(x_hat, codes.astype(np.float32) * scales[:, None])
    assert np.all(np.abs(x - x_hat) <= scales[:, None] * 0.5 * (1 + 1e-5))


finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)  # subnormals to FLT_MAX


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=70),
                  elements=finite32))
def test_property_exact_and_bounded(x):
    q = vectro.quantize_embeddings(x)
    codes, scales = ref_int8(x)
    np.testing.assert_array_equal(q.codes, codes)
    np.testing.assert_array_equal(q.scales, scales)
    x_hat = vectro.reconstruct_embeddings(q)
    assert np.all(np.isfinite(x_hat))
    # Half a step per element, where the scale is a normal float (subnormal scales lose bits).
    normal = scales >= np.finfo(np.float32).tiny
    err = np.abs(x.astype(np.float64) - x_hat)[normal]
    bound = scales.astype(np.float64)[normal, None] * (0.5 + 1e-5)
    assert np.all(err <= bound)


def test_every_kernel_identical():
    x = randn(257, 1000)
    x[5] *= 1e-35  # the tiny path
    kernels = vectro.get_backend_info()["available_kernels"]
    results = []
    for k in kernels:
        assert vectro.set_backend(k) == k
        q = vectro.quantize_embeddings(x)
        results.append((q.codes, q.scales, vectro.reconstruct_embeddings(q)))
    for codes, scales, x_hat in results[1:]:
        np.testing.assert_array_equal(codes, results[0][0])
        np.testing.assert_array_equal(scales.view(np.uint32), results[0][1].view(np.uint32))
        np.testing.assert_array_equal(x_hat.view(np.uint32), results[0][2].view(np.uint32))


def test_set_backend_errors():
    with pytest.raises(ValueError, match="unknown kernel"):
        vectro.set_backend("sse9")
    unsupported = {"scalar", "avx2", "avx512", "neon"} - set(vectro.get_backend_info()["available_kernels"])
    for k in unsupported:
        with pytest.raises(vectro.VectroError, match=k):
            vectro.set_backend(k)


def test_backend_info():
    info = vectro.get_backend_info()
    assert info["kernel"] in info["available_kernels"]
    assert info["version"] == vectro.__version__ == info["library_version"]
    assert info["threads"] >= 1 and isinstance(info["cpu_features"], list)


@pytest.mark.parametrize("dtype", [np.float16, np.float64, ">f4", "<f8"])
def test_other_float_dtypes_convert(dtype):
    x = randn(20, 50).astype(dtype)
    q = vectro.quantize_embeddings(x)
    ref = vectro.quantize_embeddings(x.astype(np.float32))
    np.testing.assert_array_equal(q.codes, ref.codes)
    np.testing.assert_array_equal(q.scales, ref.scales)


@pytest.mark.parametrize("bad", [np.arange(12).reshape(3, 4), np.ones((2, 2), bool),
                                 np.ones((2, 2), np.complex64), np.ones((2, 2), np.int8),
                                 np.array([["a", "b"]])])
def test_non_float_dtypes_rejected(bad):
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        vectro.quantize_embeddings(bad)


def test_layouts_strided_fortran_negative():
    base = randn(60, 130)
    ref = vectro.quantize_embeddings(np.ascontiguousarray(base[::3]))
    views = {
        "row-strided": base[::3],
        "fortran": np.asfortranarray(base[::3]),
        "column-strided": np.repeat(base[::3], 2, axis=1)[:, ::2],
    }
    for name, v in views.items():
        q = vectro.quantize_embeddings(v)
        np.testing.assert_array_equal(q.codes, ref.codes, err_msg=name)
        np.testing.assert_array_equal(q.scales, ref.scales, err_msg=name)
    rev = vectro.quantize_embeddings(base[57::-3])  # negative row stride
    np.testing.assert_array_equal(rev.codes, ref.codes[::-1])


def test_row_strided_input_is_not_copied(monkeypatch):
    base = randn(40, 64)
    calls = []
    orig = vectro._core.codec_encode

    def spy(h, x, *a):
        calls.append(x)
        return orig(h, x, *a)

    monkeypatch.setattr(vectro._core, "codec_encode", spy)
    vectro.quantize_embeddings(base[::2])
    assert np.shares_memory(calls[0], base)


def test_one_vector_and_empty():
    v = randn(1, 384)[0]
    q = vectro.quantize_embeddings(v)
    assert q.shape == (384,) and q.codes.shape == (1, 384) and len(q) == 384
    assert vectro.reconstruct_embeddings(q).shape == (384,)
    e = vectro.quantize_embeddings(np.empty((0, 384), np.float32))
    assert e.shape == (0, 384) and e.nbytes == 0
    assert vectro.reconstruct_embeddings(e).shape == (0, 384)
    lst = vectro.quantize_embeddings([[1.0, -2.0], [0.0, 0.0]])
    assert lst.codes.tolist() == [[64, -127], [0, 0]] and lst.scales[1] == 0


@pytest.mark.parametrize("shape", [(2, 3, 4), (), (5, 0), (0,)])
def test_bad_shapes(shape):
    with pytest.raises(ValueError, match="shape"):
        vectro.quantize_embeddings(np.zeros(shape, np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("col", [0, 200, 383])
def test_nonfinite_names_row(bad, col):
    x = randn(10, 384)
    x[7, col] = bad
    with pytest.raises(vectro.VectroError, match="row 7 holds NaN or Inf"):
        vectro.quantize_embeddings(x)
    assert issubclass(vectro.VectroError, ValueError)


def test_float64_overflow_is_reported_not_silently_inf():
    x = np.ones((3, 8))
    x[2, 4] = 1e300
    with pytest.raises(ValueError, match="row 2"):
        vectro.quantize_embeddings(x)


def test_zero_vectors():
    q = vectro.quantize_embeddings(np.zeros((4, 10), np.float32))
    assert np.all(q.scales == 0) and np.all(q.codes == 0)
    assert np.all(vectro.reconstruct_embeddings(q) == 0)


def test_sizes_and_ratio():
    q = vectro.quantize_embeddings(randn(100, 768))
    assert q.nbytes == 100 * 768 + 100 * 4
    assert q.compression_ratio == pytest.approx(4 * 768 / 772)
    assert "int8" in repr(q) and "3.98" in repr(q)


def test_quantized_container_validates():
    with pytest.raises(TypeError):
        vectro.QuantizedEmbeddings(np.zeros((2, 3), np.int16), np.zeros(2, np.float32))
    with pytest.raises(TypeError):
        vectro.QuantizedEmbeddings(np.zeros((2, 3), np.int8), np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        vectro.QuantizedEmbeddings(np.zeros((2, 3), np.int8), np.zeros(2, np.float32), "int3")
    with pytest.raises(ValueError):
        vectro.QuantizedEmbeddings(np.zeros((2, 3), np.int8), np.zeros(2, np.float32), shape=(7,))


def test_reconstruct_rejects_bad_scales_and_args():
    q = vectro.quantize_embeddings(randn(5, 16))
    q.scales[3] = np.nan
    with pytest.raises(vectro.VectroError, match="row 3"):
        vectro.reconstruct_embeddings(q)
    q.scales[3] = -1
    with pytest.raises(vectro.VectroError, match="row 3"):
        vectro.reconstruct_embeddings(q)
    with pytest.raises(TypeError):
        vectro.reconstruct_embeddings(np.zeros((2, 2)))
    good = vectro.quantize_embeddings(randn(5, 16))
    with pytest.raises(ValueError, match="out"):
        vectro.reconstruct_embeddings(good, out=np.empty((5, 15), np.float32))
    with pytest.raises(TypeError, match="contiguous"):
        vectro.reconstruct_embeddings(good, out=np.empty((5, 32), np.float32)[:, ::2])
    out = np.empty((5, 16), np.float32)
    assert vectro.reconstruct_embeddings(good, out=out) is out
    np.testing.assert_array_equal(out, good.codes * good.scales[:, None])


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_threads(bad):
    with pytest.raises((TypeError, ValueError)):
        vectro.quantize_embeddings(randn(2, 4), threads=bad)


def test_threads_identical_results():
    x = randn(40000, 256)  # ~50 MB of traffic: the engine starts threads
    one = vectro.quantize_embeddings(x, threads=1)
    for t in (0, 2, 5):
        q = vectro.quantize_embeddings(x, threads=t)
        np.testing.assert_array_equal(q.codes, one.codes)
        np.testing.assert_array_equal(vectro.reconstruct_embeddings(q, threads=t),
                                      vectro.reconstruct_embeddings(one, threads=1))


def test_progress_and_cancel():
    x = randn(200000, 128)
    seen = []
    vectro.quantize_embeddings(x, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (200000, 200000)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))

    class Stop(Exception):
        pass

    def stop(done, total):
        raise Stop()

    with pytest.raises(Stop):
        vectro.quantize_embeddings(x, progress=stop)
    with pytest.raises(TypeError, match="callable"):
        vectro.quantize_embeddings(x[:2], progress=42)


def test_gil_released_during_work():
    """Another Python thread keeps running while C encodes. With the GIL held for the whole call it
    would make no progress at all, so compare its rate during the call with its rate when idle."""
    x = randn(100000, 384)
    vectro.set_backend("scalar")  # the slow reference kernel: a long call, ~100 ms or more
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before, t0 = ticks[0], time.perf_counter()
        time.sleep(0.2)
        idle_rate = (ticks[0] - before) / (time.perf_counter() - t0)
        before, t0 = ticks[0], time.perf_counter()
        vectro.quantize_embeddings(x, threads=1)
        elapsed = time.perf_counter() - t0
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    assert during > 0.3 * idle_rate * elapsed, (during, idle_rate, elapsed)


def test_outputs_are_cache_line_aligned():
    """The kernels' streaming-store path needs aligned rows; NumPy alone gives 16-byte alignment."""
    q = vectro.quantize_embeddings(randn(3000, 768))
    assert q.codes.ctypes.data % 64 == 0 and q.codes.flags.c_contiguous
    assert vectro.reconstruct_embeddings(q).ctypes.data % 64 == 0


@pytest.mark.parametrize("disable, expect", [("all", "scalar"), ("avx512", "avx2")])
def test_env_var_caps_kernel(disable, expect):
    import os
    import subprocess
    import sys

    if expect not in vectro.get_backend_info()["available_kernels"]:
        pytest.skip(f"{expect} kernels need a CPU with them")
    env = dict(os.environ, VECTRO_DISABLE_CPU_FEATURES=disable)
    out = subprocess.run([sys.executable, "-c", "import vectro; print(vectro.get_backend_info()['kernel'])"],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == expect


def test_core_checks_buffers_itself():
    """The extension re-checks what the Python layer already normalised: a direct caller of
    vectro._core gets an exception, never a write through a read-only or mis-sized buffer."""
    core = vectro._core
    h = vectro.Codec("int8", 8)._h
    x = np.ones((4, 8), np.float32)
    ro = np.ones((4, 8), np.int8)
    ro.flags.writeable = False
    with pytest.raises(TypeError, match="writable"):
        core.codec_encode(h, x, ro, np.ones(4, np.float32), 0, None)
    with pytest.raises(ValueError, match="scales holds"):
        core.codec_encode(h, x, np.ones((4, 8), np.int8), np.ones(3, np.float32), 0, None)
    with pytest.raises(ValueError, match="codes holds"):
        core.codec_encode(h, x, np.ones((4, 8), np.int16), np.ones(4, np.float32), 0, None)
    with pytest.raises(TypeError, match="element type"):
        core.codec_encode(h, x.astype(np.float64), np.ones((4, 8), np.int8), np.ones(4, np.float32), 0, None)
    with pytest.raises(TypeError, match="contiguous"):
        core.codec_encode(h, np.ones((4, 16), np.float32)[:, ::2], np.ones((4, 8), np.int8),
                          np.ones(4, np.float32), 0, None)
    with pytest.raises(ValueError, match="dimension"):
        core.codec_encode(h, np.ones((4, 9), np.float32), np.ones((4, 9), np.int8), np.ones(4, np.float32), 0, None)
    with pytest.raises(TypeError, match="codec handle"):
        core.codec_encode(object(), x, np.ones((4, 8), np.int8), np.ones(4, np.float32), 0, None)
    with pytest.raises(TypeError):
        core.codec_encode(h, x)
