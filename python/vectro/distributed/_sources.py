"""Input files for vectro.distributed: expand paths and globs (local or any fsspec URL), read a
file's shape from its header alone, and read a row range as float32 on whichever worker runs it."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator

import numpy as np

FORMATS = {".npy": "npy", ".fvecs": "fvecs", ".bvecs": "bvecs", ".ivecs": "ivecs", ".parquet": "parquet"}
_VECS = {"fvecs": np.dtype("<f4"), "bvecs": np.dtype("u1"), "ivecs": np.dtype("<i4")}
_NPY_DTYPES = ("<f2", "<f4", "<f8")


def is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def local_path(url: str) -> str:
    return url[len("file://"):] if url.startswith("file://") else url


def fmt_of(url: str) -> str:
    for ext, fmt in FORMATS.items():
        if url.endswith(ext):
            return fmt
    raise ValueError(f"{url}: unknown format (vectro.distributed reads {', '.join(sorted(FORMATS))})")


def expand(inputs, storage_options: dict | None = None) -> list[str]:
    """Files named by ``inputs`` (a path or URL, or a list of them): a directory stands for the
    files with a known extension inside it, a glob for its matches, each group sorted by name.
    The order fixes the global row numbering, so it never depends on the file system's order."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out: list[str] = []
    for item in inputs:
        url = os.fspath(item)
        if is_local(url):
            path = os.path.abspath(local_path(url))  # workers may run in another directory
            if os.path.isdir(path):
                found = sorted(os.path.join(path, f) for f in os.listdir(path) if _known(f))
            elif glob.has_magic(path):
                found = sorted(p for p in glob.glob(path) if _known(p))
            else:
                found = [path]
        else:
            import fsspec

            fs, _, paths = fsspec.get_fs_token_paths(url, storage_options=storage_options or {})
            proto = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
            if fs.isdir(paths[0]) if len(paths) == 1 else False:
                paths = [p for p in fs.ls(paths[0], detail=False) if _known(p)]
            found = sorted(f"{proto}://{p}" if "://" not in p else p for p in paths if _known(p))
        if not found:
            raise FileNotFoundError(f"{url}: no embeddings files there")
        out.extend(found)
    if len(set(out)) != len(out):
        dup = next(u for u in out if out.count(u) > 1)
        raise ValueError(f"{dup}: named twice in the inputs")
    return out


def _known(name: str) -> bool:
    return any(name.endswith(ext) for ext in FORMATS)


def _open(url: str, storage_options: dict | None):
    if is_local(url):
        return open(local_path(url), "rb")
    import fsspec

    return fsspec.open(url, "rb", **(storage_options or {})).open()


def _npy_header(f, url: str) -> tuple[tuple, np.dtype, int]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"npy format version {version} is not supported")
    except ValueError as e:
        raise ValueError(f"{url}: not a readable .npy file ({e})") from None
    if len(shape) != 2:
        raise ValueError(f"{url}: .npy holds shape {shape}, embeddings must be 2-D (n, d)")
    if dtype.str not in _NPY_DTYPES:
        raise ValueError(f"{url}: .npy dtype {dtype} is not float16/32/64 (little-endian)")
    if fortran and shape[1] > 1 and shape[0] > 1:
        raise ValueError(f"{url}: .npy is Fortran-ordered; save it C-ordered (np.ascontiguousarray)")
    return shape, dtype, f.tell()


