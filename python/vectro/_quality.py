"""What compression costs: `evaluate` (reconstruction and search quality, one definition shared with
the C library) and `choose` (the cheapest configuration that meets a target on the user's data)."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import _core
from ._codec import CENTRABLE, Codec, QuantizedEmbeddings, as_float32_rows, reconstruct_embeddings
from ._index import Index
from ._mixed import MixedQuantizedEmbeddings

DEFAULT_CANDIDATES = ("binary", "rabitq-1", "rabitq-2", "uint4", "int4", "int4-g32", "rabitq-4", "uint8", "int8",
                      "rabitq-8", "bf16", "f16")
# Rescoring settings choose() plans over: none, k x F candidates rescored exactly, or (rabitq) the
# rows its error bound cannot rule out. Every one but "none" needs the float originals kept.
DEFAULT_RESCORING = ("none", 2, 4, 10, "bound")
_HELD_OUT_WARNING = ("no queries given: rows held out from X stand in for queries. Real queries "
                     "(short texts against passages, a 'query: ' prefix) usually score lower on "
                     "low-bit codes than documents do (e5: binary 0.21 vs 0.09); pass queries= "
                     "for a prediction that holds")
if TYPE_CHECKING:
    from numpy.typing import ArrayLike


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


def evaluate(X: ArrayLike, q_or_codec: str | Codec | QuantizedEmbeddings | MixedQuantizedEmbeddings = "int8",
             queries: ArrayLike | None = None, k: int = 10, *, metric: str = "ip", threads: int = 0,
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
        exact = _top_k(qq, a, k)
        report["recall_at_k"] = recall_at_k(exact, _top_k(qq, b, k))
        if not isinstance(q_or_codec, (QuantizedEmbeddings, MixedQuantizedEmbeddings)):
            rows = _search_figures(codec, db, qs, exact, k, metric, DEFAULT_RESCORING, threads)
            report["recall_codes"] = rows[0]["recall_at_k"]
            report["recall_rescored"] = {r["oversample"]: r["recall_at_k"] for r in rows[1:]}
            report["rows_read"] = {r["oversample"]: r["rows_read"] for r in rows[1:]}
    return report


def _search_figures(codec: Codec, db: np.ndarray, qs: np.ndarray, exact: np.ndarray, k: int, metric: str,
                    rescoring, threads: int = 0) -> list:
    """Recall@k of searching ``codec``'s codes of db as Index does: on the codes alone, then for
    each rescoring setting (k x F candidates, or "bound" for a codec whose search has error
    bounds), with the rows read from the originals and the query time (ms, median of 3 runs
    over all the queries) of each. codec must be fitted already."""
    out = []
    plain = Index(codec, metric=metric, keep_originals=False)
    plain.add(db, threads=threads)
    bounded = codec.name == "rabitq"
    full = None
    if any(r != "none" for r in rescoring):
        full = Index(codec, metric=metric, keep_originals=True)
        full.add(db, threads=threads)

    def timed(index, **kw):
        best, ids = float("inf"), None
        for _ in range(3):
            t = time.perf_counter()
            ids = index.search(qs, k, threads=threads, **kw)[0]
            best = min(best, time.perf_counter() - t)
        return ids.astype(np.int64), 1e3 * best / max(len(qs), 1)

    ids, ms = timed(plain)
    out.append(dict(oversample=None, rows_read=0.0, query_ms=ms, recall_at_k=recall_at_k(exact, ids)))
    for r in rescoring:
        if r == "none" or (r == "bound" and not bounded):
            continue
        ids, ms = timed(full, oversample=None if r == "bound" else float(r))
        read = full.last_stats["rescored"] / max(len(qs), 1)
        out.append(dict(oversample=r, rows_read=float(read), query_ms=ms, recall_at_k=recall_at_k(exact, ids)))
    return out


class PlannedIndex(Index):
    """The Index a :class:`Choice` describes: its codec (fitted), the first ``dim`` dimensions
    of what is added and searched (Matryoshka), originals kept where it rescores, and its
    rescoring as the default of :meth:`search`."""

    def __init__(self, choice: Choice) -> None:
        super().__init__(choice.codec, metric=choice.metric, keep_originals=choice.oversample is not None)
        self.plan_dim = choice.dim
        self.plan_oversample = None if choice.oversample in (None, "bound") else float(choice.oversample)

    def add(self, embeddings, ids=None, *, threads: int = 0) -> None:
        x, _ = as_float32_rows(embeddings)
        super().add(np.ascontiguousarray(x[:, :self.plan_dim]), ids, threads=threads)

    def search(self, queries, k: int = 10, *, oversample: float | None = -1.0, **kw):
        q, _ = as_float32_rows(queries)
        ov = self.plan_oversample if oversample == -1.0 else oversample
        return super().search(np.ascontiguousarray(q[:, :self.plan_dim]), k, oversample=ov, **kw)


@dataclass
class Choice:
    """What :func:`choose` picked, and everything it measured.

    ``precision``, ``center`` and ``dim`` (dims kept; below the input's for a Matryoshka
    truncation) name the codec, ``codec`` is it fitted, ``bytes_per_vector`` its size;
    ``oversample`` the rescoring (None: the codes alone; F: k x F candidates rescored against the
    float originals; "bound": the rows rabitq's error bound cannot rule out), ``rows_read`` the
    originals read per query by that rescoring, ``query_ms`` the measured time per query,
    ``recall_at_10`` the recall measured (the prediction for the built index), ``warning`` set
    when documents stood in for queries, and ``table`` every configuration measured, cheapest
    first. :meth:`index` builds the Index it describes.

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(0).standard_normal((1000, 32)).astype(np.float32)
        >>> c = vectro.choose(X, min_cosine=0.99, candidates=("int4", "int8"), rescoring=("none",))
        >>> c.precision, c.bytes_per_vector
        ('int4', 20.0)
    """

    precision: str
    dim: int
    codec: Codec
    bytes_per_vector: float
    table: list = field(repr=False)
    center: bool = False
    oversample: object = None
    rows_read: float = 0.0
    query_ms: float = float("nan")
    recall_at_10: float = float("nan")
    metric: str = "ip"
    warning: str | None = None

    def index(self, X: ArrayLike | None = None, ids: ArrayLike | None = None) -> PlannedIndex:
        """The Index this choice describes (search() rescoring as planned), with X added if given.

        Example:
            >>> import numpy as np, vectro
            >>> rng = np.random.default_rng(0)
            >>> X, Q = rng.standard_normal((2000, 32), np.float32), rng.standard_normal((50, 32), np.float32)
            >>> c = vectro.choose(X, min_recall_at_10=0.95, queries=Q, candidates=("binary", "int4"),
            ...                   rescoring=("none", 4), center=(False,))
            >>> c.precision, c.oversample                 # int4 codes, 4x candidates rescored
            ('int4', 4)
            >>> index = c.index(X)
            >>> index
            Index('int4', metric='ip', 2000 vectors, originals held)
            >>> index.search(Q[:1], k=3)[0]
            array([[ 739, 1477, 1324]], dtype=uint64)
            >>> np.argsort(-(Q[:1] @ X.T))[:, :3]         # the exact top 3, by float inner product
            array([[ 739, 1477, 1324]])
        """
        idx = PlannedIndex(self)
        if X is not None:
            idx.add(X, ids)
        return idx

    def format_table(self) -> str:
        """The measured candidates as a text table, one per line, with whether each met the target.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 32), np.float32)
            >>> c = vectro.choose(X, min_cosine=0.99, candidates=("int4", "int8"), rescoring=("none",))
            >>> print(c.format_table())
            precision  ctr  dims bytes/vec rescoring    rows    ms/q    cosine recall@10  met
            int4        no    32        20      none     0.0     nan   0.995...       nan  yes
            int4       yes    32        24      none     0.0     nan   0.995...       nan  yes
            int8        no    32        36      none     0.0     nan   0.999...       nan  yes
            int8       yes    32        40      none     0.0     nan   0.999...       nan  yes
        """
        head = (f"{'precision':<10} {'ctr':>3} {'dims':>5} {'bytes/vec':>9} {'rescoring':>9} {'rows':>7} "
                f"{'ms/q':>7} {'cosine':>9} {'recall@10':>9}  met")
        rows = [head] + [
            f"{r['precision']:<10} {'yes' if r['center'] else 'no':>3} {r['dim']:>5} {r['bytes_per_vector']:>9.0f} "
            f"{_rescoring_name(r['oversample']):>9} {r['rows_read']:>7.1f} {r['query_ms']:>7.3f} "
            f"{r['cosine_mean']:>9.5f} {r['recall_at_k']:>9.4f}  {'yes' if r['met'] else 'no'}"
            for r in self.table]
        return "\n".join(rows)

    def __str__(self) -> str:
        return (f"chose {self.precision}{' centred' if self.center else ''} at {self.dim} dims "
                f"({self.bytes_per_vector:.0f} bytes/vector), rescoring {_rescoring_name(self.oversample)}: "
                f"recall@10 {self.recall_at_10:.4f}, {self.rows_read:.0f} rows read, {self.query_ms:.3f} ms a query"
                + (f"\nwarning: {self.warning}" if self.warning else "") + "\n" + self.format_table())


def _rescoring_name(ov) -> str:
    return "none" if ov is None else ov if isinstance(ov, str) else f"{ov:g}x"


def choose(X: ArrayLike, *, min_cosine: float | None = None, min_recall_at_10: float | None = None,
           queries: ArrayLike | None = None, candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
           matryoshka_dims: list[int] | None = None, rescoring: tuple = DEFAULT_RESCORING,
           center: tuple[bool, ...] = (False, True),
           sample: int = 20000, metric: str = "ip", seed: int = 0) -> Choice:
    """The cheapest configuration that meets the targets on your data: codec x centring x
    Matryoshka dims x rescoring.

    Every candidate precision is fitted on a sample of X (``sample`` rows, fixed seed), with and
    without centring (``center``; codecs that take it), at each dimension (``matryoshka_dims``,
    e.g. [256, 128]: the first d' dimensions, recall still against full-dimension float32
    search), and its recall@10 is measured by searching its codes as :class:`Index` does: on the
    codes alone and with each ``rescoring`` setting ("none", an oversample factor F: k x F
    candidates rescored exactly, "bound": rabitq's error bound). Queries are ``queries`` when
    given, else a held-out tenth of X, with a warning: documents make easier queries than real
    short queries. The cheapest configuration meeting ``min_cosine`` (mean cos(x, x̂)) and/or
    ``min_recall_at_10`` wins: fewest bytes read per row searched (code plus the originals that
    rescoring reads, spread over the rows), then fewest bytes per vector, then the fastest.
    Rescoring needs the float originals kept (not counted in bytes per vector); pass
    ``rescoring=("none",)`` when they will not be kept. Raises VectroError, with the
    measured table, when nothing meets the target. pq is not a default candidate (k-means costs
    seconds); name it to try it ("pq-96x4"); a pq candidate whose M does not divide a dimension
    is skipped there.

    Example:
        >>> import numpy as np, vectro
        >>> X = np.random.default_rng(1).standard_normal((3000, 96)).astype(np.float32)
        >>> c = vectro.choose(X, min_cosine=0.999, rescoring=("none",))
        >>> c.precision, c.dim
        ('uint8-cal', 96)
    """
    if min_cosine is None and min_recall_at_10 is None:
        raise ValueError("give a target: min_cosine and/or min_recall_at_10")
    if metric not in ("ip", "cosine"):
        raise ValueError(f"metric must be 'ip' or 'cosine', got {metric!r}")
    for r in rescoring:
        if not (r in ("none", "bound") or (isinstance(r, (int, float)) and not isinstance(r, bool) and r >= 1)):
            raise ValueError(f"rescoring settings are 'none', 'bound' or a factor >= 1, got {r!r}")
    x, _ = as_float32_rows(X)
    n, d = x.shape
    if n > sample:
        x = x[np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))]
        n = sample
    warning = None
    if queries is None:
        db_idx, q_idx = _split(n, seed)
        db, qs = np.ascontiguousarray(x[db_idx]), x[q_idx]
        if min_recall_at_10 is not None and len(qs):
            warning = _HELD_OUT_WARNING
            warnings.warn("choose: " + warning, stacklevel=2)
    else:
        db, qs = x, as_float32_rows(queries)[0]
    if min_recall_at_10 is not None and len(qs) == 0:
        raise ValueError("a recall target needs queries: pass queries= or at least 100 vectors")
    norm = (lambda a: _normalise(a)) if metric == "cosine" else (lambda a: a)
    exact = _top_k(norm(qs), norm(db), 10) if len(qs) else None
    plan = rescoring if min_recall_at_10 is not None else ("none",)

    dims = [d] + sorted({int(m) for m in (matryoshka_dims or []) if 0 < int(m) < d}, reverse=True)
    entries = []  # (figures, precision, center)
    for dd in dims:
        sub = np.ascontiguousarray(db[:, :dd])
        for cand in candidates:
            if isinstance(cand, str) and cand.startswith("pq-") and dd % int(cand[3:].split("x")[0] or 1):
                continue  # pq-MxB needs M to divide the (Matryoshka) dimension
            name = Codec(cand, calibrated=False).name
            for ctr in dict.fromkeys(bool(c) for c in center):
                if ctr and name not in CENTRABLE:
                    continue
                codec = Codec(cand, calibrated=False, center=ctr or None)
                if codec.needs_training:
                    codec.fit(sub)
                rec = np.zeros_like(db)
                rec[:, :dd] = codec.decode(codec.encode(sub))
                base = dict(_core.quality(db, rec))
                bpv = codec.bytes_per_vector(dd)
                base.update(precision=codec.precision, center=ctr, dim=dd, bytes_per_vector=float(bpv),
                            compression_ratio=4.0 * d / bpv)
                figures = ([dict(oversample=None, rows_read=0.0, query_ms=float("nan"), recall_at_k=float("nan"))]
                           if exact is None or min_recall_at_10 is None else
                           _search_figures(codec, sub, np.ascontiguousarray(qs[:, :dd]), exact, 10, metric, plan))
                for f in figures:
                    if f["oversample"] is None and "none" not in plan:
                        continue
                    row = dict(base, **f)
                    row["met"] = bool((min_cosine is None or row["cosine_mean"] >= min_cosine) and
                                      (min_recall_at_10 is None or row["recall_at_k"] >= min_recall_at_10))
                    entries.append(row)
    # Cost: bytes read per row searched, the code plus the originals (4 bytes a dimension) that
    # rescoring reads, spread over the rows: a bound that reads 97% of the originals costs more
    # than f16, 10x oversample of 10 on 3000 rows adds 17 bytes at d = 384.
    for r in entries:
        r["cost"] = r["bytes_per_vector"] + r["rows_read"] * 4.0 * r["dim"] / max(len(db), 1)
    # at equal cost the faster, then the uncentred (no training, and binary stays packbits(x > 0))
    entries.sort(key=lambda r: (r["cost"], r["bytes_per_vector"],
                                r["query_ms"] if r["query_ms"] == r["query_ms"] else 0.0, r["center"],
                                -r["cosine_mean"]))
    met = [r for r in entries if r["met"]]
    if not met:
        choice = Choice("none", d, Codec("int8"), 0.0, entries)
        raise _core.VectroError("no configuration meets the target; measured:\n" + choice.format_table())
    best = met[0]
    # refit on the whole (sampled) set, not only the database part
    codec = Codec(best["precision"], calibrated=False, center=best["center"] or None)
    if codec.needs_training:
        codec.fit(np.ascontiguousarray(x[:, :best["dim"]]))
    return Choice(best["precision"], best["dim"], codec, best["bytes_per_vector"], entries, center=best["center"],
                  oversample=best["oversample"], rows_read=best["rows_read"], query_ms=best["query_ms"],
                  recall_at_10=best["recall_at_k"], metric=metric, warning=warning)
