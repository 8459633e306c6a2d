"""CPU sub-features switched off from Python (set_backend(disable=...)): what the kernels then use,
and that every kernel with them off gives the codes of the full feature set, bit for bit."""
import numpy as np
import pytest
import vectro

SUBS = "vnni,vpopcntdq,f16c,crc32"


@pytest.fixture(autouse=True)
def _all_features_back():
    yield
    vectro.set_backend("auto", disable="")


def test_disable_reported_and_restored():
    info = vectro.get_backend_info()
    assert set(info["active_cpu_features"]) == set(info["cpu_features"])
    for k in info["available_kernels"]:
        assert vectro.set_backend(k, disable=SUBS) == k
        active = set(vectro.get_backend_info()["active_cpu_features"])
        assert not active & {"avx512vnni", "avx512vpopcntdq", "f16c", "sse4.2", "crc32"}
    assert vectro.set_backend("auto", disable=["vnni"]) == info["kernel"]
    assert "avx512vnni" not in vectro.get_backend_info()["active_cpu_features"]
    vectro.set_backend("auto", disable="")
    assert vectro.get_backend_info()["active_cpu_features"] == info["cpu_features"]


def test_unknown_feature_is_a_value_error():
    before = vectro.get_backend_info()["active_cpu_features"]
    with pytest.raises(ValueError, match="bogus"):
        vectro.set_backend("auto", disable="vnni,bogus")
    assert vectro.get_backend_info()["active_cpu_features"] == before


@pytest.mark.parametrize("precision", ["int8", "int4-g32", "f16", "bf16", "binary", "uint8"])
def test_fallbacks_give_the_same_codes(precision):
    x = np.random.default_rng(3).standard_normal((40, 67)).astype(np.float32)
    for k in vectro.get_backend_info()["available_kernels"]:
        vectro.set_backend(k, disable="")
        full = vectro.quantize_embeddings(x, precision)
        vectro.set_backend(k, disable=SUBS)
        off = vectro.quantize_embeddings(x, precision)
        np.testing.assert_array_equal(off.codes, full.codes)
        if full.scales is not None:
            np.testing.assert_array_equal(off.scales, full.scales)
