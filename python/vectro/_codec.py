"""Codecs in Python: the `Codec` object over libvectro's vec_codec, the `QuantizedEmbeddings` it
produces, and the sentence-transformers-compatible `quantize_embeddings` entry point."""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from typing import TYPE_CHECKING, Callable

import numpy as np

from . import _core

ProgressFn = Callable[[int, int], object]
if TYPE_CHECKING:  # the type of array-like inputs in signatures (lists, NumPy arrays, tensors)
    from numpy.typing import ArrayLike

# name -> (dtype of the codes array, function of d giving its columns)
_LAYOUT = {
    "int8": (np.int8, lambda d: d),
    "int16": (np.int16, lambda d: d),
    "int4": (np.uint8, lambda d: (d + 1) // 2),
    "f16": (np.float16, lambda d: d),
    "bf16": (np.uint16, lambda d: d),
    "binary": (np.uint8, lambda d: (d + 7) // 8),
    "uint8-cal": (np.uint8, lambda d: d),
    "int8-cal": (np.int8, lambda d: d),
    "uint4-cal": (np.uint8, lambda d: (d + 1) // 2),
    "uint6-cal": (np.uint8, lambda d: (6 * d + 7) // 8),
}
# Codecs that take center=True (the mean of the training rows is subtracted before coding).
CENTRABLE = ("binary", "int8", "int4", "uint8-cal", "int8-cal", "uint4-cal", "uint6-cal", "rabitq", "pq")
# Codecs whose code size depends on their parameters (bits, m): the C library says how many bytes.
_PARAM_CODECS = ("rabitq", "pq")
_STALE = b"stale"  # the fingerprint of a codec state that is gone: equals no real (16-byte) digest
_EXTRA_KEYS = ("bits", "m", "rotate", "train_iters", "train_max", "seed", "center")
_ALIASES = {"float16": "f16", "fp16": "f16", "half": "f16", "bfloat16": "bf16", "ubinary": "binary",
            "uint4": "uint4-cal", "uint6": "uint6-cal"}
PROFILES = {
    # name: (precision, what it is for); every profile is centred (center=True, fitted on the
    # first data it sees). Chosen so that none collapses on anisotropic embeddings (e5: mean
    # pairwise cosine 0.8): measured on data/e5 and data/sample, docs/quality.md.
    "quality": ("rabitq-8", "recall@10 >= 0.99 on the codes alone (e5 0.992, MiniLM 0.995), "
                            "400 B at d = 384"),
    "balanced": ("rabitq-4", "recall@10 0.92-0.95 on the codes, 1.000 with the default rescoring "
                             "by bound (~90 rows a query); 208 B at d = 384"),
    "fast": ("rabitq-1", "64 B at d = 384; recall@10 1.000 with the default rescoring by bound "
                         "(16% of the rows on e5), 0.99 with oversample=10"),
}
PRECISIONS = (tuple(_LAYOUT) + ("uint8", "int4-g32") + tuple(_ALIASES) + tuple(PROFILES)
              + ("rabitq-<bits>", "pq-<m>x<bits>"))
_ROUNDING = {"nearest": 0, "truncate": 1}
# Default calibration quantiles, as VEC_CALIB_Q_DEFAULT in vectro.h: min/max except for the 4- and
# 6-bit per-dimension codecs, whose few levels are better spent on the bulk than on one outlier
# (recall@10 on the codes, e5 / MiniLM: uint4 0.823 -> 0.855 / 0.924 -> 0.946; uint6 0.948 -> 0.952
# / 0.980 -> 0.983; uint8 loses from any clipping: BENCHMARKS.md).
_CALIB_Q_DEFAULT = {"uint4-cal": 0.005, "uint6-cal": 0.0005}


def default_codec(codec) -> Codec:
    """An Index's codec from a name: centred where the codec takes a centre, because an Index
    trains on its first batch and centring measures better or level on every sample we have
    (e5 binary recall@10 0.08 -> 0.32, int4 0.72 -> 0.82; MiniLM within 0.002: docs/quality.md).
    A Codec object is used as it is."""
    if isinstance(codec, Codec):
        return codec
    c = Codec(codec)
    return Codec(codec, center=True) if c.name in CENTRABLE and c.name != "pq" else c


def parse_precision(precision: str, group_size: int | None = None,
                    calibrated: bool = False) -> tuple[str, int]:
    """Maps a user's precision name to (codec name, int4 group size).

    "int4-g32" is int4 with one scale per 32 dimensions; "uint8" is the calibrated uint8 codec
    (as in sentence-transformers); "int8" is the per-vector symmetric codec unless ``calibrated``
    (ranges or calibration data were given), when it is sentence-transformers' calibrated int8.
    Profile names ("quality", "balanced", "fast") resolve to their precision.
    """
    if not isinstance(precision, str):
        raise TypeError(f"precision must be a string, got {type(precision).__name__}")
    if precision.lower() in PROFILES:
        precision = PROFILES[precision.lower()][0]
    # the grammar is the library's (vec_codec_params_parse), the one the CLI reads
    p, g, _, _ = _core.codec_parse(precision)
    if p == "int8" and calibrated:
        p = "int8-cal"
    if p not in _LAYOUT:  # rabitq and pq take their parameters through parse_extra
        raise ValueError(f"{precision!r} takes its parameters through parse_extra, not parse_precision")
    if group_size is not None:
        if p != "int4":
            raise ValueError("group_size applies to int4 only")
        g = int(group_size)
    return p, g


def parse_extra(precision: str, **given) -> tuple[str, dict]:
    """Splits "rabitq-4" (bits) and "pq-48x4" (m x bits) into (codec name, parameters), merged with
    keyword parameters (bits=, m=, rotate=, seed=, train_iters=, train_max=, and center= for
    rabitq); a keyword that contradicts the string is an error. Other precisions take no such
    parameters."""
    extra = {}
    name = None
    if isinstance(precision, str) and precision.lower() not in PROFILES:
        parsed, _, bits, m = _core.codec_parse(precision)  # the library's grammar, as the CLI's
        if parsed in _PARAM_CODECS:
            name = parsed
            if bits:
                extra["bits"] = bits
            if m:
                extra["m"] = m
    for k, v in given.items():
        if v is None:
            continue
        if k == "center":
            if not v:
                continue  # uncentred is the default: the parameters stay those of a plain codec
            if name is None:  # checked against the resolved name by Codec
                extra["center"] = 1
                continue
        if name is None:
            raise ValueError(f"{k}= applies to the rabitq and pq codecs only")
        if k in ("rotate", "center"):
            v = int(bool(v))
        else:
            # the C fields are unsigned (seed 64-bit, the rest 32): 1.5, "3" or -1 is a mistake,
            # not something to truncate or wrap
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{k} must be an integer, got {type(v).__name__} {v!r}")
            v, top = int(v), 64 if k in ("seed", "train_max") else 32
            if not 0 <= v < 1 << top:
                raise ValueError(f"{k} must be in [0, 2**{top}), got {v}")
        if k in extra and extra[k] != v:
            raise ValueError(f"{k}={v} contradicts the precision {precision!r}")
        extra[k] = v
    if name == "rabitq":
        extra.setdefault("bits", 4)
    return name, extra


def _aligned_empty(shape: tuple, dtype, align: int = 64) -> np.ndarray:
    """np.empty aligned to a cache line. NumPy's large arrays start 16 bytes into a page, which
    keeps the kernels off their non-temporal-store path: measured 10% slower encode and 16%
    slower decode at d = 768."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.empty(nbytes + align, np.uint8)
    off = (-buf.ctypes.data) % align
    return buf[off:off + nbytes].view(dtype).reshape(shape)


def _check_threads(threads: int) -> int:
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be an int (0 = all cores), got {type(threads).__name__}")
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0 = all cores), got {threads}")
    return int(threads)


def as_float32_rows(embeddings) -> tuple[np.ndarray, tuple]:
    """Returns (2-D float32 array with unit column stride, original shape), copying only if needed."""
    x = embeddings if isinstance(embeddings, np.ndarray) else np.asarray(embeddings)
    if x.dtype.kind != "f" or x.dtype.itemsize not in (2, 4, 8):
        raise TypeError(
            f"embeddings must be float16, float32 or float64, got {x.dtype}"
            + (" (for codes a model already produced, use vectro.from_codes)" if x.dtype.kind in "iub" else ""))
    if x.ndim not in (1, 2):
        raise ValueError(f"embeddings must be 1-D (one vector) or 2-D (n, d), got shape {x.shape}")
    shape = x.shape
    if x.shape[-1] == 0:
        raise ValueError(f"embeddings must have at least one dimension, got shape {x.shape}")
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.dtype != np.float32 or not x.dtype.isnative:
        with np.errstate(over="ignore"):  # values beyond float32 become Inf: reported by row below
            x = x.astype(np.float32)
    # The kernels take rows at any positive stride but need each row contiguous.
    if x.shape[0] > 0 and (x.strides[1] != 4 or (x.shape[0] > 1 and
                                                 (x.strides[0] < 4 * x.shape[1] or x.strides[0] % 4))):
        x = np.ascontiguousarray(x)
    return x, shape


class Codec:
    """A compression scheme with its parameters (and, for calibrated codecs, learned ranges).

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(0).standard_normal((500, 64)).astype(np.float32)
        >>> codec = vectro.Codec("int8")
        >>> q = codec.encode(X)
        >>> codec.bytes_per_vector(64), q.compression_ratio.__round__(2)
        (68, 3.76)
        >>> bool(np.abs(codec.decode(q) - X).max() < 0.05)
        True
    """

    def __init__(self, precision: str = "int8", dim: int | None = None, *, group_size: int | None = None,
                 rounding: str = "nearest", calibration_quantiles: tuple[float, float] | None = None,
                 calibrated: bool = False, bits: int | None = None, m: int | None = None,
                 rotate: bool | None = None, seed: int | None = None, train_iters: int | None = None,
                 train_max: int | None = None, center: bool | None = None) -> None:
        if isinstance(precision, str) and precision.lower() in PROFILES:
            precision = PROFILES[precision.lower()][0]
            center = True if center is None else center
        pname, self.extra = parse_extra(precision, bits=bits, m=m, rotate=rotate, seed=seed,
                                        train_iters=train_iters, train_max=train_max, center=center)
        if pname is not None:
            if group_size is not None or calibrated:
                raise ValueError(f"group_size and calibration do not apply to {pname}")
            self.name, self.group_size = pname, 0
        else:
            self.name, self.group_size = parse_precision(precision, group_size, calibrated)
        if self.extra.get("center") and self.name not in CENTRABLE:
            raise ValueError(f"center= applies to {', '.join(CENTRABLE)}, not {precision!r}")
        if rounding not in _ROUNDING:
            raise ValueError(f"rounding must be 'nearest' or 'truncate', got {rounding!r}")
        if rounding == "truncate" and not self.name.endswith("-cal"):
            raise ValueError("rounding='truncate' (sentence-transformers' behaviour) applies to the "
                             "calibrated uint8/int8 codecs only")
        if calibration_quantiles is None:  # the library's default for the codec (VEC_CALIB_Q_DEFAULT)
            q = np.float32(_CALIB_Q_DEFAULT.get(self.name, 0.0))
            calibration_quantiles = (float(q), float(np.float32(1.0) - q))
        lo_q, hi_q = (float(v) for v in calibration_quantiles)
        if not 0.0 <= lo_q < hi_q <= 1.0:
            raise ValueError(f"calibration_quantiles must satisfy 0 <= low < high <= 1, got {calibration_quantiles}")
        self.rounding = rounding
        # stored as the float32 values the C codec uses, so a saved codec compares equal when loaded
        self.calibration_quantiles = (float(np.float32(lo_q)), float(np.float32(hi_q)))
        self._h = None
        if dim is not None:
            self._create(int(dim))

    def _create(self, dim: int) -> None:
        self._h = _core.codec_new(self.name, dim, self.group_size, _ROUNDING[self.rounding],
                                  *self.calibration_quantiles, self.extra or None)
        self._fp = None

    def _state_fp(self) -> tuple[int, bytes]:
        """(generation, digest) of the codec's state now. The C handle counts changes of state
        (fit, set_ranges) and hands out a state's bytes with its generation atomically, so the
        cache stays right when threads fit and encode at once."""
        cache = self._fp  # one read: another thread may replace the tuple, never half of it
        if cache is None or cache[0] != _core.codec_info(self._h)["gen"]:
            gen, blob = _core.codec_state(self._h)
            cache = self._fp = (gen, hashlib.blake2b(blob, digest_size=16).digest())
        return cache

    def _fingerprint(self, gen: int | None = None) -> bytes | None:
        """A digest of everything the codes depend on (parameters, dimension, seed, ranges,
        codebooks); None while it has no dimension. With ``gen`` (the generation a C call ran
        under): the digest of that state, or one that matches nothing when the codec has changed
        since, so codes of a state that is gone are refused rather than decoded wrongly."""
        if self._h is None:
            return None
        cur, fp = self._state_fp()
        return fp if gen is None or gen == cur else _STALE

    def _check_codes_from(self, q: QuantizedEmbeddings, what: str, fp: bytes | None = None) -> int:
        """Codes decode only with the codec state that made them: another seed's rotation or
        another codebook would decode them to plausible-looking garbage, so refuse. Returns the
        generation checked (-1: nothing to check), which decode hands to C to check again under
        the codec's lock. ``fp``: the state to compare with (default: the codec's now)."""
        if q._fp is None:
            return -1
        gen, now = self._state_fp() if fp is None else (-1, fp)
        if q._fp != now:
            why = ("that codec was refitted after they were made" if q.codec is self else
                   "its seed, codebooks, ranges, parameters or dimension differ")
            raise _core.VectroError(f"these {q.precision} codes were made by another codec state "
                                    f"than {what} ({why})")
        return gen

    def _ensure(self, dim: int) -> None:
        if self._h is None:
            self._create(dim)
        elif dim != self.dim:
            raise ValueError(f"embeddings have dimension {dim}, but this codec was made for {self.dim}")

    @property
    def dim(self) -> int | None:
        """The dimension, once known (given, or taken from the first data seen).

        Example:
            >>> import vectro
            >>> vectro.Codec("int8").dim is None, vectro.Codec("int8", dim=768).dim
            (True, 768)
        """
        return None if self._h is None else _core.codec_info(self._h)["dim"]

    @property
    def needs_training(self) -> bool:
        """Calibrated codecs (ranges), pq (k-means codebooks) and any codec with ``center=True``
        (the training mean) must be fitted before encoding.

        Example:
            >>> import vectro
            >>> vectro.Codec("int8").needs_training, vectro.Codec("uint8-cal").needs_training
            (False, True)
        """
        return self.name.endswith("-cal") or self.name == "pq" or self.center

    @property
    def center(self) -> bool:
        """Whether rows are coded as x - c, c the mean of the training rows (``center=True``;
        searches add q.c back, so scores stay those of x).

        Example:
            >>> import vectro
            >>> vectro.Codec("rabitq-4", center=True).center, vectro.Codec("int8").center
            (True, False)
        """
        return bool(self.extra.get("center"))

    def _layout(self, d: int) -> tuple:
        """(code dtype, code columns) for dimension d."""
        if self.name in _PARAM_CODECS:
            self._ensure(d)
            return np.uint8, _core.codec_info(self._h)["code_size"]
        dtype, cols = _LAYOUT[self.name]
        return dtype, cols(d)

    @property
    def trained(self) -> bool:
        """True when the codec can encode: its dimension is known and, if it needs training, it is trained.

        Example:
            >>> import numpy as np, vectro
            >>> codec = vectro.Codec("uint8-cal")
            >>> codec.trained
            False
            >>> codec.fit(np.random.default_rng(0).standard_normal((100, 16), np.float32)).trained
            True
        """
        return self._h is not None and bool(_core.codec_info(self._h)["trained"])

    @property
    def precision(self) -> str:
        """The codec's canonical precision string (e.g. "int4-g32", "uint8-cal"): the library's
        vec_codec_params_name, which reads back to the same codec.

        Example:
            >>> import vectro
            >>> vectro.Codec("int4", group_size=32).precision, vectro.Codec("balanced").precision
            ('int4-g32', 'rabitq-4')
        """
        return _core.codec_name(self.name, self.group_size, self.extra.get("bits", 0), self.extra.get("m", 0))

    def bytes_per_vector(self, dim: int | None = None) -> int:
        """Bytes of codes plus scales for one vector of ``dim`` (default: the codec's) dimensions.

        Example:
            >>> import vectro
            >>> [vectro.Codec(p).bytes_per_vector(768) for p in ("int8", "int4-g32", "binary")]
            [772, 480, 96]
        """
        d = dim if dim is not None else self.dim
        if d is None:
            raise ValueError("the dimension is not known yet: pass dim")
        if self._h is not None and d == self.dim:
            info = _core.codec_info(self._h)
            return info["code_size"] + 4 * info["scale_count"]
        probe = _core.codec_info(_core.codec_new(self.name, d, self.group_size, 0, 0.0, 1.0,
                                                 self.extra or None))
        return probe["code_size"] + 4 * probe["scale_count"]

    def fit(self, calibration_embeddings: ArrayLike, *, threads: int = 0) -> Codec:
        """Learns per-dimension ranges (calibrated codecs), k-means codebooks (pq) or the centre
        (rabitq with ``center=True``); other codecs only take the dimension. Raises VectroError
        for fewer than 2 vectors (pq: 2^bits), NaN/Inf, or a dimension mismatch.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((200, 32)).astype(np.float32) + 1
            >>> codec = vectro.Codec("rabitq-4", center=True).fit(X)
            >>> codec.encode(X).scales.shape   # |x|, two correction factors, c.x + |c||x|
            (200, 4)
        """
        x, _ = as_float32_rows(calibration_embeddings)
        self._ensure(x.shape[1])
        if self.needs_training:
            self._fp = None
            _core.codec_train(self._h, x, _check_threads(threads))
        return self

    @property
    def ranges(self) -> np.ndarray | None:
        """Calibrated codecs: the (2, d) float32 array [low; high] per dimension, else None.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 8), np.float32)
            >>> vectro.Codec("uint8-cal").fit(X).ranges.shape, vectro.Codec("int8").ranges
            ((2, 8), None)
        """
        if not self.name.endswith("-cal") or not self.trained:
            return None
        d = self.dim
        lo, hi = np.empty(d, np.float32), np.empty(d, np.float32)
        _core.codec_ranges(self._h, lo, hi, False)
        return np.vstack([lo, hi])

    def set_ranges(self, ranges: ArrayLike) -> Codec:
        """Sets calibrated ranges: a (2, d) array [low; high], as sentence-transformers' ``ranges``.

        Example:
            >>> import numpy as np, vectro
            >>> codec = vectro.Codec("uint8-cal").set_ranges([[-1.0, -1.0, -2.0], [1.0, 1.0, 2.0]])
            >>> codec.encode(np.array([[-1.0, 0.5, 2.0]], np.float32)).codes   # low -> 0, high -> 255
            array([[  0, 191, 255]], dtype=uint8)
        """
        r = np.asarray(ranges, dtype=np.float32)
        if r.ndim != 2 or r.shape[0] != 2:
            raise ValueError(f"ranges must have shape (2, d), got {r.shape}")
        if not self.name.endswith("-cal"):
            raise ValueError(f"codec {self.name!r} takes no ranges")
        self._ensure(r.shape[1])
        self._fp = None
        _core.codec_ranges(self._h, np.ascontiguousarray(r[0]), np.ascontiguousarray(r[1]), True)
        return self

    def encode(self, embeddings: ArrayLike, *, threads: int = 0,
               progress: ProgressFn | None = None) -> QuantizedEmbeddings:
        """Compresses (n, d) or (d,) float embeddings. A calibrated codec must be fitted first.
        ``threads``: 0 for the library's default; ``progress(done, total)`` is called between
        chunks: returning False cancels the call (VectroError), an exception it raises stops the
        call and propagates.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((100, 64), np.float32)
            >>> q = vectro.Codec("int8").encode(X)
            >>> q.codes.shape, q.codes.dtype, q.scales.shape   # one float32 scale per row
            ((100, 64), dtype('int8'), (100,))
        """
        threads = _check_threads(threads)
        x, shape = as_float32_rows(embeddings)
        n, d = x.shape
        self._ensure(d)
        if self.needs_training and not self.trained:
            how = ("fitted (calibration data) or given ranges" if self.name.endswith("-cal") else
                   "fitted (fit(X) learns the centre)" if self.center else "fitted (fit(X))")
            raise _core.VectroError(f"codec {self.name!r} must be {how} before encoding")
        info = _core.codec_info(self._h)
        dtype, cols = self._layout(d)
        codes = _aligned_empty((n, cols), dtype)
        sc = info["scale_count"]
        scales = np.empty((n, sc) if sc > 1 else (n,), np.float32) if sc else None
        gen = _core.codec_encode(self._h, x, codes, scales, threads, progress)
        q = QuantizedEmbeddings(codes, scales, self.precision, shape, codec=self)
        if q._fp is not None:
            q._fp = self._fingerprint(gen)  # the state that made them, even if refitted since
        return q

    def decode(self, quantized: QuantizedEmbeddings, *, threads: int = 0, out: np.ndarray | None = None,
               progress: ProgressFn | None = None) -> np.ndarray:
        """Reconstructs float32 embeddings of the original shape, into ``out`` when given (a
        float32 array of that shape). VectroError for codes another codec state made.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((100, 64), np.float32)
            >>> codec = vectro.Codec("int8")
            >>> X_hat = codec.decode(codec.encode(X))
            >>> X_hat.shape, X_hat.dtype, bool(np.abs(X_hat - X).max() < 0.02)
            ((100, 64), dtype('float32'), True)
        """
        if not isinstance(quantized, QuantizedEmbeddings):
            raise TypeError(f"expected QuantizedEmbeddings, got {type(quantized).__name__}")
        threads = _check_threads(threads)
        n = quantized.codes.shape[0]
        d = quantized.dim
        self._ensure(d)
        gen = self._check_codes_from(quantized, "this one")
        if out is None:
            result = _aligned_empty(quantized.shape, np.float32)
        else:
            if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != quantized.shape:
                raise ValueError(f"out must be a float32 array of shape {quantized.shape}")
            result = out
        out2 = result.reshape(n, d)
        if result.size and not np.shares_memory(out2, result):
            raise ValueError("out must allow a 2-D view without copying")
        _core.codec_decode(self._h, quantized.codes, quantized.scales, out2, threads, progress, gen)
        return result

    def to_bytes(self) -> bytes:
        """Parameters and ranges, versioned and checksummed (see vec_codec_serialize).

        Example:
            >>> import vectro
            >>> blob = vectro.Codec("int4-g32", dim=768).to_bytes()
            >>> type(blob), vectro.Codec.from_bytes(blob).precision
            (<class 'bytes'>, 'int4-g32')
        """
        if self._h is None:
            raise ValueError("the codec has no dimension yet: fit or encode something first")
        return _core.codec_serialize(self._h)

    @classmethod
    def from_bytes(cls, data: bytes) -> Codec:
        """Recreates a codec from :meth:`to_bytes` output; VectroError for corrupt bytes or not a codec.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> vectro.Codec.from_bytes(vectro.Codec("uint8-cal").fit(X).to_bytes())
            Codec('uint8-cal', dim=16, rounding='nearest', trained)
        """
        h = _core.codec_deserialize(data)
        info = _core.codec_info(h)
        c = cls.__new__(cls)
        c.name, c.group_size = info["name"], info["group_size"]
        c.extra = ({k: info[k] for k in _EXTRA_KEYS if info[k]} if c.name in _PARAM_CODECS else
                   {"center": 1} if info["center"] else {})
        c.rounding = "truncate" if info["rounding"] == 1 else "nearest"
        c.calibration_quantiles = (info["low_q"], info["high_q"])
        c._h, c._fp = h, None
        return c

    def save(self, path: str | os.PathLike) -> None:
        """Writes the codec to ``path`` atomically (temporary file, then rename): a failure never
        leaves a partial file, and never damages an existing one. As the .vqz writer does, a
        replaced file keeps its mode, a new one follows the umask, and a symbolic link is written
        through (the link stays, its target is replaced).

        Example:
            >>> import vectro
            >>> vectro.Codec("binary", dim=384).save("binary.codec")   # Codec.load reads it back
            >>> vectro.Codec.load("binary.codec")
            Codec('binary', dim=384, trained)
        """
        data = self.to_bytes()
        _atomic_write(os.fspath(path), data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Codec:
        """Reads a codec written by :meth:`save`; VectroError for a damaged file,
        :class:`VectroIOError` (an OSError) when it cannot be read.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((200, 32), np.float32)
            >>> vectro.Codec("rabitq-4", center=True).fit(X).save("centred.codec")
            >>> codec = vectro.Codec.load("centred.codec")
            >>> codec.precision, codec.center, codec.trained
            ('rabitq-4', True, True)
        """
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise _io_error(f"cannot read {os.fspath(path)!r}", e, path) from e
        return cls.from_bytes(data)

    def __repr__(self) -> str:
        extra = f", rounding={self.rounding!r}" if self.name.endswith("-cal") else ""
        extra += ", center=True" if self.center else ""
        return f"Codec({self.precision!r}, dim={self.dim}{extra}{', trained' if self.trained else ''})"


def _io_error(message: str, cause: BaseException | None = None, filename=None) -> Exception:
    """A VectroIOError as the C extension raises for VEC_E_IO: ``str()`` is the message (with the
    OS error's text appended), ``errno``/``strerror`` come from ``cause``, ``filename`` is the path."""
    err = getattr(cause, "errno", None)
    text = getattr(cause, "strerror", None) or (str(cause) if cause is not None else "")
    e = _core.VectroIOError(f"{message}: {text}" if text else message)
    if err:
        e.errno, e.strerror = err, getattr(cause, "strerror", None) or os.strerror(err)
    if filename is not None:
        e.filename = os.fspath(filename)
    return e


def _atomic_write(path: str, data: bytes) -> None:
    """Writes data to path through a temporary beside the link-resolved target, named
    unpredictably and created with O_EXCL (retried on collision), renamed into place when synced
    (src/io/tmpfile.c does the same for the C writers). Any failure raises VectroIOError, as the
    C writers' do."""
    try:
        _atomic_write_os(path, data)
    except _core.VectroIOError:
        raise
    except OSError as e:
        raise _io_error(f"cannot write {path!r}", e, path) from e


def _atomic_write_os(path: str, data: bytes) -> None:
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    # the rename would replace a device (as root, /dev/null for the whole machine), pipe or folder
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise _io_error(f"cannot write {path!r}: it is not a regular file (a device, pipe or directory); "
                        "vectro publishes a finished file by renaming it over the target", None, path)
    mode = None if st is None else stat.S_IMODE(st.st_mode)
    stem = "." + name[: 255 - 14]
    for _ in range(100):
        tmp = os.path.join(folder, f"{stem}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"cannot create a temporary file next to {path!r}")
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:  # a replaced file keeps its mode (a private 0600 stays private)
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class QuantizedEmbeddings:
    """Compressed embeddings: ``codes`` (one row per vector), ``scales`` (float32, one or more per
    vector, or None), and the ``codec`` that made them. ``shape`` is the original input's shape
    ((d,) for a single vector), which reconstruction returns.

    Example:
        >>> import numpy as np, vectro
        >>> q = vectro.quantize_embeddings(np.ones((2, 4), np.float32))
        >>> q.shape, q.nbytes, q.codes.tolist()
        ((2, 4), 16, [[127, 127, 127, 127], [127, 127, 127, 127]])
    """

    __slots__ = ("codes", "scales", "precision", "shape", "codec", "ids", "_fp")

    def __init__(self, codes: np.ndarray, scales: np.ndarray | None, precision: str = "int8",
                 shape: tuple | None = None, *, codec: Codec | None = None, dim: int | None = None) -> None:
        if codec is None:
            codec = Codec(precision)
        name = codec.name
        codes = np.ascontiguousarray(codes)
        if dim is None:
            dim = codec.dim if codec.dim is not None else (shape[-1] if shape else codes.shape[1])
        dtype, cols = codec._layout(dim)
        if codes.ndim != 2 or codes.dtype != dtype:
            raise TypeError(f"{name} codes must be a 2-D {np.dtype(dtype)} array, got {codes.dtype} "
                            f"with shape {codes.shape}")
        if codes.shape[1] != cols:
            raise ValueError(f"{name} codes of dimension {dim} need {cols} columns, got {codes.shape[1]}")
        codec._ensure(dim)
        sc = _core.codec_info(codec._h)["scale_count"]
        n = codes.shape[0]
        if sc == 0:
            if scales is not None:
                raise ValueError(f"{name} has no scales, got some")
        else:
            scales = np.ascontiguousarray(scales) if scales is not None else None
            want = (n, sc) if sc > 1 else (n,)
            if scales is None or scales.dtype != np.float32 or scales.shape != want:
                got = None if scales is None else (scales.dtype, scales.shape)
                raise TypeError(f"{name} scales must be float32 of shape {want}, got {got}")
        if shape is None:
            shape = (n, dim)
        shape = tuple(int(s) for s in shape)
        if shape[-1] != dim or (len(shape) == 2 and shape[0] != n) or (len(shape) == 1 and n != 1) \
                or len(shape) not in (1, 2):
            raise ValueError(f"shape {shape} does not match {n} vectors of dimension {dim}")
        self.codes, self.scales, self.codec = codes, scales, codec
        # the codec's state when these codes were made (None: an untrained codec, nothing to check)
        self._fp = codec._fingerprint() if not codec.needs_training or codec.trained else None
        self.ids = None  # uint64 per vector when read from a .vqz file that has them
        self.precision = codec.precision
        self.shape = shape

    @property
    def dim(self) -> int:
        """The vectors' dimension d.

        Example:
            >>> import numpy as np, vectro
            >>> vectro.quantize_embeddings(np.ones((3, 384), np.float32), "binary").dim
            384
        """
        return self.shape[-1]

    @property
    def nbytes(self) -> int:
        """Bytes held: codes plus scales.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 768), np.float32)
            >>> X.nbytes, vectro.quantize_embeddings(X, "int8").nbytes   # 768 codes + a 4-byte scale a row
            (3072000, 772000)
        """
        return int(self.codes.nbytes + (self.scales.nbytes if self.scales is not None else 0))

    @property
    def compression_ratio(self) -> float:
        """Size of the same vectors as float32 divided by ``nbytes``; with no rows (an empty slice),
        the codec's own ratio, from its bytes per vector.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 768), np.float32)
            >>> [round(vectro.quantize_embeddings(X, p).compression_ratio, 2) for p in ("int8", "int4-g32", "binary")]
            [3.98, 6.4, 32.0]
        """
        n = self.codes.shape[0]
        if n == 0:
            return self.dim * 4 / self.codec.bytes_per_vector(self.dim)
        return (n * self.dim * 4) / self.nbytes

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (f"QuantizedEmbeddings(precision={self.precision!r}, shape={self.shape}, "
                f"nbytes={self.nbytes}, compression_ratio={self.compression_ratio:.2f})")


def quantize_embeddings(embeddings: ArrayLike, precision: str | Codec = "int8", *, ranges: ArrayLike | None = None,
                        calibration_embeddings: ArrayLike | None = None,
                        rounding: str = "nearest", group_size: int | None = None, threads: int = 0,
                        progress: ProgressFn | None = None, device: str | None = None) -> QuantizedEmbeddings:
    """Compress embeddings.

    Args:
        embeddings: float16/32/64 array (or nested sequence), shape (n, d) or (d,). Row-strided
            views are read in place; other layouts and dtypes are converted first.
        precision: "int8" (per-vector symmetric; the default), "int16", "int4" (per vector),
            "int4-g32" (one scale per 32 dims), "f16", "bf16", "binary" (sign bits, packbits
            layout), "uint8" (calibrated), or a profile: "quality", "balanced", "fast".
            As in sentence-transformers, "uint8" and "int8" with ``ranges`` or
            ``calibration_embeddings`` use per-dimension ranges; "uint8" without either calibrates
            on ``embeddings`` themselves. Or a :class:`Codec` with parameters a string cannot say
            (``Codec("rabitq-1", center=True)``, ``Codec("pq-96x4", rotate=True, seed=7)``): it is
            fitted on ``calibration_embeddings`` or the embeddings when it needs training and has
            none, and used as it is otherwise.
        ranges: (2, d) [low; high] per dimension, for the calibrated codecs.
        calibration_embeddings: data to learn ranges from (at least 2 vectors).
        rounding: "nearest" (default, smaller error) or "truncate" (sentence-transformers'
            exact codes) for the calibrated codecs.
        threads: worker threads, 0 = all cores. Small batches run on the calling thread.
        progress: optional ``callback(done_rows, total_rows)``, called after the first chunk,
            then at most every 50 ms, and once at the end; return False from it to cancel
            (VectroError "cancelled: the progress callback returned False"; None or True go on),
            or raise (the exception propagates).
        device: None (the CPU), or "cuda" / "cuda:N" to encode a host array on a GPU. A CUDA
            array (a torch CUDA tensor, CuPy) is encoded on its GPU whatever this says, and the
            result is a :class:`vectro.cuda.DeviceQuantizedEmbeddings` whose codes stay there
            (int8, int4, int4-g32, binary, f16, bf16; the same codes as on the CPU).

    Raises:
        TypeError: embeddings of a non-float dtype.
        ValueError / VectroError: a wrong shape, or a vector holding NaN or Inf, or a value the
            codec cannot hold (the message names the row).

    Example:
        >>> import numpy as np, vectro
        >>> q = vectro.quantize_embeddings(np.array([0.5, -1.0, 0.25], np.float32))
        >>> q.codes.tolist(), q.scales.tolist()
        ([[64, -127, 32]], [0.007874015718698502])
    """
    if device is not None or _on_gpu(embeddings):
        from . import cuda
        if calibration_embeddings is not None or ranges is not None or progress is not None \
                or isinstance(precision, Codec):
            raise ValueError("GPU encoding takes a precision name only (no codec object, ranges, "
                             "calibration or progress)")
        return cuda.quantize(embeddings, precision, group_size=group_size, device=device)
    calibrated = ranges is not None or calibration_embeddings is not None
    if isinstance(precision, str) and precision.lower() in PROFILES:
        if ranges is not None or group_size is not None or rounding != "nearest":
            raise ValueError(f"the {precision!r} profile takes no ranges, group_size or rounding")
        precision = Codec(precision)  # centred: fitted on calibration_embeddings or the input
    if isinstance(precision, Codec):
        if group_size is not None or rounding != "nearest":
            raise ValueError("group_size and rounding are the Codec's own: set them when making it")
        codec = precision
        if ranges is not None:
            codec.set_ranges(ranges)
        elif codec.needs_training and (calibration_embeddings is not None or not codec.trained):
            codec.fit(calibration_embeddings if calibration_embeddings is not None else embeddings)
        return codec.encode(embeddings, threads=threads, progress=progress)
    codec = Codec(precision, group_size=group_size, rounding=rounding, calibrated=calibrated)
    if codec.needs_training:
        if ranges is not None:
            codec.set_ranges(ranges)
        else:
            codec.fit(calibration_embeddings if calibration_embeddings is not None else embeddings)
    elif calibrated:
        raise ValueError(f"ranges / calibration_embeddings apply to 'uint8' and 'int8' only, not {precision!r}")
    return codec.encode(embeddings, threads=threads, progress=progress)


def _on_gpu(x) -> bool:
    """A CUDA array (torch CUDA tensor, CuPy, __cuda_array_interface__), told apart without
    importing either library."""
    mod = type(x).__module__.split(".")[0]
    if mod == "torch":
        return bool(getattr(x, "is_cuda", False))
    return mod == "cupy" or hasattr(x, "__cuda_array_interface__")


def reconstruct_embeddings(quantized: QuantizedEmbeddings, *, threads: int = 0, out: np.ndarray | None = None,
                           progress: ProgressFn | None = None) -> np.ndarray:
    """Reconstruct float32 embeddings from :func:`quantize_embeddings` output.

    Returns an array of the original shape ((n, d) or (d,)). ``out`` may be a preallocated float32
    array of that shape (rows contiguous) to write into.

    Example:
        >>> import numpy as np, vectro
        >>> vectro.reconstruct_embeddings(vectro.quantize_embeddings([[0.5, -1.0]])).tolist()
        [[0.5039370059967041, -1.0]]
    """
    if type(quantized).__name__ == "DeviceQuantizedEmbeddings":  # codes on a GPU: decoded there
        from . import cuda
        return cuda.reconstruct(quantized)
    if hasattr(quantized, "tiers") and hasattr(quantized, "decode"):  # MixedQuantizedEmbeddings
        return quantized.decode(threads=threads)
    if not isinstance(quantized, QuantizedEmbeddings):
        raise TypeError(f"expected QuantizedEmbeddings, got {type(quantized).__name__}")
    return quantized.codec.decode(quantized, threads=threads, out=out, progress=progress)


def from_codes(codes: ArrayLike, precision: str, dim: int | None = None) -> QuantizedEmbeddings:
    """Wraps codes an embedding model or API already produced, with no float round trip.

    - "int8": int8 (n, d) codes (Cohere, sentence-transformers' int8 output, ...). They keep their
      values: reconstruction gives the codes as floats (scale 1).
    - "uint8": uint8 (n, d) codes, likewise (decoded as 0..255).
    - "binary" / "ubinary": packed sign bits, uint8 (n, ceil(d/8)) as numpy.packbits writes them;
      sentence-transformers' int8 "binary" (bytes - 128) is accepted too. Pass ``dim`` when d is
      not a multiple of 8.

    Example:
        >>> import numpy as np, vectro
        >>> q = vectro.from_codes(np.array([[0b10100000]], np.uint8), "ubinary", dim=3)
        >>> vectro.reconstruct_embeddings(q).tolist()
        [[1.0, -1.0, 1.0]]
    """
    c = np.asarray(codes)
    if c.ndim == 1:
        c = c.reshape(1, -1)
    if c.ndim != 2:
        raise ValueError(f"codes must be 1-D or 2-D, got shape {c.shape}")
    p = _ALIASES.get(precision.lower(), precision.lower())
    if p == "int8":
        if c.dtype != np.int8:
            raise TypeError(f"int8 codes must have dtype int8, got {c.dtype}")
        return QuantizedEmbeddings(c, np.ones(len(c), np.float32), codec=Codec("int8"), dim=c.shape[1])
    if p == "uint8":
        if c.dtype != np.uint8:
            raise TypeError(f"uint8 codes must have dtype uint8, got {c.dtype}")
        d = c.shape[1]
        codec = Codec("uint8").set_ranges(np.vstack([np.zeros(d, np.float32), np.full(d, 255, np.float32)]))
        return QuantizedEmbeddings(c, None, codec=codec, dim=d)
    if p == "binary":
        if c.dtype == np.int8:  # sentence-transformers' "binary": packed bytes - 128
            c = (c.astype(np.int16) + 128).astype(np.uint8)
        if c.dtype != np.uint8:
            raise TypeError(f"binary codes must be uint8 (packbits) or int8 (packbits - 128), got {c.dtype}")
        d = dim if dim is not None else 8 * c.shape[1]
        if not 8 * c.shape[1] - 7 <= d <= 8 * c.shape[1]:
            raise ValueError(f"{c.shape[1]} packed bytes hold 1..8 x {c.shape[1]} dimensions, not {d}")
        return QuantizedEmbeddings(c, None, codec=Codec("binary"), dim=d)
    raise ValueError(f"from_codes takes 'int8', 'uint8' or 'binary' codes, not {precision!r}")
