"""vectro.cuda: GPU codes equal the CPU's bit for bit, GPU search equals the CPU's, device arrays
stay on the device. On a machine without a GPU (or without PyTorch) the GPU tests report
themselves skipped with the reason, and what can be checked on the host is checked."""

import ctypes
import os

import numpy as np
import pytest
import vectro
from vectro import cuda

LIB = os.path.join(os.path.dirname(vectro.__file__), "libvectro_cuda.so")

try:
    import torch
    HAVE_TORCH_CUDA = torch.cuda.is_available()
except ImportError:
    torch = None
    HAVE_TORCH_CUDA = False

gpu = pytest.mark.skipif(not (cuda.is_available() and HAVE_TORCH_CUDA),
                         reason=f"no GPU for vectro.cuda: {cuda.unavailable_reason() or 'PyTorch CUDA missing'}")


def rows(n, d, seed=0):
    """Gaussian rows plus the edge cases every encoder must agree on: exact int8 and int4 ties,
    zero, tiny (< 2^-96), huge, denormal and -0 rows."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    j = np.arange(d)
    x[1::8] = ((j % 127) - 63 + 0.5).astype(np.float32)
    x[1::8, 0] = 127.0
    x[2::8] = 0.0
    x[3::8] *= np.float32(1e-35)
    x[4::8] *= np.float32(1e37)
    x[5::8] = np.where(j % 3 == 0, -0.0, x[5::8] * np.float32(1e-40)).astype(np.float32)
    x[6::8] = (((j % 15) - 7) * 0.5).astype(np.float32)
    x[6::8, 0] = 7.0
    return x


def test_host_side_without_gpu_is_clear():
    """Without a GPU the module still imports and says why it cannot run."""
    if cuda.is_available():
        pytest.skip("a GPU is usable here: the GPU tests cover this module")
    reason = cuda.unavailable_reason()
    assert isinstance(reason, str) and reason
    x = np.ones((2, 8), np.float32)
    with pytest.raises(vectro.VectroError, match="vectro.cuda"):
        vectro.quantize_embeddings(x, device="cuda")
    with pytest.raises(vectro.VectroError, match="vectro.cuda"):
        cuda.quantize(x, "int8", device="cuda")
    # a host array without device= keeps going to the CPU
    assert vectro.quantize_embeddings(x).codes.dtype == np.int8


def test_library_loads_and_reports_no_device():
    """The built libvectro_cuda loads on a machine without a GPU and reports zero devices with the
    driver's message instead of failing."""
    if not os.path.exists(LIB):
        pytest.skip("vectro was built without nvcc: no libvectro_cuda.so in the package")
    lib = ctypes.CDLL(LIB)
    lib.vec_cuda_device_count.restype = ctypes.c_int
    lib.vec_cuda_last_error.restype = ctypes.c_char_p
    n = lib.vec_cuda_device_count()
    assert n >= 0
    if n == 0:
        assert lib.vec_cuda_last_error()  # e.g. "no CUDA-capable device is detected"


def test_bad_arguments_are_refused_before_the_gpu():
    with pytest.raises(ValueError, match="encodes"):
        cuda._parse("pq-8x4", None)
    with pytest.raises(ValueError, match="int4 only"):
        cuda._parse("int8", 32)
    assert cuda._parse("int4-g32", None) == ("int4", 32)
    assert cuda._parse("float16", None) == ("f16", 0)


@gpu
@pytest.mark.parametrize("precision", ["int8", "int4", "int4-g32", "binary", "f16", "bf16"])
@pytest.mark.parametrize("d", [1, 7, 33, 384, 385])
def test_codes_equal_the_cpu(precision, d):
    x = rows(8 * 20 + 3, d)
    if precision == "f16":
        x[4::8] *= np.float32(1e-33)  # f16 refuses 1e37: keep the huge rows in range
    cpu = vectro.quantize_embeddings(x, precision)
    gq = vectro.quantize_embeddings(torch.from_numpy(x).cuda(), precision)
    assert gq.codes.is_cuda
    host = gq.to_host()
    np.testing.assert_array_equal(host.codes.view(np.uint8), cpu.codes.view(np.uint8))
    if cpu.scales is not None:
        np.testing.assert_array_equal(host.scales.view(np.uint32), cpu.scales.view(np.uint32))
    back = vectro.reconstruct_embeddings(gq)
    assert back.is_cuda
    np.testing.assert_array_equal(back.cpu().numpy().view(np.uint32),
                                  vectro.reconstruct_embeddings(cpu).view(np.uint32))


@gpu
def test_bad_rows_name_the_lowest():
    x = np.ones((50, 16), np.float32)
    x[30, 2], x[12, 5] = np.nan, np.inf
    with pytest.raises(vectro.VectroError, match="row 12"):
        vectro.quantize_embeddings(torch.from_numpy(x).cuda(), "int8")
    x = np.ones((50, 16), np.float32)
    x[7, 0] = 70000.0
    with pytest.raises(vectro.VectroError, match="row 7"):
        vectro.quantize_embeddings(torch.from_numpy(x).cuda(), "f16")


@gpu
@pytest.mark.parametrize("precision", ["int8", "binary"])
@pytest.mark.parametrize("k", [1, 10, 100])
def test_search_equals_the_cpu(precision, k):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20000, 384)).astype(np.float32)
    x[1::97] = x[::97][: len(x[1::97])]  # duplicate rows: ties go to the lower row on both sides
    qx = rng.standard_normal((33, 384)).astype(np.float32)
    idx = vectro.Index(precision, metric="ip", keep_originals=False)
    idx.add(x)
    cpu_ids, cpu_scores = idx.search(qx, k=k)
    gq = vectro.quantize_embeddings(torch.from_numpy(x).cuda(), precision)
    ids, scores = cuda.search(gq, torch.from_numpy(qx).cuda(), k=k)
    assert ids.is_cuda and scores.is_cuda
    np.testing.assert_array_equal(ids.cpu().numpy().astype(np.uint64), cpu_ids)
    if precision == "int8":
        np.testing.assert_array_equal(scores.cpu().numpy().view(np.uint32), cpu_scores.view(np.uint32))
    else:  # Hamming distances, from which the CPU's score is mean|q| * (d - 2h)
        h = scores.cpu().numpy()
        mq = np.abs(qx).mean(axis=1, keepdims=True)
        np.testing.assert_allclose(mq * (384 - 2 * h), cpu_scores, rtol=1e-5)


@gpu
def test_host_array_sent_explicitly_and_empty_slots():
    x = np.random.default_rng(1).standard_normal((5, 64)).astype(np.float32)
    gq = vectro.quantize_embeddings(x, "int8", device="cuda")
    assert gq.codes.is_cuda
    ids, scores = cuda.search(gq, torch.from_numpy(x).cuda(), k=8)
    ids = ids.cpu().numpy()
    assert (ids[:, :5] >= 0).all() and (ids[:, 5:] == -1).all()
    assert np.isnan(scores.cpu().numpy()[:, 5:]).all()
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]


@gpu
def test_cupy_arrays_stay_cupy():
    cupy = pytest.importorskip("cupy", reason="CuPy not installed")
    x = np.random.default_rng(2).standard_normal((100, 48)).astype(np.float32)
    gq = vectro.quantize_embeddings(cupy.asarray(x), "int8")
    assert isinstance(gq.codes, cupy.ndarray)
    np.testing.assert_array_equal(gq.codes.get(), vectro.quantize_embeddings(x).codes)
    assert isinstance(vectro.reconstruct_embeddings(gq), cupy.ndarray)
