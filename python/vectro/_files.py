"""Files: the .vqz container (save/load, streaming VqzWriter and random-access VqzReader), streaming
reads of the formats embeddings come in (.npy, .fvecs, .bvecs, .ivecs through the C reader;
Parquet and Arrow through pyarrow), and compress_file, which joins them in bounded memory."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from . import _core
from ._codec import Codec, ProgressFn, QuantizedEmbeddings, _aligned_empty, _check_threads, as_float32_rows

DEFAULT_CHUNK = 65536
CALIBRATION_ROWS = 100_000
# Chunks are sized in bytes as well as rows: at d = 2^20, 65536 rows of floats are 256 GiB, which
# made a valid 2-row file impossible to read in chunks. A chunk holds at most this many bytes (and
# at least one row), a calibration sample at most CALIBRATION_BYTES.
CHUNK_BYTES = 64 << 20
_ARROW = (".parquet", ".arrow", ".feather", ".ipc")  # read by pyarrow; every other format by C
CALIBRATION_BYTES = 256 << 20
if TYPE_CHECKING:  # the type of array-like inputs in signatures
    from numpy.typing import ArrayLike


def _rows_for(rows: int, row_bytes: int, budget: int = CHUNK_BYTES) -> int:
    """``rows``, capped so that a chunk of rows of ``row_bytes`` bytes stays within ``budget``."""
    return max(1, min(rows, budget // max(row_bytes, 1)))


def _meta_text(metadata) -> str | None:
    if metadata is None:
        return None
    if isinstance(metadata, str):
        return metadata
    try:
        return json.dumps(metadata, sort_keys=True)
    except RecursionError:
        raise ValueError("metadata is nested too deeply to store as JSON") from None


class VqzWriter:
    """Writes a .vqz file in pieces, in memory bounded by one block whatever the total size.

    The file is written under a temporary name and renamed over ``path`` only by :meth:`close`,
    so a crash, an exception inside ``with``, or a full disk never leaves a file that looks
    complete, and never damages an existing one.

    Example:
        >>> import numpy as np, vectro, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.vqz")
        >>> with vectro.VqzWriter(path, "int8", metadata={"model": "demo"}) as w:
        ...     for _ in range(3):
        ...         w.append(np.random.default_rng(0).standard_normal((1000, 64)).astype(np.float32))
        >>> len(vectro.VqzReader(path))
        3000
    """

    def __init__(self, path: str | os.PathLike, codec: str | Codec = "int8", *, ids: bool = False,
                 metadata: dict | str | None = None, block_rows: int = 0) -> None:
        self.path = os.fspath(path)
        self.codec = codec if isinstance(codec, Codec) else Codec(codec)
        self.ids = bool(ids)
        self.metadata = _meta_text(metadata)
        self.block_rows = int(block_rows)
        self._w = None
        self._fp = None  # the fingerprint of the codec state the file stores
        self._count = 0
        # Threads may share a writer: the C handle serialises appends and close; this lock keeps
        # the lazy open single (two first appends must not open two files) and the count exact.
        self._lock = threading.Lock()
        self._closed = False

    def _handle(self, dim: int):
        """The open C writer, opened on first use (ValueError once closed or aborted)."""
        with self._lock:
            if self._closed:
                raise ValueError("the writer is closed (closed or aborted, maybe by another thread)")
            if self._w is None:
                self.codec._ensure(dim)
                self._w, gen = _core.vqz_writer_open(self.path, self.codec._h, self.metadata, self.ids,
                                                     self.block_rows)
                self._fp = self.codec._fingerprint(gen)
            return self._w

    def _counted(self, n: int) -> None:
        with self._lock:
            self._count += n

    def _ids(self, ids, n: int):
        if self.ids != (ids is not None):
            raise ValueError("this writer stores ids: pass ids=" if self.ids else "this writer was opened without ids")
        if ids is None:
            return None
        ids = np.ascontiguousarray(ids, dtype=np.uint64)
        if ids.shape != (n,):
            raise ValueError(f"ids must have shape ({n},), got {ids.shape}")
        return ids

    def append(self, embeddings: ArrayLike, ids: ArrayLike | None = None, *, threads: int = 0) -> None:
        """Encodes float embeddings (n, d) with the writer's codec and appends them, with ``ids``
        (n uint64) when the writer was opened with ``ids=True``. A calibrated codec must be fitted
        before the first append (or use :func:`compress_file`).

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((5, 64), np.float32)
            >>> with vectro.VqzWriter("with_ids.vqz", "int8", ids=True) as w:
            ...     w.append(X, ids=[10, 11, 12, 13, 14])
            >>> vectro.load("with_ids.vqz").ids
            array([10, 11, 12, 13, 14], dtype=uint64)
        """
        x, _ = as_float32_rows(embeddings)
        if self._w is None:
            if self.codec.needs_training and not self.codec.trained:
                raise _core.VectroError("fit the calibrated codec before appending (Codec(...).fit(sample))")
        elif x.shape[1] != self.codec.dim:
            raise ValueError(f"embeddings have dimension {x.shape[1]}, the file {self.codec.dim}")
        w = self._handle(x.shape[1])
        _core.vqz_writer_append_floats(w, x, self._ids(ids, len(x)), _check_threads(threads))
        self._counted(len(x))

    def append_quantized(self, q: QuantizedEmbeddings, ids: ArrayLike | None = None) -> None:
        """Appends already-encoded rows made with this writer's codec (nothing is re-encoded);
        VectroError for codes another codec state made.

        Example:
            >>> import numpy as np, vectro
            >>> codec = vectro.Codec("int4-g32")
            >>> q = codec.encode(np.random.default_rng(0).standard_normal((1000, 64), np.float32))
            >>> with vectro.VqzWriter("int4.vqz", codec) as w:
            ...     w.append_quantized(q)
            >>> vectro.VqzReader("int4.vqz")
            VqzReader('int4.vqz', int4-g32, 1000 x 64)
        """
        if q.precision != self.codec.precision:
            raise ValueError(f"rows are {q.precision}, the writer's codec is {self.codec.precision}")
        w = self._handle(q.dim)
        # against the state the file stores (the codec may have been refitted since it opened)
        self.codec._check_codes_from(q, "the writer's", self._fp)
        n = q.codes.shape[0]
        _core.vqz_writer_append(w, q.codes, q.scales, self._ids(ids, n), n)
        self._counted(n)

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        """Finishes the file and renames it into place. A writer that never received a row still
        writes a valid empty file when the codec's dimension is known. ``with VqzWriter(...)``
        calls it on success (and :meth:`abort` on an exception).

        Example:
            >>> import numpy as np, vectro
            >>> w = vectro.VqzWriter("out.vqz", "binary")
            >>> w.append(np.random.default_rng(0).standard_normal((100, 256), np.float32))
            >>> w.close()                      # out.vqz appears only now
            >>> len(vectro.VqzReader("out.vqz"))
            100
        """
        if self._closed:
            return  # closing twice (close() inside ``with``) is harmless
        if self._w is None and self.codec.dim is None:
            raise ValueError("nothing was appended and the codec has no dimension: pass Codec(..., dim)")
        w = self._handle(self.codec.dim)
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # waits for appends running in other threads; appends after it raise ValueError
        _core.vqz_writer_close(w, True)

    def abort(self) -> None:
        """Drops the temporary file; ``path`` is left as it was.

        Example:
            >>> import numpy as np, os, vectro
            >>> w = vectro.VqzWriter("never.vqz", "int8")
            >>> w.append(np.ones((10, 8), np.float32))
            >>> w.abort()
            >>> os.path.exists("never.vqz")
            False
        """
        with self._lock:
            w, self._closed = self._w, True
        if w is not None:
            _core.vqz_writer_close(w, False)

    def __enter__(self) -> VqzWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class VqzReader:
    """Reads a .vqz file: header and index are checked on open; each block's checksum is checked
    the first time a read touches it; :meth:`verify` checks everything.

    Example:
        >>> import numpy as np, vectro, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.vqz")
        >>> X = np.random.default_rng(1).standard_normal((100, 32)).astype(np.float32)
        >>> vectro.save(path, vectro.quantize_embeddings(X, "f16"))
        >>> r = vectro.VqzReader(path)
        >>> r.precision, len(r), r[10:12].shape
        ('f16', 100, (2, 32))
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._r = _core.vqz_reader_open(self.path)
        info = _core.vqz_reader_info(self._r)
        self.codec = Codec.from_bytes(info.pop("codec"))
        self.info = info

    @property
    def precision(self) -> str:
        """The file's codec, by the name ``Codec`` takes ("int8", "int4-g32", "rabitq-4", ...).

        Example:
            >>> import numpy as np, vectro
            >>> vectro.save("b.vqz", vectro.quantize_embeddings(np.ones((4, 64), np.float32), "binary"))
            >>> vectro.VqzReader("b.vqz").precision
            'binary'
        """
        return self.codec.precision

    @property
    def dim(self) -> int:
        """The vectors' dimension d.

        Example:
            >>> import numpy as np, vectro
            >>> vectro.save("d.vqz", vectro.quantize_embeddings(np.ones((4, 384), np.float32)))
            >>> vectro.VqzReader("d.vqz").dim
            384
        """
        return self.info["dim"]

    @property
    def has_ids(self) -> bool:
        """True when the file stores one uint64 id per row.

        Example:
            >>> import numpy as np, vectro
            >>> q = vectro.quantize_embeddings(np.ones((3, 8), np.float32))
            >>> vectro.save("ids.vqz", q, ids=[5, 6, 7])
            >>> vectro.save("no_ids.vqz", q)
            >>> vectro.VqzReader("ids.vqz").has_ids, vectro.VqzReader("no_ids.vqz").has_ids
            (True, False)
        """
        return bool(self.info["has_ids"])

    @property
    def metadata(self) -> dict | list | str | int | float | bool | None:
        """The stored metadata: parsed JSON when it is JSON, else the text ("" when none). Text
        that is not UTF-8, or JSON nested too deeply for Python to parse, raises VectroError (the
        codes stay readable).

        Example:
            >>> import numpy as np, vectro
            >>> q = vectro.quantize_embeddings(np.ones((2, 8), np.float32))
            >>> vectro.save("m.vqz", q, metadata={"model": "all-MiniLM-L6-v2", "normalized": True})
            >>> vectro.VqzReader("m.vqz").metadata
            {'model': 'all-MiniLM-L6-v2', 'normalized': True}
        """
        raw = self.info["metadata"]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _core.VectroError(
                f"{self.path}: the metadata is not UTF-8 text (byte {e.start} is {raw[e.start]:#04x})") from None
        try:
            return json.loads(text) if text else ""
        except RecursionError:
            raise _core.VectroError(f"{self.path}: the metadata is JSON nested too deeply to parse") from None
        except ValueError:
            return text

    def __len__(self) -> int:
        return self.info["count"]

    def read(self, start: int = 0, stop: int | None = None) -> QuantizedEmbeddings:
        """Rows [start, stop) as QuantizedEmbeddings (with ``ids`` when the file has them);
        IndexError for rows outside the file.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 64), np.float32)
            >>> vectro.save("rows.vqz", vectro.quantize_embeddings(X), ids=np.arange(1000))
            >>> q = vectro.VqzReader("rows.vqz").read(10, 20)
            >>> q.shape, q.ids[:3]
            ((10, 64), array([10, 11, 12], dtype=uint64))
        """
        n_total = len(self)
        stop = n_total if stop is None else stop
        if not (0 <= start <= stop <= n_total):
            raise IndexError(f"rows [{start}, {stop}) are outside the file's {n_total}")
        n = stop - start
        dtype, cols = self.codec._layout(self.dim)
        codes = _aligned_empty((n, cols), dtype)
        sc = self.info["scale_count"]
        scales = np.empty((n, sc) if sc > 1 else (n,), np.float32) if sc else None
        ids = np.empty(n, np.uint64) if self.has_ids else None
        _core.vqz_read(self._r, start, n, codes, scales, ids)
        q = QuantizedEmbeddings(codes, scales, codec=self.codec, dim=self.dim)
        q.ids = ids
        return q

    def __getitem__(self, key) -> QuantizedEmbeddings:
        """Rows by index or contiguous slice, as QuantizedEmbeddings. A slice is clipped at the end
        as Python's are (``r[900:2000]`` of 1000 rows gives 100), but one that starts at or past
        the end and asks for rows (``r[1000:2000]`` of 1000) raises IndexError: reading nothing
        where rows were expected is almost always a wrong offset."""
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise IndexError("only contiguous slices are supported")
            s = key.start
            if isinstance(s, (int, np.integer)) and 0 < len(self) <= s and (key.stop is None or key.stop > s):
                want = "the end" if key.stop is None else int(key.stop)
                raise IndexError(f"rows [{int(s)}, {want}) are outside the file's {len(self)}")
            return self.read(start, max(start, stop))
        i = int(key)
        i = i + len(self) if i < 0 else i
        return self.read(i, i + 1)

    def iter_chunks(self, rows: int = DEFAULT_CHUNK) -> Iterator[QuantizedEmbeddings]:
        """Yields the file in chunks of at most ``rows`` rows and 64 MiB.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 64), np.float32)
            >>> vectro.save("chunks.vqz", vectro.quantize_embeddings(X))
            >>> [len(q) for q in vectro.VqzReader("chunks.vqz").iter_chunks(rows=400)]
            [400, 400, 200]
        """
        row_bytes = self.info["code_size"] + 4 * self.info["scale_count"] + 8 * self.has_ids
        rows = _rows_for(rows, row_bytes)
        for a in range(0, len(self), rows):
            yield self.read(a, min(a + rows, len(self)))

    def verify(self) -> dict:
        """Checks every block's CRC-32C, that its rows decode to finite values, and the whole-file
        checksum; raises VectroError naming the first bad block. Returns what it checked:
        ``{"rows": ..., "blocks": ..., "bytes": ...}``.

        Example:
            >>> import numpy as np, vectro
            >>> X = np.random.default_rng(0).standard_normal((1000, 64), np.float32)
            >>> vectro.save("checked.vqz", vectro.quantize_embeddings(X))
            >>> vectro.VqzReader("checked.vqz").verify()
            {'rows': 1000, 'blocks': 1, 'bytes': ...}
        """
        _core.vqz_verify(self._r)
        return {"rows": len(self), "blocks": int(self.info["blocks"]), "bytes": int(self.info["file_size"])}

    def __enter__(self) -> VqzReader:
        return self

    def __exit__(self, *exc) -> None:
        self._r = None

    def __repr__(self) -> str:
        return f"VqzReader({self.path!r}, {self.precision}, {len(self)} x {self.dim})"


