"""vectro.cuda: compress, reconstruct and search embeddings that live in GPU memory (CUDA), with
the C library's exact codes, so codes made on a GPU and on a CPU are interchangeable.

Arrays are taken through ``__cuda_array_interface__`` (PyTorch CUDA tensors, CuPy, Numba) or
DLPack, without a copy to the host; outputs are allocated by the input's own library (a torch
tensor in, torch tensors out; CuPy in, CuPy out) on the same device and the library's current
stream. Host (NumPy) arrays go to the GPU only when asked: ``device="cuda"``.

The kernels are in ``libvectro_cuda`` (built with the package when ``nvcc`` is found). Without it,
or without a GPU, :func:`is_available` is False and :func:`unavailable_reason` says why.

The examples need a GPU and PyTorch: they are marked ``+SKIP``, and the docs test runs them
(SKIP lifted) where :func:`is_available` is True.

Example:
    >>> import torch, vectro  # doctest: +SKIP
    >>> x = torch.randn(1000, 384, device="cuda")  # doctest: +SKIP
    >>> q = vectro.quantize_embeddings(x)  # codes stay on the GPU  # doctest: +SKIP
    >>> q.codes.device.type, q.codes.dtype  # doctest: +SKIP
    ('cuda', torch.int8)
    >>> x_hat = vectro.reconstruct_embeddings(q)  # a CUDA tensor  # doctest: +SKIP
    >>> ids, scores = vectro.cuda.search(q, x[:5], k=10)  # doctest: +SKIP
    >>> ids[:, 0].tolist()  # doctest: +SKIP
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._core import VectroError

if TYPE_CHECKING:
    from ._codec import QuantizedEmbeddings

__all__ = ["DeviceQuantizedEmbeddings", "is_available", "unavailable_reason", "is_device_array",
           "quantize", "reconstruct", "search", "PRECISIONS"]

PRECISIONS = ("int8", "int4", "int4-g32", "binary", "f16", "bf16")
MAX_K = 1024
_E_CUDA = -20
_MESSAGES = {-1: "invalid argument", -2: "NaN or Inf in the input", -3: "out of GPU memory",
             -6: "size overflow", -8: "a value the codec cannot represent", _E_CUDA: "CUDA error"}

_lib = None
_reason = None


def _load():
    """Loads libvectro_cuda once; returns it or None (and records why)."""
    global _lib, _reason
    if _lib is not None or _reason is not None:
        return _lib
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.environ.get("VECTRO_CUDA_LIBRARY") or os.path.join(here, "libvectro_cuda.so")
    if not os.path.exists(path):
        _reason = ("vectro was built without its CUDA kernels (no nvcc at build time); rebuild with "
                   "nvcc on PATH, or -Ccmake.define.VECTRO_CUDA=ON")
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        _reason = f"libvectro_cuda could not be loaded: {e}"
        return None
    P, S, INT = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
    sigs = {
        "vec_cuda_device_count": ([], INT),
        "vec_cuda_last_error": ([], ctypes.c_char_p),
        "vec_cuda_last_error_row": ([], ctypes.c_longlong),
        "vec_cuda_int8_encode": ([P, S, S, P, P, P], INT),
        "vec_cuda_int8_decode": ([P, P, S, S, P, P], INT),
        "vec_cuda_int4_encode": ([P, S, S, S, P, P, P], INT),
        "vec_cuda_int4_decode": ([P, P, S, S, S, P, P], INT),
        "vec_cuda_binary_encode": ([P, S, S, P, P], INT),
        "vec_cuda_binary_decode": ([P, S, S, P, P], INT),
        "vec_cuda_half_encode": ([P, S, S, INT, P, P], INT),
        "vec_cuda_half_decode": ([P, S, S, INT, P, P], INT),
        "vec_cuda_int8_search": ([P, P, S, S, P, S, S, P, P, P], INT),
        "vec_cuda_binary_search": ([P, S, S, P, S, S, P, P, P], INT),
    }
    for name, (args, res) in sigs.items():
        f = getattr(lib, name)
        f.argtypes, f.restype = args, res
    if lib.vec_cuda_device_count() == 0:
        msg = lib.vec_cuda_last_error().decode(errors="replace")
        _reason = f"no CUDA device is usable ({msg or 'none found'})"
        return None
    _lib = lib
    return lib


def is_available() -> bool:
    """True when the CUDA kernels are built and a GPU is usable.

    Example:
        >>> import vectro
        >>> vectro.cuda.is_available() == (vectro.cuda.unavailable_reason() is None)
        True
    """
    return _load() is not None


def unavailable_reason() -> str | None:
    """Why :func:`is_available` is False (None when it is True).

    Example:
        >>> import vectro
        >>> reason = vectro.cuda.unavailable_reason()
        >>> reason is None or isinstance(reason, str)   # e.g. "no CUDA device" on a laptop
        True
    """
    _load()
    return None if _lib is not None else _reason


def _need():
    lib = _load()
    if lib is None:
        raise VectroError(f"vectro.cuda: {_reason}")
    return lib


def _check(lib, rc: int, what: str) -> None:
    if rc == 0:
        return
    detail = _MESSAGES.get(rc, f"error {rc}")
    if rc in (-2, -8):
        detail += f" (row {lib.vec_cuda_last_error_row()})"
    if rc in (_E_CUDA, -3):
        detail += f": {lib.vec_cuda_last_error().decode(errors='replace')}"
    raise VectroError(f"vectro.cuda {what}: {detail}")


# ---- device arrays -------------------------------------------------------------------------

def _framework(a) -> str | None:
    mod = type(a).__module__.split(".")[0]
    if mod == "torch":
        return "torch" if a.is_cuda else None
    if mod == "cupy":
        return "cupy"
    if hasattr(a, "__cuda_array_interface__"):
        return "cai"
    return None


def is_device_array(a: object) -> bool:
    """True for a CUDA array: a torch CUDA tensor, a CuPy array, or anything exposing
    ``__cuda_array_interface__``.

    Example:
        >>> import numpy as np, vectro
        >>> vectro.cuda.is_device_array(np.zeros(3, np.float32))   # host memory
        False
        >>> import torch  # doctest: +SKIP
        >>> vectro.cuda.is_device_array(torch.zeros(3, device="cuda"))  # doctest: +SKIP
        True
    """
    return _framework(a) is not None


def _interface(a) -> dict:
    if type(a).__module__.split(".")[0] == "torch":
        a = a.detach()
    return a.__cuda_array_interface__


def _ptr_shape(a, typestr: str, what: str) -> tuple[int, tuple]:
    cai = _interface(a)
    shape = tuple(cai["shape"])
    if cai["typestr"] != typestr:
        raise TypeError(f"{what} must have dtype {np.dtype(typestr)} on the GPU, got {np.dtype(cai['typestr'])}")
    strides = cai.get("strides")
    if strides is not None:
        item = np.dtype(typestr).itemsize
        want = tuple(int(np.prod(shape[i + 1:])) * item for i in range(len(shape)))
        if tuple(strides) != want:
            raise ValueError(f"{what} must be C-contiguous on the GPU (call .contiguous())")
    return int(cai["data"][0]), shape


class _Alloc:
    """Allocates outputs with the input's library, on its device, and names its current stream."""

    def __init__(self, like) -> None:
        self.kind = _framework(like)
        if self.kind == "torch":
            import torch
            self.torch, self.device = torch, like.device
            self.stream = torch.cuda.current_stream(like.device).cuda_stream
        else:
            import cupy  # CuPy arrays, and other CAI producers, get CuPy outputs
            self.cupy = cupy
            self.stream = cupy.cuda.get_current_stream().ptr

    def empty(self, shape, dtype):
        if self.kind == "torch":
            tdt = {np.dtype(np.int8): self.torch.int8, np.dtype(np.uint8): self.torch.uint8,
                   np.dtype(np.float32): self.torch.float32, np.dtype(np.int16): self.torch.int16,
                   np.dtype(np.int64): self.torch.int64}[np.dtype(dtype)]
            return self.torch.empty(shape, dtype=tdt, device=self.device)
        return self.cupy.empty(shape, dtype=dtype)

    def empty_half(self, shape, precision: str):
        """16-bit codes: torch.float16 / torch.bfloat16 tensors (the same bits as the codes), CuPy
        float16 for f16 and uint16 for bf16 (CuPy has no bfloat16)."""
        if self.kind == "torch":
            dt = self.torch.float16 if precision == "f16" else self.torch.bfloat16
            return self.torch.empty(shape, dtype=dt, device=self.device)
        return self.cupy.empty(shape, dtype=np.float16 if precision == "f16" else np.uint16)

    @staticmethod
    def ptr(a) -> int:
        # torch's __cuda_array_interface__ refuses bfloat16: its data_ptr() does not
        if type(a).__module__.split(".")[0] == "torch":
            return int(a.data_ptr())
        return int(_interface(a)["data"][0])