def probe(url: str, column: str | None = None, id_column: str | None = None,
          storage_options: dict | None = None) -> dict:
    """Shape and layout of one input from its header (npy), size (fvecs) or footer (parquet):
    ``{"url", "format", "rows", "dim" (None when only the data says), "size", "row_groups"}``."""
    fmt = fmt_of(url)
    if id_column is not None and fmt != "parquet":
        raise ValueError(f"{url}: ids can be kept from a Parquet column only (id_column={id_column!r})")
    try:
        f = _open(url, storage_options)
    except FileNotFoundError:
        raise FileNotFoundError(f"{url}: no such file") from None
    except OSError as e:
        raise OSError(f"{url}: cannot open ({e})") from None
    with f:
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
        info = {"url": url, "format": fmt, "size": int(size), "row_groups": None}
        if fmt == "npy":
            shape, dtype, offset = _npy_header(f, url)
            row = shape[1] * dtype.itemsize
            if offset + shape[0] * row > size:
                raise ValueError(f"{url}: truncated (header promises {shape[0]} rows)")
            info.update(rows=int(shape[0]), dim=int(shape[1]), dtype=dtype.str, offset=int(offset))
        elif fmt in _VECS:
            head = f.read(4)
            if len(head) == 0:
                info.update(rows=0, dim=None)
                return info
            if len(head) < 4:
                raise ValueError(f"{url}: truncated before the first row's dimension")
            d = int(np.frombuffer(head, "<i4")[0])
            if not 0 < d < 2**28:
                raise ValueError(f"{url}: first row claims dimension {d}")
            row = 4 + d * _VECS[fmt].itemsize
            if size % row:
                raise ValueError(f"{url}: {size} bytes is not a whole number of {row}-byte rows of dimension {d}")
            info.update(rows=size // row, dim=d)
        else:
            import pyarrow.parquet as pq

            try:
                pf = pq.ParquetFile(f)
            except Exception as e:  # pyarrow raises ArrowInvalid and friends
                raise ValueError(f"{url}: not a readable Parquet file ({e})") from None
            schema = pf.schema_arrow
            col = column or _pick_column(schema, url)
            if col not in schema.names:
                raise ValueError(f"{url}: no column {col!r} (columns: {schema.names})")
            t = schema.field(col).type
            if id_column is not None:
                import pyarrow as pa

                if id_column not in schema.names:
                    raise ValueError(f"{url}: no id column {id_column!r} (columns: {schema.names})")
                if not pa.types.is_integer(schema.field(id_column).type):
                    raise ValueError(f"{url}: id column {id_column!r} is {schema.field(id_column).type}, not integer")
            md = pf.metadata
            groups = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
            info.update(rows=int(sum(groups)), dim=getattr(t, "list_size", None), column=col,
                        row_groups=groups)
    return info


def _pick_column(schema, url: str) -> str:
    import pyarrow as pa

    cands = [n for n in schema.names if pa.types.is_list(schema.field(n).type)
             or pa.types.is_fixed_size_list(schema.field(n).type) or pa.types.is_large_list(schema.field(n).type)]
    if len(cands) != 1:
        raise ValueError(f"{url}: name the embeddings column (column=...): list columns are {cands}")
    return cands[0]


def read_rows(info: dict, start: int, stop: int, chunk_rows: int, *, id_column: str | None = None,
              storage_options: dict | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yields (float32 rows, ids or None) chunks covering rows [start, stop) of one input. For
    Parquet, [start, stop) must fall on row-group edges (the planner only makes such units)."""
    url, fmt = info["url"], info["format"]
    with _open(url, storage_options) as f:
        if fmt == "parquet":
            yield from _read_parquet(f, info, start, stop, chunk_rows, id_column)
            return
        if fmt == "npy":
            dtype = np.dtype(info["dtype"])
            row, base, d = info["dim"] * dtype.itemsize, info["offset"], info["dim"]
        else:
            d = info["dim"]
            dtype = _VECS[fmt]
            row, base = 4 + d * dtype.itemsize, 0
        for a in range(start, stop, chunk_rows):
            n = min(chunk_rows, stop - a)
            f.seek(base + a * row)
            buf = f.read(n * row)
            if len(buf) != n * row:
                raise ValueError(f"{url}: truncated at row {a + len(buf) // max(row, 1)} (expected {info['rows']})")
            if fmt == "npy":
                x = np.frombuffer(buf, dtype).reshape(n, d)
            else:
                raw = np.frombuffer(buf, np.uint8).reshape(n, row)
                dims = raw[:, :4].copy().view("<i4")[:, 0]
                bad = np.flatnonzero(dims != d)
                if len(bad):
                    i = a + int(bad[0])
                    raise ValueError(f"{url}: row {i} has dimension {int(dims[bad[0]])}, the file's first row {d}")
                x = raw[:, 4:].copy().view(dtype) if dtype.itemsize > 1 else raw[:, 4:]
            yield np.ascontiguousarray(x, dtype=np.float32), None


def _read_parquet(f, info, start, stop, chunk_rows, id_column):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    url, col = info["url"], info["column"]
    edges = np.concatenate([[0], np.cumsum(info["row_groups"])])
    g0, g1 = int(np.searchsorted(edges, start)), int(np.searchsorted(edges, stop))
    if edges[g0] != start or edges[g1] != stop:
        raise ValueError(f"{url}: rows [{start}, {stop}) do not fall on row-group edges")
    cols = [col] if id_column is None else [col, id_column]
    pf = pq.ParquetFile(f)
    row = start
    for b in pf.iter_batches(batch_size=chunk_rows, row_groups=list(range(g0, g1)), columns=cols):
        arr = b.column(0)
        n = len(arr)
        if arr.null_count:
            raise ValueError(f"{url}: column {col!r} has missing embeddings (nulls) near row {row}")
        if hasattr(arr, "list_size"):
            d = arr.type.list_size
        else:
            lens = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
            d = int(lens[0]) if n else 0
            bad = np.flatnonzero(lens != d)
            if len(bad):
                raise ValueError(f"{url}: row {row + int(bad[0])} has dimension {int(lens[bad[0]])}, "
                                 f"row {row} has {d}")
        values = arr.flatten() if n else arr.values
        x = np.asarray(values.to_numpy(zero_copy_only=False)).reshape(n, d).astype(np.float32, copy=False)
        ids = None
        if id_column is not None:
            idc = b.column(1)
            if idc.null_count:
                raise ValueError(f"{url}: id column {id_column!r} has nulls near row {row}")
            ids = idc.to_numpy(zero_copy_only=False)
            if ids.dtype.kind == "i" and len(ids) and ids.min() < 0:
                raise ValueError(f"{url}: id column {id_column!r} holds a negative id near row {row}")
            ids = ids.astype(np.uint64)
        row += n
        yield np.ascontiguousarray(x), ids