def save(path: str | os.PathLike, q: QuantizedEmbeddings, *, ids: ArrayLike | None = None,
         metadata: dict | str | None = None) -> None:
    """Writes QuantizedEmbeddings (any codec) to a .vqz file, atomically (temporary + rename).
    ``ids``: one uint64 per vector (kept through load); ``metadata``: a dict (stored as JSON) or
    a string.

    Example:
        >>> import numpy as np, vectro, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.vqz")
        >>> X = np.random.default_rng(0).standard_normal((10, 8)).astype(np.float32)
        >>> vectro.save(path, vectro.quantize_embeddings(X), ids=np.arange(100, 110), metadata={"model": "m"})
        >>> q = vectro.load(path)
        >>> q.shape, q.ids[:3].tolist(), vectro.VqzReader(path).metadata
        ((10, 8), [100, 101, 102], {'model': 'm'})
    """
    with VqzWriter(path, q.codec, ids=ids is not None, metadata=metadata) as w:
        w.append_quantized(q, ids)


def load(path: str | os.PathLike, *, verify: bool = False) -> QuantizedEmbeddings:
    """Reads a whole .vqz file. The result has ``ids`` (or None); ``verify=True`` checks every
    checksum first (reads check the blocks they touch anyway).

    Example:
        >>> import numpy as np, os, tempfile, vectro
        >>> path = os.path.join(tempfile.mkdtemp(), "x.vqz")
        >>> q = vectro.quantize_embeddings(np.ones((3, 4), np.float32))
        >>> vectro.save(path, q, ids=np.array([7, 8, 9], np.uint64))
        >>> back = vectro.load(path, verify=True)
        >>> back.shape, back.ids.tolist()
        ((3, 4), [7, 8, 9])
    """
    r = VqzReader(path)
    if verify:
        r.verify()
    return r.read()