def _to_device(x, device: str):
    """A NumPy array (or list) as a CUDA array, with torch if installed, else CuPy."""
    if device != "cuda" and not device.startswith("cuda:"):
        raise ValueError(f"device must be 'cuda' or 'cuda:N', got {device!r}")
    host = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    try:
        import torch
        return torch.from_numpy(host).to(device)
    except ImportError:
        pass
    try:
        import cupy
        with cupy.cuda.Device(int(device.split(":")[1]) if ":" in device else 0):
            return cupy.asarray(host)
    except ImportError:
        raise VectroError("device='cuda' needs PyTorch or CuPy to hold the GPU arrays") from None


def _as_float_rows(x):
    if not is_device_array(x):
        if hasattr(x, "__dlpack__"):  # e.g. a JAX array: take it through torch's DLPack importer
            import torch
            x = torch.from_dlpack(x)
        else:
            raise TypeError(f"expected a CUDA array (torch, CuPy, __cuda_array_interface__), got "
                            f"{type(x).__name__}; pass device='cuda' to send a host array")
    ptr, shape = _ptr_shape(x, "<f4", "embeddings")
    single = len(shape) == 1
    if single:
        shape = (1, shape[0])
    if len(shape) != 2 or shape[1] == 0:
        raise ValueError(f"embeddings must have shape (n, d) or (d,) with d >= 1, got {shape}")
    return x, ptr, shape, single


