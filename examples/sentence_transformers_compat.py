"""Codes other tools understand: binary equals numpy.packbits(x > 0) (sentence-transformers'
"ubinary", FAISS binary indexes), calibrated uint8 with rounding="truncate" equals
sentence-transformers' uint8, f16 equals NumPy's float16; and codes a model already produced
wrapped with from_codes. Runs without sentence-transformers (the equalities are checked with
NumPy).

    python3 examples/sentence_transformers_compat.py
"""

from pathlib import Path

import numpy as np
import vectro

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main() -> None:
    X = np.load(SAMPLE / "corpus.npy")
    b = vectro.quantize_embeddings(X, "binary")
    assert np.array_equal(b.codes, np.packbits(X > 0, axis=1))
    print("binary == numpy.packbits(x > 0):", b.codes.shape, b.codes.dtype)

    cal = X[:1000]
    u8 = vectro.quantize_embeddings(X, "uint8", calibration_embeddings=cal, rounding="truncate")
    lo, hi = cal.min(axis=0), cal.max(axis=0)                  # sentence-transformers' recipe
    steps = (hi - lo) / 255
    st = ((X - lo) / steps).astype(np.int64).clip(0, 255).astype(np.uint8)
    print("uint8 (truncate) codes equal to the recipe's:", f"{np.mean(u8.codes == st):.4%}")

    f16 = vectro.quantize_embeddings(X, "f16")
    assert np.array_equal(f16.codes, X.astype(np.float16))
    print("f16 == numpy float16")

    wrapped = vectro.from_codes(b.codes, "ubinary", dim=X.shape[1])  # no re-encoding
    print("from_codes:", wrapped)


if __name__ == "__main__":
    main()