def read_embeddings(path: str | os.PathLike, chunk_rows: int = DEFAULT_CHUNK, *,
                    column: str | None = None) -> Iterator[np.ndarray]:
    """Yields float32 chunks (at most ``chunk_rows`` x d) of an embeddings file without loading
    it whole: .npy (float16/32/64), .fvecs, .bvecs, .ivecs (C reader), .parquet and Arrow IPC
    (.arrow, .feather) with a list<float> or fixed_size_list<float> ``column`` (pyarrow).

    Example:
        >>> import numpy as np, vectro, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
        >>> np.save(path, np.ones((2500, 4), np.float32))
        >>> [chunk.shape for chunk in vectro.read_embeddings(path, chunk_rows=1000)]
        [(1000, 4), (1000, 4), (500, 4)]
    """
    p = os.fspath(path)
    _check_chunk_rows(chunk_rows)
    if p.endswith(_ARROW):
        yield from _read_arrow(p, chunk_rows, column)
        return
    r = _core.reader_open(p)
    n, d = _core.reader_shape(r)
    rows = _rows_for(min(chunk_rows, max(n, 1)), 4 * d)
    while True:
        buf = np.empty((rows, d), np.float32)  # a fresh array each time: callers may keep chunks
        got = _core.reader_read(r, buf)
        if not got:
            return
        yield buf[:got]


