"""vectro.integrations.datasets with real Hugging Face datasets, offline: fixed-length code columns
that read back in their own dtype, the codec carried in the dataset's features through map, select,
shuffle, save_to_disk and a Parquet round trip (bit-identical), and Index/QuantizedEmbeddings back."""
import os
import tempfile

# Offline and in a private cache, before datasets reads its configuration at import.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="vectro-hf-cache-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import vectro  # noqa: E402

datasets = pytest.importorskip("datasets", reason="datasets is not installed: pip install 'vectro[datasets]'")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
from vectro.integrations.datasets import (  # noqa: E402
    codec_of,
    compress_column,
    reconstruct_column,
    to_index,
    to_quantized,
)

N = 1200


@pytest.fixture(scope="module")
def emb(sample):
    return np.ascontiguousarray(sample[0][:N])


@pytest.fixture(scope="module")
def ds(emb):
    return datasets.Dataset.from_dict({"id": [f"doc{i}" for i in range(N)], "n": np.arange(N) * 3,
                                       "embedding": emb})


def test_offline():
    assert datasets.config.HF_DATASETS_OFFLINE and datasets.config.HF_HUB_OFFLINE


@pytest.mark.parametrize("precision,dtype", [("int8", "int8"), ("uint8", "uint8"), ("f16", "halffloat"),
                                             ("bf16", "uint16"), ("binary", "uint8"), ("int4-g32", "uint8"),
                                             ("pq-24x4", "uint8")])
def test_codes_are_fixed_length_columns_equal_to_vectro(ds, emb, precision, dtype):
    out = compress_column(ds, "embedding", precision, batch_size=500)
    assert "embedding" not in out.column_names and out["id"][:2] == ["doc0", "doc1"]
    q = to_quantized(out, "embedding_codes")
    ref = vectro.quantize_embeddings(emb, q.codec)  # the stored codec re-encodes to the same codes
    arrow_type = out.data.schema.field("embedding_codes").type
    assert pa.types.is_fixed_size_list(arrow_type) and str(arrow_type.value_type) == dtype
    assert arrow_type.list_size == ref.codes.shape[1]
    np.testing.assert_array_equal(q.codes, ref.codes)
    assert q.codes.dtype == ref.codes.dtype
    if ref.scales is None:
        assert "embedding_scales" not in out.column_names
    else:
        np.testing.assert_array_equal(q.scales, ref.scales)
    np.testing.assert_array_equal(vectro.reconstruct_embeddings(q), vectro.reconstruct_embeddings(ref))


def test_parquet_round_trip_is_bit_identical(tmp_path, ds):
    out = compress_column(ds, "embedding", "int4-g32")
    path = str(tmp_path / "c.parquet")
    out.to_parquet(path)
    schema = pq.read_schema(path)  # plain Parquet: fixed-size int8/uint8 lists, codec in the metadata
    assert pa.types.is_fixed_size_list(schema.field("embedding_codes").type)
    assert b"vectro-codec/1:" in schema.metadata[b"huggingface"]
    back = datasets.Dataset.from_parquet(path)
    assert codec_of(back, "embedding_codes").to_bytes() == codec_of(out, "embedding_codes").to_bytes()
    a, b = to_quantized(out, "embedding_codes"), to_quantized(back, "embedding_codes")
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.scales, b.scales)
    assert a.codes.tobytes() == b.codes.tobytes() and a.scales.tobytes() == b.scales.tobytes()
    # and once more through Parquet: the file's columns are byte-identical
    path2 = str(tmp_path / "c2.parquet")
    back.to_parquet(path2)
    t1, t2 = pq.read_table(path), pq.read_table(path2)
    assert t1.equals(t2) and t1.schema.metadata == t2.schema.metadata


def test_codec_follows_map_select_shuffle_concatenate_and_save_to_disk(tmp_path, ds, emb):
    out = compress_column(ds, "embedding", "pq-24x8", remove_column=False)
    np.testing.assert_array_equal(np.asarray(out.with_format("numpy")[:5]["embedding"]), emb[:5])
    ref = to_quantized(out, "embedding_codes")
    shuffled = out.map(lambda b: {"m": [v + 1 for v in b["n"]]}, batched=True).shuffle(seed=3).select(range(100))
    idx = np.asarray(shuffled.with_format("numpy")[:]["n"]) // 3
    np.testing.assert_array_equal(to_quantized(shuffled, "embedding_codes").codes, ref.codes[idx])
    both = datasets.concatenate_datasets([out.select(range(10)), out.select(range(10, 20))])
    np.testing.assert_array_equal(to_quantized(both, "embedding_codes").codes, ref.codes[:20])
    out.save_to_disk(str(tmp_path / "saved"))
    loaded = datasets.load_from_disk(str(tmp_path / "saved"))
    np.testing.assert_array_equal(to_quantized(loaded, "embedding_codes").codes, ref.codes)


def test_calibrated_codec_fits_on_the_first_rows_and_num_proc(ds, emb):
    out = compress_column(ds, "embedding", "uint8", calibration_rows=500, num_proc=2, batch_size=300)
    codec = codec_of(out, "embedding_codes")
    np.testing.assert_array_equal(codec.ranges, vectro.Codec("uint8").fit(emb[:500]).ranges)
    np.testing.assert_array_equal(to_quantized(out, "embedding_codes").codes, codec.encode(emb).codes)


def test_index_from_the_dataset_equals_index_built_by_add(ds, emb, sample):
    queries = sample[1][:20]
    out = compress_column(ds, "embedding", "int8")
    for id_column, ids in (("id", [f"doc{i}" for i in range(N)]), ("n", np.arange(N, dtype=np.uint64) * 3),
                           (None, None)):
        index = to_index(out, "embedding_codes", metric="ip", id_column=id_column)
        direct = vectro.Index(vectro.Codec("int8"), metric="ip")  # compress_column's codec (Index("int8") centres)
        direct.add(emb, ids=ids)
        i1, s1 = index.search(queries, k=10)
        i2, s2 = direct.search(queries, k=10)
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(s1, s2)
    q = to_quantized(out, "embedding_codes", id_column="n")
    np.testing.assert_array_equal(q.ids, np.arange(N, dtype=np.uint64) * 3)


def test_reconstruct_column(ds, emb):
    out = reconstruct_column(compress_column(ds, "embedding", "f16"), "embedding_codes")
    got = out.with_format("arrow")[:].column("embedding").combine_chunks().flatten().to_numpy().reshape(N, -1)
    np.testing.assert_array_equal(got, emb.astype(np.float16).astype(np.float32))


def test_bad_input_gets_clear_errors(ds):
    with pytest.raises(KeyError, match="no column 'emb'"):
        compress_column(ds, "emb")
    ragged = datasets.Dataset.from_dict({"embedding": [[1.0, 2.0], [1.0, 2.0, 3.0]]})
    with pytest.raises(ValueError, match="different lengths"):
        compress_column(ragged)
    holes = datasets.Dataset.from_dict({"embedding": [[1.0, 2.0], None]})
    with pytest.raises(ValueError, match="missing rows"):
        compress_column(holes)
    with pytest.raises(ValueError, match="carries no vectro codec"):
        to_quantized(ds, "embedding")
    with pytest.raises(vectro.VectroError, match="NaN"):
        compress_column(datasets.Dataset.from_dict({"embedding": [[1.0, float("nan")]]}))
    with pytest.raises(ValueError, match="already has a column"):
        compress_column(ds.add_column("embedding_codes", [0] * N))
    with pytest.raises(ValueError, match="empty"):
        compress_column(ds.select([]))
