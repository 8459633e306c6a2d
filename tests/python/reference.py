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
