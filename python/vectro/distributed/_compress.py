"""Sharded compression: plan units of work (row ranges of array files, runs of Parquet row groups),
train the codec once on a sample, write one .vqz shard (and its entry) per unit on the workers,
check ids, and write the manifest last."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import Codec, VectroError, VqzReader, VqzWriter
from . import _manifest as M
from ._sources import expand, is_local, probe, read_rows

if TYPE_CHECKING:
    import distributed

CALIBRATION_ROWS = 100_000  # as vectro.compress_file, so both train the same codec
METRICS = ("ip", "cosine", "l2")  # vectro.Index's


def _codec_spec(codec) -> tuple[str, object]:
    if isinstance(codec, str):
        Codec(codec)  # a bad name fails here, on the client, before any task starts
        return "name", codec
    if isinstance(codec, Codec):
        if codec.dim is None:
            raise ValueError("a Codec object must know its dimension (Codec(name, dim, ...)); or pass a name")
        return "bytes", codec.to_bytes()
    raise TypeError(f"codec must be a precision name or a vectro.Codec, got {type(codec).__name__}")


def train_codec(spec: tuple, infos: list[dict], sample_rows: int, chunk_rows: int, storage_options) -> bytes:
    """Runs once, on a worker: the codec made ready to encode (fitted on the first ``sample_rows``
    rows of the dataset in order when it needs training), as bytes."""
    kind, value = spec
    codec = Codec(value) if kind == "name" else Codec.from_bytes(value)
    if codec.needs_training and not codec.trained:
        want = sample_rows
    elif codec.dim is None:
        dims = [i["dim"] for i in infos if i["dim"] is not None]
        if dims:
            codec = Codec(value, dims[0])
            return codec.to_bytes()
        want = 1
    else:
        return codec.to_bytes()
    parts, have, first = [], 0, None
    for info in infos:
        for x, _ in read_rows(info, 0, _unit_edge(info, want - have), chunk_rows, storage_options=storage_options):
            first = first or (info["url"], x.shape[1])
            if x.shape[1] != first[1]:
                raise ValueError(f"{info['url']}: dimension {x.shape[1]}, but {first[0]} has {first[1]}")
            parts.append(x)
            have += len(x)
        if have >= want:
            break
    if not have:
        raise ValueError("the inputs hold no rows: nothing to train the codec on")
    sample = np.concatenate(parts)[:want]
    codec.fit(sample)
    return codec.to_bytes()


def _unit_edge(info: dict, rows: int) -> int:
    """The first row edge at or after ``rows`` that a read may stop at (a row-group edge for Parquet)."""
    if info["row_groups"] is None:
        return min(rows, info["rows"])
    edges = np.cumsum(info["row_groups"])
    i = int(np.searchsorted(edges, rows))
    return int(edges[min(i, len(edges) - 1)]) if len(edges) else 0


def plan(infos: list[dict], shard_rows: int, id_offset: int, assign_ids: bool) -> list[dict]:
    """Units of work, in dataset order: array files cut every ``shard_rows`` rows, Parquet files
    as runs of whole row groups of at most ``shard_rows`` rows (at least one group)."""
    units, row = [], 0
    for info in infos:
        if info["row_groups"] is None:
            cuts = list(range(0, info["rows"], shard_rows)) + [info["rows"]]
        else:
            cuts, acc = [0], 0
            for g in info["row_groups"]:
                if acc and acc + g > shard_rows:
                    cuts.append(cuts[-1] + acc)
                    acc = 0
                acc += g
            cuts.append(info["rows"])
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b <= a:
                continue
            i = len(units)
            units.append({"index": i, "shard": M.shard_name(i), "source": info["url"], "start": a, "stop": b,
                          "row": row, "id_start": id_offset + row if assign_ids else None})
            row += b - a
    return units


def compress_unit(unit: dict, info: dict, codec_bytes: bytes, root: str, opts: dict) -> dict:
    """One task: writes the unit's shard (temporary name, renamed when complete), its originals
    if asked, then its entry. A shard whose entry already verifies is left alone, so a task rerun
    after a lost worker, or a resumed job, redoes nothing."""
    codec = Codec.from_bytes(codec_bytes)
    fp = M.fingerprint(codec)
    done = M.try_entry(root, unit, fp)
    if done is not None:
        return dict(done, skipped=True)
    url, n_want, d = unit["source"], unit["stop"] - unit["start"], codec.dim
    path = os.path.join(root, unit["shard"])
    meta = {"vectro_index": 1, "metric": opts["metric"],
            "vectro_shard": {"source": url, "rows": [unit["start"], unit["stop"]]}}
    orig_rel = unit["shard"][: -len(".vqz")] + ".f32.npy" if opts["originals"] else None
    orig_tmp = mm = None
    if orig_rel:
        orig_tmp = f"{os.path.join(root, orig_rel)}.{os.getpid()}.tmp"
        mm = np.lib.format.open_memmap(orig_tmp, mode="w+", dtype=np.float32, shape=(n_want, d))
    kept = []
    n = 0
    try:
        # One block of the whole shard, up to 64 MiB of codes (the index's own save does the
        # same): a shard is searched in place, memory-mapped, block by block.
        cap = max(64, (64 << 20) // (codec.bytes_per_vector(d) + 8) // 64 * 64)
        with VqzWriter(path, codec, ids=True, metadata=meta, block_rows=min(cap, max(n_want, 1))) as w:
            for x, ids in read_rows(info, unit["start"], unit["stop"], opts["chunk_rows"],
                                    id_column=opts["id_column"], storage_options=opts["storage_options"]):
                if x.shape[1] != d:
                    raise ValueError(f"{url}: rows {unit['start'] + n}.. have dimension {x.shape[1]}, "
                                     f"the dataset {d}")
                if ids is None:
                    ids = np.arange(unit["id_start"] + n, unit["id_start"] + n + len(x), dtype=np.uint64)
                else:
                    kept.append(ids)
                w.append(x, ids, threads=opts["threads"])
                if mm is not None:
                    mm[n:n + len(x)] = x
                n += len(x)
            if n != n_want:
                raise ValueError(f"{url}: read {n} rows from [{unit['start']}, {unit['stop']}), expected {n_want}")
            if kept:
                all_ids = np.concatenate(kept)
                u, counts = np.unique(all_ids, return_counts=True)
                if len(u) != len(all_ids):
                    raise VectroError(f"{url}: id {int(u[counts > 1][0])} appears twice in rows "
                                      f"[{unit['start']}, {unit['stop']})")
                id_min, id_max = int(u[0]), int(u[-1])
            else:
                id_min, id_max = unit["id_start"], unit["id_start"] + n - 1
        originals = None
        if mm is not None:
            mm.flush()
            del mm
            mm = None
            os.replace(orig_tmp, os.path.join(root, orig_rel))
            p = os.path.join(root, orig_rel)
            originals = {"path": orig_rel, "size": os.path.getsize(p), "crc32": M.crc32_file(p)}
    finally:
        if orig_tmp is not None and os.path.exists(orig_tmp):
            os.unlink(orig_tmp)
    entry = {"unit": unit, "shard": unit["shard"], "source": url, "rows": n, "id_min": id_min, "id_max": id_max,
             "codec": fp, "size": os.path.getsize(path), "crc32": M.crc32_file(path), "originals": originals}
    M.write_atomic(M.entry_path(root, unit["shard"]), json.dumps(entry, sort_keys=True))
    return dict(entry, skipped=False)


def run_tasks(client, fn, arg_lists: list[tuple], *, name: str, on_result=None, what=None) -> list:
    """Runs fn(*args) for every args: on the Dask cluster when ``client`` is a distributed
    Client, on any ``concurrent.futures.Executor`` (one task each, any order), else here in
    order. The first task error is raised, the rest cancelled; a task that kept killing its Dask
    workers (KilledWorker) becomes a VectroError naming ``what(i)``, the file it was on."""
    results: list = [None] * len(arg_lists)
    if client is None:
        for i, args in enumerate(arg_lists):
            results[i] = fn(*args)
            if on_result is not None:
                on_result(results[i])
        return results
    if isinstance(client, cf.Executor):  # no retries here: a dead process fails the job, a rerun resumes
        pending = {client.submit(fn, *args): i for i, args in enumerate(arg_lists)}
        try:
            for f in cf.as_completed(pending):
                results[pending[f]] = f.result()
                if on_result is not None:
                    on_result(results[pending[f]])
        except BaseException:
            for f in pending:
                f.cancel()
            raise
        return results
    from distributed import KilledWorker, as_completed

    token = uuid.uuid4().hex[:8]
    futs = [client.submit(fn, *args, key=f"vectro-{name}-{token}-{i}", pure=False)
            for i, args in enumerate(arg_lists)]
    where = {f.key: i for i, f in enumerate(futs)}
    try:
        for f in as_completed(futs):
            try:
                results[where[f.key]] = f.result()
            except KilledWorker as e:
                i = where[f.key]
                raise VectroError(f"{what(i) if what else f'task {i}'}: every worker that ran this task died "
                                  "(out of memory? try a smaller chunk_rows or shard_rows)") from e
            if on_result is not None:
                on_result(results[where[f.key]])
    except BaseException:
        client.cancel(futs)
        raise
    return results


class _Printer:
    """Progress across the cluster on stderr: shards done, rows, and input rows per second."""

    def __init__(self, shards: int, rows: int, stream=None) -> None:
        self.shards, self.rows, self.stream = shards, rows, stream or sys.stderr
        self.t0 = self.last = time.perf_counter()

    def __call__(self, done: int, shards: int, rows_done: int, rows: int) -> None:
        now = time.perf_counter()
        if done < shards and now - self.last < 0.5:
            return
        self.last = now
        rate = rows_done / max(now - self.t0, 1e-9)
        print(f"vectro-dask: shards {done}/{shards}  rows {rows_done:,}/{rows:,}  {rate:,.0f} rows/s",
              file=self.stream, flush=True)


def _check_dims(infos: list[dict]) -> None:
    first = next((i for i in infos if i["dim"] is not None), None)
    for i in infos:
        if first is not None and i["dim"] is not None and i["dim"] != first["dim"]:
            raise ValueError(f"{i['url']}: dimension {i['dim']}, but {first['url']} has {first['dim']}")


def _codec_for(root: str, spec: tuple, infos, sample_rows, chunk_rows, storage_options, client) -> Codec:
    """The dataset's codec: the one saved by an earlier run of the same job (so a resume never
    retrains), else trained now on one worker and saved."""
    cpath, jpath = os.path.join(root, M.CODEC_FILE), os.path.join(root, "codec.json")
    how = {"spec": spec[1] if spec[0] == "name" else M.fingerprint(Codec.from_bytes(spec[1])),
           "sample_rows": sample_rows, "sample_from": [i["url"] for i in infos[:8]]}
    try:
        with open(jpath, encoding="utf-8") as f:
            if json.load(f) == how:
                return Codec.load(cpath)
    except (OSError, ValueError, VectroError):
        pass
    args = (spec, infos, sample_rows, chunk_rows, storage_options)
    data = run_tasks(client, train_codec, [args], name="train")[0]
    codec = Codec.from_bytes(data)
    codec.save(cpath)
    M.write_atomic(jpath, json.dumps(how, sort_keys=True))
    return codec


def compress(inputs: str | os.PathLike | Sequence[str | os.PathLike], out: str | os.PathLike,
             codec: str | Codec = "int8", *, client: distributed.Client | cf.Executor | None = None,
             metric: str = "cosine", column: str | None = None,
             id_column: str | None = None, id_offset: int = 0, shard_rows: int = 1_000_000,
             chunk_rows: int = 65536, sample_rows: int = CALIBRATION_ROWS, originals: bool = False,
             threads: int = 1, storage_options: dict | None = None,
             progress: bool | Callable[[int, int, int, int], object] | None = None) -> dict:
    """Compresses many embeddings files into a sharded dataset directory ``out``.

    ``inputs``: paths, directories, globs or fsspec URLs of .npy, .fvecs/.bvecs/.ivecs and
    .parquet files (read by the workers, through fsspec when not local). Rows are numbered in
    input order (each directory or glob sorted by name) and get ids ``id_offset + row``, or, with
    ``id_column``, the ids of that Parquet column (a collision raises VectroError naming both
    files). ``codec``: a precision name or a :class:`vectro.Codec`; one that needs training is
    fitted once, on one worker, on the first ``sample_rows`` rows (as :func:`vectro.compress_file`
    does), and reaches every task as bytes. ``out`` must be a directory that the client and the
    workers share (local disk for a LocalCluster, a network file system for a cluster).

    Each unit of work (``shard_rows`` rows of an array file, or a run of whole Parquet row groups)
    becomes ``shards/shard-NNNNNN.vqz`` (an Index file searchable with ``metric``), plus
    ``.f32.npy`` float32 originals when ``originals=True`` (for exact rescoring), plus an entry
    ``.json``. ``manifest.json`` is removed first and written last, atomically: a dataset without
    one is incomplete. Rerunning the same job redoes only shards whose entry does not verify.

    ``client``: a ``distributed.Client``, or any ``concurrent.futures.Executor`` (a
    ProcessPoolExecutor on one machine; no retries there), or None to run every task here in
    order. ``threads``:
    encoder threads inside each task (Dask already runs one task per worker thread).
    ``progress``: True prints to stderr; a callable gets (shards done, shards, rows done, rows).

    Returns ``{"manifest", "rows", "dim", "shards", "written", "skipped", "seconds"}``.

    Example:
        >>> import numpy as np, vectro.distributed as vd
        >>> X = np.random.default_rng(0).standard_normal((1000, 32), np.float32)
        >>> np.save("a.npy", X[:600]); np.save("b.npy", X[600:])
        >>> r = vd.compress(["a.npy", "b.npy"], "ds", "int8", shard_rows=250)   # client=None: in this process
        >>> r["rows"], r["shards"], r["written"], r["skipped"]     # a.npy: 250 + 250 + 100, b.npy: 250 + 150
        (1000, 5, 5, 0)
        >>> vd.compress(["a.npy", "b.npy"], "ds", "int8", shard_rows=250)["skipped"]   # a rerun redoes nothing
        5
    """
    t0 = time.perf_counter()
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    for name, v in (("shard_rows", shard_rows), ("chunk_rows", chunk_rows), ("sample_rows", sample_rows)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not isinstance(id_offset, (int, np.integer)) or not 0 <= id_offset < 2**63:
        raise ValueError(f"id_offset must be an int in [0, 2**63), got {id_offset!r}")
    out = os.fspath(out)
    if not is_local(out):
        raise ValueError(f"{out}: out must be a directory on a file system the client and workers share")
    root = os.path.abspath(out[len("file://"):] if out.startswith("file://") else out)
    spec = _codec_spec(codec)
    urls = expand(inputs, storage_options)
    infos = run_tasks(client, probe, [(u, column, id_column, storage_options) for u in urls], name="probe",
                      what=lambda i: urls[i])
    _check_dims(infos)
    os.makedirs(os.path.join(root, M.SHARDS), exist_ok=True)
    mpath = os.path.join(root, M.MANIFEST)
    if os.path.exists(mpath):
        os.unlink(mpath)  # from here until the end, the dataset is visibly incomplete
    the_codec = _codec_for(root, spec, infos, sample_rows, chunk_rows, storage_options, client)
    dims = {i["dim"] for i in infos if i["dim"] is not None}
    if dims and the_codec.dim not in dims:
        raise ValueError(f"{out}: the codec has dimension {the_codec.dim}, the inputs {sorted(dims)[0]}")
    units = plan(infos, int(shard_rows), int(id_offset), id_column is None)
    for u in units:  # what else shapes a shard's bytes: an entry verifies only for the same
        u.update(metric=metric, originals=bool(originals), id_column=id_column)
    total = sum(u["stop"] - u["start"] for u in units)
    by_url = {i["url"]: i for i in infos}
    opts = {"metric": metric, "originals": bool(originals), "chunk_rows": int(chunk_rows), "id_column": id_column,
            "storage_options": storage_options, "threads": int(threads)}
    cb = _Printer(len(units), total) if progress is True else progress
    state = {"shards": 0, "rows": 0}

    def on_result(entry):
        state["shards"] += 1
        state["rows"] += entry["rows"]
        if cb:
            cb(state["shards"], len(units), state["rows"], total)

    data = the_codec.to_bytes()
    if client is not None and not isinstance(client, cf.Executor):
        data = client.scatter(data, broadcast=True, hash=False)
    entries = run_tasks(client, compress_unit, [(u, by_url[u["source"]], data, root, opts) for u in units],
                        name="shard", on_result=on_result,
                        what=lambda i: f"{units[i]['source']} rows [{units[i]['start']}, {units[i]['stop']})")
    if id_column is not None:
        _check_ids(root, entries)
    _tidy(os.path.join(root, M.SHARDS), len(units))
    written = sum(not e.pop("skipped") for e in entries)
    for e in entries:
        e.pop("unit")
    manifest = {"format": M.FORMAT, "version": M.VERSION, "codec": {
        "precision": the_codec.precision, "dim": the_codec.dim, "fingerprint": M.fingerprint(the_codec),
        "file": M.CODEC_FILE}, "metric": metric, "rows": total, "dim": the_codec.dim,
        "ids": {"column": id_column} if id_column else {"assigned_from": int(id_offset)},
        "inputs": [{"url": i["url"], "rows": i["rows"], "size": i["size"]} for i in infos], "shards": entries}
    M.write_atomic(mpath, json.dumps(manifest, indent=1, sort_keys=True))
    return {"manifest": mpath, "rows": total, "dim": the_codec.dim, "shards": len(entries), "written": written,
            "skipped": len(entries) - written, "seconds": time.perf_counter() - t0}


def _check_ids(root: str, entries: list[dict]) -> None:
    """Kept ids must be unique across shards: disjoint [min, max] ranges prove it cheaply; where
    ranges overlap, the ids of those shards are read and compared."""
    order = sorted(entries, key=lambda e: e["id_min"])
    groups, cur, hi = [], [], -1
    for e in order:
        if cur and e["id_min"] <= hi:
            cur.append(e)
        else:
            if len(cur) > 1:
                groups.append(cur)
            cur = [e]
            hi = -1
        hi = max(hi, e["id_max"])
    if len(cur) > 1:
        groups.append(cur)
    for g in groups:
        ids = [VqzReader(os.path.join(root, e["shard"])).read().ids for e in g]
        owner = np.concatenate([np.full(len(x), i) for i, x in enumerate(ids)])
        allv = np.concatenate(ids)
        o = np.argsort(allv, kind="stable")
        dup = np.flatnonzero(allv[o][1:] == allv[o][:-1])
        if len(dup):
            a, b = g[owner[o[dup[0]]]], g[owner[o[dup[0] + 1]]]
            raise VectroError(f"id {int(allv[o][dup[0]])} is in both {a['source']} ({a['shard']}) and "
                              f"{b['source']} ({b['shard']}): ids must be unique; no manifest written")


def _tidy(folder: str, n_units: int) -> None:
    """Once every task of the job has finished: removes the temporary files of attempts that died
    (a killed worker; never complete), and shards, entries and originals numbered beyond this
    job's units (left by an earlier, larger job in the same directory)."""
    for f in os.listdir(folder):
        stale = f.endswith(".tmp")
        if not stale and f.startswith("shard-"):
            num = f[len("shard-"):].split(".", 1)[0]
            stale = num.isdigit() and int(num) >= n_units
        if stale:
            try:
                os.unlink(os.path.join(folder, f))
            except FileNotFoundError:
                pass
