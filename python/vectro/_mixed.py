"""Adaptive precision: each vector gets the fewest bits (int4, int8, int16, then f16) that keep its
relative L2 error within a budget, with a one-byte tag per vector saying which. The encoding and
decoding are the C codecs; this module only routes rows between them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._codec import Codec, QuantizedEmbeddings, _check_threads, as_float32_rows

TIERS = ("int4", "int8", "int16", "f16")
if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def _rel_errors(x: np.ndarray, rec: np.ndarray) -> np.ndarray:
    num = np.linalg.norm((x - rec).astype(np.float64), axis=1)
    den = np.linalg.norm(x.astype(np.float64), axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


class MixedQuantizedEmbeddings:
    """Vectors compressed at mixed precision. ``tags[i]`` indexes ``tiers`` (the codec of vector i);
    ``parts[t]`` holds, in row order, the vectors tagged t. ``max_rel_error`` is the largest
    per-vector relative L2 error actually reached. Made by :func:`quantize_mixed`.

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(0).standard_normal((100, 64)).astype(np.float32)
        >>> m = vectro.quantize_mixed(X, max_rel_error=0.05)
        >>> m.shape, m.max_rel_error <= 0.05, m.decode().shape
        ((100, 64), True, (100, 64))
    """

    __slots__ = ("tags", "tiers", "parts", "shape", "max_rel_error")

    def __init__(self, tags: np.ndarray, tiers: tuple[str, ...], parts: dict[str, QuantizedEmbeddings],
                 shape: tuple[int, ...], max_rel_error: float) -> None:
        self.tags, self.tiers, self.parts, self.shape = tags, tuple(tiers), parts, tuple(shape)
        self.max_rel_error = float(max_rel_error)

    @property
    def dim(self) -> int:
        """The vectors' dimension d.

        Example:
            >>> import numpy as np, vectro
            >>> rng = np.random.default_rng(0)
            >>> X = np.vstack([rng.choice([-1.0, 0.0, 1.0], (500, 64)), rng.standard_normal((500, 64))])
            >>> m = vectro.quantize_mixed(X.astype(np.float32), max_rel_error=0.01)
            >>> m.dim
            64
        """
        return self.shape[-1]

    @property
    def precision(self) -> str:
        """"mixed(...)" naming the tiers in the order they are tried.

        Example:
            >>> import numpy as np, vectro
            >>> rng = np.random.default_rng(0)
            >>> X = np.vstack([rng.choice([-1.0, 0.0, 1.0], (500, 64)), rng.standard_normal((500, 64))])
            >>> m = vectro.quantize_mixed(X.astype(np.float32), max_rel_error=0.01)
            >>> m.precision
            'mixed(int4,int8,int16,f16)'
        """
        return "mixed(" + ",".join(self.tiers) + ")"

    @property
    def nbytes(self) -> int:
        """Tags plus every part's codes and scales.

        Example:
            >>> import numpy as np, vectro
            >>> rng = np.random.default_rng(0)
            >>> X = np.vstack([rng.choice([-1.0, 0.0, 1.0], (500, 64)), rng.standard_normal((500, 64))])
            >>> m = vectro.quantize_mixed(X.astype(np.float32), max_rel_error=0.01)
            >>> m.nbytes, vectro.quantize_embeddings(X, "int8").nbytes   # 500 rows at half the bytes
            (53000, 68000)
        """
        return int(self.tags.nbytes + sum(p.nbytes for p in self.parts.values()))

    @property
    def compression_ratio(self) -> float:
        """Size of the same vectors as float32 divided by ``nbytes``.

        Example:
            >>> import numpy as np, vectro
            >>> rng = np.random.default_rng(0)
            >>> X = np.vstack([rng.choice([-1.0, 0.0, 1.0], (500, 64)), rng.standard_normal((500, 64))])
            >>> m = vectro.quantize_mixed(X.astype(np.float32), max_rel_error=0.01)
            >>> round(m.compression_ratio, 2)
            4.83
        """
        return len(self.tags) * self.dim * 4 / self.nbytes if self.nbytes else float("nan")

    def counts(self) -> dict:
        """How many vectors each tier holds.

        Example:
            >>> import numpy as np, vectro
            >>> rng = np.random.default_rng(0)
            >>> X = np.vstack([rng.choice([-1.0, 0.0, 1.0], (500, 64)), rng.standard_normal((500, 64))])
            >>> m = vectro.quantize_mixed(X.astype(np.float32), max_rel_error=0.01)
            >>> m.counts()       # the ternary rows fit int4 exactly; the Gaussian ones need int8
            {'int4': 500, 'int8': 500, 'int16': 0, 'f16': 0}
        """
        return {t: int((self.tags == i).sum()) for i, t in enumerate(self.tiers)}

    def decode(self, *, threads: int = 0) -> np.ndarray:
        """Reconstructs every vector as float32, in the original order (shape ``self.shape``).

        Example:
            >>> import numpy as np, vectro
            >>> rng = np.random.default_rng(0)
            >>> X = np.vstack([rng.choice([-1.0, 0.0, 1.0], (500, 64)), rng.standard_normal((500, 64))])
            >>> m = vectro.quantize_mixed(X.astype(np.float32), max_rel_error=0.01)
            >>> X_hat = m.decode()
            >>> X_hat.shape, bool(np.array_equal(X_hat[:500], X[:500]))   # int4 holds -1, 0, 1 exactly
            ((1000, 64), True)
        """
        n = len(self.tags)
        out = np.empty((n, self.dim), np.float32)
        for i, t in enumerate(self.tiers):
            rows = np.flatnonzero(self.tags == i)
            if len(rows):
                out[rows] = self.parts[t].codec.decode(self.parts[t], threads=threads)
        return out.reshape(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (f"MixedQuantizedEmbeddings(shape={self.shape}, {self.counts()}, nbytes={self.nbytes}, "
                f"compression_ratio={self.compression_ratio:.2f}, max_rel_error={self.max_rel_error:.3g})")


def quantize_mixed(embeddings: ArrayLike, max_rel_error: float = 0.01, *, tiers: tuple[str, ...] = TIERS,
                   threads: int = 0) -> \
        MixedQuantizedEmbeddings:
    """Gives each vector the cheapest tier whose relative L2 error ‖x − x̂‖/‖x‖ is within
    ``max_rel_error``; vectors no tier satisfies get the last tier (f16: ~3e-4 relative error).

    On a collection whose vectors differ in how compressible they are, this is smaller than
    uniform int8 at the same worst-case error.

    Example:
        >>> import numpy as np, vectro
        >>> rng = np.random.default_rng(0)
        >>> flat = rng.choice([-1.0, 0.0, 1.0], (500, 64)).astype(np.float32)  # int4-exact vectors
        >>> rough = rng.standard_normal((500, 64)).astype(np.float32)
        >>> X = np.vstack([flat, rough])
        >>> m = vectro.quantize_mixed(X, max_rel_error=0.01)
        >>> m.counts()["int4"] >= 500 and m.nbytes < vectro.quantize_embeddings(X, "int8").nbytes
        True
    """
    if not (isinstance(max_rel_error, (int, float)) and max_rel_error >= 0):
        raise ValueError(f"max_rel_error must be a number >= 0, got {max_rel_error!r}")
    threads = _check_threads(threads)
    x, shape = as_float32_rows(embeddings)
    n, d = x.shape
    tiers = tuple(tiers)
    if not tiers:
        raise ValueError("tiers must name at least one precision")
    tags = np.full(n, len(tiers) - 1, np.uint8)
    remaining = np.arange(n)
    worst = 0.0
    parts: dict[str, QuantizedEmbeddings] = {}
    for i, t in enumerate(tiers):
        if not len(remaining) and i < len(tiers) - 1:
            continue
        codec = Codec(t)
        sub = np.ascontiguousarray(x[remaining])
        q = codec.encode(sub, threads=threads) if len(sub) else codec.encode(np.zeros((0, d), np.float32))
        err = _rel_errors(sub, codec.decode(q, threads=threads)) if len(sub) else np.zeros(0)
        keep = err <= max_rel_error if i < len(tiers) - 1 else np.ones(len(sub), bool)
        kept_rows = remaining[keep]
        tags[kept_rows] = i
        if keep.any():
            worst = max(worst, float(err[keep].max()))
        sc = None if q.scales is None else q.scales[keep]
        parts[t] = QuantizedEmbeddings(q.codes[keep], sc, codec=codec, dim=d)
        remaining = remaining[~keep]
    return MixedQuantizedEmbeddings(tags, tiers, parts, shape, worst)
