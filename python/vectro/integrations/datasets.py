"""Hugging Face datasets: compress an embedding column into fixed-length code columns, with the codec
in the dataset's own metadata (its features), and read them back as QuantizedEmbeddings or an Index.

The codes column is ``List(Value(<code dtype>), length=<code columns>)`` (Arrow
``fixed_size_list<int8>[d]`` for int8): read back through Arrow it stays int8, where a variable
list would come back as int64. The codec (its serialized bytes, base64) is the ``id`` of the codes
column's inner ``Value``: datasets keeps feature ids in the ``huggingface`` schema metadata that
it writes into Arrow and Parquet files, and through ``map``, ``select``, ``shuffle``,
``concatenate_datasets`` and ``save_to_disk``, so ``to_parquet`` / ``from_parquet`` round-trips the
codes and the codec bit for bit. Nothing here touches the network (HF_DATASETS_OFFLINE=1 works).

Example:
    >>> import numpy as np, vectro
    >>> from datasets import Dataset
    >>> from vectro.integrations.datasets import compress_column, to_quantized
    >>> X = np.random.default_rng(0).standard_normal((100, 32)).astype(np.float32)
    >>> ds = Dataset.from_dict({"text": [str(i) for i in range(100)], "embedding": X})
    >>> ds = compress_column(ds, "embedding", "int8")
    >>> sorted(ds.column_names)
    ['embedding_codes', 'embedding_scales', 'text']
    >>> to_quantized(ds, "embedding_codes").codes.dtype
    dtype('int8')
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import numpy as np

from .._codec import Codec, QuantizedEmbeddings
from . import index_from_codes, require

if TYPE_CHECKING:
    import datasets

    from .._index import Index

CODEC_TAG = "vectro-codec/1:"  # + base64 of Codec.to_bytes(): the id of the codes' inner Value
SCALES_TAG = "vectro-scales/1:"  # + the codes column's name: the id of the scales' (inner) Value
_DTYPES = {np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8", np.dtype(np.int16): "int16",
           np.dtype(np.uint16): "uint16", np.dtype(np.float16): "float16"}
CALIBRATION_ROWS = 100_000


def _ds():
    return require("datasets", "datasets", "vectro.integrations.datasets")


def _rows(col, name: str) -> np.ndarray:
    """An Arrow (chunked) list column of equal-length rows as a 2-D NumPy array, its dtype kept."""
    import pyarrow as pa

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    if arr.null_count:
        raise ValueError(f"column {name!r} has missing rows (nulls)")
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)
            or pa.types.is_fixed_size_list(arr.type)):
        raise TypeError(f"column {name!r} must hold one list of numbers a row, got {arr.type}")
    if not pa.types.is_fixed_size_list(arr.type) and n:
        lengths = arr.value_lengths().to_numpy(zero_copy_only=False)
        if lengths.min() != lengths.max():
            raise ValueError(f"column {name!r} holds rows of different lengths "
                             f"({int(lengths.min())} to {int(lengths.max())})")
    flat = arr.flatten()  # respects slicing offsets, unlike .values
    if flat.null_count:
        raise ValueError(f"column {name!r} has missing values inside rows (nulls)")
    values = flat.to_numpy(zero_copy_only=False)
    width = arr.type.list_size if pa.types.is_fixed_size_list(arr.type) else (len(values) // n if n else 0)
    return values.reshape(n, width)


def _feature_of(ds, name: str):
    if name not in ds.features:
        raise KeyError(f"the dataset has no column {name!r}; columns: {ds.column_names}")
    return ds.features[name]


def _inner(feature):
    return getattr(feature, "feature", feature)


def codec_of(dataset: datasets.Dataset, codes_column: str) -> Codec:
    """The codec stored with a codes column by :func:`compress_column`.

    Example:
        >>> import numpy as np
        >>> from datasets import Dataset
        >>> from vectro.integrations import datasets as vds
        >>> X = np.random.default_rng(0).standard_normal((100, 32), np.float32)
        >>> ds = Dataset.from_dict({"text": [f"doc {i}" for i in range(100)], "embedding": X})
        >>> ds = vds.compress_column(ds, "embedding", "int8")
        >>> vds.codec_of(ds, "embedding_codes")
        Codec('int8', dim=32, trained)
    """
    tag = getattr(_inner(_feature_of(dataset, codes_column)), "id", None) or ""
    if not tag.startswith(CODEC_TAG):
        raise ValueError(f"column {codes_column!r} carries no vectro codec: was it made by compress_column?")
    return Codec.from_bytes(base64.b64decode(tag[len(CODEC_TAG):]))


def _scales_column(dataset, codes_column: str) -> str | None:
    for name, feat in dataset.features.items():
        if getattr(_inner(feat), "id", None) == SCALES_TAG + codes_column:
            return name
    return None


class _Encode:
    """The batched map function: holds the codec as bytes (so that it pickles into worker processes
    and hashes for datasets' cache fingerprint) and rebuilds it once per process."""

    def __init__(self, codec: Codec, column: str, codes_column: str, scales_column: str,
                 cols: int, scale_count: int, threads: int, remove: bool) -> None:
        self.blob, self.column, self.threads, self.remove = codec.to_bytes(), column, threads, remove
        self.codes_column, self.scales_column = codes_column, scales_column
        self.cols, self.scale_count = cols, scale_count
        self._codec = None

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_codec"} | {"_codec": None}

    def __call__(self, batch):
        import pyarrow as pa

        if self._codec is None:
            self._codec = Codec.from_bytes(self.blob)
        x = _rows(batch.column(self.column), self.column)
        if x.shape[1] != self._codec.dim:
            raise ValueError(f"column {self.column!r} holds dimension {x.shape[1]}, the codec {self._codec.dim}")
        q = self._codec.encode(x.astype(np.float32, copy=False), threads=self.threads)
        codes = np.ascontiguousarray(q.codes)
        # A batched map that returns an Arrow table replaces the whole row: keep the other columns.
        out = {name: batch.column(name) for name in batch.column_names
               if not (self.remove and name == self.column)}
        out[self.codes_column] = pa.FixedSizeListArray.from_arrays(pa.array(codes.reshape(-1)), self.cols)
        if self.scale_count == 1:
            out[self.scales_column] = pa.array(q.scales)
        elif self.scale_count > 1:
            out[self.scales_column] = pa.FixedSizeListArray.from_arrays(
                pa.array(np.ascontiguousarray(q.scales).reshape(-1)), self.scale_count)
        return pa.table(out)


def compress_column(dataset: datasets.Dataset, column: str = "embedding", precision: str | Codec = "int8", *,
                    codes_column: str | None = None, scales_column: str | None = None,
                    remove_column: bool = True, batch_size: int = 4096, num_proc: int | None = None,
                    threads: int = 0, calibration_rows: int = CALIBRATION_ROWS) -> datasets.Dataset:
    """Returns ``dataset`` with ``column`` (a list of floats a row) compressed into
    ``<column>_codes`` (fixed-length codes) and, for codecs with scales, ``<column>_scales``
    (float32, or a fixed-length list when there are several a row), by a batched ``map`` whose
    batches are encoded in C on ``threads`` threads (0: all cores); ``num_proc`` splits the rows over
    processes as ``Dataset.map`` does. ``precision`` is a codec name or a :class:`vectro.Codec`; one
    that needs training (calibrated, pq, centred rabitq) and is not trained is fitted on the first
    ``calibration_rows`` rows. ``remove_column=False`` keeps the float column.

    Example:
        >>> import numpy as np
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"embedding": np.ones((4, 16), np.float32)})
        >>> compress_column(ds, precision="binary").features["embedding_codes"].length
        2
    """
    datasets = _ds()
    if column not in dataset.column_names:
        raise KeyError(f"the dataset has no column {column!r}; columns: {dataset.column_names}")
    codes_column = codes_column or f"{column}_codes"
    scales_column = scales_column or f"{column}_scales"
    codec = precision if isinstance(precision, Codec) else Codec(precision)
    arrow = dataset.with_format("arrow")
    if len(dataset) == 0:
        raise ValueError("the dataset is empty: nothing to compress")
    if codec.dim is None or (codec.needs_training and not codec.trained):
        head = _rows(arrow[: min(len(dataset), max(1, calibration_rows))].column(column), column)
        head = head.astype(np.float32, copy=False)
        if codec.needs_training and not codec.trained:
            codec.fit(head, threads=threads)
        else:
            codec._ensure(head.shape[1])
    dtype, cols = codec._layout(codec.dim)
    probe = codec.encode(np.zeros((1, codec.dim), np.float32))
    sc = 0 if probe.scales is None else (1 if probe.scales.ndim == 1 else probe.scales.shape[1])
    Value, ListF = datasets.Value, getattr(datasets, "List", None) or datasets.Sequence
    tag = CODEC_TAG + base64.b64encode(codec.to_bytes()).decode("ascii")
    keep = {k: v for k, v in dataset.features.items() if not (remove_column and k == column)}
    for name in (codes_column, scales_column if sc else None):
        if name is not None and name in keep:
            raise ValueError(f"the dataset already has a column {name!r}: pass another name")
    new = dict(keep)
    new[codes_column] = ListF(Value(_DTYPES[np.dtype(dtype)], id=tag), length=cols)
    if sc == 1:
        new[scales_column] = Value("float32", id=SCALES_TAG + codes_column)
    elif sc > 1:
        new[scales_column] = ListF(Value("float32", id=SCALES_TAG + codes_column), length=sc)
    fn = _Encode(codec, column, codes_column, scales_column, cols, sc, threads, remove_column)
    out = arrow.map(fn, batched=True, batch_size=batch_size, num_proc=num_proc,
                    features=datasets.Features(new), desc=f"vectro {codec.precision}")
    fmt = dataset.format
    if fmt["type"] is None:
        return out.with_format(None)
    return out.with_format(fmt["type"], **fmt["format_kwargs"])


def to_quantized(dataset: datasets.Dataset, codes_column: str = "embedding_codes", *, id_column: str | None = None,
                 scales_column: str | None = None) -> QuantizedEmbeddings:
    """The codes (and scales) of a column made by :func:`compress_column`, in the dataset's row
    order, as QuantizedEmbeddings with their codec; ``ids`` from ``id_column`` when given (uint64:
    an integer column).

    Example:
        >>> import numpy as np
        >>> from datasets import Dataset
        >>> from vectro.integrations import datasets as vds
        >>> X = np.random.default_rng(0).standard_normal((100, 32), np.float32)
        >>> ds = Dataset.from_dict({"text": [f"doc {i}" for i in range(100)], "embedding": X})
        >>> ds = vds.compress_column(ds, "embedding", "int8")
        >>> vds.to_quantized(ds)
        QuantizedEmbeddings(precision='int8', shape=(100, 32), nbytes=3600, compression_ratio=3.56)
    """
    codec = codec_of(dataset, codes_column)
    if scales_column is None:
        scales_column = _scales_column(dataset, codes_column)
    cols = [codes_column] + ([scales_column] if scales_column else [])
    table = dataset.with_format("arrow")[:] if len(dataset) else None
    dtype, width = codec._layout(codec.dim)
    if table is None:
        codes = np.empty((0, width), dtype)
        scales = None
    else:
        codes = np.ascontiguousarray(_rows(table.column(cols[0]), codes_column))
        scales = None
        if scales_column:
            col = table.column(scales_column)
            scales = (_rows(col, scales_column) if hasattr(col.type, "value_type")
                      else col.to_numpy()).astype(np.float32, copy=False)
            scales = np.ascontiguousarray(scales)
    if codes.dtype != np.dtype(dtype) or codes.shape[1] != width:
        raise ValueError(f"column {codes_column!r} holds {codes.dtype} x {codes.shape[1]}; the codec "
                         f"{codec.precision} makes {np.dtype(dtype)} x {width}")
    if scales is None and table is not None:
        probe = codec.encode(np.zeros((1, codec.dim), np.float32))
        if probe.scales is not None:
            raise ValueError(f"codec {codec.precision} needs scales: no scales column found for {codes_column!r}")
    elif table is None:
        probe = codec.encode(np.zeros((1, codec.dim), np.float32))
        scales = None if probe.scales is None else np.empty((0,) + probe.scales.shape[1:], np.float32)
    q = QuantizedEmbeddings(codes, scales, codec=codec, dim=codec.dim)
    if id_column is not None:
        ids = np.asarray(dataset.with_format("numpy")[id_column] if len(dataset) else [])
        if ids.dtype.kind not in "iu":
            raise TypeError(f"QuantizedEmbeddings ids are uint64: column {id_column!r} is {ids.dtype} "
                            "(to_index takes str ids)")
        q.ids = ids.astype(np.uint64)
    return q


def to_index(dataset: datasets.Dataset, codes_column: str = "embedding_codes", *, metric: str = "cosine",
             id_column: str | None = None) -> Index:
    """A vectro.Index over the dataset's codes (nothing re-encoded). Ids: ``id_column`` (integers
    or strings), else the row numbers 0..n-1.

    Example:
        >>> import numpy as np
        >>> from datasets import Dataset
        >>> from vectro.integrations import datasets as vds
        >>> X = np.random.default_rng(0).standard_normal((100, 32), np.float32)
        >>> ds = Dataset.from_dict({"text": [f"doc {i}" for i in range(100)], "embedding": X})
        >>> ds = vds.compress_column(ds, "embedding", "int8")
        >>> index = vds.to_index(ds, id_column="text")
        >>> index.search(X[:2], k=2)[0]
        array([['doc 0', 'doc 80'],
               ['doc 1', 'doc 13']], dtype=object)
    """
    q = to_quantized(dataset, codes_column)
    ids = None
    if id_column is not None:
        ids = dataset.with_format("arrow")[:].column(id_column).to_pylist() if len(dataset) else []
        ids = np.array(ids, dtype=object if ids and isinstance(ids[0], str) else np.uint64)
    return index_from_codes(q, ids, metric)


def reconstruct_column(dataset: datasets.Dataset, codes_column: str = "embedding_codes", column: str | None = None,
                       *, batch_size: int = 4096, threads: int = 0) -> datasets.Dataset:
    """Adds float32 reconstructions of a codes column as ``column`` (default: the codes column's
    name without ``_codes``), a ``List(Value("float32"), length=d)``.

    Example:
        >>> import numpy as np
        >>> from datasets import Dataset
        >>> from vectro.integrations import datasets as vds
        >>> X = np.random.default_rng(0).standard_normal((100, 32), np.float32)
        >>> ds = Dataset.from_dict({"text": [f"doc {i}" for i in range(100)], "embedding": X})
        >>> ds = vds.compress_column(ds, "embedding", "int8")
        >>> ds = vds.reconstruct_column(ds)
        >>> ds.column_names, bool(np.abs(np.array(ds["embedding"]) - X).max() < 0.05)
        (['text', 'embedding_codes', 'embedding_scales', 'embedding'], True)
    """
    datasets = _ds()
    codec = codec_of(dataset, codes_column)
    scales_column = _scales_column(dataset, codes_column)
    column = column or (codes_column[:-6] if codes_column.endswith("_codes") else codes_column + "_float")
    blob, d = codec.to_bytes(), codec.dim

    def decode(batch):
        import pyarrow as pa

        c = Codec.from_bytes(blob)
        codes = np.ascontiguousarray(_rows(batch.column(codes_column), codes_column))
        scales = None
        if scales_column:
            col = batch.column(scales_column)
            scales = np.ascontiguousarray((_rows(col, scales_column) if hasattr(col.type, "value_type")
                                           else col.to_numpy()).astype(np.float32, copy=False))
        x = c.decode(QuantizedEmbeddings(codes, scales, codec=c, dim=d), threads=threads)
        out = {name: batch.column(name) for name in batch.column_names if name != column}
        out[column] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), d)
        return pa.table(out)

    features = dict(dataset.features)
    features[column] = (getattr(datasets, "List", None) or datasets.Sequence)(datasets.Value("float32"), length=d)
    out = dataset.with_format("arrow").map(decode, batched=True, batch_size=batch_size,
                                           features=datasets.Features(features), desc="vectro decode")
    fmt = dataset.format
    return out.with_format(fmt["type"], **fmt["format_kwargs"]) if fmt["type"] else out.with_format(None)
