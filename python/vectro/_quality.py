"""What compression costs: `evaluate` (reconstruction and search quality, one definition shared with
the C library) and `choose` (the cheapest configuration that meets a target on the user's data)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._codec import Codec, QuantizedEmbeddings, as_float32_rows, reconstruct_embeddings
from ._mixed import MixedQuantizedEmbeddings

DEFAULT_CANDIDATES = ("binary", "rabitq-1", "rabitq-2", "int4", "int4-g32", "rabitq-4", "uint8", "int8", "bf16", "f16",
                      "int16")


def _top_k(queries: np.ndarray, db: np.ndarray, k: int, block: int = 256) -> np.ndarray:
    """Indices of the k largest inner products per query (unordered), in bounded memory."""
    k = min(k, len(db))
    out = np.empty((len(queries), k), np.int64)
    for a in range(0, len(queries), block):
        s = queries[a:a + block] @ db.T
        out[a:a + block] = np.argpartition(-s, k - 1, axis=1)[:, :k]
    return out


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def recall_at_k(exact_ids: np.ndarray, approx_ids: np.ndarray) -> float:
    """Mean share of each row of exact_ids found in the same row of approx_ids."""
    k = exact_ids.shape[1]
    hits = [len(np.intersect1d(e, a, assume_unique=True)) for e, a in zip(exact_ids, approx_ids)]
    return float(np.mean(hits)) / k if len(hits) else float("nan")


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out query rows (a tenth, at most 1000; none below 100 rows) and the database rows."""
    nq = 0 if n < 100 else min(1000, n // 10)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[nq:]), np.sort(perm[:nq])


def evaluate(X, q_or_codec="int8", queries=None, k: int = 10, *, metric: str = "ip", threads: int = 0,
             seed: int = 0) -> dict:
    """Measures what a compression costs on ``X``.

    ``q_or_codec`` is a precision name, a :class:`Codec` (fitted on the database rows when it
    needs calibration), or a :class:`QuantizedEmbeddings` already made from ``X``. When
    ``queries`` is None and X has 100 rows or more, a tenth of X (at most 1000 rows, fixed seed)
    is held out as queries and the rest is the database; with queries given, all of X is the
    database.

    Returns a dict: rel_l2_mean/max (‖x − x̂‖/‖x‖ per row), cosine_mean/min (cos(x, x̂) per row),
    mae (mean |x − x̂| over a row, in units of that row's max |x|), max_abs_err (the largest
    |x − x̂|, in X's own units), bytes_per_vector, compression_ratio (vs float32), and recall_at_k
    (the share of the exact float32 top-k that the same exact search over the reconstructions x̂
    returns; ``metric`` "ip" or "cosine"), n_queries, k. Recall on reconstructions can differ from
    :meth:`Index.search` on the codes (Hamming for binary, table look-ups for pq, the estimator for
    rabitq). binary decodes to ±1 (signs keep no magnitude), so its rel_l2, mae and max_abs_err
    measure X's scale rather than the codec: judge binary by cosine and recall.

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(0).standard_normal((2000, 64)).astype(np.float32)
        >>> r = vectro.evaluate(X, "int8")
        >>> r["cosine_mean"] > 0.9999 and r["recall_at_k"] > 0.9
        True
    """
    if metric not in ("ip", "cosine"):
        raise ValueError(f"metric must be 'ip' or 'cosine', got {metric!r}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    x, _ = as_float32_rows(X)
    n, d = x.shape
    if n == 0:
        raise ValueError("X holds no vectors")
    if queries is None:
        db_idx, q_idx = _split(n, seed)
        qs = x[q_idx]
    else:
        db_idx = np.arange(n)
        qs, _ = as_float32_rows(queries)
        if qs.shape[1] != d:
            raise ValueError(f"queries have dimension {qs.shape[1]}, X has {d}")
    db = np.ascontiguousarray(x[db_idx]) if len(db_idx) != n else x

    if isinstance(q_or_codec, (QuantizedEmbeddings, MixedQuantizedEmbeddings)):
        if len(q_or_codec) != n or q_or_codec.dim != d or len(q_or_codec.shape) != 2:
            raise ValueError(f"quantized embeddings hold {q_or_codec.shape}, X is {n} x {d}")
        full = reconstruct_embeddings(q_or_codec, threads=threads).reshape(n, d)
        db_hat = np.ascontiguousarray(full[db_idx]) if len(db_idx) != n else full
        bpv = q_or_codec.nbytes / n
        precision = q_or_codec.precision
    else:
        codec = q_or_codec if isinstance(q_or_codec, Codec) else Codec(q_or_codec)
        if codec.needs_training and not codec.trained:
            codec.fit(db)
        qe = codec.encode(db, threads=threads)
        db_hat = codec.decode(qe, threads=threads)
        bpv = codec.bytes_per_vector(d)
        precision = codec.precision

    report = dict(_core.quality(db, db_hat))
    report.update(precision=precision, dim=d, bytes_per_vector=float(bpv), compression_ratio=4.0 * d / bpv)
    report.update(k=int(k), n_queries=int(len(qs)), recall_at_k=float("nan"))
    if len(qs):
        a, b, qq = (db, db_hat, qs) if metric == "ip" else (_normalise(db), _normalise(db_hat), _normalise(qs))
        report["recall_at_k"] = recall_at_k(_top_k(qq, a, k), _top_k(qq, b, k))
    return report


@dataclass
class Choice:
    """What :func:`choose` picked: ``precision`` and ``dim`` (dims kept; less than the input's for a
    Matryoshka truncation), a fitted ``codec``, and ``table``: every configuration measured,
    cheapest first, with the figures and whether it met the target."""

    precision: str
    dim: int
    codec: Codec
    bytes_per_vector: float
    table: list = field(repr=False)

    def format_table(self) -> str:
        head = f"{'precision':<10} {'dims':>5} {'bytes/vec':>9} {'ratio':>6} {'cosine':>9} {'recall@k':>8}  met"
        rows = [head] + [
            f"{r['precision']:<10} {r['dim']:>5} {r['bytes_per_vector']:>9.0f} {r['compression_ratio']:>6.1f} "
            f"{r['cosine_mean']:>9.5f} {r['recall_at_k']:>8.4f}  {'yes' if r['met'] else 'no'}"
            for r in self.table]
        return "\n".join(rows)

    def __str__(self) -> str:
        return f"chose {self.precision} at {self.dim} dims ({self.bytes_per_vector:.0f} bytes/vector)\n" \
               + self.format_table()


def choose(X, *, min_cosine: float | None = None, min_recall_at_10: float | None = None, queries=None,
           candidates=DEFAULT_CANDIDATES, matryoshka_dims=None, sample: int = 20000, metric: str = "ip",
           seed: int = 0) -> Choice:
    """The cheapest configuration (fewest bytes per vector) that meets the targets on your data.

    Measures every candidate precision on a sample of X (``sample`` rows, fixed seed; queries held
    out from it unless given) and returns the cheapest that meets ``min_cosine`` (mean cos(x, x̂))
    and/or ``min_recall_at_10`` (recall@10 against exact float32 search). For Matryoshka-trained
    models pass ``matryoshka_dims`` (e.g. [256, 128]): each candidate is also tried keeping only
    the first d' dimensions (the cosine then compares with the full vector, zero-padded; recall
    is still against full-dimension float32 search). Raises VectroError, with the measured
    table, when nothing meets the target. Product quantization is not among the default
    candidates (k-means training costs seconds); name it to try it, e.g. ``"pq-96x4"`` (48 bytes
    at d = 384); a pq candidate whose M does not divide a dimension is skipped there.

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(1).standard_normal((3000, 96)).astype(np.float32)
        >>> c = vectro.choose(X, min_cosine=0.999)
        >>> c.precision, c.dim
        ('int8', 96)
    """
    if min_cosine is None and min_recall_at_10 is None:
        raise ValueError("give a target: min_cosine and/or min_recall_at_10")
    x, _ = as_float32_rows(X)
    n, d = x.shape
    if n > sample:
        x = x[np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))]
        n = sample
    if queries is None:
        db_idx, q_idx = _split(n, seed)
        db, qs = np.ascontiguousarray(x[db_idx]), x[q_idx]
    else:
        db, qs = x, as_float32_rows(queries)[0]
    if min_recall_at_10 is not None and len(qs) == 0:
        raise ValueError("a recall target needs queries: pass queries= or at least 100 vectors")
    norm = (lambda a: _normalise(a)) if metric == "cosine" else (lambda a: a)
    exact = _top_k(norm(qs), norm(db), 10) if len(qs) else None

    dims = [d] + sorted({int(m) for m in (matryoshka_dims or []) if 0 < int(m) < d}, reverse=True)
    entries = []  # (figures, codec)
    for dd in dims:
        sub = np.ascontiguousarray(db[:, :dd])
        for cand in candidates:
            if isinstance(cand, str) and cand.startswith("pq-") and dd % int(cand[3:].split("x")[0] or 1):
                continue  # pq-MxB needs M to divide the (Matryoshka) dimension
            codec = Codec(cand, calibrated=False)
            if codec.needs_training:
                codec.fit(sub)
            qe = codec.encode(sub)
            rec = np.zeros_like(db)
            rec[:, :dd] = codec.decode(qe)
            row = dict(_core.quality(db, rec))
            bpv = codec.bytes_per_vector(dd)
            row.update(precision=codec.precision, dim=dd, bytes_per_vector=float(bpv),
                       compression_ratio=4.0 * d / bpv, recall_at_k=float("nan"))
            if exact is not None:
                row["recall_at_k"] = recall_at_k(exact, _top_k(norm(qs[:, :dd]), norm(rec[:, :dd]), 10))
            row["met"] = bool((min_cosine is None or row["cosine_mean"] >= min_cosine) and
                              (min_recall_at_10 is None or row["recall_at_k"] >= min_recall_at_10))
            entries.append((row, codec))
    entries.sort(key=lambda e: (e[0]["bytes_per_vector"], -e[0]["cosine_mean"]))
    table = [row for row, _ in entries]
    met = [e for e in entries if e[0]["met"]]
    if not met:
        choice = Choice("none", d, Codec("int8"), 0.0, table)
        raise _core.VectroError("no configuration meets the target; measured:\n" + choice.format_table())
    best, codec = met[0]
    if codec.needs_training:  # refit on the whole (sampled) set, not only the database part
        codec = Codec(best["precision"], calibrated=False).fit(np.ascontiguousarray(x[:, :best["dim"]]))
    return Choice(best["precision"], best["dim"], codec, best["bytes_per_vector"], table)
