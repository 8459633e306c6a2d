"""The .vqz format checked against a second implementation written from docs/format.md alone:
Python's struct and a table CRC-32C (no zlib, no vectro code). The golden file written by the
library must equal, byte for byte, what this writer makes of the same rows; and a file this writer
makes with other parameters must read back and verify in vectro."""
import struct
from pathlib import Path

import numpy as np
import pytest
import vectro

DATA = Path(__file__).resolve().parents[1] / "data"


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_T = _crc_table()


def crc32c(data: bytes) -> int:
    """Castagnoli CRC, reflected, init and final XOR 0xFFFFFFFF (format.md, "Conventions")."""
    c = 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def pad8(x):
    return (x + 7) // 8 * 8


def pad64(x):
    return (x + 63) // 64 * 64


def codec_blob(codec_id: int, dim: int, low_q: float, high_q: float, rounding: int = 0) -> bytes:
    """A version 1.0 embedded codec (no extension, no ranges, no state)."""
    body = b"VQCD" + struct.pack("<HHIQIiffI", 1, 0, codec_id, dim, 0, rounding, low_q, high_q, 0)
    assert len(body) == 40
    return body + struct.pack("<I", crc32c(body))


def write_vqz(codec: bytes, codec_id: int, dim: int, cs: int, sc: int, R: int, codes: bytes,
              scales, ids, metadata: bytes) -> bytes:
    """The whole file, as docs/format.md describes the 1.0 writer's output."""
    n = len(codes) // cs
    has_ids = ids is not None

    def block_size(r):
        s = pad8(r * cs)
        i = pad8(s + 4 * r * sc)
        return i + (8 * r if has_ids else 0)

    stride = pad64(block_size(R))
    data_off = pad64(96 + len(codec) + len(metadata))
    blocks = []
    nb = -(-n // R) if n else 0
    for b in range(nb):
        r = min(R, n - b * R)
        blk = bytearray(block_size(r))
        blk[: r * cs] = codes[b * R * cs:(b * R + r) * cs]
        s = pad8(r * cs)
        if sc:
            blk[s:s + 4 * r * sc] = np.asarray(scales[b * R * sc:(b * R + r) * sc], "<f4").tobytes()
        if has_ids:
            i = pad8(s + 4 * r * sc)
            blk[i:i + 8 * r] = np.asarray(ids[b * R:b * R + r], "<u8").tobytes()
        blocks.append(bytes(blk))
    footer_off = data_off + (nb - 1) * stride + len(blocks[-1]) if nb else data_off
    head = bytearray(b"\x89VQZ\r\n\x1a\n" + struct.pack(
        "<HHIIIQQIIIIIIQQQI", 1, 0, 96, 1 if has_ids else 0, codec_id, dim, n, cs, sc, R, len(codec),
        len(metadata), crc32c(metadata), data_off, stride, footer_off, 0))
    assert len(head) == 92
    head += struct.pack("<I", crc32c(bytes(head)))
    out = bytearray(head + codec + metadata)
    out += bytes(data_off - len(out))
    for b, blk in enumerate(blocks):
        out += bytes(data_off + b * stride - len(out)) + blk
    foot = b"VQZINDEX" + struct.pack("<Q", nb)
    for b, blk in enumerate(blocks):
        foot += struct.pack("<QII", data_off + b * stride, min(R, n - b * R), crc32c(blk))
    foot += struct.pack("<I", crc32c(foot))
    out += foot
    out += struct.pack("<I", crc32c(bytes(out)))
    return bytes(out)


def test_crc32c_check_value():
    assert crc32c(b"123456789") == 0xE3069283  # format.md's check value


def test_library_crc32c_equals_the_independent_one():
    """vectro._core.crc32c (the library's hardware CRC, used to write codecs in the FAISS bridge)
    against the table CRC above, at every length up to 64 and on a long unaligned run."""
    from vectro import _core

    data = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert _core.crc32c(b"123456789") == 0xE3069283
    for n in range(65):
        assert _core.crc32c(data[1:1 + n]) == crc32c(data[1:1 + n])
    assert _core.crc32c(memoryview(data)[3:]) == crc32c(data[3:])


def test_golden_int8_ids_equals_the_independent_writer():
    path = DATA / "golden_int8_ids.vqz"
    golden = path.read_bytes()
    r = vectro.VqzReader(path)  # the rows only: the layout below comes from format.md
    q = r.read()
    lo, hi = vectro.Codec("int8").calibration_quantiles
    mine = write_vqz(codec_blob(1, 5, lo, hi), 1, 5, 5, 1, 4, q.codes.tobytes(), q.scales, q.ids,
                     r.info["metadata"])
    assert len(mine) == len(golden) == 560
    diff = [i for i in range(len(mine)) if mine[i] != golden[i]]
    if diff:
        at = diff[0]
        raise AssertionError(f"first difference at byte {at}: {golden[at:at + 8].hex()} vs {mine[at:at + 8].hex()}")


@pytest.mark.parametrize("rows,block_rows,with_ids", [(0, 3, False), (7, 3, True), (9, 3, False), (1, 64, True)])
def test_independent_files_read_back(tmp_path, rows, block_rows, with_ids):
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 13)).astype(np.float32)
    q = vectro.quantize_embeddings(x, "int8") if rows else None
    codes = q.codes.tobytes() if rows else b""
    scales = q.scales if rows else np.zeros(0, np.float32)
    ids = (np.arange(rows, dtype=np.uint64) * 3 + 1) if with_ids else None
    lo, hi = vectro.Codec("int8").calibration_quantiles
    path = tmp_path / "ind.vqz"
    path.write_bytes(write_vqz(codec_blob(1, 13, lo, hi), 1, 13, 13, 1, block_rows, codes, scales, ids,
                               b'{"by": "format.md"}'))
    r = vectro.VqzReader(path)
    r.verify()
    assert len(r) == rows and r.metadata == {"by": "format.md"} and r.has_ids == with_ids
    if rows:
        back = r.read()
        np.testing.assert_array_equal(back.codes, q.codes)
        np.testing.assert_array_equal(back.scales, q.scales)
        if with_ids:
            np.testing.assert_array_equal(back.ids, ids)
