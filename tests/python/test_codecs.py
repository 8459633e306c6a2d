"""Every codec through the Python API: codes against independent NumPy references, layouts that
other tools read (numpy.float16, numpy.packbits, sentence-transformers), errors, save/load."""
import os

import numpy as np
import pytest
import vectro
from reference import pack_int4, ref_bf16, ref_symmetric, st_calibrated

RNG = np.random.default_rng(7)
ALL = ["int8", "int16", "int4", "int4-g32", "f16", "bf16", "binary", "uint8"]


def data(n=300, d=100, scale=1.0):
    return (RNG.standard_normal((n, d)) * scale).astype(np.float32)


@pytest.mark.parametrize("precision", ALL)
@pytest.mark.parametrize("d", [1, 7, 33, 384])
def test_every_codec_round_trips_and_every_kernel_agrees(precision, d):
    x = data(64, d)
    outs = []
    for k in vectro.get_backend_info()["available_kernels"]:
        vectro.set_backend(k)
        q = vectro.quantize_embeddings(x, precision)
        outs.append((q.codes.copy(), None if q.scales is None else q.scales.copy(),
                     vectro.reconstruct_embeddings(q)))
    for codes, scales, rec in outs[1:]:
        np.testing.assert_array_equal(codes, outs[0][0])
        if scales is not None:
            np.testing.assert_array_equal(scales, outs[0][1])
        np.testing.assert_array_equal(rec.view(np.uint32), outs[0][2].view(np.uint32))
    assert outs[0][2].shape == x.shape and np.isfinite(outs[0][2]).all()


@pytest.mark.parametrize("precision, levels, group", [("int8", 127, 0), ("int16", 32767, 0),
                                                       ("int4", 7, 0), ("int4-g32", 7, 32)])
def test_symmetric_codecs_match_reference(precision, levels, group):
    x = data(50, 77)
    x[4] = 0
    q = vectro.quantize_embeddings(x, precision)
    codes, scales = ref_symmetric(x, levels, group)
    if precision.startswith("int4"):
        np.testing.assert_array_equal(q.codes, pack_int4(codes))
    else:
        np.testing.assert_array_equal(q.codes.astype(np.int32), codes)
    np.testing.assert_array_equal(q.scales.reshape(len(x), -1), scales)
    rec = vectro.reconstruct_embeddings(q)
    per_dim = np.repeat(scales, group or 77, axis=1)[:, :77]
    np.testing.assert_array_equal(rec, (codes * per_dim).astype(np.float32))


def test_f16_is_numpy_float16_and_refuses_overflow():
    x = np.concatenate([data(20, 64), data(5, 64, 1e-6)])  # includes half subnormals
    q = vectro.quantize_embeddings(x, "f16")
    np.testing.assert_array_equal(q.codes.view(np.uint16), x.astype(np.float16).view(np.uint16))
    np.testing.assert_array_equal(vectro.reconstruct_embeddings(q), x.astype(np.float16).astype(np.float32))
    x[3, 10] = 70000.0
    with pytest.raises(vectro.VectroError, match="row 3"):
        vectro.quantize_embeddings(x, "f16")


def test_bf16_rounds_to_nearest_even():
    x = data(20, 50)
    q = vectro.quantize_embeddings(x, "bf16")
    np.testing.assert_array_equal(q.codes, ref_bf16(x))
    rec = vectro.reconstruct_embeddings(q)
    np.testing.assert_array_equal(rec.view(np.uint32), ref_bf16(x).astype(np.uint32) << 16)


