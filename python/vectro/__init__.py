"""Vectro: compress embeddings 4x-32x, reconstruct them, and measure what it cost.

The heavy lifting is in C (``vectro._core`` over libvectro, SIMD kernels picked at run time, the
GIL released while they run); this package validates and normalises inputs and holds the results.

Example:
    >>> import numpy as np, vectro
    >>> X = np.random.default_rng(0).standard_normal((1000, 768)).astype(np.float32)
    >>> q = vectro.quantize_embeddings(X)
    >>> q.compression_ratio > 3.9
    True
    >>> X_hat = vectro.reconstruct_embeddings(q)
    >>> float(np.abs(X - X_hat).max()) < 0.05
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _core, cuda
from ._cluster import kmeans
from ._codec import (
    PRECISIONS,
    PROFILES,
    Codec,
    QuantizedEmbeddings,
    from_codes,
    quantize_embeddings,
    reconstruct_embeddings,
)
from ._codec import (
    _aligned_empty as _aligned_empty,  # for bench/: aligned buffers like the API allocates
)
from ._core import VectroError, VectroIOError
from ._files import VqzReader, VqzWriter, compress_file, load, read_embeddings, save
from ._index import NO_ID, Index
from ._mixed import MixedQuantizedEmbeddings, quantize_mixed
from ._quality import Choice, choose, evaluate

if TYPE_CHECKING:  # the types of to_faiss / from_faiss; FAISS is imported only when they are called
    import faiss
    from numpy.typing import ArrayLike

# The single version source is include/vectro.h: the extension reports the library's, and the
# installed metadata (pyproject.toml reads the same header) must agree.
__version__ = _core.__version__


def _check_installed_version() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("vectro")
    except PackageNotFoundError:  # run from a source tree without metadata: nothing to compare
        return
    if installed != __version__:  # a stale extension next to a newer install
        raise ImportError(
            f"vectro: the installed package is {installed} but its C extension is {__version__}; "
            "reinstall with `pip install .`"
        )


_check_installed_version()

__all__ = [
    "PRECISIONS",
    "PROFILES",
    "Choice",
    "Codec",
    "Index",
    "NO_ID",
    "MixedQuantizedEmbeddings",
    "QuantizedEmbeddings",
    "VectroError",
    "VectroIOError",
    "cuda",
    "VqzReader",
    "VqzWriter",
    "compress_file",
    "load",
    "read_embeddings",
    "save",
    "choose",
    "evaluate",
    "kmeans",
    "from_codes",
    "from_faiss",
    "to_faiss",
    "get_backend_info",
    "quantize_embeddings",
    "quantize_mixed",
    "reconstruct_embeddings",
    "set_backend",
    "__version__",
]


def get_backend_info() -> dict:
    """What runs here: the active ``kernel`` ("avx512", "avx2", "neon" or "scalar"), the
    ``available_kernels``, ``cpu_features``, default ``threads``, ``library_version``,
    ``compiler`` and the package ``version``.

    Example:
        >>> import vectro
        >>> vectro.get_backend_info()["kernel"] in vectro.get_backend_info()["available_kernels"]
        True
    """
    info = _core.backend_info()
    info["version"] = __version__
    return info


def set_backend(kernel: str = "auto", *, disable: str | list[str] | tuple[str, ...] | None = None) -> str:
    """Force one instruction set's kernels ("scalar", "avx2", "avx512", "neon") for the whole
    process, or return to automatic choice with "auto". Returns the kernel now active. The
    environment variable ``VECTRO_DISABLE_CPU_FEATURES=avx512,avx2`` caps the automatic choice.

    ``disable`` switches CPU sub-features off whatever the kernel, so that the fallbacks of a CPU
    without them run here: ``"vnni"``, ``"vpopcntdq"``, ``"f16c"``, ``"bf16"``, ``"sse4.2"`` /
    ``"crc32"``, ``"dotprod"`` (a comma string or a list; it replaces the environment variable's
    setting; ``""`` or ``[]`` switches everything back on; None leaves the setting as it is).
    ``get_backend_info()["active_cpu_features"]`` lists what the kernels use.

    Raises VectroError if this CPU cannot run the kernel asked for, ValueError for an unknown
    kernel or feature name.

    Example:
        >>> import vectro
        >>> vectro.set_backend("scalar")
        'scalar'
        >>> vectro.set_backend("auto", disable="vnni,f16c") == vectro.get_backend_info()["kernel"]
        True
        >>> "f16c" in vectro.get_backend_info()["active_cpu_features"]
        False
        >>> vectro.set_backend("auto", disable="") == vectro.get_backend_info()["kernel"]
        True
    """
    if disable is not None:
        _core.disable_cpu_features(disable if isinstance(disable, str) else ",".join(disable))
    return _core.set_isa(kernel)


def to_faiss(obj: QuantizedEmbeddings | Index, *, metric: str | None = None,
             ids: ArrayLike | None = None) -> faiss.Index:
    """The same codes in a FAISS index (needs ``pip install 'vectro[faiss]'``); see
    :func:`vectro.integrations.faiss.to_faiss`.

    Example:
        >>> import numpy as np, vectro
        >>> x = np.random.default_rng(0).standard_normal((100, 64)).astype(np.float32)
        >>> index = vectro.to_faiss(vectro.quantize_embeddings(x, "binary"))  # doctest: +SKIP
        >>> index.ntotal  # an IndexBinaryFlat holding the same bits  # doctest: +SKIP
        100
    """
    from .integrations.faiss import to_faiss as impl

    return impl(obj, metric=metric, ids=ids)


def from_faiss(index: faiss.Index, *, as_codes: bool = False) -> Index | QuantizedEmbeddings:
    """A FAISS flat code index's codes as a vectro.Index (or QuantizedEmbeddings); see
    :func:`vectro.integrations.faiss.from_faiss`.

    Example:
        >>> import faiss, numpy as np, vectro  # doctest: +SKIP
        >>> fi = faiss.IndexBinaryFlat(64)  # doctest: +SKIP
        >>> fi.add(np.packbits(np.random.default_rng(0).standard_normal((100, 64)) > 0, axis=1))  # doctest: +SKIP
        >>> len(vectro.from_faiss(fi))  # a vectro.Index over the same codes  # doctest: +SKIP
        100
    """
    from .integrations.faiss import from_faiss as impl

    return impl(index, as_codes=as_codes)
