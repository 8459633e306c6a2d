"""The dataset directory of vectro.distributed: its layout, the per-shard entries written next to
each shard, the manifest (written last, atomically) and the checks that make a resume safe."""

from __future__ import annotations

import hashlib
import json
import os
import zlib

from .. import Codec, VectroError, VqzReader
from .._codec import _atomic_write

MANIFEST = "manifest.json"
CODEC_FILE = "codec.vqc"
SHARDS = "shards"
FORMAT = "vectro-sharded-dataset"
VERSION = 1


def fingerprint(codec: Codec) -> str:
    """A digest of the codec's serialized state: shards with equal fingerprints decode alike."""
    return hashlib.blake2b(codec.to_bytes(), digest_size=16).hexdigest()


def shard_name(i: int) -> str:
    return f"{SHARDS}/shard-{i:06d}.vqz"


def crc32_file(path: str, block: int = 1 << 22) -> int:
    """zlib's CRC-32 of a whole file (the manifest's ``crc32``), read in 4 MiB pieces."""
    crc = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(block)
            if not b:
                return crc
            crc = zlib.crc32(b, crc)


def write_atomic(path: str, text: str) -> None:
    """Writes text under a temporary name, syncs it, renames it over ``path`` and syncs the
    directory: readers see the old file or the new one, never a part."""
    d = os.path.dirname(os.path.abspath(path))
    _atomic_write(path, text.encode("utf-8"))  # unpredictable O_EXCL temporary, as every writer
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def entry_path(root: str, shard: str) -> str:
    return os.path.join(root, shard[: -len(".vqz")] + ".json")


def check_file(root: str, rel: str, size: int, crc: int | None) -> str:
    """The absolute path of a file the manifest lists, after its size and CRC-32 (unless None) match."""
    path = os.path.join(root, rel)
    try:
        have = os.path.getsize(path)
    except OSError:
        raise VectroError(f"{path}: listed in the manifest but missing") from None
    if have != size:
        raise VectroError(f"{path}: {have} bytes, the manifest says {size}: not the shard it lists")
    if crc is not None and crc32_file(path) != crc:
        raise VectroError(f"{path}: CRC-32 does not match the manifest: the file is damaged or replaced")
    return path


def verify_entry(root: str, entry: dict, codec_fp: str) -> None:
    """Raises VectroError naming the file unless the shard (and its originals) are exactly what
    the entry says: size, CRC-32, rows and the codec that made them."""
    path = check_file(root, entry["shard"], entry["size"], entry["crc32"])
    try:
        r = VqzReader(path)
    except Exception as e:
        raise VectroError(f"{path}: unreadable shard ({e})") from None
    if len(r) != entry["rows"]:
        raise VectroError(f"{path}: {len(r)} rows, the manifest says {entry['rows']}")
    if fingerprint(r.codec) != codec_fp or entry["codec"] != codec_fp:
        raise VectroError(f"{path}: made by another codec state than the dataset's")
    if entry.get("originals"):
        o = entry["originals"]
        check_file(root, o["path"], o["size"], o["crc32"])


def try_entry(root: str, unit: dict, codec_fp: str) -> dict | None:
    """The entry of a finished shard for exactly this unit of work, verified; None when the
    shard must be (re)made: no entry, another plan, or a file that does not verify."""
    try:
        with open(entry_path(root, unit["shard"]), encoding="utf-8") as f:
            entry = json.load(f)
    except (OSError, ValueError):
        return None
    if entry.get("unit") != unit or entry.get("codec") != codec_fp:
        return None
    try:
        verify_entry(root, entry, codec_fp)
    except VectroError:
        return None
    return entry


def load(dataset) -> tuple[str, dict]:
    """(dataset root, manifest) from the dataset directory or its manifest.json path."""
    path = os.fspath(dataset)
    root = os.path.abspath(os.path.dirname(path) if path.endswith(".json") else path)
    mpath = os.path.join(root, MANIFEST)
    try:
        with open(mpath, encoding="utf-8") as f:
            man = json.load(f)
    except FileNotFoundError:
        raise VectroError(f"{mpath}: no manifest: the dataset is incomplete (rerun compress to finish it)") from None
    except ValueError as e:
        raise VectroError(f"{mpath}: not a valid manifest ({e})") from None
    if man.get("format") != FORMAT:
        raise VectroError(f"{mpath}: not a vectro sharded-dataset manifest")
    if man.get("version", 0) > VERSION:
        raise VectroError(f"{mpath}: manifest version {man['version']} is newer than this vectro reads ({VERSION})")
    return root, man
