"""evaluate() and choose(): the figures match their definitions, and choose picks the cheapest
configuration that meets the target, on the shipped real embeddings too."""
import numpy as np
import pytest
import vectro


def cos_rows(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_evaluate_figures_match_definitions():
    x = np.random.default_rng(3).standard_normal((500, 48)).astype(np.float32)
    q = vectro.quantize_embeddings(x, "int4")
    r = vectro.evaluate(x, q, queries=x[:50], k=5)
    rec = vectro.reconstruct_embeddings(q).astype(np.float64)
    rel = np.linalg.norm(x - rec, axis=1) / np.linalg.norm(x, axis=1)
    assert r["rel_l2_mean"] == pytest.approx(rel.mean(), rel=1e-7)
    assert r["rel_l2_max"] == pytest.approx(rel.max(), rel=1e-7)
    assert r["cosine_mean"] == pytest.approx(cos_rows(x, rec).mean(), rel=1e-7)
    assert r["cosine_min"] == pytest.approx(cos_rows(x, rec).min(), rel=1e-7)
    mae = (np.abs(x - rec).mean(1) / np.abs(x).max(1)).mean()
    assert r["mae"] == pytest.approx(mae, rel=1e-7)
    assert r["bytes_per_vector"] == 24 + 4 and r["compression_ratio"] == pytest.approx(48 * 4 / 28)
    exact = np.argsort(-(x[:50] @ x.T), 1)[:, :5]
    approx = np.argsort(-(x[:50] @ rec.T.astype(np.float32)), 1)[:, :5]
    want = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approx)])
    assert r["recall_at_k"] == pytest.approx(want)
    assert r["n_queries"] == 50 and r["k"] == 5


def test_evaluate_holds_out_queries_and_fits_on_database():
    x = np.random.default_rng(4).standard_normal((1000, 32)).astype(np.float32)
    r = vectro.evaluate(x, "uint8")
    assert r["n_queries"] == 100 and 0.9 < r["recall_at_k"] <= 1.0
    small = vectro.evaluate(x[:50], "int8")
    assert small["n_queries"] == 0 and np.isnan(small["recall_at_k"])
    with pytest.raises(ValueError):
        vectro.evaluate(x, "int8", k=0)
    with pytest.raises(ValueError, match="dimension"):
        vectro.evaluate(x, "int8", queries=x[:5, :8])
    with pytest.raises(ValueError):
        vectro.evaluate(x, vectro.quantize_embeddings(x[:10]))


def test_quality_orders_codecs_on_real_embeddings(sample):
    corpus, queries = sample
    r = {p: vectro.evaluate(corpus, p, queries=queries) for p in ("int16", "int8", "int4-g32", "binary")}
    assert r["int16"]["cosine_mean"] > r["int8"]["cosine_mean"] > r["int4-g32"]["cosine_mean"] \
        > r["binary"]["cosine_mean"]
    assert r["int8"]["cosine_mean"] >= 0.9999 and r["int8"]["recall_at_k"] >= 0.99
    assert r["int4-g32"]["cosine_mean"] >= 0.99


def test_choose_picks_cheapest_meeting_target(sample):
    corpus, queries = sample
    c = vectro.choose(corpus, min_cosine=0.999, queries=queries)
    met = [row for row in c.table if row["met"]]
    assert c.bytes_per_vector == min(row["bytes_per_vector"] for row in met)
    assert all(row["cosine_mean"] < 0.999 for row in c.table if row["bytes_per_vector"] < c.bytes_per_vector)
    q = c.codec.encode(corpus[:10, :c.dim])
    assert q.precision == c.precision
    assert "met" in c.format_table() and c.precision in str(c)


def test_choose_recall_target_and_matryoshka(sample):
    corpus, queries = sample
    c = vectro.choose(corpus, min_recall_at_10=0.9, queries=queries, matryoshka_dims=[192, 96])
    dims = {row["dim"] for row in c.table}
    assert dims == {384, 192, 96}
    assert c.table[0]["bytes_per_vector"] <= c.bytes_per_vector


def test_choose_errors():
    x = np.random.default_rng(5).standard_normal((300, 16)).astype(np.float32)
    with pytest.raises(ValueError, match="target"):
        vectro.choose(x)
    with pytest.raises(vectro.VectroError, match="no configuration"):
        vectro.choose(x, min_cosine=1.5)


def test_mixed_precision_beats_uniform_int8_at_same_worst_error():
    rng = np.random.default_rng(9)
    flat = rng.choice([-0.5, 0.0, 0.5], (400, 96)).astype(np.float32)  # exact in int4
    rough = rng.standard_normal((400, 96)).astype(np.float32)
    heavy = rng.standard_t(1.5, (200, 96)).astype(np.float32)  # outliers: int8 error is large here
    x = np.vstack([flat, rough, heavy])
    u8 = vectro.quantize_embeddings(x, "int8")
    worst_int8 = vectro.evaluate(x, u8, queries=x[:1])["rel_l2_max"]
    m = vectro.quantize_mixed(x, max_rel_error=worst_int8)
    assert m.max_rel_error <= worst_int8 * (1 + 1e-9)
    assert m.nbytes < u8.nbytes
    counts = m.counts()
    assert counts["int4"] >= 400 and sum(counts.values()) == len(x)
    rec = vectro.reconstruct_embeddings(m)
    rel = np.linalg.norm(x - rec, axis=1) / np.linalg.norm(x, axis=1)
    assert rel.max() <= worst_int8 * (1 + 1e-6)
    # every row decodes exactly as its own tier's codec would
    for i, t in enumerate(m.tiers):
        rows = np.flatnonzero(m.tags == i)
        if len(rows):
            np.testing.assert_array_equal(rec[rows], vectro.reconstruct_embeddings(
                vectro.quantize_embeddings(x[rows], t)))
    r = vectro.evaluate(x, m, queries=x[:20])
    assert r["bytes_per_vector"] == m.nbytes / len(x)


def test_mixed_budget_zero_and_bad_args():
    x = np.random.default_rng(2).standard_normal((50, 16)).astype(np.float32)
    m = vectro.quantize_mixed(x, max_rel_error=0.0)
    assert m.counts()["f16"] == 50  # nothing else is exact: all land in the last tier
    with pytest.raises(ValueError):
        vectro.quantize_mixed(x, max_rel_error=-1)
    with pytest.raises(ValueError):
        vectro.quantize_mixed(x, tiers=())
