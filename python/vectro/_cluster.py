"""k-means clustering over libvectro's vec_kmeans (SIMD assignment, threads, seeded sample cap)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _core

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

_INITS = {"random": 0, "k-means++": 1, "kmeans++": 1}


def kmeans(
    x: ArrayLike,
    k: int,
    *,
    iters: int = 25,
    seed: int = 0,
    max_points: int | None = None,
    init: str = "random",
    threads: int = 0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Clusters the rows of ``x`` (n x d float32) into ``k`` centroids with Lloyd's k-means.

    Training uses at most ``max_points`` rows (default 256 per centroid, as FAISS), sampled with
    ``seed``; the result depends on the seed and the instruction set, never on ``threads``.
    ``init`` is "random" (k distinct rows, FAISS's default) or "k-means++".

    Returns ``(centroids, assign, objective)``: k x d float32 centroids, the index (uint32) of each
    input row's nearest centroid, and the sum over all rows of the squared L2 distance to it.

    Example:
        >>> import numpy as np, vectro
        >>> x = np.random.default_rng(0).standard_normal((2000, 16)).astype(np.float32)
        >>> c, a, obj = vectro.kmeans(x, 8, seed=1)
        >>> c.shape, a.shape, bool(obj > 0)
        ((8, 16), (2000,), True)
    """
    arr = np.asarray(x)
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    if arr.ndim != 2:
        raise ValueError(f"x must be 2-D (n, d), got shape {arr.shape}")
    if arr.shape[1] == 0 or (arr.shape[0] > 1 and arr.strides[1] != 4):
        arr = np.ascontiguousarray(arr)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if init not in _INITS:
        raise ValueError(f"init must be 'random' or 'k-means++', got {init!r}")
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    n, d = arr.shape
    centroids = np.empty((int(k), d), dtype=np.float32)
    assign = np.empty(n, dtype=np.uint32)
    obj, _, _ = _core.kmeans(
        arr, int(k), int(iters), int(seed), int(max_points or 0), _INITS[init], int(threads), centroids, assign
    )
    return centroids, assign, obj