def _check_chunk_rows(chunk_rows) -> None:
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")


def _read_arrow(path: str, chunk_rows: int, column: str | None) -> Iterator[np.ndarray]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("reading Parquet/Arrow needs pyarrow: pip install pyarrow") from e
    if path.endswith(".parquet"):
        f = pq.ParquetFile(path)
        names = f.schema_arrow.names
        col = column or _pick_column(f.schema_arrow, names)
        batches = f.iter_batches(batch_size=chunk_rows, columns=[col])
    else:
        with pa.memory_map(path) as src:
            table = pa.ipc.open_file(src).read_all()
        col = column or _pick_column(table.schema, table.schema.names)
        batches = table.select([col]).to_batches(max_chunksize=chunk_rows)
    done, first_len = 0, None
    for b in batches:
        arr = b.column(0)
        if arr.null_count:
            raise ValueError(f"{path}: column {col!r} has missing embeddings (nulls)")
        n = len(arr)
        if n and not pa.types.is_fixed_size_list(arr.type):
            # Every row must have the first row's length: a total that merely divides evenly
            # ([[1], [2, 3, 4]]) would otherwise be reshaped into rows that never existed.
            lengths = np.asarray(arr.value_lengths().to_numpy(zero_copy_only=False))
            if first_len is None:
                first_len = int(lengths[0])
            bad = np.flatnonzero(lengths != first_len)
            if bad.size:
                row = done + int(bad[0])
                raise ValueError(f"{path}: column {col!r} holds embeddings of different lengths: row {row} has "
                                 f"{int(lengths[bad[0]])} values, row 0 has {first_len}")
        flat = arr.flatten() if hasattr(arr, "flatten") else arr.values
        values = np.asarray(flat.to_numpy(zero_copy_only=False))
        done += n
        yield values.reshape(n, -1).astype(np.float32, copy=False)


