"""The part of the LangChain and LlamaIndex vector stores that is not about either framework: a
vectro.Index by str id with each id's text and metadata beside its codes, metadata filters turned
into an allow-list for Index.search, and a crash-safe directory format (generation files and an
atomically replaced manifest).

On disk (``path`` is a directory)::

    MANIFEST.json        {"format": "vectro-docstore", "version": 1, "generation": G,
                          "index": "index-G.vqz" or null, "docs": "docs-G.json"}
    index-G.vqz          Index.save: codes, ids, metric (+ index-G.vqz.rerank.vqz,
                         index-G.vqz.originals.npy when the index has them)
    docs-G.json          {"ids": [...], "records": [{"text": ..., "metadata": {...}, ...}], "config": {...}}

A save writes generation G + 1 completely (each file to a temporary name, fsynced, renamed), then
replaces MANIFEST.json in one rename, then deletes older generations. A crash at any point leaves
the manifest naming one complete generation; files of an unfinished one are removed by the next
save. ``load`` checks that the index and the documents hold the same ids.
"""

from __future__ import annotations

import json
import operator
import os
import re
import threading
from collections.abc import Iterable
from typing import Any, Callable

import numpy as np

from .._codec import _atomic_write
from .._core import VectroError
from .._index import Index

MANIFEST = "MANIFEST.json"
FORMAT = "vectro-docstore"
VERSION = 1
_GEN_FILE = re.compile(r"^(index|docs)-(\d+)\.")

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": operator.eq, "$ne": operator.ne, "$gt": operator.gt, "$gte": operator.ge,
    "$lt": operator.lt, "$lte": operator.le,
    "$in": lambda a, b: a in b, "$nin": lambda a, b: a not in b,
    "$contains": lambda a, b: isinstance(a, (list, tuple, str)) and b in a,
}


