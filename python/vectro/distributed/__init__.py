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

from ._compress import compress
from ._manifest import load as _load
from ._manifest import verify_entry as _verify_entry
from ._search import ShardedIndex

__all__ = ["ShardedIndex", "compress", "read_manifest", "verify"]


def read_manifest(dataset) -> dict:
    """The manifest of a dataset directory (or of its manifest.json path); VectroError when the
    dataset is incomplete (no manifest) or the file is not one."""
    return _load(dataset)[1]


def verify(dataset, client=None) -> int:
    """Checks every shard the manifest lists (size, CRC-32, rows, codec; originals too), on the
    workers when ``client`` is given. Returns the number of rows; raises VectroError naming the
    first file that does not match."""
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
