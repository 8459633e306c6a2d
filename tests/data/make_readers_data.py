"""Writes the .npy / *vecs files tests/c/test_readers.c reads, with real NumPy, and beside each
X.npy (or X.fvecs, ...) X.f32: the raw float32 C-order values NumPy itself gives for it
(``astype(np.float32)``), which the C reader must reproduce bit for bit.

Run from the repository root: python3 tests/data/make_readers_data.py (deterministic).
"""

import struct
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent


def expected(name: str, a: np.ndarray) -> None:
    with np.errstate(over="ignore"):
        np.ascontiguousarray(a.reshape(-1, a.shape[-1]), dtype="<f4").tofile(OUT / f"{name}.f32")


def values(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    a = rng.standard_normal(shape).astype(dtype)
    flat = a.reshape(-1)
    flat[0] = -0.0
    flat[1] = np.inf
    flat[2] = -np.inf
    if dtype == "<f2":
        flat[3] = np.float16(6e-8)  # the smallest subnormal
        flat[4] = np.float16(65504.0)
    elif dtype == "<f8":
        flat[3] = 1e300  # beyond float32: Inf
        flat[4] = 1e-50  # below float32's subnormals: 0
        flat[5] = 0.1  # rounds
    else:
        flat[3] = np.float32(1e-45)  # subnormal
    return a


def main() -> None:
    rng = np.random.default_rng(20240611)
    for dt, tag in (("<f2", "f2"), ("<f4", "f4"), ("<f8", "f8")):
        a = values(rng, (37, 5), dt)
        np.save(OUT / f"v1_{tag}_c.npy", a)
        expected(f"v1_{tag}_c", a)
        f = np.asfortranarray(values(rng, (37, 5), dt))
        np.save(OUT / f"v1_{tag}_f.npy", f)
        expected(f"v1_{tag}_f", f)
    one = values(rng, (11,), "<f4")
    np.save(OUT / "v1_1d.npy", one)
    expected("v1_1d", one)

    # Format 2.0 is only written by NumPy for headers beyond 65535 bytes, which a float array never
    # has: this one is made by hand, a valid dict padded past 64 KiB.
    v2 = values(rng, (9, 3), "<f4")
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': (9, 3), }"
    total = 12 + len(d) + 70000 + 1
    pad = 70000 + (64 - total % 64) % 64
    header = (d + " " * pad + "\n").encode("latin1")
    with open(OUT / "v2_f4_c.npy", "wb") as fh:
        fh.write(b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + v2.tobytes())
    back = np.load(OUT / "v2_f4_c.npy", max_header_size=200000)
    assert back.tobytes() == v2.tobytes()
    expected("v2_f4_c", v2)

    # Format 3.0: the same with a utf-8 header, written by NumPy.
    v3 = np.asfortranarray(values(rng, (9, 4), "<f2"))
    with open(OUT / "v3_f2_f.npy", "wb") as fh:
        np.lib.format.write_array(fh, v3, version=(3, 0))
    expected("v3_f2_f", v3)

    # np.save of known values, (i * d + j) * 0.5 - 1, which the writer test reproduces byte for byte.
    for n, dim in ((3, 5), (0, 7), (1000, 1)):
        a = (np.arange(n * dim, dtype=np.float32) * 0.5 - 1).reshape(n, dim)
        np.save(OUT / f"np_save_{n}x{dim}.npy", a)

    # *vecs: int32 dim then the values, per row.
    fv = values(rng, (6, 4), "<f4")
    bv = rng.integers(0, 256, (5, 3), dtype=np.uint8)
    iv = rng.integers(-(2**31), 2**31, (4, 3), dtype=np.int64).astype("<i4")
    iv[0, :] = [16777217, -16777217, 2**31 - 1]  # round to float
    for name, arr in (("small.fvecs", fv), ("small.bvecs", bv), ("small.ivecs", iv)):
        with open(OUT / name, "wb") as fh:
            for row in arr:
                fh.write(struct.pack("<i", arr.shape[1]) + row.tobytes())
        expected(name.replace(".", "_"), arr.astype(np.float64))


if __name__ == "__main__":
    main()