def _pick_column(schema, names) -> str:
    import pyarrow as pa

    cands = [n for n in names if pa.types.is_list(schema.field(n).type) or
             pa.types.is_fixed_size_list(schema.field(n).type) or pa.types.is_large_list(schema.field(n).type)]
    if len(cands) != 1:
        raise ValueError(f"name the embeddings column with column=...: list columns are {cands}")
    return cands[0]


def compress_file(src: str | os.PathLike, dst: str | os.PathLike, precision: str | Codec = "int8", *,
                  chunk_rows: int = DEFAULT_CHUNK, threads: int = 0, metadata: dict | str | None = None,
                  column: str | None = None, progress: ProgressFn | None = None) -> Codec:
    """Compresses an embeddings file of any size into a .vqz, in memory bounded by ``chunk_rows``.
    ``precision`` is a name or a :class:`Codec` (for parameters a name cannot say, such as
    ``Codec("rabitq-1", center=True)``); one that needs training and has none (calibrated, pq,
    centred rabitq) first learns from the file's first 100,000 rows. Returns the codec.
    .npy and *vecs files go through the library's pipeline (vec_compress_file), the one `vectro
    compress` runs, so both write the same bytes; Parquet/Arrow are read by pyarrow here and feed
    the same C writer.

    Example:
        >>> import numpy as np, vectro, tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> np.save(os.path.join(d, "x.npy"), np.ones((10, 4), np.float32))
        >>> vectro.compress_file(os.path.join(d, "x.npy"), os.path.join(d, "x.vqz"), "f16").precision
        'f16'
    """
    _check_chunk_rows(chunk_rows)
    _refuse_same_file(src, dst)
    codec = precision if isinstance(precision, Codec) else Codec(precision)
    if not os.fspath(src).endswith(_ARROW):
        # The library's pipeline (vec_compress_file), the one `vectro compress` runs: chunks,
        # training on the leading rows, the atomic writer, progress and Ctrl-C between chunks.
        _, dim = _shape_of(src, column)
        codec._ensure(dim)
        _core.compress_file(os.fspath(src), os.fspath(dst), codec._h, _meta_text(metadata),
                            _rows_for(chunk_rows, 4 * dim), _check_threads(threads), progress)
        return codec
    # Parquet and Arrow IPC are read by pyarrow, here, and feed the same C writer.
    if codec.needs_training and not codec.trained:
        sample, have, want = [], 0, CALIBRATION_ROWS
        for chunk in read_embeddings(src, chunk_rows, column=column):
            sample.append(chunk.copy())
            have += len(chunk)
            want = max(2, min(CALIBRATION_ROWS, CALIBRATION_BYTES // (4 * chunk.shape[1])))
            if have >= want:
                break
        if sample:
            codec.fit(np.concatenate(sample)[:want])
    total, dim = _shape_of(src, column)
    done = 0
    with VqzWriter(dst, codec, metadata=metadata) as w:
        for chunk in read_embeddings(src, chunk_rows, column=column):
            w.append(chunk, threads=threads)
            done += len(chunk)
            if progress is not None and progress(done, total) is False:
                # as the C callbacks: False cancels; the writer's abort removes the temporary
                raise _core.VectroError("cancelled: the progress callback returned False")
        if w._w is None and codec.dim is None:  # empty input: an empty file of the right dimension
            if dim is None:
                raise ValueError(f"{os.fspath(src)} holds no embeddings and no dimension")
            codec._ensure(dim)
    return codec


def _refuse_same_file(src, dst) -> None:
    """Writing the codes over the input would replace the embeddings with a lossy copy: refuse
    when dst is src, also through symbolic or hard links."""
    try:
        same = os.path.samefile(src, dst)
    except OSError:  # dst does not exist yet (or src is missing: the reader reports that)
        return
    if same:
        raise ValueError(f"the output {os.fspath(dst)!r} is the input file: choose another output path")


def _shape_of(path, column) -> tuple[int, int | None]:
    """(rows, dim) where the format says so up front; (-1, None) for Arrow/Parquet."""
    p = os.fspath(path)
    if p.endswith(_ARROW):
        return -1, None
    n, d = _core.reader_shape(_core.reader_open(p))
    return int(n), int(d)