def match_metadata(metadata: dict, where: dict) -> bool:
    """Whether ``metadata`` satisfies ``where``: ``{"key": value}`` is equality; a value may be
    ``{"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte"|"$in"|"$nin"|"$contains": operand}``; ``"$and"`` and
    ``"$or"`` take lists of such dicts. A key the metadata lacks matches only ``$ne``/``$nin``."""
    for key, cond in where.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, (list, tuple)):
                raise ValueError(f"{key} takes a list of filters, got {type(cond).__name__}")
            results = (match_metadata(metadata, c) for c in cond)
            if not (all(results) if key == "$and" else any(results)):
                return False
            continue
        if key.startswith("$"):
            raise ValueError(f"unknown filter operator {key!r} (use $and / $or, or a field name)")
        ops = cond if isinstance(cond, dict) and cond and all(str(k).startswith("$") for k in cond) \
            else {"$eq": cond}
        for op, operand in ops.items():
            fn = _OPS.get(op)
            if fn is None:
                raise ValueError(f"unknown filter operator {op!r}; known: {sorted(_OPS)}")
            if key not in metadata:
                if op in ("$ne", "$nin"):
                    continue
                return False
            try:
                if not fn(metadata[key], operand):
                    return False
            except TypeError:  # e.g. "a" < 3: not a match, not an error
                return False
    return True


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DocIndex:
    """A vectro.Index over str ids with a record (text, metadata, anything JSON) per id.

    Mutations run under one lock, so an id's codes and record change together; searches skip an
    id whose record a concurrent delete has just removed.
    """

    def __init__(self, codec="int8", metric: str = "cosine", *, rerank=None, keep_originals: bool = False,
                 oversample: float | None = None) -> None:
        self.index = Index(codec, metric, rerank=rerank, keep_originals=keep_originals)
        self.records: dict[str, dict] = {}
        self.oversample = oversample
        self._lock = threading.RLock()

    @property
    def metric(self) -> str:
        return self.index.metric

    def __len__(self) -> int:
        return len(self.records)

    def upsert(self, ids: list[str], vectors, records: list[dict]) -> list[str]:
        """Inserts or replaces (codes and record) by id; an id repeated in the batch is an error."""
        ids = [str(i) for i in ids]
        if len(set(ids)) != len(ids):
            raise ValueError("ids repeat within the batch")
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) != len(ids) or len(records) != len(ids):
            raise ValueError(f"{len(ids)} ids need {len(ids)} vectors and records, got "
                             f"{x.shape} vectors and {len(records)} records")
        if not ids:
            return []
        with self._lock:
            self.index.upsert(x, np.array(ids, dtype=object))
            for i, r in zip(ids, records):
                self.records[i] = r
        return ids

    def delete(self, ids: Iterable[str] | None = None) -> int:
        """Removes the given ids (missing ones are ignored), or everything for None."""
        with self._lock:
            if ids is None:
                ids = list(self.records)
            ids = [str(i) for i in ids if str(i) in self.records]
            if not ids:
                return 0
            self.index.delete(np.array(ids, dtype=object))
            for i in ids:
                self.records.pop(i, None)
            return len(ids)

    def get(self, ids: Iterable[str]) -> list[tuple[str, dict]]:
        """(id, record) of the ids present, in the order asked."""
        out = []
        for i in ids:
            r = self.records.get(str(i))
            if r is not None:
                out.append((str(i), r))
        return out

    def vectors(self, ids: list[str]) -> np.ndarray:
        """Float32 rows of the ids: the originals when held, else the codes' reconstruction."""
        if not ids:
            return np.empty((0, self.index.dim or 0), np.float32)
        return self.index.get(np.array(ids, dtype=object))

    def allow(self, predicate: Callable[[str, dict], bool]) -> list[str]:
        """The ids whose (id, record) satisfy ``predicate``: an allow-list for search."""
        with self._lock:
            return [i for i, r in self.records.items() if predicate(i, r)]

    def search(self, vector, k: int, allow: list[str] | None = None,
               oversample: float | None = None) -> list[tuple[str, float, dict]]:
        """The best k (id, score, record), best first: score as Index.search gives it (similarity
        for "ip"/"cosine", squared distance for "l2")."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if len(self.index) == 0 or (allow is not None and not allow):
            return []
        over = oversample if oversample is not None else self.oversample
        kwargs = {"oversample": over} if over is not None else {}
        ids, scores = self.index.search(q, k=int(k), filter=allow, **kwargs)
        out = []
        for i, s in zip(ids[0].tolist(), scores[0].tolist()):
            if i is None:
                continue
            r = self.records.get(i)
            if r is not None:
                out.append((i, float(s), r))
        return out

    # ----- files -----------------------------------------------------------------------------
    def save(self, path, config: dict | None = None) -> None:
        """Writes the store to directory ``path`` crash-safely (see the module docstring)."""
        path = os.fspath(path)
        os.makedirs(path, exist_ok=True)
        with self._lock:
            old = self._manifest(path)
            gen = (old["generation"] + 1) if old else 1
            ids = list(self.records)
            doc = {"ids": ids, "records": [self.records[i] for i in ids],
                   "config": {"oversample": self.oversample, "metric": self.metric,
                              "codec": self.index.codec.precision, **(config or {})}}
            try:
                blob = json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError) as e:
                raise ValueError(f"document metadata must be JSON-serializable to save the store: {e}") from e
            docs_name, index_name = f"docs-{gen}.json", None
            _atomic_write(os.path.join(path, docs_name), blob)
            if self.index.dim is not None:
                index_name = f"index-{gen}.vqz"
                self.index.save(os.path.join(path, index_name))
        manifest = {"format": FORMAT, "version": VERSION, "generation": gen, "index": index_name,
                    "docs": docs_name}
        _fsync_dir(path)
        _atomic_write(os.path.join(path, MANIFEST), json.dumps(manifest).encode())
        _fsync_dir(path)
        for name in os.listdir(path):  # older generations and leftovers of an interrupted save
            m = _GEN_FILE.match(name)
            if (m and int(m.group(2)) != gen) or name.startswith(".tmp-"):
                try:
                    os.unlink(os.path.join(path, name))
                except OSError:
                    pass

    @staticmethod
    def _manifest(path: str) -> dict | None:
        p = os.path.join(path, MANIFEST)
        if not os.path.exists(p):
            return None
        with open(p, "rb") as f:
            try:
                m = json.loads(f.read())
            except ValueError as e:
                raise VectroError(f"{p}: not a vectro store manifest ({e})") from e
        if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("generation"), int):
            raise VectroError(f"{p}: not a vectro store manifest")
        if m.get("version", 0) > VERSION:
            raise VectroError(f"{p}: store format version {m['version']} is newer than this vectro reads "
                              f"({VERSION}); upgrade vectro")
        return m

    @classmethod
    def load(cls, path, **overrides) -> tuple[DocIndex, dict]:
        """Reads a store written by :meth:`save`; returns (DocIndex, the saved config)."""
        path = os.fspath(path)
        m = cls._manifest(path)
        if m is None:
            raise FileNotFoundError(f"{path}: no {MANIFEST}: not a saved vectro store")
        with open(os.path.join(path, os.path.basename(m["docs"])), "rb") as f:
            doc = json.loads(f.read())
        config = doc.get("config", {})
        ids, records = doc["ids"], doc["records"]
        if len(ids) != len(records) or len(set(ids)) != len(ids):
            raise VectroError(f"{path}: the documents file is inconsistent (ids and records differ)")
        self = cls.__new__(cls)
        self._lock = threading.RLock()
        self.oversample = overrides.get("oversample", config.get("oversample"))
        if m.get("index"):
            self.index = Index.load(os.path.join(path, os.path.basename(m["index"])))
        else:
            self.index = Index(config.get("codec", "int8"), config.get("metric", "cosine"))
        have = self.index.ids.tolist()
        if len(have) != len(ids) or set(have) != set(ids):
            raise VectroError(f"{path}: the index holds {len(have)} ids and the documents {len(ids)}, "
                              "not the same ones")
        self.records = dict(zip(ids, records))
        return self, config