def _parse(precision: str, group_size: int | None) -> tuple[str, int]:
    p = {"float16": "f16", "fp16": "f16", "half": "f16", "bfloat16": "bf16"}.get(precision, precision)
    if p == "int4-g32":
        p, group_size = "int4", 32 if group_size is None else group_size
    if p not in ("int8", "int4", "binary", "f16", "bf16"):
        raise ValueError(f"vectro.cuda encodes {', '.join(PRECISIONS)}; got {precision!r} "
                         "(other codecs: compress on the CPU)")
    g = int(group_size or 0)
    if p != "int4" and g:
        raise ValueError("group_size applies to int4 only")
    return p, g


@dataclass
class DeviceQuantizedEmbeddings:
    """Codes on a GPU: ``codes`` and ``scales`` (None for binary, f16, bf16) are arrays of the
    input's library. ``to_host()`` gives the equivalent :class:`vectro.QuantizedEmbeddings`.

    Example:
        >>> import torch, vectro  # doctest: +SKIP
        >>> q = vectro.cuda.quantize(torch.randn(100, 64, device="cuda"), "int4", group_size=32)  # doctest: +SKIP
        >>> len(q), q.dim, q.codes.shape, q.scales.shape  # doctest: +SKIP
        (100, 64, torch.Size([100, 32]), torch.Size([100, 2]))
    """

    codes: object
    scales: object
    precision: str
    dim: int
    group_size: int = 0
    shape: tuple = ()

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def name(self) -> str:
        """The codec's name as ``Codec`` takes it ("int4-g32" for int4 with groups of 32).

        Example:
            >>> import torch, vectro  # doctest: +SKIP
            >>> vectro.cuda.quantize(torch.randn(10, 64, device="cuda"), "int4", group_size=32).name  # doctest: +SKIP
            'int4-g32'
        """
        if self.precision == "int4" and self.group_size:
            return f"int4-g{self.group_size}"
        return self.precision

    def to_host(self) -> QuantizedEmbeddings:
        """The same codes as a :class:`vectro.QuantizedEmbeddings` (one device-to-host copy).

        Example:
            >>> import numpy as np, torch, vectro  # doctest: +SKIP
            >>> x = torch.randn(100, 64, device="cuda")  # doctest: +SKIP
            >>> host = vectro.cuda.quantize(x).to_host()  # doctest: +SKIP
            >>> bool(np.array_equal(host.codes, vectro.quantize_embeddings(x.cpu().numpy()).codes))  # doctest: +SKIP
            True
        """
        from ._codec import Codec, QuantizedEmbeddings

        def host(a):
            if a is None:
                return None
            if type(a).__module__.split(".")[0] == "torch":
                import torch
                if a.dtype == torch.bfloat16:  # NumPy has no bfloat16: the same bits as int16
                    a = a.view(torch.int16)
                return a.cpu().numpy()
            return a.get()
        codes = host(self.codes)
        if self.precision in ("f16", "bf16"):
            codes = codes.view(np.float16 if self.precision == "f16" else np.uint16)
        codec = Codec("int4", group_size=self.group_size or None) if self.precision == "int4" \
            else Codec(self.precision)
        return QuantizedEmbeddings(codes, host(self.scales), codec=codec, dim=self.dim, shape=self.shape)


