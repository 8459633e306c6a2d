"""PostgreSQL + pgvector: Vectro codes in a table (halfvec for f16, bit for binary, vector or halfvec
for reconstructions), loaded by binary COPY in one transaction, indexed (HNSW / IVFFlat), and
searched in SQL, in one or two stages (codes, then exact rescoring in the database or locally).

Needs ``pip install 'vectro[pgvector]'`` (psycopg 3) and a server with the ``vector`` extension
(0.7 or later for halfvec and bit; tested with 0.8.0 on PostgreSQL 15).

The examples need a running server with the extension (``CREATE EXTENSION vector``) at ``dsn``;
the docs test starts a throwaway one (scripts/setup_pgvector.sh installs it) and skips them,
saying why, where it cannot. See docs/integrations.md.

Example:
    >>> import numpy as np, psycopg, vectro
    >>> from vectro.integrations import pgvector
    >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
    >>> X = np.random.default_rng(0).standard_normal((1000, 64), np.float32)
    >>> store = pgvector.Store(conn, "docs", metric="ip")
    >>> store.upload(vectro.quantize_embeddings(X, "binary"), originals=X).detail
    {'embedding': 'bit(64)', 'original': 'vector'}
    >>> _ = store.create_index("hnsw")
    >>> ids, scores = store.search(X[:2], k=3)    # Hamming candidates, rescored in SQL
    >>> ids[:, 0]
    array([0, 1], dtype=uint64)
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    MAX_INT64,
    Originals,
    Plan,
    Source,
    UploadReport,
    as_queries,
    candidates_for,
    centred_codes_error,
    check_metric,
    check_vectors,
    default_oversample,
    finish,
    lazy_import,
    pad,
    precision_of,
)

if TYPE_CHECKING:
    import psycopg
    from numpy.typing import ArrayLike

    from ._common import PrecisionLike, UploadData

EXTRA = "pgvector"
# pgvector's limits: columns of vector/halfvec hold 16,000 dimensions; HNSW and IVFFlat index
# vector up to 2,000, halfvec up to 4,000 and bit up to 64,000.
MAX_DIM = {"vector": 16000, "halfvec": 16000, "bit": 83886080}
MAX_INDEX_DIM = {"vector": 2000, "halfvec": 4000, "bit": 64000}
DIST_OP = {"ip": "<#>", "cosine": "<=>", "l2": "<->"}
OPCLASS = {"ip": "ip_ops", "cosine": "cosine_ops", "l2": "l2_ops"}
TYPE_OF = {"float32": "vector", "float16": "halfvec"}
MAX_EF_SEARCH = 1000  # hnsw.ef_search's upper bound; an HNSW scan returns at most ef_search rows
COPY_BYTES = 8 << 20  # rows per COPY write: about this many bytes


def _psycopg():
    return lazy_import("psycopg", EXTRA)


def column_type(precision: str, vectors: str, centred: bool = False) -> tuple[str, str]:
    """(pgvector type, what it holds: "codes" or "float32"/"float16" reconstructions) for codes of
    ``precision`` asked to be stored as ``vectors`` (``centred``: of a codec with center=True, which
    no pgvector type holds as codes). Raises ValueError for codes pgvector has no type for.

    Example:
        >>> from vectro.integrations import pgvector
        >>> pgvector.column_type("f16", "auto"), pgvector.column_type("binary", "auto")
        (('halfvec', 'codes'), ('bit', 'codes'))
        >>> pgvector.column_type("int8", "auto")      # no 8-bit type: float32 reconstructions
        ('vector', 'float32')
    """
    check_vectors(vectors)
    if precision == "float32":  # unquantized floats
        return ("halfvec", "float16") if vectors == "float16" else ("vector", "float32")
    native = None if centred else {"f16": "halfvec", "binary": "bit"}.get(precision)
    if vectors == "codes":
        if centred:
            raise centred_codes_error(precision, "pgvector")
        if native is None:
            raise ValueError(f"pgvector cannot hold {precision} codes: its types are vector (float32), halfvec "
                             f"(float16) and bit (1 bit a dimension); store reconstructions with "
                             f"vectors='float16' (halfvec) or 'float32' (vector), or quantize to 'f16' or 'binary'")
        return native, "codes"
    if vectors == "auto":
        return (native, "codes") if native else ("vector", "float32")
    if vectors == "float16" and precision == "f16":
        return "halfvec", "codes"
    return TYPE_OF[vectors], vectors


def quantization_config(choice: PrecisionLike, *, metric: str = "ip", oversample: float | None = None) -> Plan:
    """What a pgvector table should hold for a vectro precision (a vectro.Choice, Codec or name):
    binary codes go to a ``bit`` column (Hamming HNSW, rescored by a float column: pgvector's own
    binary-quantization recipe with Vectro's codes), f16 to ``halfvec``; pgvector has no 8- or
    4-bit type, so int8/int4/uint8/pq/rabitq become halfvec reconstructions (2 bytes a
    dimension) with no rescoring needed. ``native`` is the column type and the CREATE INDEX SQL.

    Example:
        >>> from vectro.integrations import pgvector
        >>> plan = pgvector.quantization_config("int8", metric="cosine")
        >>> plan.precision, plan.vectors, plan.native["create_index"]
        ('f16', 'float16', 'CREATE INDEX ON <table> USING hnsw (embedding halfvec_cosine_ops)')
    """
    check_metric(metric)
    p = precision_of(choice)
    if p == "binary":
        ctype, vectors = "bit", "codes"
        os_ = oversample or default_oversample(p)
    elif p == "f16":
        ctype, vectors, os_ = "halfvec", "codes", oversample
    else:
        ctype, vectors, os_ = "halfvec", "float16", oversample
    ops = "bit_hamming_ops" if ctype == "bit" else f"{ctype}_{OPCLASS[metric]}"
    native = {"column_type": ctype, "opclass": ops,
              "create_index": f"CREATE INDEX ON <table> USING hnsw (embedding {ops})",
              "rescore_column": "vector" if ctype == "bit" else None}
    note = ("pgvector keeps bit codes and searches them by Hamming distance; keep the float originals "
            "(upload originals=...) or a .vqz of them for rescoring" if ctype == "bit" else
            "pgvector has no 8/4-bit type: halfvec holds the reconstructions" if vectors == "float16" else
            "halfvec holds f16 codes bit for bit")
    return Plan(precision=p if p in ("binary", "f16") else "f16", vectors=vectors, oversample=os_,
                native=native, note=note)


# ---- binary COPY -------------------------------------------------------------------------------
# PostgreSQL's binary COPY: a header, then per row an int16 field count and per field an int32
# length and the type's binary "recv" form, big-endian; vector/halfvec are int16 dim, int16 0,
# then float4/float2 values; bit is int32 bit length then the bytes, first bit the high bit
# (numpy.packbits order, which vectro's binary codes use).
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)


def _rows_bytes(ids: np.ndarray, fields: list[tuple[str, np.ndarray, int]], var: list[list]) -> bytes:
    """COPY rows: ids (int64), fixed-width fields [(type, values, dim)], then variable-width
    fields (lists of bytes or None per row)."""
    n = len(ids)
    parts = [np.full((n, 2), 0, np.uint8)]
    parts[0][:] = np.frombuffer(struct.pack(">h", 1 + len(fields) + len(var)), np.uint8)
    idf = np.empty(n, dtype=[("len", ">i4"), ("v", ">i8")])
    idf["len"], idf["v"] = 8, ids.astype(np.int64)
    parts.append(idf.view(np.uint8).reshape(n, 12))
    for ctype, vals, dim in fields:
        if ctype == "bit":
            body = np.ascontiguousarray(vals, np.uint8)
            hd = np.empty(n, dtype=[("len", ">i4"), ("bits", ">i4")])
            hd["len"], hd["bits"] = 4 + body.shape[1], dim
            parts += [hd.view(np.uint8).reshape(n, 8), body]
        elif ctype in ("vector", "halfvec"):
            t = ">f4" if ctype == "vector" else ">u2"
            size = 4 if ctype == "vector" else 2
            hd = np.empty(n, dtype=[("len", ">i4"), ("dim", ">i2"), ("unused", ">i2")])
            hd["len"], hd["dim"], hd["unused"] = 4 + size * dim, dim, 0
            if ctype == "vector":
                body = np.ascontiguousarray(vals, np.float32).astype(t)
            else:
                body = np.ascontiguousarray(vals, np.float16).view(np.uint16).astype(t)
            parts += [hd.view(np.uint8).reshape(n, 8), body.view(np.uint8).reshape(n, -1)]
        else:  # fixed-width scalars: bigint, double precision, boolean
            t, size = {"bigint": (">i8", 8), "double precision": (">f8", 8), "boolean": ("u1", 1)}[ctype]
            f = np.empty(n, dtype=[("len", ">i4"), ("v", t)])
            f["len"], f["v"] = size, vals
            parts.append(f.view(np.uint8).reshape(n, 4 + size))
    fixed = np.concatenate(parts, axis=1)
    if not var:
        return fixed.tobytes()
    out = []
    null = struct.pack(">i", -1)
    for i in range(n):
        out.append(fixed[i].tobytes())
        for col in var:
            v = col[i]
            out.append(null if v is None else struct.pack(">i", len(v)) + v)
    return b"".join(out)


def _payload_columns(payload: dict) -> list[tuple[str, str, object]]:
    """[(name, SQL type, values)]: bigint / double precision / boolean for numbers without NULLs
    (values as a NumPy array), text or jsonb (values as encoded bytes or None) for the rest."""
    cols = []
    for name, vals in payload.items():
        kinds = {type(v) for v in vals}
        if vals and kinds <= {bool, np.bool_}:
            cols.append((name, "boolean", np.asarray(vals, np.uint8)))
        elif vals and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in vals):
            a = np.asarray([int(v) for v in vals], dtype=object)
            if a.min() < -MAX_INT64 - 1 or a.max() > MAX_INT64:
                raise ValueError(f"payload {name!r} holds integers beyond bigint")
            cols.append((name, "bigint", a.astype(np.int64)))
        elif vals and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                          for v in vals):
            cols.append((name, "double precision", np.asarray(vals, np.float64)))
        elif all(v is None or isinstance(v, str) for v in vals):
            cols.append((name, "text", [None if v is None else v.encode() for v in vals]))
        else:
            try:  # jsonb's binary form: a version byte (1), then the JSON text
                enc = [None if v is None else b"\x01" + json.dumps(v).encode() for v in vals]
            except TypeError as e:
                raise TypeError(f"payload {name!r}: values must be numbers, strings or JSON-able ({e})") from None
            cols.append((name, "jsonb", enc))
    return cols


class PgVectorStore:
    """A pgvector table of Vectro codes: ``id bigint PRIMARY KEY``, ``embedding`` (halfvec / bit /
    vector of dimension d), optional ``original`` (vector or halfvec: float originals for exact
    rescoring in the database) and payload columns. The table's comment records what it holds
    (precision, types, metric), so a later session searches it the right way.

    ``conn`` is a psycopg 3 connection; every write runs in one transaction (``conn.transaction()``),
    so a failed upload leaves the table as it was (or absent). Reads run in ``conn.transaction()``
    too, so on a connection without autocommit none leaves a transaction open that would turn the
    next upload into a savepoint the caller never commits.

    Example:
        >>> import numpy as np, psycopg, vectro
        >>> from vectro.integrations import pgvector
        >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
        >>> store = pgvector.Store(conn, "docs", metric="cosine")
        >>> store.meta() is None                      # no table yet: upload creates it
        True
    """

    def __init__(self, conn: psycopg.Connection, table: str, *, metric: str | None = None,
                 schema: str | None = None) -> None:
        psycopg = _psycopg()
        if not isinstance(conn, psycopg.Connection):
            raise TypeError(f"conn must be a psycopg 3 Connection, got {type(conn).__name__}")
        if not isinstance(table, str) or not table:
            raise ValueError(f"table must be a non-empty name, got {table!r}")
        self.conn, self.table, self.schema = conn, table, schema
        self._sql = psycopg.sql
        self._ident = psycopg.sql.Identifier(*([schema] if schema else []), table)
        meta = self.meta()
        if metric is None:
            metric = meta["metric"] if meta else "ip"
        self.metric = check_metric(metric)
        if meta and meta["metric"] != self.metric:
            raise ValueError(f"table {table!r} was made for metric {meta['metric']!r}, not {metric!r}")

    # ---- what is there ----
    @property
    def qualified(self) -> str:
        """The table's schema-qualified, quoted name as SQL text.

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> pgvector.Store(conn, "docs", schema="public").qualified
            '"public"."docs"'
        """
        return self._ident.as_string(self.conn)

    def meta(self) -> dict | None:
        """What the table holds (from its comment): precision, embedding / original column types,
        dim, metric; None when the table does not exist. Raises ValueError for a table of the same
        name that Vectro did not make.

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> store.meta()
            {'vectro': 1, 'precision': 'binary', 'embedding': 'bit', 'held': 'codes', 'original': 'vector',
             'dim': 16, 'metric': 'cosine', 'payload': {}}
        """
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL, obj_description(to_regclass(%s), 'pg_class')",
                        (self.qualified, self.qualified))
            exists, comment = cur.fetchone()
        if not exists:
            return None
        try:
            meta = json.loads(comment or "")
            if not isinstance(meta, dict) or meta.get("vectro") != 1:
                raise ValueError
        except ValueError:
            raise ValueError(f"table {self.qualified} exists but was not made by vectro (no vectro comment); "
                             "choose another name") from None
        return meta

    def columns(self) -> dict:
        """column name -> SQL type (with dimension, e.g. 'halfvec(384)').

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> store.columns()
            {'id': 'bigint', 'embedding': 'bit(16)', 'original': 'vector(16)'}
        """
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                        (self.qualified,))
            return dict(cur.fetchall())

    def indexed(self, column: str = "embedding") -> bool:
        """Whether an index (other than the primary key) covers ``column``.

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> store.indexed()
            False
            >>> _ = store.create_index("hnsw"); store.indexed(), store.indexed("original")
            (True, False)
        """
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND a.attname = %s "
                        "AND NOT i.indisprimary)", (self.qualified, column))
            return bool(cur.fetchone()[0])

    def count(self) -> int:
        """The number of rows in the table.

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> store.count()
            100
        """
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(self._sql.SQL("SELECT count(*) FROM {}").format(self._ident))
            return int(cur.fetchone()[0])

    def storage_bytes(self) -> dict:
        """Bytes on disk: ``table`` (heap and TOAST), ``indexes``, ``total``
        (pg_total_relation_size).

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> sizes = store.storage_bytes()
            >>> sorted(sizes), sizes["total"] >= sizes["table"] > 0
            (['indexes', 'table', 'total'], True)
        """
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT pg_table_size(to_regclass(%s)), pg_indexes_size(to_regclass(%s)), "
                        "pg_total_relation_size(to_regclass(%s))", (self.qualified,) * 3)
            t, i, tot = cur.fetchone()
        return {"table": int(t), "indexes": int(i), "total": int(tot)}

    def drop(self) -> None:
        """Drops the table (and its indexes) if it exists.

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> store.drop(); store.meta() is None
            True
        """
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(self._sql.SQL("DROP TABLE IF EXISTS {}").format(self._ident))

    # ---- SQL a user can read ----
    def sql_create_table(self, dim: int, embedding: str, original: str | None = None,
                         payload_types: dict | None = None) -> str:
        """The CREATE TABLE statement ``upload`` runs for this layout, to read or run yourself.

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> print(pgvector.Store(conn, "docs").sql_create_table(384, "halfvec", "vector", {"lang": "text"}))
            CREATE TABLE "docs" (
              id bigint PRIMARY KEY,
              embedding halfvec(384) NOT NULL,
              original vector(384),
              "lang" text
            )
        """
        cols = ["id bigint PRIMARY KEY", f"embedding {embedding}({dim}) NOT NULL"]
        if original:
            cols.append(f"original {original}({dim})")
        for name, t in (payload_types or {}).items():
            cols.append(f"{self._sql.Identifier(name).as_string(self.conn)} {t}")
        return f"CREATE TABLE {self.qualified} (\n  " + ",\n  ".join(cols) + "\n)"

    def sql_create_index(self, method: str = "hnsw", *, column: str = "embedding", m: int = 16,
                         ef_construction: int = 64, lists: int = 100) -> str:
        """CREATE INDEX for the column's type and the table's metric (bit: Hamming).

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> print(store.sql_create_index("hnsw", m=32))
            CREATE INDEX IF NOT EXISTS "docs_embedding_hnsw_idx" ON "docs"
            USING hnsw (embedding bit_hamming_ops) WITH (m = 32, ef_construction = 64)
            >>> print(store.sql_create_index("ivfflat", column="original", lists=10))
            CREATE INDEX IF NOT EXISTS "docs_original_ivfflat_idx" ON "docs"
            USING ivfflat (original vector_cosine_ops) WITH (lists = 10)
        """
        meta = self._need_meta()
        ctype = meta["embedding"] if column == "embedding" else meta.get("original")
        if ctype is None:
            raise ValueError(f"the table has no {column!r} column")
        if method not in ("hnsw", "ivfflat"):
            raise ValueError(f"method must be 'hnsw' or 'ivfflat', got {method!r}")
        if meta["dim"] > MAX_INDEX_DIM[ctype]:
            raise ValueError(f"pgvector indexes {ctype} of at most {MAX_INDEX_DIM[ctype]} dimensions, the "
                             f"table has {meta['dim']} (binary codes in a bit column index up to 64,000)")
        ops = "bit_hamming_ops" if ctype == "bit" else f"{ctype}_{OPCLASS[self.metric]}"
        with_ = (f"m = {int(m)}, ef_construction = {int(ef_construction)}" if method == "hnsw"
                 else f"lists = {int(lists)}")
        name = self._sql.Identifier(f"{self.table}_{column}_{method}_idx").as_string(self.conn)
        return f"CREATE INDEX IF NOT EXISTS {name} ON {self.qualified} USING {method} ({column} {ops}) WITH ({with_})"

    def sql_search(self, *, rescore: bool | None = None) -> str:
        """The SELECT that :meth:`search` runs for one query, with placeholders %(q)s (the query
        as a pgvector text literal '[x1,x2,...]'), %(k)s and, in two stages, %(c)s (candidates).
        It returns (id, distance) with pgvector's distance: ``<#>`` negative inner product,
        ``<=>`` cosine distance, ``<->`` L2 distance, ``<~>`` Hamming distance.

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> print(store.sql_search())     # Hamming candidates, then exact cosine on the originals
            SELECT id, original <=> %(q)s::vector AS distance
            FROM (
              SELECT id, original FROM "docs"
              ORDER BY embedding <~> binary_quantize(%(q)s::vector)
              LIMIT %(c)s
            ) AS candidates
            ORDER BY original <=> %(q)s::vector, id
            LIMIT %(k)s
        """
        meta = self._need_meta()
        if rescore is None:
            rescore = meta.get("original") is not None
        emb = meta["embedding"]
        op1 = "<~>" if emb == "bit" else DIST_OP[self.metric]
        q1 = "binary_quantize(%(q)s::vector)" if emb == "bit" else f"%(q)s::{emb}"
        if not rescore:
            # ties go to the lower id in an exact scan; an index orders by distance alone (a second
            # sort key would turn the index scan into a full scan and sort)
            tie = "" if self.indexed() else ", id"
            return (f"SELECT id, embedding {op1} {q1} AS distance\nFROM {self.qualified}\n"
                    f"ORDER BY embedding {op1} {q1}{tie}\nLIMIT %(k)s")
        orig = meta.get("original")
        if orig is None:
            raise ValueError("rescoring in the database needs an 'original' column: upload with originals=..., "
                             "or rescore locally with rescore=Originals(...)")
        # rescoring reads no index: halfvec originals are widened so the query keeps float32 precision
        d2 = f"original {DIST_OP[self.metric]} %(q)s::vector"
        if orig == "halfvec":
            d2 = "original::vector" + d2[len("original"):]
        return (f"SELECT id, {d2} AS distance\nFROM (\n"
                f"  SELECT id, original FROM {self.qualified}\n  ORDER BY embedding {op1} {q1}\n  LIMIT %(c)s\n"
                f") AS candidates\nORDER BY {d2}, id\nLIMIT %(k)s")

    # ---- writing ----
    def _need_meta(self) -> dict:
        meta = self.meta()
        if meta is None:
            raise ValueError(f"table {self.qualified} does not exist: upload first")
        return meta

    def upload(self, data: UploadData, ids: ArrayLike | None = None, *, payload: dict | None = None,
               precision: str | None = None, vectors: str = "auto", originals: ArrayLike | None = None,
               original_type: str = "vector",
               index: str | None = None) -> UploadReport:
        """Writes codes to the table (created when absent) with binary COPY, in one transaction.

        ``data``: a .vqz path, VqzReader, QuantizedEmbeddings or float embeddings (quantized with
        ``precision``, default "f16"). ``ids``: uint64 < 2**63 (bigint), default the file's ids or
        0..n-1. ``payload``: {column: values} (numbers -> bigint/double precision/boolean, strings
        -> text, other JSON -> jsonb). ``vectors``: "auto" (codes where pgvector has a type: f16 ->
        halfvec, binary -> bit; else float32 reconstructions), "codes", "float32" (vector) or
        "float16" (halfvec). ``originals``: float (n, d) rows stored in an ``original`` column of
        ``original_type`` ("vector" or "halfvec") for exact rescoring in SQL. ``index``: "hnsw" or
        "ivfflat" to build an index on ``embedding`` after the load.

        Everything is checked before the first byte is sent (dimension and types of an existing
        table, ids, payload); any failure rolls the whole upload back.

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs")
            >>> store.upload(X, precision="f16", payload={"lang": ["en"] * 50 + ["de"] * 50}, index="hnsw")
            UploadReport(name='docs', count=100, dim=16, precision='f16', vectors='codes',
                         detail={'embedding': 'halfvec(16)', 'original': None})
            >>> store.columns()
            {'id': 'bigint', 'embedding': 'halfvec(16)', 'lang': 'text'}
        """
        src = Source(data, ids, payload, precision=precision, max_id=MAX_INT64)
        ctype, held = column_type(src.precision, vectors, src.centred)
        if src.dim > MAX_DIM[ctype]:
            raise ValueError(f"pgvector's {ctype} holds at most {MAX_DIM[ctype]} dimensions, got {src.dim}")
        if index is not None and index not in ("hnsw", "ivfflat"):
            raise ValueError(f"index must be None, 'hnsw' or 'ivfflat', got {index!r}")
        orig = None
        if originals is not None:
            if original_type not in ("vector", "halfvec"):
                raise ValueError(f"original_type must be 'vector' or 'halfvec', got {original_type!r}")
            if isinstance(originals, Originals):
                if not np.array_equal(originals.ids, src.ids):
                    raise ValueError("originals hold other ids (or another order) than the upload")
                originals = originals.x
            orig = np.asarray(originals)
            if orig.dtype.kind != "f" or orig.shape != (src.n, src.dim):
                raise ValueError(f"originals must be float ({src.n}, {src.dim}), got {orig.dtype} {orig.shape}")
            if not np.isfinite(orig).all():
                raise ValueError("originals hold NaN or Inf")
            if original_type == "halfvec" and np.abs(orig).max(initial=0) > 65504:
                raise ValueError("originals hold values beyond float16's range: original_type='vector'")
        pcols = _payload_columns(src.payload)
        want = {"precision": src.precision, "embedding": ctype, "held": held,
                "original": original_type if orig is not None else None, "dim": src.dim, "metric": self.metric,
                "payload": {name: t for name, t, _ in pcols}}
        psycopg = _psycopg()
        with self.conn.transaction(), self.conn.cursor() as cur:
            meta = self.meta()
            if meta is None:
                cur.execute(self.sql_create_table(src.dim, ctype, want["original"], want["payload"]))
                cur.execute(self._sql.SQL("COMMENT ON TABLE {} IS {}").format(
                    self._ident, self._sql.Literal(json.dumps({"vectro": 1, **want}))))
            else:
                self._check_compatible(meta, want)
            fields = [("embedding", ctype)] + ([("original", want["original"])] if orig is not None else [])
            # COPY's column order: fixed-width payload columns after the vectors, variable ones last
            names = (["id"] + [f for f, _ in fields] + [n for n, t, _ in pcols if t not in ("text", "jsonb")]
                     + [n for n, t, _ in pcols if t in ("text", "jsonb")])
            copy_sql = self._sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                self._ident, self._sql.SQL(", ").join(self._sql.Identifier(c) for c in names))
            row_bytes = 40 + src.dim * (4 + (4 if orig is not None else 0))
            rows = max(1, COPY_BYTES // row_bytes)
            try:
                with cur.copy(copy_sql) as cp:
                    cp.write(_HEADER)
                    for a, q in src.chunks(rows):
                        b = a + len(q)
                        if held == "codes":
                            emb = q.codes
                        else:
                            x = src.floats(q)
                            emb = x.astype(np.float16) if ctype == "halfvec" else x
                        fixed = [(ctype, emb, src.dim)]
                        if orig is not None:
                            o = orig[a:b]
                            fixed.append((want["original"], o.astype(np.float16 if want["original"] == "halfvec"
                                                                      else np.float32), src.dim))
                        var = []
                        for _, t, vals in pcols:
                            if t in ("text", "jsonb"):
                                var.append(vals[a:b])
                            else:
                                fixed.append((t, vals[a:b], 0))
                        cp.write(_rows_bytes(src.ids[a:b], fixed, var))
                    cp.write(_TRAILER)
            except psycopg.errors.UniqueViolation as e:
                raise ValueError(f"ids already in table {self.qualified} ({e.diag.message_detail}); nothing was "
                                 "written (the upload was rolled back)") from e
            if index is not None:
                cur.execute(self.sql_create_index(index))
        return UploadReport(self.table, src.n, src.dim, src.precision, held,
                            {"embedding": f"{ctype}({src.dim})", "original": want["original"]})

    def _check_compatible(self, meta: dict, want: dict) -> None:
        for key, what in (("dim", "dimension"), ("precision", "precision"), ("embedding", "embedding type"),
                          ("held", "stored vectors")):
            if meta.get(key) != want[key]:
                raise ValueError(f"table {self.qualified} holds {what} {meta.get(key)!r}, this upload "
                                 f"{want[key]!r}; nothing was written")
        if meta.get("original") and want["original"] is None:
            raise ValueError(f"table {self.qualified} keeps originals for rescoring: pass originals=...")
        if want["original"] and meta.get("original") != want["original"]:
            raise ValueError(f"table {self.qualified} has original column {meta.get('original')!r}, this upload "
                             f"{want['original']!r}")
        have = meta.get("payload") or {}
        if set(have) != set(want["payload"]):
            raise ValueError(f"table {self.qualified} has payload columns {sorted(have)}, this upload "
                             f"{sorted(want['payload'])}")
        for name, t in want["payload"].items():
            if have[name] != t:
                raise ValueError(f"payload {name!r} is {have[name]} in the table, {t} in this upload")

    def create_index(self, method: str = "hnsw", **params: int | str) -> str:
        """Builds an index on ``embedding`` (or ``column="original"``); returns the SQL it ran.
        ``params``: those of :meth:`sql_create_index` (``m``, ``ef_construction``, ``lists``).

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> store.create_index("hnsw", m=8)
            'CREATE INDEX IF NOT EXISTS "docs_embedding_hnsw_idx" ON "docs"
             USING hnsw (embedding bit_hamming_ops) WITH (m = 8, ef_construction = 64)'
        """
        sql = self.sql_create_index(method, **params)
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql)
        return sql

    # ---- searching ----
    def search(self, queries: ArrayLike, k: int = 10, *, oversample: float | None = None,
               rescore: str | Originals | None = "auto",
               ef_search: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top k per query: (ids uint64 (nq, k), scores float32 (nq, k)), best first; empty slots
        hold vectro.NO_ID and NaN. Scores as vectro.Index gives them: inner product or cosine
        (higher is better), squared L2 (lower is better); for a bit column searched without
        rescoring, ``d - 2 * hamming`` (the inner product of the ±1 sign vectors).

        ``rescore``: "auto" (in the database when the table has originals, else none),
        "database", None (codes only), or an :class:`Originals` to rescore locally. Rescoring takes
        k x ``oversample`` candidates from the codes (default by precision: binary 10, f16/int8 2).
        ``ef_search`` sets hnsw.ef_search (raised to the candidate count, at most 1000).

        Example:
            >>> import numpy as np, psycopg, vectro
            >>> from vectro.integrations import pgvector
            >>> conn = psycopg.connect(dsn, autocommit=True)   # dsn: your server, "postgresql://host/db"
            >>> X = np.random.default_rng(0).standard_normal((100, 16), np.float32)
            >>> store = pgvector.Store(conn, "docs", metric="cosine")
            >>> _ = store.upload(vectro.quantize_embeddings(X, "binary"), originals=X)
            >>> ids, scores = store.search(X[:2], k=3)       # rescored in SQL against the originals
            >>> ids, scores.round(2)
            (array([[ 0, 85, 97],
                   [ 1, 22, 37]], dtype=uint64), array([[1.  , 0.59, 0.52],
                   [1.  , 0.72, 0.42]], dtype=float32))
            >>> ids, scores = store.search(X[:2], k=3, rescore=pgvector.Originals(X))   # locally
            >>> ids[:, 0]
            array([0, 1], dtype=uint64)
        """
        meta = self._need_meta()
        q, single = as_queries(queries, meta["dim"])
        if isinstance(rescore, str) and rescore == "auto":
            rescore = "database" if meta.get("original") else None
        local = isinstance(rescore, Originals)
        if not (rescore is None or local or rescore == "database"):
            raise ValueError(f"rescore must be 'auto', 'database', None or an Originals, got {rescore!r}")
        if local and rescore.dim != meta["dim"]:
            raise ValueError(f"originals have dimension {rescore.dim}, the table {meta['dim']}")
        two = rescore is not None
        c = candidates_for(k, (oversample or default_oversample(meta["precision"])) if two else None)
        sql = self.sql_search(rescore=rescore == "database")
        first = (rescore is None or local)
        kk = c if local else k
        conv = self._to_score(meta, "embedding" if first else "original")
        results = []
        with self.conn.transaction():
            with self.conn.cursor() as cur:
                ef = min(MAX_EF_SEARCH, max(ef_search or 40, c))
                cur.execute("SELECT set_config('hnsw.ef_search', %s, true), set_config('ivfflat.probes', %s, true)",
                            (str(ef), str(10)))
            # pipeline mode: every query is sent before the first answer is read (one round trip's
            # wait for the batch); queries travel in pgvector's binary form, not as text
            dumper = _vector_dumper(self.conn)
            with self.conn.pipeline():
                curs = []
                for row in q:
                    cur = self.conn.cursor()
                    cur.adapters.register_dumper(_Query, dumper)
                    cur.execute(sql, {"q": _Query(row), "k": kk, "c": c}, prepare=True)
                    curs.append(cur)
                for cur in curs:
                    results.append([(int(i), conv(dist)) for i, dist in cur.fetchall()])
                    cur.close()
        ids, scores = pad(results, kk)
        if local:
            ids, scores = rescore.rescore(q, ids, k, self.metric)
        else:
            ids, scores = finish(ids, scores, self.metric if not (first and meta["embedding"] == "bit") else "ip", k)
        return (ids[0], scores[0]) if single else (ids, scores)

    def _to_score(self, meta: dict, column: str):
        ctype = meta["embedding"] if column == "embedding" else meta["original"]
        if ctype == "bit":
            d = meta["dim"]
            return lambda h: float(d - 2 * h)
        return {"ip": lambda v: -float(v), "cosine": lambda v: 1.0 - float(v),
                "l2": lambda v: float(v) ** 2}[self.metric]


class _Query:
    """A float32 query vector, sent to PostgreSQL in pgvector's binary ``vector`` form."""

    __slots__ = ("x",)

    def __init__(self, x: np.ndarray) -> None:
        self.x = x


def _vector_dumper(conn):
    """A psycopg binary Dumper of :class:`_Query` as the server's ``vector`` type (its oid looked
    up once per connection), registered on each search cursor only."""
    cached = getattr(conn, "_vectro_vector_dumper", None)
    if cached is not None:
        return cached
    psycopg = _psycopg()
    info = psycopg.types.TypeInfo.fetch(conn, "vector")
    if info is None:
        raise ValueError("the server has no 'vector' type: CREATE EXTENSION vector")

    class VectorDumper(psycopg.adapt.Dumper):
        format = psycopg.pq.Format.BINARY
        oid = info.oid

        def dump(self, obj: _Query) -> bytes:
            x = obj.x
            return struct.pack(">hh", len(x), 0) + np.asarray(x, ">f4").tobytes()

    try:
        conn._vectro_vector_dumper = VectorDumper
    except AttributeError:  # a connection class with slots: look the type up each time
        pass
    return VectorDumper


def _literal(row: np.ndarray) -> str:
    """A pgvector text literal of a float32 row; repr of each value's double form round-trips
    float32 exactly."""
    return "[" + ",".join(map(repr, row.astype(np.float64).tolist())) + "]"


Store = PgVectorStore
__all__ = ["PgVectorStore", "Store", "Originals", "column_type", "quantization_config"]
