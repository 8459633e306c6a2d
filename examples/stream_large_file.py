"""Stream an embeddings file of any size into a .vqz in bounded memory: read_embeddings +
VqzWriter by hand (with ids), then compress_file in one call with a progress callback, and a
callback that cancels by returning False (no output file is left behind).

    python3 examples/stream_large_file.py [EMBEDDINGS.npy [OUT_DIR]]
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import vectro

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "corpus.npy"


def main(src: str, out_dir: str) -> None:
    # 1. By hand: memory is one chunk of floats plus one block of codes, whatever the file's size.
    manual = os.path.join(out_dir, "manual.vqz")
    with vectro.VqzWriter(manual, "int8", ids=True, metadata={"source": os.path.basename(src)}) as w:
        start = 0
        for chunk in vectro.read_embeddings(src, chunk_rows=1000):   # .npy/.fvecs/.parquet/...
            w.append(chunk, ids=np.arange(start, start + len(chunk), dtype=np.uint64))
            start += len(chunk)
    print(f"{manual}: {len(vectro.VqzReader(manual))} rows written in chunks of 1000")

    # 2. In one call, with progress; a codec that needs training learns from the first rows.
    def report(done, total):
        print(f"  {done}/{total} rows")

    one = os.path.join(out_dir, "one_call.vqz")
    codec = vectro.compress_file(src, one, "uint8", chunk_rows=1000, progress=report)
    print(f"{one}: {codec.precision}, {os.path.getsize(one):,} bytes")

    # 3. Cancelling: return False from the callback. The call raises and writes nothing.
    cancelled = os.path.join(out_dir, "cancelled.vqz")
    try:
        vectro.compress_file(src, cancelled, "int8", chunk_rows=1000, progress=lambda done, total: done < 2000)
    except vectro.VectroError as e:
        print(f"stopped: {e}; output exists: {os.path.exists(cancelled)}")


if __name__ == "__main__":
    src = sys.argv[1] if len(sys.argv) > 1 else str(SAMPLE)
    if len(sys.argv) > 2:
        main(src, sys.argv[2])
    else:
        with tempfile.TemporaryDirectory() as d:
            main(src, d)
