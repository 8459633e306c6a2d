"""vectro.integrations itself: lazy imports (a missing client names its pip extra), the checks every
module shares (ids, payload, queries), local rescoring. (The modules' docstring examples run in test_doctests.py.)"""

import importlib
import sys

import numpy as np
import pytest
import vectro
from vectro import integrations
from vectro.integrations import Originals, _common


def test_modules_import_without_their_clients(monkeypatch):
    for name in integrations.MODULES:
        assert getattr(integrations, name).__name__ == f"vectro.integrations.{name}"
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    pgv = importlib.import_module("vectro.integrations.pgvector")
    with pytest.raises(ImportError, match=r"pip install 'vectro\[pgvector\]'"):
        pgv.Store(object(), "t")


@pytest.mark.parametrize("name, clients, extra, attr", [
    ("langchain", ("langchain_core",), "langchain", "VectroVectorStore"),
    ("llama_index", ("llama_index", "llama_index.core"), "llama-index", "VectroVectorStore"),
    ("faiss", ("faiss",), "faiss", None),
    ("datasets", ("datasets",), "datasets", None),
])
def test_framework_modules_import_without_their_clients(monkeypatch, name, clients, extra, attr):
    # the framework classes subclass their library's own: the module must still import without it
    # (a fresh import, as in an environment without the client), and naming the class says the extra
    full = f"vectro.integrations.{name}"
    monkeypatch.setattr(integrations, name, getattr(integrations, name))  # restored afterwards
    monkeypatch.delitem(sys.modules, full)
    for c in clients:
        monkeypatch.setitem(sys.modules, c, None)
    mod = importlib.import_module(full)
    assert mod.__name__ == full
    if attr:
        assert attr in dir(mod)
        with pytest.raises(ImportError, match=rf"pip install 'vectro\[{extra}\]'"):
            getattr(mod, attr)


def test_centred_codes_are_stored_as_reconstructions():
    # a centred codec's codes are of x - c: a bit or float16 column searched with plain queries would
    # rank wrongly, so the stores keep reconstructions (c added back), and refuse vectors="codes"
    from vectro.integrations import milvus, pgvector, qdrant

    x = np.random.default_rng(0).standard_normal((50, 16)).astype(np.float32) + 0.5
    src = _common.Source(vectro.Codec("binary", center=True).fit(x).encode(x))
    assert src.centred and not _common.Source(vectro.quantize_embeddings(x, "binary")).centred
    assert pgvector.column_type(src.precision, "auto", src.centred) == ("vector", "float32")
    assert pgvector.column_type(src.precision, "auto") == ("bit", "codes")
    assert milvus.field_type(src.precision, 16, "auto", src.centred) == ("FLOAT_VECTOR", "float32")
    assert milvus.field_type(src.precision, 16, "auto") == ("BINARY_VECTOR", "codes")
    for call in (lambda: pgvector.column_type("binary", "codes", True),
                 lambda: milvus.field_type("binary", 16, "codes", True)):
        with pytest.raises(ValueError, match=r"centred codec .* vectro.Codec\('binary'\)"):
            call()
    identity = vectro.Codec("uint8", center=True).fit(x)
    assert not qdrant._identity_uint8(identity)


def test_id_and_payload_checks():
    np.testing.assert_array_equal(_common.check_ids(None, 3), [0, 1, 2])
    np.testing.assert_array_equal(_common.check_ids([2**64 - 1, 0], 2), np.array([2**64 - 1, 0], np.uint64))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        _common.check_ids([1, 2], 3)
    with pytest.raises(ValueError, match="in \\[0, 2\\*\\*64\\)"):
        _common.check_ids(np.array([2**64, 1], dtype=object), 2)
    with pytest.raises(ValueError, match="beyond what the database's ids hold"):
        _common.check_ids([5, 2**63], 2, max_id=2**63 - 1)
    with pytest.raises(ValueError, match="3 values for 2 vectors"):
        _common.check_payload({"a": [1, 2, 3]}, 2)
    with pytest.raises(ValueError, match="identifiers"):
        _common.check_payload({"bad name": [1, 2]}, 2)
    with pytest.raises(ValueError, match="NaN or Inf"):
        _common.as_queries(np.array([[np.nan, 1.0]]), 2)
    with pytest.raises(ValueError, match="embeddings must have at least one dimension and hold no NaN"):
        _common.Source(np.array([[np.inf, 1.0]], np.float32), precision="float32")


def test_originals_rescore_exactly_from_a_vqz(tmp_path):
    x = np.random.default_rng(0).standard_normal((50, 16)).astype(np.float32)
    q = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    ids = np.arange(50, dtype=np.uint64) * 10
    path = tmp_path / "o.vqz"
    vectro.save(path, vectro.quantize_embeddings(x, "f16"), ids=ids)
    o = Originals(path)
    cand = np.tile(ids[:20], (3, 1))
    cand[:, -1] = vectro.NO_ID  # an empty slot from the database
    got, scores = o.rescore(q, cand, 5, "ip")
    xf = x.astype(np.float16).astype(np.float32)[:19]
    want = np.argsort(-(q @ xf.T), axis=1)[:, :5]
    np.testing.assert_array_equal(got, ids[want])
    np.testing.assert_allclose(scores, np.take_along_axis(q @ xf.T, want, 1), rtol=1e-6)
    with pytest.raises(KeyError, match="id 7 from the database"):
        o.rescore(q, np.full((3, 2), 7, np.uint64), 1, "ip")
    got, scores = o.rescore(q, np.array([[0, 10]] * 3, np.uint64), 4, "l2")  # fewer candidates than k
    assert (got[:, 2:] == vectro.NO_ID).all() and np.isnan(scores[:, 2:]).all()


@pytest.mark.parametrize("scale", [1e19, 1e-22])
@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
def test_exact_rescoring_at_extreme_magnitudes(scale, metric):
    """The local exact rescoring of database candidates ranks rows of 1e19 and 1e-22 as it ranks
    the same rows at ordinary scale (float32 norms and dots would overflow or underflow)."""
    from vectro.integrations._common import exact_scores, order

    rng = np.random.default_rng(3)
    q = rng.standard_normal((4, 32)).astype(np.float32)
    x = rng.standard_normal((4, 50, 32)).astype(np.float32)
    want = order(exact_scores(q, x, metric), metric, 10)
    got_scores = exact_scores(q * np.float32(scale), x * np.float32(scale), metric)
    assert not np.isnan(got_scores).any()
    np.testing.assert_array_equal(order(got_scores, metric, 10), want)