@pytest.mark.parametrize("d", [8, 13, 384])
def test_binary_is_numpy_packbits(d):
    x = data(40, d)
    x[0, :3] = [0.0, -0.0, 1e-30]
    q = vectro.quantize_embeddings(x, "binary")
    np.testing.assert_array_equal(q.codes, np.packbits(x > 0, axis=1))
    rec = vectro.reconstruct_embeddings(q)
    np.testing.assert_array_equal(rec, np.where(x > 0, 1.0, -1.0).astype(np.float32))
    assert q.nbytes == 40 * ((d + 7) // 8)


@pytest.mark.parametrize("precision", ["uint8", "int8"])
def test_calibrated_truncate_matches_sentence_transformers_formula(precision):
    calib = data(1000, 64)
    x = data(200, 64, 1.3)  # some values fall outside the calibrated range
    ranges = np.vstack([calib.min(0), calib.max(0)])
    q = vectro.quantize_embeddings(x, precision, ranges=ranges, rounding="truncate")
    np.testing.assert_array_equal(q.codes, st_calibrated(x, ranges, precision))
    q2 = vectro.quantize_embeddings(x, precision, calibration_embeddings=calib, rounding="truncate")
    np.testing.assert_array_equal(q2.codes, q.codes)


def test_calibrated_against_sentence_transformers_itself():
    st = pytest.importorskip("sentence_transformers.util.quantization",
                             reason="sentence-transformers (and torch) not installed")
    calib = data(1000, 64)
    x = data(300, 64, 1.2)
    for precision in ("uint8", "int8"):
        want = st.quantize_embeddings(x, precision, calibration_embeddings=calib)
        got = vectro.quantize_embeddings(x, precision, calibration_embeddings=calib, rounding="truncate")
        np.testing.assert_array_equal(got.codes, want)
    for precision in ("binary", "ubinary"):
        want = st.quantize_embeddings(x, precision)
        got = vectro.quantize_embeddings(x, "binary").codes
        np.testing.assert_array_equal(got if precision == "ubinary" else (got.astype(np.int16) - 128), want)


def test_rounding_against_truncation():
    """Truncated codes decoded at their bucket's middle cost nothing on average; read at their
    level, as sentence-transformers' dequantization (and a search on the codes) does, they are
    biased half a step low and the error roughly doubles. Rounding avoids that by construction."""
    calib = data(5000, 128)
    x = data(1000, 128)
    ranges = np.vstack([calib.min(0), calib.max(0)])
    step = (ranges[1] - ranges[0]) / 255
    err = {}
    for rounding in ("nearest", "truncate"):
        q = vectro.quantize_embeddings(x, "uint8", ranges=ranges, rounding=rounding)
        err[rounding] = np.abs(vectro.reconstruct_embeddings(q) - x).mean()
        err[rounding + "-at-level"] = np.abs(ranges[0] + q.codes * step - x).mean()
    assert err["nearest"] == pytest.approx(err["nearest-at-level"], rel=1e-4)
    assert err["nearest"] <= err["truncate"] * 1.02
    assert err["truncate-at-level"] > 1.5 * err["nearest"]


def test_calibrated_bad_input():
    with pytest.raises(vectro.VectroError, match="at least 2"):
        vectro.quantize_embeddings(data(5, 8), "uint8", calibration_embeddings=data(1, 8))
    with pytest.raises(ValueError, match="dimension"):
        vectro.Codec("uint8").fit(data(10, 8)).encode(data(3, 9))
    with pytest.raises(vectro.VectroError, match="fitted"):
        vectro.Codec("uint8", 8).encode(data(3, 8))
    bad = data(10, 8)
    bad[6, 2] = np.nan
    with pytest.raises(vectro.VectroError, match="row 6"):
        vectro.Codec("uint8").fit(bad)
    with pytest.raises(ValueError):
        vectro.quantize_embeddings(data(3, 8), "uint8", ranges=np.zeros((3, 8)))
    with pytest.raises(vectro.VectroError):
        vectro.quantize_embeddings(data(3, 8), "uint8", ranges=np.vstack([np.ones(8), np.zeros(8)]))
    # values outside the range clip to the ends, never wrap
    c = vectro.Codec("uint8").set_ranges(np.vstack([np.zeros(4), np.ones(4)]))
    q = c.encode(np.array([[-5.0, 0.25, 2.0, 1e30]], np.float32))
    assert q.codes.tolist() == [[0, 64, 255, 255]]  # 0.25 * 255 = 63.75
    # a dimension constant in calibration decodes to its constant
    calib = data(50, 4)
    calib[:, 1] = 0.25
    c = vectro.Codec("uint8").fit(calib)
    rec = c.decode(c.encode(calib))
    assert np.all(rec[:, 1] == np.float32(0.25))


def test_codec_save_load_atomic(tmp_path):
    c = vectro.Codec("int8", calibrated=True).fit(data(100, 16))
    path = tmp_path / "codec.vqc"
    c.save(path)
    c2 = vectro.Codec.load(path)
    assert c2.precision == "int8-cal" and c2.dim == 16
    np.testing.assert_array_equal(c2.ranges, c.ranges)
    x = data(10, 16)
    np.testing.assert_array_equal(c2.encode(x).codes, c.encode(x).codes)
    raw = path.read_bytes()
    for bad in (raw[:-1], raw[:10], raw[:50] + bytes([raw[50] ^ 1]) + raw[51:]):
        with pytest.raises(vectro.VectroError):
            vectro.Codec.from_bytes(bad)
    newer = bytearray(raw)
    newer[4] = 9
    with pytest.raises(vectro.VectroError, match="newer|upgrade"):
        vectro.Codec.from_bytes(bytes(newer))
    # a failed save leaves the existing file untouched and no temporary behind
    if os.geteuid() != 0:
        os.chmod(tmp_path, 0o500)
        with pytest.raises(OSError):
            c.save(path)
        os.chmod(tmp_path, 0o700)
    with pytest.raises(OSError):
        c.save(tmp_path / "missing-dir" / "x.vqc")
    assert path.read_bytes() == raw
    assert [p.name for p in tmp_path.iterdir()] == ["codec.vqc"]


def test_from_codes_direct():
    i8 = RNG.integers(-128, 128, (5, 16)).astype(np.int8)
    q = vectro.from_codes(i8, "int8")
    np.testing.assert_array_equal(vectro.reconstruct_embeddings(q), i8.astype(np.float32))
    u8 = RNG.integers(0, 256, (5, 16)).astype(np.uint8)
    np.testing.assert_array_equal(vectro.reconstruct_embeddings(vectro.from_codes(u8, "uint8")),
                                  u8.astype(np.float32))
    x = data(5, 20)
    packed = np.packbits(x > 0, axis=1)
    qb = vectro.from_codes(packed, "ubinary", dim=20)
    np.testing.assert_array_equal(vectro.reconstruct_embeddings(qb), np.where(x > 0, 1.0, -1.0))
    qs = vectro.from_codes((packed.astype(np.int16) - 128).astype(np.int8), "binary", dim=20)
    np.testing.assert_array_equal(qs.codes, packed)
    with pytest.raises(TypeError):
        vectro.from_codes(u8, "int8")
    with pytest.raises(ValueError):
        vectro.from_codes(packed, "binary", dim=30)


def test_precision_names_and_profiles():
    assert vectro.Codec("fp16").precision == "f16"
    assert vectro.Codec("balanced").precision == "rabitq-4" and vectro.Codec("balanced").center
    assert vectro.Codec("quality").precision == "rabitq-8" and vectro.Codec("quality").center
    assert vectro.Codec("fast").precision == "rabitq-1" and vectro.Codec("fast").center
    assert not vectro.Codec("fast", center=False).center
    assert vectro.Codec("int4", group_size=16).precision == "int4-g16"
    for bad in ("int3", "float64"):
        with pytest.raises(ValueError, match="unknown precision"):
            vectro.Codec(bad)
    with pytest.raises(ValueError, match="truncate"):
        vectro.Codec("int8", rounding="truncate")
    with pytest.raises(ValueError, match="group_size"):
        vectro.Codec("f16", group_size=32)
    with pytest.raises(vectro.VectroError):
        vectro.Codec("int4", 64, group_size=3)


def test_bytes_per_vector_and_ratio():
    d = 384
    expect = {"int8": d + 4, "int16": 2 * d + 4, "int4": d // 2 + 4, "int4-g32": d // 2 + 4 * 12,
              "f16": 2 * d, "bf16": 2 * d, "binary": d // 8, "uint8": d}
    for p, b in expect.items():
        assert vectro.Codec(p).bytes_per_vector(d) == b, p
    q = vectro.quantize_embeddings(data(10, d), "binary")
    assert q.compression_ratio == 32.0


def test_calibrated_on_constant_batch_keeps_the_values():
    """Fitted on identical vectors every range is zero; sentence-transformers then returns all-zero
    codes that decode to nothing useful (its issue #2837). Vectro decodes back to the vector."""
    v = data(1, 32)[0]
    batch = np.tile(v, (10, 1))
    for p in ("uint8", "int8"):
        codec = vectro.Codec(p, calibrated=True).fit(batch)
        np.testing.assert_array_equal(codec.decode(codec.encode(batch)), batch)


def test_quantile_calibration_matches_numpy():
    """Ranges from the 0.1% / 99.9% quantiles (linear interpolation, np.quantile's default), so a
    few outliers do not stretch every bucket."""
    x = data(5000, 24)
    x[7, 3] = 80.0  # an outlier a min/max range would be stretched by
    codec = vectro.Codec("uint8", calibration_quantiles=(0.001, 0.999)).fit(x)
    q = np.float32([0.001, 0.999]).astype(np.float64)  # the quantiles as the codec stores them
    np.testing.assert_allclose(codec.ranges, np.quantile(x, q, axis=0), rtol=2e-7)
    assert codec.ranges[1, 3] < 10
    assert vectro.Codec.from_bytes(codec.to_bytes()).calibration_quantiles == codec.calibration_quantiles
