"""Quality on the shipped real sentence embeddings (all-MiniLM-L6-v2): the figures we promise."""
import numpy as np
import vectro


def cosine_rows(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_sample_shapes(sample):
    corpus, queries = sample
    assert corpus.dtype == np.float32 and queries.dtype == np.float32
    assert corpus.shape[1] == queries.shape[1] == 384
    assert len(corpus) >= 1000 and len(queries) >= 100
    assert np.isfinite(corpus).all() and np.isfinite(queries).all()


def test_int8_cosine_on_real_embeddings(sample):
    corpus, _ = sample
    x_hat = vectro.reconstruct_embeddings(vectro.quantize_embeddings(corpus))
    cos = cosine_rows(corpus, x_hat)
    assert cos.mean() >= 0.9999, cos.mean()
    assert cos.min() >= 0.999, cos.min()


def test_int8_recall_at_10_on_real_embeddings(sample):
    corpus, queries = sample
    x_hat = vectro.reconstruct_embeddings(vectro.quantize_embeddings(corpus))
    k = 10
    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :k]
    approx = np.argsort(-(queries @ x_hat.T), axis=1)[:, :k]
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(exact, approx)])
    assert recall >= 0.99, recall
