"""vectro.distributed: compress many embeddings files into .vqz shards on a Dask cluster (one task
per row range or Parquet row-group run, the codec trained once and shipped as bytes, a manifest
written last), resume after a crash, and search the shards on the workers with a merged top k.

Needs the ``distributed`` extra (``pip install 'vectro[distributed]'``: dask[distributed],
pyarrow, fsspec); without a ``client`` everything also runs in this process.

Example:
    >>> import numpy as np, os, tempfile, vectro.distributed as vd
    >>> d = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     np.save(os.path.join(d, f"part{i}.npy"), np.random.default_rng(i).standard_normal((500, 32), np.float32))
    >>> vd.compress(os.path.join(d, "*.npy"), os.path.join(d, "out"), "int8", shard_rows=400)["shards"]
    6
    >>> ids, scores = vd.ShardedIndex(os.path.join(d, "out")).search(np.ones(32, np.float32), k=3)
    >>> ids.shape
    (3,)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._compress import compress
from ._manifest import load as _load
from ._manifest import verify_entry as _verify_entry
from ._search import ShardedIndex

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import distributed

__all__ = ["ShardedIndex", "compress", "read_manifest", "verify"]


def read_manifest(dataset: str | os.PathLike) -> dict:
    """The manifest of a dataset directory (or of its manifest.json path); VectroError when the
    dataset is incomplete (no manifest) or the file is not one.

    Example:
        >>> import numpy as np, vectro.distributed as vd
        >>> X = np.random.default_rng(0).standard_normal((1000, 32), np.float32)
        >>> np.save("a.npy", X[:600]); np.save("b.npy", X[600:])
        >>> _ = vd.compress(["a.npy", "b.npy"], "ds", "int8", shard_rows=250, originals=True)
        >>> m = vd.read_manifest("ds")
        >>> m["rows"], m["dim"], m["metric"], m["codec"]["precision"], len(m["shards"])
        (1000, 32, 'cosine', 'int8', 5)
        >>> m["shards"][0]["shard"], m["shards"][0]["rows"], m["shards"][0]["originals"]["path"]
        ('shards/shard-000000.vqz', 250, 'shards/shard-000000.f32.npy')
    """
    return _load(dataset)[1]


def verify(dataset: str | os.PathLike, client: distributed.Client | Executor | None = None) -> int:
    """Checks every shard the manifest lists (size, CRC-32, rows, codec; originals too), on the
    workers when ``client`` is given. Returns the number of rows; raises VectroError naming the
    first file that does not match.

    Example:
        >>> import numpy as np, vectro.distributed as vd
        >>> X = np.random.default_rng(0).standard_normal((1000, 32), np.float32)
        >>> np.save("a.npy", X[:600]); np.save("b.npy", X[600:])
        >>> _ = vd.compress(["a.npy", "b.npy"], "ds", "int8", shard_rows=250, originals=True)
        >>> vd.verify("ds")
        1000
        >>> with open("ds/shards/shard-000003.vqz", "r+b") as f:
        ...     _ = f.seek(200); _ = f.write(b"x")           # one byte changed
        >>> vd.verify("ds")
        Traceback (most recent call last):
        ...
        vectro.VectroError: ...shard-000003.vqz...
    """
    from ._compress import run_tasks

    root, man = _load(dataset)
    fp = man["codec"]["fingerprint"]
    run_tasks(client, _verify_entry, [(root, e, fp) for e in man["shards"]], name="verify")
    if sum(e["rows"] for e in man["shards"]) != man["rows"]:
        from .. import VectroError

        raise VectroError(f"{root}: the shards hold another number of rows than the manifest says")
    return int(man["rows"])


def main(argv=None) -> int:
    """The ``vectro-dask`` command line (``python -m vectro.distributed``)."""
    from ._cli import main as _main

    return _main(argv)
