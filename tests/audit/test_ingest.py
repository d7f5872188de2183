"""Ingest: every format, every validation error, with the field it names."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelaudit.core.ingest import (
    PRED_PROBS_TOLERANCE,
    READERS,
    IngestLimits,
    detect_format,
    from_arrays,
    from_pred_probs,
    load_dataset,
    read_idx_array,
)
from labelaudit.errors import IngestError, UnsupportedFormat
from tests.conftest import LABEL_ERRORS_DIR, MNIST_DIR, require, write_idx


def _csv(tmp_path, text: str, name: str = "d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _table_text(n_per_class=6, classes=("cat", "dog"), extra=""):
    lines = ["a,b,label" + extra]
    for i in range(n_per_class):
        for c in classes:
            lines.append(f"{i},{i * 0.5},{c}")
    return "\n".join(lines) + "\n"


def test_csv_string_labels_become_sorted_class_ids(tmp_path):
    ds = load_dataset(_csv(tmp_path, _table_text(classes=("dog", "cat"))), folds=5)
    assert ds.modality == "tabular"
    assert ds.class_names == ["cat", "dog"]
    assert ds.features.shape == (12, 2) and ds.features.dtype == np.float32
    assert ds.labels.tolist()[:2] == [1, 0]
    assert ds.feature_names == ["a", "b"]


def test_csv_integer_labels_keep_their_values_as_names(tmp_path):
    text = "x,label\n" + "".join(f"{i},{3 if i % 2 else 7}\n" for i in range(12))
    ds = load_dataset(_csv(tmp_path, text), folds=2)
    assert ds.class_names == ["3", "7"]
    assert set(ds.labels.tolist()) == {0, 1}


def test_csv_true_label_column_is_kept_apart(tmp_path):
    text = "x,label,true_label\n" + "".join(f"{i},{'a' if i % 2 else 'b'},{'a' if i % 3 else 'b'}\n" for i in range(12))
    ds = load_dataset(_csv(tmp_path, text), folds=2)
    assert ds.feature_names == ["x"]
    assert ds.true_labels is not None and ds.true_labels.shape == (12,)


def test_custom_label_and_id_columns(tmp_path):
    text = "id,x,y\n" + "".join(f"r{i},{i},{i % 2}\n" for i in range(12))
    ds = load_dataset(_csv(tmp_path, text), label_column="y", id_column="id", folds=2)
    assert ds.feature_names == ["x"]
    assert ds.example_ids[:2].tolist() == ["r0", "r1"]


@pytest.mark.parametrize("text, field, code", [
    ("a,b,y\n1,2,0\n", "label_column", "missing_label_column"),
    ("a,label\n1,0\ninf,1\n", "a", "non_finite"),
    ("a,label\n1,0.5\n2,1\n", "label", "continuous_labels"),
    ("a,label\n1,0\n2,\n3,0\n", "label", "single_class"),  # the row with no label is left out
    ("label\n0\n1\n", "features", None),
])
def test_csv_errors_name_the_field(tmp_path, text, field, code):
    with pytest.raises(IngestError) as info:
        load_dataset(_csv(tmp_path, text), folds=2, limits=IngestLimits(min_rows=2))
    assert info.value.field == field
    if code:
        assert info.value.code == code


def test_class_with_fewer_members_than_folds(tmp_path):
    text = "a,label\n" + "".join(f"{i},big\n" for i in range(20)) + "1,small\n2,small\n"
    with pytest.raises(IngestError) as info:
        load_dataset(_csv(tmp_path, text), folds=5)
    assert info.value.code == "class_too_small" and "'small' has 2 examples" in info.value.message


def test_too_few_rows_and_single_class(tmp_path):
    with pytest.raises(IngestError) as info:
        load_dataset(_csv(tmp_path, "a,label\n1,0\n2,1\n"), folds=1)
    assert info.value.code == "too_few_rows"
    with pytest.raises(IngestError) as info:
        load_dataset(_csv(tmp_path, "a,label\n" + "1,0\n" * 12), folds=2)
    assert info.value.code == "single_class"


def test_empty_and_garbage_files(tmp_path):
    with pytest.raises(IngestError) as info:
        load_dataset(_csv(tmp_path, "", name="empty.bin"))
    assert info.value.code == "empty_file"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'a,label\n1,0\n"unterminated,1\n2,0,9\n')
    with pytest.raises(IngestError) as info:
        load_dataset(bad)
    assert info.value.field == "file"
    with pytest.raises(IngestError):
        load_dataset(tmp_path / "missing.csv")


def test_parquet_round_trip_and_corrupt_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"f": np.arange(12.0), "label": ["x", "y"] * 6}), path)
    ds = load_dataset(path, folds=2)
    assert ds.class_names == ["x", "y"] and ds.features.shape == (12, 1)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(path.read_bytes()[:40])
    with pytest.raises(IngestError) as info:
        load_dataset(broken, folds=2)
    assert info.value.code == "parse_error"


def test_npz_tabular_images_and_class_names(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "t.npz"
    np.savez(path, X=rng.normal(size=(20, 3)), y=np.arange(20) % 2, class_names=np.array(["no", "yes"]))
    ds = load_dataset(path, folds=2)
    assert ds.modality == "tabular" and ds.class_names == ["no", "yes"]
    imgs = tmp_path / "i.npz"
    np.savez(imgs, X=rng.integers(0, 255, size=(20, 8, 8, 3), dtype=np.uint8), y=np.arange(20) % 2)
    ds = load_dataset(imgs, folds=2)
    assert ds.modality == "image" and ds.features.shape == (20, 3, 8, 8) and ds.features.dtype == np.uint8


@pytest.mark.parametrize("arrays, field", [
    ({"X": np.zeros((10, 2))}, "y"),
    ({"y": np.zeros(10)}, "X"),
    ({"X": np.zeros((10, 2)), "y": np.arange(9) % 2}, "y"),
    ({"X": np.zeros((10, 2)), "y": np.arange(10) % 2, "class_names": np.array(["a"])}, "y"),
    ({"X": np.full((10, 2), np.nan), "y": np.arange(10) % 2}, "X"),
    ({"X": np.zeros((10, 2, 2, 2, 2)), "y": np.arange(10) % 2}, "X"),
])
def test_npz_errors(tmp_path, arrays, field):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(IngestError) as info:
        load_dataset(path, folds=2)
    assert info.value.field == field


def test_npz_not_a_zip(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    with pytest.raises(IngestError) as info:
        load_dataset(path, folds=2)
    assert info.value.code == "parse_error"


@pytest.mark.parametrize("gz", [True, False])
def test_idx_pair_raw_and_gzip(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = write_idx(tmp_path / "x-images-idx3-ubyte", rng.integers(0, 255, (30, 5, 4)), gz=gz)
    labels = write_idx(tmp_path / "x-labels-idx1-ubyte", np.arange(30) % 3, gz=gz)
    ds = load_dataset(images, labels=labels, folds=5)
    assert ds.modality == "image" and ds.features.shape == (30, 1, 5, 4)
    assert ds.class_names == ["0", "1", "2"]
    # the labels file is found beside the images when it follows MNIST's naming
    assert load_dataset(images, folds=5).num_examples == 30


def test_idx_errors(tmp_path):
    images = write_idx(tmp_path / "a.idx", np.zeros((30, 5, 4)))
    labels = write_idx(tmp_path / "b.idx", np.arange(29) % 3)
    with pytest.raises(IngestError) as info:
        load_dataset(images, labels=labels, folds=2)
    assert info.value.code == "length_mismatch"
    with pytest.raises(IngestError) as info:
        load_dataset(images, folds=2)
    assert info.value.field == "labels"
    raw = gzip.decompress(images.read_bytes())
    truncated = tmp_path / "t.idx"
    truncated.write_bytes(raw[:-7])
    with pytest.raises(IngestError) as info:
        read_idx_array(truncated)
    assert "announces" in info.value.message
    corrupt = tmp_path / "c.idx.gz"
    corrupt.write_bytes(images.read_bytes()[:30])
    with pytest.raises(IngestError):
        read_idx_array(corrupt)


def test_mnist_reference_idx_pair():
    ds = load_dataset(require(MNIST_DIR / "t10k-images-idx3-ubyte.gz"))
    assert ds.features.shape == (10000, 1, 28, 28)
    assert ds.class_counts().tolist()[:3] == [980, 1135, 1032]


def test_pred_probs_tolerance_repairs_small_errors():
    P = np.full((10, 2), 0.5)
    P[0] = [1.0 + PRED_PROBS_TOLERANCE / 2, -PRED_PROBS_TOLERANCE / 2]
    P[1] = [0.5, 0.5 + PRED_PROBS_TOLERANCE / 2]
    ds = from_pred_probs(P, np.arange(10) % 2)
    assert np.allclose(ds.pred_probs.sum(axis=1), 1.0)
    assert ds.pred_probs.min() >= 0.0 and ds.pred_probs.max() <= 1.0


@pytest.mark.parametrize("P, labels, code", [
    (np.full((10, 2), 0.6), np.arange(10) % 2, "not_normalised"),
    (np.tile([1.5, -0.5], (10, 1)), np.arange(10) % 2, "out_of_range"),
    (np.full((10, 2), np.nan), np.arange(10) % 2, "non_finite"),
    (np.full((10, 1), 1.0), np.zeros(10, int), "invalid_shape"),
    (np.full((10,), 1.0), np.zeros(10, int), "invalid_shape"),
    (np.full((10, 2), 0.5), np.arange(9) % 2, "length_mismatch"),
    (np.full((10, 2), 0.5), np.arange(10) % 3, "label_out_of_range"),
])
def test_pred_probs_errors(P, labels, code):
    with pytest.raises(IngestError) as info:
        from_pred_probs(P, labels)
    assert info.value.code == code
    assert info.value.field in ("pred_probs", "labels")


def test_pred_probs_npy_pair_from_bytes_and_siblings(tmp_path):
    P = np.tile([0.9, 0.1], (12, 1))
    np.save(tmp_path / "set_pyx.npy", P)
    np.save(tmp_path / "set_original_labels.npy", np.arange(12) % 2)
    ds = load_dataset(tmp_path / "set_pyx.npy", folds=2)
    assert ds.modality == "pred_probs" and ds.num_classes == 2
    buf = io.BytesIO()
    np.save(buf, P)
    ds = load_dataset(buf.getvalue(), labels=np.arange(12) % 2, folds=2)
    assert ds.num_examples == 12
    with pytest.raises(IngestError) as info:
        load_dataset(buf.getvalue(), folds=2)
    assert info.value.code == "missing_labels"


@pytest.mark.parametrize("name", ["mnist", "cifar10", "imdb", "20news"])
def test_published_pred_probs_load(name):
    ds = load_dataset(require(LABEL_ERRORS_DIR / f"{name}_test_set_pyx.npy"))
    assert ds.modality == "pred_probs"
    assert np.allclose(ds.pred_probs.sum(axis=1), 1.0, atol=1e-6)


def test_detect_format():
    assert detect_format(b"PAR1....") == "parquet"
    assert detect_format(b"\x93NUMPY") == "pred-probs"
    assert detect_format(b"a,b\n1,2\n", "x.txt") == "csv"
    assert detect_format(bytes([0, 0, 8, 3, 0, 0, 0, 1])) == "idx"
    with pytest.raises(UnsupportedFormat):
        detect_format(b"\x00\x01\x02\x03garbage", "x.bin")
    with pytest.raises(UnsupportedFormat):
        load_dataset(b"a,label\n", format="xlsx")


def test_from_arrays_rejects_strings():
    with pytest.raises(IngestError) as info:
        from_arrays(np.array([["a"]] * 10), np.zeros(10))
    assert info.value.code == "non_numeric_feature"


def test_zip_claiming_an_unsupported_zip_version_is_a_parse_error(tmp_path):
    """Found by hypothesis: zipfile raises NotImplementedError for a directory entry needing zip 6.4."""
    import io
    import zipfile

    from PIL import Image

    from labelaudit.core.ingest import load_dataset
    from labelaudit.errors import IngestError

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for c in ("cat", "dog"):
            for i in range(6):
                png = io.BytesIO()
                Image.fromarray(np.full((4, 4), i * 10, np.uint8)).save(png, "PNG")
                z.writestr(f"{c}/{i}.png", png.getvalue())
    data = bytearray(buf.getvalue())
    entry = data.index(b"PK\x01\x02")
    data[entry + 6:entry + 8] = b"\x40\x00"  # "version needed to extract": 6.4
    path = tmp_path / "v64.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(IngestError) as info:
        load_dataset(path, folds=2, limits=IngestLimits(min_rows=2))
    assert (info.value.code, info.value.field) == ("parse_error", "file")


def test_too_many_rows_is_refused_from_the_header_before_reading(tmp_path, monkeypatch):
    """Parquet metadata and a pred_probs .npy header state their rows: over max_rows, the data are never read."""
    table = tmp_path / "d.parquet"
    pq.write_table(pa.table({"f": np.arange(50.0) / 2, "label": ["x", "y"] * 25}), table)
    P = np.full((50, 2), 0.5, dtype=np.float32)
    probs, labels = tmp_path / "p.npy", tmp_path / "y.npy"
    np.save(probs, P)
    np.save(labels, np.arange(50) % 2)
    csv = tmp_path / "d.csv"
    csv.write_text("f,label\n" + "".join(f"{i / 2},{'xy'[i % 2]}\n" for i in range(50)))

    def no_reading(*args, **kwargs):
        raise AssertionError("the data were read")

    for source, extra in ((table, {}), (probs, {"labels": labels}), (io.BytesIO(probs.read_bytes()),
                                                                    {"labels": labels, "format": "pred-probs"})):
        with monkeypatch.context() as m:
            for fmt in READERS:
                m.setitem(READERS, fmt, no_reading)
            with pytest.raises(IngestError) as info:
                load_dataset(source, folds=2, limits=IngestLimits(max_rows=20), **extra)
        assert (info.value.code, info.value.field, info.value.message) == ("too_many_rows", "rows",
                                                                           "50 rows; the limit is 20"), source
        assert load_dataset(source if not isinstance(source, io.BytesIO) else io.BytesIO(probs.read_bytes()),
                            folds=2, limits=IngestLimits(max_rows=50), **extra).num_examples == 50
    with pytest.raises(IngestError) as info:  # CSV states no row count: refused after parsing, the same way
        load_dataset(csv, folds=2, limits=IngestLimits(max_rows=20))
    assert (info.value.code, info.value.message) == ("too_many_rows", "50 rows; the limit is 20")


def test_text_labels_in_an_object_array_with_class_names():
    """pandas hands text labels over as an object array; class_names given beside them are not ids."""
    from labelaudit.core.ingest import from_arrays

    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array(["cat", "dog"] * 10, dtype=object)
    ds = from_arrays(X, y, class_names=["cat", "dog"], true_labels=np.array(["dog"] * 20, dtype=object))
    assert ds.class_names == ["cat", "dog"] and ds.labels[:2].tolist() == [0, 1] and set(ds.true_labels) == {1}