def quantize(embeddings: object, precision: str = "int8", *, group_size: int | None = None,
             device: str | None = None) -> DeviceQuantizedEmbeddings:
    """Encodes float32 rows held on a GPU (or a host array with ``device="cuda"``).

    The codes are bit for bit those :func:`vectro.quantize_embeddings` makes on the CPU.

    Raises:
        VectroError: no usable GPU, NaN/Inf (naming the lowest row), a value f16 cannot hold.

    Example:
        >>> import numpy as np, vectro  # doctest: +SKIP
        >>> x = np.random.default_rng(0).standard_normal((1000, 64), np.float32)  # doctest: +SKIP
        >>> q = vectro.cuda.quantize(x, "binary", device="cuda")  # a host array, moved to the GPU  # doctest: +SKIP
        >>> q.codes.shape, q.codes.is_cuda  # doctest: +SKIP
        (torch.Size([1000, 8]), True)
    """
    lib = _need()
    if device is not None and not is_device_array(embeddings):
        embeddings = _to_device(embeddings, device)
    x, ptr, (n, d), single = _as_float_rows(embeddings)
    p, g = _parse(precision, group_size)
    al = _Alloc(x)
    scales = None
    if p == "int8":
        codes, scales = al.empty((n, d), np.int8), al.empty((n,), np.float32)
        rc = lib.vec_cuda_int8_encode(ptr, n, d, al.ptr(codes), al.ptr(scales), al.stream)
    elif p == "int4":
        gg = d if g == 0 or g >= d else g
        ns = (d + gg - 1) // gg
        codes = al.empty((n, (d + 1) // 2), np.uint8)
        scales = al.empty((n, ns) if ns > 1 else (n,), np.float32)
        rc = lib.vec_cuda_int4_encode(ptr, n, d, g, al.ptr(codes), al.ptr(scales), al.stream)
    elif p == "binary":
        codes = al.empty((n, (d + 7) // 8), np.uint8)
        rc = lib.vec_cuda_binary_encode(ptr, n, d, al.ptr(codes), al.stream)
    else:
        codes = al.empty_half((n, d), p)
        rc = lib.vec_cuda_half_encode(ptr, n, d, int(p == "bf16"), al.ptr(codes), al.stream)
    _check(lib, rc, f"{p} encode")
    return DeviceQuantizedEmbeddings(codes, scales, p, d, g, (d,) if single else (n, d))


def reconstruct(q: DeviceQuantizedEmbeddings) -> object:
    """Decodes codes on the GPU to float32 rows (an array of the codes' library).

    Example:
        >>> import torch, vectro  # doctest: +SKIP
        >>> x = torch.randn(100, 64, device="cuda")  # doctest: +SKIP
        >>> x_hat = vectro.cuda.reconstruct(vectro.cuda.quantize(x))  # doctest: +SKIP
        >>> x_hat.device.type, bool((x_hat - x).abs().max() < 0.05)  # doctest: +SKIP
        ('cuda', True)
    """
    lib = _need()
    if not isinstance(q, DeviceQuantizedEmbeddings):
        raise TypeError(f"expected DeviceQuantizedEmbeddings, got {type(q).__name__}")
    n, d = len(q), q.dim
    al = _Alloc(q.codes)
    out = al.empty((n, d), np.float32)
    c = al.ptr(q.codes)
    if q.precision == "int8":
        rc = lib.vec_cuda_int8_decode(c, al.ptr(q.scales), n, d, al.ptr(out), al.stream)
    elif q.precision == "int4":
        rc = lib.vec_cuda_int4_decode(c, al.ptr(q.scales), n, d, q.group_size, al.ptr(out), al.stream)
    elif q.precision == "binary":
        rc = lib.vec_cuda_binary_decode(c, n, d, al.ptr(out), al.stream)
    else:
        rc = lib.vec_cuda_half_decode(c, n, d, int(q.precision == "bf16"), al.ptr(out), al.stream)
    _check(lib, rc, f"{q.precision} decode")
    return out.reshape(q.shape) if len(q.shape) == 1 else out


def search(q: DeviceQuantizedEmbeddings, queries: object, k: int = 10) -> tuple[object, object]:
    """Exhaustive top-k on the GPU: int8 codes by inner product (the query quantized by the int8
    encoder; scores are the C library's bit for bit), binary codes by Hamming distance (scores are
    the distances, smallest first). Ties go to the lower row. Returns (ids int64, scores float32)
    device arrays of shape (nq, k); slots past len(q) hold id -1 and score NaN.

    Example:
        >>> import torch, vectro  # doctest: +SKIP
        >>> x = torch.randn(1000, 64, device="cuda")  # doctest: +SKIP
        >>> ids, scores = vectro.cuda.search(vectro.cuda.quantize(x, "binary"), x[:3], k=5)  # doctest: +SKIP
        >>> ids[:, 0].tolist(), scores[:, 0].tolist()   # each row finds itself at Hamming distance 0  # doctest: +SKIP
        ([0, 1, 2], [0.0, 0.0, 0.0])
    """
    lib = _need()
    if not isinstance(q, DeviceQuantizedEmbeddings):
        raise TypeError(f"expected DeviceQuantizedEmbeddings, got {type(q).__name__}")
    k = int(k)
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be in 1..{MAX_K}, got {k}")
    if q.precision not in ("int8", "binary"):
        raise ValueError(f"GPU search takes int8 or binary codes, got {q.name}")
    x, ptr, (nq, d), _ = _as_float_rows(queries)
    if d != q.dim:
        raise ValueError(f"queries have dimension {d}, the codes {q.dim}")
    al = _Alloc(q.codes)
    n = len(q)
    ids, scores = al.empty((nq, k), np.int64), al.empty((nq, k), np.float32)
    step = 65535  # the kernels take at most this many queries a call
    for j0 in range(0, nq, step):
        j1 = min(nq, j0 + step)
        qp = ptr + j0 * d * 4
        ip, sp = al.ptr(ids) + j0 * k * 8, al.ptr(scores) + j0 * k * 4
        if q.precision == "int8":
            rc = lib.vec_cuda_int8_search(al.ptr(q.codes), al.ptr(q.scales), n, d, qp, j1 - j0, k, ip, sp,
                                          al.stream)
        else:
            qb = quantize(x[j0:j1], "binary")
            rc = lib.vec_cuda_binary_search(al.ptr(q.codes), n, d, al.ptr(qb.codes), j1 - j0, k, ip, sp,
                                            al.stream)
        _check(lib, rc, f"{q.precision} search")
    return ids, scores
