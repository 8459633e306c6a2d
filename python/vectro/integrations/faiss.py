"""vectro <-> FAISS: the same codes in a FAISS flat index and back, with nothing re-encoded.

Mapping (codes are copied byte for byte, codebooks and ranges are carried over):

==================  ==========================================================================
vectro              FAISS
==================  ==========================================================================
``binary``          ``IndexBinaryFlat`` (bits reordered: FAISS packs dimension 8i+j into bit j
                    of byte i, LSB first, as ``faiss.real_to_binary``; vectro is numpy.packbits,
                    MSB first)
``f16``, ``bf16``   ``IndexScalarQuantizer`` ``QT_fp16`` / ``QT_bf16`` (``add_sa_codes``)
``uint8``,          ``IndexScalarQuantizer`` ``QT_8bit`` with the same per-dimension ranges
``int8`` calibrated (vmin = low, vdiff = high - low; rounded codes shift vmin down half a step,
                    because FAISS decodes a code c at c + 0.5)
``pq-Mx8``          ``IndexPQ`` (M, 8 bits), codebooks copied
``pq-Mx4``          ``IndexPQFastScan`` (M, 4 bits), codebooks copied
ids                 ``IndexIDMap2`` / ``IndexBinaryIDMap2`` (int64)
==================  ==========================================================================

Per-vector scaled ``int8``/``int4``/``int16``, ``rabitq``, rotated ``pq`` (and, not yet,
``uint4``/``uint6``) have no FAISS counterpart: :func:`to_faiss` says which codec to use instead.

Centred codecs (``center=True``, what ``vectro.Index("uint8")`` and other names build by default)
code x - c: for calibrated and pq codecs the centre c is folded into FAISS's ranges or codebooks,
so FAISS decodes the same vectors. FAISS scores q . decode(x); vectro's own search adds each row's
centre correction (docs/quality.md), which FAISS has no place for, so FAISS ranks as the
reconstructions do (e5, uint8: recall@10 0.989 there, 0.992 in vectro). A centred ``binary``
codec is refused (FAISS's binary queries would have to be binarized from q - c): use
``vectro.Codec("binary")``.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from typing import TYPE_CHECKING

import numpy as np

from .. import _core
from .._codec import Codec, QuantizedEmbeddings
from . import index_from_codes, require

if TYPE_CHECKING:
    import faiss
    from numpy.typing import ArrayLike

    from .._index import Index

_REVERSE_BITS = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], np.uint8)
_METRICS = ("ip", "l2")


def _faiss():
    return require("faiss", "faiss", "vectro.to_faiss / vectro.from_faiss")


# ---- the codec bytes (docs/format.md, "Embedded codec"): pq codebooks in and out ----------------

def _centre_offset(blob: bytes, d: int) -> tuple[int, int]:
    """(offset where a serialized codec's centre would start, flags): after the header, the
    parameters and the calibrated ranges (flag bit 0)."""
    major, minor = struct.unpack_from("<HH", blob, 4)
    (flags,) = struct.unpack_from("<I", blob, 36)
    off = 40 + (32 if (major, minor) >= (1, 1) else 0) + (8 if major >= 2 else 0)
    return off + (8 * d if flags & 1 else 0), flags


def _state_offset(blob: bytes, d: int) -> tuple[int, int]:
    """(offset of the module-state size field, flags) of a serialized codec."""
    off, flags = _centre_offset(blob, d)
    if flags & 4:  # the centre of a codec the library centres: d f32, then the f32 scale
        off += 4 * d + 4
    return off, flags


def _centre(codec: Codec) -> np.ndarray | None:
    """The centre c of a codec centred by the library (``center=True``; flag bit 2), float32 (d,),
    or None for an uncentred codec. Decoding adds c to the plain codec's decode (docs/quality.md),
    so FAISS can hold a centred calibrated or pq codec exactly by folding c into its ranges or
    codebooks."""
    if not codec.center:
        return None
    blob, d = codec.to_bytes(), codec.dim
    off, flags = _centre_offset(blob, d)
    if not flags & 4:
        return None
    return np.frombuffer(blob, "<f4", d, off).astype(np.float32)


def _pq_codebooks(codec: Codec) -> np.ndarray:
    """The trained pq codec's centroids, float32 (m, 2^bits, d/m)."""
    blob = codec.to_bytes()
    off, flags = _state_offset(blob, codec.dim)
    if not flags & 2:
        raise ValueError("the pq codec is not trained: fit it first")
    (size,) = struct.unpack_from("<Q", blob, off)
    m, ksub, dsub, _ = struct.unpack_from("<IIII", blob, off + 8)
    cb = np.frombuffer(blob, "<f4", m * ksub * dsub, off + 24)
    if 16 + cb.nbytes != size:
        raise ValueError("unexpected pq codec state")
    return cb.astype(np.float32).reshape(m, ksub, dsub)


def _pq_codec(d: int, m: int, bits: int, centroids: np.ndarray) -> Codec:
    """A trained vectro pq codec holding the given centroids (m * 2^bits * d/m floats)."""
    ksub, dsub = 1 << bits, d // m
    cb = np.ascontiguousarray(centroids, dtype="<f4").reshape(-1)
    if cb.size != m * ksub * dsub:
        raise ValueError(f"pq codebooks hold {cb.size} floats, expected {m * ksub * dsub}")
    blob = Codec(f"pq-{m}x{bits}", dim=d).to_bytes()  # untrained: header, parameters, CRC
    off, flags = _state_offset(blob, d)
    body = bytearray(blob[:off])
    struct.pack_into("<I", body, 36, flags | 2)
    state = struct.pack("<IIII", m, ksub, dsub, 0) + cb.tobytes()
    body += struct.pack("<Q", len(state)) + state
    body += struct.pack("<I", _core.crc32c(body))  # the library's own (hardware) CRC-32C
    return Codec.from_bytes(bytes(body))


# ---- vectro -> FAISS ----------------------------------------------------------------------------

def _metric_of(faiss, metric: str):
    if metric not in _METRICS:
        raise ValueError(
            f"FAISS flat indexes score by 'ip' or 'l2', got metric={metric!r}"
            + ("; FAISS has no cosine: normalize the vectors (faiss.normalize_L2) and use 'ip'"
               if metric == "cosine" else ""))
    return faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2


def _unsupported(codec: Codec) -> str | None:
    name = codec.name
    if name == "int8":
        return ("per-vector scaled int8 has no FAISS counterpart (FAISS scales per dimension): "
                "use 'uint8' (calibrated, -> IndexScalarQuantizer QT_8bit) or 'f16'")
    if name == "int16":
        return "int16 has no FAISS counterpart: use 'f16' (-> IndexScalarQuantizer QT_fp16)"
    if name == "int4":
        return ("per-vector int4 has no FAISS counterpart (FAISS QT_4bit is calibrated per "
                "dimension): use 'pq-<m>x4' (-> IndexPQFastScan) or 'uint8'")
    if name == "rabitq":
        return ("rabitq uses vectro's seeded rotation, which FAISS's IndexRaBitQ does not share: use "
                "'binary' (-> IndexBinaryFlat) or 'pq-<m>x4' (-> IndexPQFastScan)")
    if name in ("uint4-cal", "uint6-cal"):
        # FAISS's QT_4bit / QT_6bit take the same per-dimension ranges, but pack and round their codes
        # their own way; not converted (yet): the 8-bit codec converts exactly
        return (f"{name} is not converted to FAISS (its QT_4bit/QT_6bit pack codes differently): use "
                "'uint8' (-> IndexScalarQuantizer QT_8bit) or 'pq-<m>x4' (-> IndexPQFastScan)")
    if name == "pq" and codec.extra.get("rotate"):
        return ("a rotated pq codec (rotate=True) has no FAISS counterpart here: train "
                "Codec('pq-<m>x<bits>') without rotate")
    return None


def _codes_of(obj):
    """(QuantizedEmbeddings, uint64 ids or None, metric or None) of QuantizedEmbeddings or an Index."""
    if isinstance(obj, QuantizedEmbeddings):
        return obj, obj.ids, None
    from .._index import Index

    if not isinstance(obj, Index):
        raise TypeError(f"to_faiss takes QuantizedEmbeddings or a vectro.Index, got {type(obj).__name__}")
    if len(obj) == 0 or obj.dim is None:
        raise ValueError("the index is empty: nothing to hand to FAISS")
    ids = obj.ids
    if ids.dtype == object:
        raise ValueError("FAISS ids are int64: an Index with str ids cannot be converted (keep a "
                         "str -> int map and add with int ids)")
    from .._files import VqzReader

    # The codes through the index's own file format: the public API, whatever the in-memory layout.
    tmp = tempfile.mkdtemp(prefix="vectro-faiss-")
    try:
        path = os.path.join(tmp, "index.vqz")
        obj.save(path)
        r = VqzReader(path)
        q = r.read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    file_ids = q.ids if q.ids is not None else np.arange(len(q), dtype=np.uint64)
    if not np.array_equal(file_ids, np.asarray(ids, np.uint64)):
        raise ValueError("the index's saved rows do not line up with its ids")
    return q, file_ids, obj.metric


def _with_ids(faiss, index, ids, binary: bool):
    """Wraps a filled index in an IndexIDMap2 (IndexBinaryIDMap2) carrying ``ids``."""
    # The id map's constructor insists on an empty index (it cannot know ids for rows already
    # there); we supply them, so it is shown an empty index and given the rows and ids after.
    n, index.ntotal = index.ntotal, 0
    try:
        wrapped = faiss.IndexBinaryIDMap2(index) if binary else faiss.IndexIDMap2(index)
    finally:
        index.ntotal = n
    faiss.copy_array_to_vector(np.ascontiguousarray(ids).view(np.int64), wrapped.id_map)
    wrapped.ntotal = index.ntotal
    wrapped.construct_rev_map()
    return wrapped


def to_faiss(obj: QuantizedEmbeddings | Index, *, metric: str | None = None,
             ids: ArrayLike | None = None) -> faiss.Index:
    """A FAISS index holding the same codes as ``obj`` (QuantizedEmbeddings or a vectro.Index).

    ``metric``: "ip" or "l2" (default: the Index's metric; for QuantizedEmbeddings "ip"); an
    Index with metric "cosine" needs ``metric="ip"`` given explicitly (FAISS has no cosine: store
    normalized vectors). Binary codes are searched by Hamming distance whatever the metric.
    ``ids``: int ids (default: the Index's ids, or the QuantizedEmbeddings' ``ids`` read from a
    .vqz); with ids the result is an ``IndexIDMap2`` (``IndexBinaryIDMap2``) around the index.

    Raises ValueError for a codec FAISS cannot hold, naming the codec to use instead.

    Example:
        >>> import numpy as np, vectro, faiss
        >>> X = np.random.default_rng(0).standard_normal((1000, 64)).astype(np.float32)
        >>> index = vectro.to_faiss(vectro.quantize_embeddings(X, "f16"), metric="l2")
        >>> index.search(X[:2], 1)[1].ravel().tolist()
        [0, 1]
    """
    faiss = _faiss()
    q, own_ids, own_metric = _codes_of(obj)
    why = _unsupported(q.codec)
    if why:
        raise ValueError(why)
    if ids is None:
        ids = own_ids
    if ids is not None:
        ids = np.asarray(ids)
        if ids.dtype == object or ids.dtype.kind not in "iu":
            raise ValueError("FAISS ids are int64: pass integer ids")
        if ids.shape != (len(q),):
            raise ValueError(f"ids must have shape ({len(q)},), got {ids.shape}")
        if ids.dtype.kind == "u" and len(ids) and int(ids.max()) >= 2**63:
            raise ValueError("FAISS ids are int64: ids of 2**63 and above do not fit")
        ids = ids.astype(np.int64)
    metric = metric or own_metric or "ip"
    name, d, n = q.codec.name, q.dim, len(q)
    codes = q.codes
    binary = name == "binary"
    centre = _centre(q.codec)
    if binary:
        if centre is not None:
            # FAISS would hold the bits, sign(x - c), but IndexBinaryFlat is searched with the
            # caller's own binary queries, which would have to be sign(q - c): refuse rather than
            # hand over an index that silently answers differently from vectro
            raise ValueError("a centred binary codec (Index('binary') centres by default) codes "
                             "sign(x - c), which FAISS's IndexBinaryFlat cannot search from plain "
                             "queries: build the index with vectro.Codec('binary') (uncentred, the "
                             "sign bits of x that faiss.real_to_binary gives)")
        if d % 8:
            raise ValueError(f"FAISS binary indexes need a dimension that is a multiple of 8, got {d}")
        index = faiss.IndexBinaryFlat(d)
        index.add(np.ascontiguousarray(_REVERSE_BITS[codes]))
    else:
        mt = _metric_of(faiss, metric)
        if name in ("f16", "bf16"):
            qt = faiss.ScalarQuantizer.QT_fp16 if name == "f16" else faiss.ScalarQuantizer.QT_bf16
            index = faiss.IndexScalarQuantizer(d, qt, mt)
            index.is_trained = True
            index.add_sa_codes(np.ascontiguousarray(codes).view(np.uint8).reshape(n, -1))
        elif name in ("uint8-cal", "int8-cal"):
            lo, hi = q.codec.ranges
            vdiff = (hi - lo).astype(np.float32)
            vmin = lo.astype(np.float32)
            if q.codec.rounding == "nearest":  # vectro decodes code c at c; FAISS at c + 0.5
                vmin = (vmin - 0.5 * (vdiff / np.float32(255))).astype(np.float32)
            if centre is not None:  # codes of x - c: the decode moved by c
                vmin = (vmin + centre).astype(np.float32)
            index = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, mt)
            faiss.copy_array_to_vector(np.concatenate([vmin, vdiff]), index.sq.trained)
            index.is_trained = True
            u8 = codes.view(np.uint8)
            index.add_sa_codes(np.ascontiguousarray(u8 ^ 0x80 if name == "int8-cal" else u8))
        elif name == "pq":
            m, bits = q.codec.extra["m"], q.codec.extra["bits"]
            pq_index = faiss.IndexPQ(d, m, bits, mt)
            books = _pq_codebooks(q.codec)
            if centre is not None:  # codes of x - c: each subspace's centroids moved by its c
                books = (books + centre.reshape(m, 1, d // m)).astype(np.float32)
            faiss.copy_array_to_vector(np.ascontiguousarray(books).ravel(), pq_index.pq.centroids)
            pq_index.is_trained = True
            pq_index.add_sa_codes(np.ascontiguousarray(codes))
            index = faiss.IndexPQFastScan(pq_index) if bits == 4 else pq_index
        else:  # pragma: no cover - every codec is named above or in _unsupported
            raise ValueError(f"no FAISS counterpart for {q.precision}")
    if ids is not None:
        index = _with_ids(faiss, index, ids, binary)
    return index


# ---- FAISS -> vectro ----------------------------------------------------------------------------

_SUPPORTED = ("IndexBinaryFlat, IndexScalarQuantizer (QT_fp16, QT_bf16, QT_8bit, QT_8bit_uniform), "
              "IndexPQ (4 or 8 bits), IndexPQFastScan, each optionally inside IndexIDMap/IndexIDMap2 "
              "(IndexBinaryIDMap/IndexBinaryIDMap2)")


def _unwrap(faiss, index):
    """(inner index, int64 ids or None, binary?)."""
    binary = isinstance(index, faiss.IndexBinary)
    index = faiss.downcast_IndexBinary(index) if binary else faiss.downcast_index(index)
    ids = None
    if isinstance(index, (faiss.IndexIDMap, faiss.IndexIDMap2, faiss.IndexBinaryIDMap,
                          faiss.IndexBinaryIDMap2)):
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        index = faiss.downcast_IndexBinary(index.index) if binary else faiss.downcast_index(index.index)
    return index, ids, binary


def _fastscan_codes(faiss, index) -> np.ndarray:
    """The flat (n, code_size) codes of an IndexPQFastScan, unpacked from its 32-row blocks."""
    packer = index.get_CodePacker()
    blocks = faiss.vector_to_array(index.codes)
    n, cs, bs = index.ntotal, packer.code_size, packer.block_size
    nblocks = (n + packer.nvec - 1) // packer.nvec
    out = np.empty((nblocks * packer.nvec, cs), np.uint8)
    for b in range(nblocks):
        packer.unpack_all(faiss.swig_ptr(blocks[b * bs:(b + 1) * bs]), faiss.swig_ptr(out[b * packer.nvec:]))
    return out[:n]


def _metric_name(faiss, index) -> str:
    if index.metric_type == faiss.METRIC_INNER_PRODUCT:
        return "ip"
    if index.metric_type == faiss.METRIC_L2:
        return "l2"
    raise ValueError(f"vectro searches by inner product, cosine or L2; this FAISS index uses metric "
                     f"{index.metric_type}")


def _flat_codes(faiss, index, code_size: int) -> np.ndarray:
    return faiss.vector_to_array(index.codes).reshape(index.ntotal, code_size)


def from_faiss(index: faiss.Index, *, as_codes: bool = False) -> Index | QuantizedEmbeddings:
    """The codes of a FAISS flat code index as a vectro.Index (default) or, with
    ``as_codes=True``, as QuantizedEmbeddings (``ids`` set when the FAISS index had an id map).
    Supported: IndexBinaryFlat, IndexScalarQuantizer (QT_fp16, QT_bf16, QT_8bit,
    QT_8bit_uniform), IndexPQ (4 or 8 bits), IndexPQFastScan, each optionally inside an
    IndexIDMap(2) / IndexBinaryIDMap(2). The Index gets FAISS's metric ("ip" or "l2"; binary
    indexes give "ip", Hamming ranking) and its ids (else 0..n-1).

    Example:
        >>> import numpy as np, vectro, faiss
        >>> X = np.random.default_rng(0).standard_normal((1000, 32)).astype(np.float32)
        >>> f = faiss.IndexScalarQuantizer(32, faiss.ScalarQuantizer.QT_fp16)
        >>> f.add(X)
        >>> vectro.from_faiss(f).search(X[:2], k=1)[0].ravel().tolist()
        [0, 1]
    """
    faiss = _faiss()
    inner, ids, binary = _unwrap(faiss, index)
    n, d = inner.ntotal, inner.d
    if binary:
        if not isinstance(inner, faiss.IndexBinaryFlat):
            raise ValueError(f"from_faiss reads {_SUPPORTED}; got {type(inner).__name__}")
        raw = faiss.vector_to_array(inner.xb).reshape(n, d // 8)
        q = QuantizedEmbeddings(np.ascontiguousarray(_REVERSE_BITS[raw]), None, codec=Codec("binary"), dim=d)
        metric = "ip"
    else:
        metric = _metric_name(faiss, inner)
        if isinstance(inner, faiss.IndexPQFastScan):
            if inner.pq.nbits != 4:
                raise ValueError(f"IndexPQFastScan with {inner.pq.nbits}-bit codes: vectro's fast scan is 4-bit")
            codec = _pq_codec(d, inner.pq.M, 4, faiss.vector_to_array(inner.pq.centroids))
            q = QuantizedEmbeddings(_fastscan_codes(faiss, inner), None, codec=codec, dim=d)
        elif isinstance(inner, faiss.IndexPQ):
            m, bits = inner.pq.M, inner.pq.nbits
            if bits not in (4, 8):
                raise ValueError(f"vectro's pq codes are 4 or 8 bits a subspace, this IndexPQ uses {bits}")
            codec = _pq_codec(d, m, bits, faiss.vector_to_array(inner.pq.centroids))
            q = QuantizedEmbeddings(_flat_codes(faiss, inner, inner.code_size), None, codec=codec, dim=d)
        elif isinstance(inner, faiss.IndexScalarQuantizer):
            q = _from_sq(faiss, inner, n, d)
        else:
            raise ValueError(f"from_faiss reads {_SUPPORTED}; got {type(inner).__name__} "
                             "(for an IVF or graph index, reconstruct its vectors and quantize them)")
    if ids is not None:
        if len(ids) and int(ids.min()) < 0:
            raise ValueError("FAISS ids are negative here; vectro ids are unsigned")
        q.ids = ids.astype(np.uint64)
    if as_codes:
        return q
    return index_from_codes(q, q.ids, metric)


def _from_sq(faiss, inner, n: int, d: int) -> QuantizedEmbeddings:
    SQ = faiss.ScalarQuantizer
    qt = inner.sq.qtype
    raw = _flat_codes(faiss, inner, inner.code_size)
    if qt in (SQ.QT_fp16, SQ.QT_bf16):
        dtype, name = (np.float16, "f16") if qt == SQ.QT_fp16 else (np.uint16, "bf16")
        return QuantizedEmbeddings(np.ascontiguousarray(raw).view(dtype), None, codec=Codec(name), dim=d)
    if qt in (SQ.QT_8bit, SQ.QT_8bit_uniform):
        if not inner.is_trained:
            raise ValueError("the scalar quantizer is not trained: it holds no ranges")
        tr = faiss.vector_to_array(inner.sq.trained).astype(np.float32)
        if qt == SQ.QT_8bit_uniform:
            vmin, vdiff = np.full(d, tr[0], np.float32), np.full(d, tr[1], np.float32)
        else:
            vmin, vdiff = tr[:d], tr[d:]
        # FAISS decodes c at vmin + (c + 0.5) / 255 * vdiff: vectro's truncating uint8 decodes at
        # low + (c + 0.5) * (high - low) / 255, the same ranges.
        codec = Codec("uint8", rounding="truncate").set_ranges(np.vstack([vmin, vmin + vdiff]))
        return QuantizedEmbeddings(np.ascontiguousarray(raw), None, codec=codec, dim=d)
    raise ValueError(f"from_faiss reads {_SUPPORTED}; this IndexScalarQuantizer's type {qt} has no "
                     "vectro counterpart (QT_4bit/QT_6bit: re-encode with 'int4-g32' or 'pq-<m>x4')")
