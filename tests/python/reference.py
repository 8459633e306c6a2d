"""NumPy reference implementations of the documented codec math, independent of the C code."""
import numpy as np


def ref_int8(x: np.ndarray):
    """The documented int8 math in NumPy (float32 throughout), independent of the C code."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, x.shape[-1])
    m = np.abs(x).max(axis=1)
    codes = np.zeros(x.shape, np.int8)
    scales = np.zeros(len(x), np.float32)
    for i, mi in enumerate(m):
        if mi == 0:
            continue
        up = np.float32(2.0**96) if mi < np.float32(2.0**-96) else np.float32(1)
        inv = np.float32(127) / (mi * up)
        codes[i] = np.clip(np.rint((x[i] * up) * inv), -127, 127).astype(np.int8)
        s = mi / np.float32(127)
        with np.errstate(over="ignore"):
            overflow = np.isinf(s * np.float32(127))
        if overflow:
            s = np.nextafter(s, np.float32(0))
        scales[i] = s
    return codes, scales


def ref_symmetric(x: np.ndarray, levels: int, group: int = 0):
    """Per-vector (or per-group of `group` dims) symmetric quantization with `levels` a side:
    int8 (127), int16 (32767), int4 (7). Returns (integer codes (n, d), scales (n, groups))."""
    x = np.asarray(x, np.float32)
    n, d = x.shape
    g = group or d
    ng = (d + g - 1) // g
    codes = np.zeros((n, d), np.int32)
    scales = np.zeros((n, ng), np.float32)
    L = np.float32(levels)
    for i in range(n):
        for k in range(ng):
            seg = x[i, k * g:(k + 1) * g]
            m = np.abs(seg).max()
            if m == 0:
                continue
            up = np.float32(2.0**96) if m < np.float32(2.0**-96) else np.float32(1)
            inv = L / (m * up)
            codes[i, k * g:(k + 1) * g] = np.clip(np.rint((seg * up) * inv), -levels, levels)
            s = m / L
            with np.errstate(over="ignore"):
                if np.isinf(s * L):
                    s = np.nextafter(s, np.float32(0))
            scales[i, k] = s
    return codes, scales


def pack_int4(codes: np.ndarray) -> np.ndarray:
    """Element 2j in the low nibble of byte j, 2j+1 in the high nibble, two's complement."""
    n, d = codes.shape
    c = np.zeros((n, d + (d & 1)), np.int32)
    c[:, :d] = codes
    lo, hi = c[:, 0::2] & 0xF, c[:, 1::2] & 0xF
    return (lo | (hi << 4)).astype(np.uint8)


def ref_bf16(x: np.ndarray) -> np.ndarray:
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def st_calibrated(x: np.ndarray, ranges: np.ndarray, precision: str) -> np.ndarray:
    """sentence-transformers 6.2's calibrated codes (util/quantization.py), re-typed from its source."""
    ranges = ranges.astype(np.float32)
    starts = ranges[0, :]
    steps = (ranges[1, :] - starts) / 255
    steps = np.where(steps == 0, 1, steps)
    q = np.clip(np.floor((x - starts) / steps), 0, 255)
    return q.astype(np.uint8) if precision == "uint8" else (q - 128).astype(np.int8)
