"""IngestLimits applied through load_dataset, on real small files; and the settings that build them."""

from __future__ import annotations

import dataclasses
import gzip
import io
import subprocess
import sys
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from labelaudit.core.ingest import IngestLimits, load_dataset
from labelaudit.config import Settings, get_settings
from labelaudit.errors import IngestError


def _png(value: int, size: int = 4) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size), value, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _image_zip(path, *, per_class: int = 3, classes=("cat", "dog"), size: int = 4, extra: dict | None = None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for c in classes:
            for i in range(per_class):
                z.writestr(f"{c}/{i}.png", _png(i * 20, size))
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def _csv(path, *, columns: int = 2, classes: int = 2, rows: int = 12):
    header = ",".join(f"f{j}" for j in range(columns)) + ",label\n"
    body = "".join(",".join(str(i + j) for j in range(columns)) + f",c{i % classes}\n" for i in range(rows))
    path.write_text(header + body)
    return path


def _refused(source, limits: IngestLimits, **kwargs) -> IngestError:
    with pytest.raises(IngestError) as info:
        load_dataset(source, folds=2, limits=limits, **kwargs)
    return info.value


def test_zip_over_max_zip_members_is_refused(tmp_path):
    path = _image_zip(tmp_path / "d.zip")  # 6 images
    assert load_dataset(path, folds=2, limits=IngestLimits(min_rows=6, max_zip_members=6)).num_examples == 6
    err = _refused(path, IngestLimits(min_rows=2, max_zip_members=5))
    assert (err.code, err.field) == ("archive_too_large", "file")
    assert err.message.startswith("the archive declares 6 files") and err.message.endswith("the limit is 5 files")


def test_npz_over_max_zip_members_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((12, 2)), y=np.arange(12) % 2, class_names=np.array(["a", "b"]))
    err = _refused(path, IngestLimits(min_rows=2, max_zip_members=2))
    assert (err.code, err.field) == ("archive_too_large", "file")


def test_zip_over_uncompressed_bytes_ratio_or_pixels_is_refused(tmp_path):
    path = _image_zip(tmp_path / "d.zip", size=8)  # 6 images of 8 x 8
    total = sum(m.file_size for m in zipfile.ZipFile(path).infolist())
    err = _refused(path, IngestLimits(min_rows=2, max_zip_uncompressed_bytes=total - 1))
    assert (err.code, err.message) == ("archive_too_large",
                                       f"the archive unpacks to {total} bytes; the limit is {total - 1}")
    err = _refused(path, IngestLimits(min_rows=2, max_zip_pixels=5 * 64))
    assert (err.code, err.message) == ("archive_too_large", "the images decode to more than 320 pixels; refusing "
                                                            "a likely decompression bomb")
    assert load_dataset(path, folds=2, limits=IngestLimits(min_rows=2, max_zip_pixels=6 * 64)).num_examples == 6

    bomb = _image_zip(tmp_path / "bomb.zip", extra={"cat/notes.txt": b"\0" * (2 << 20)})  # 2 MiB of zeros: 1023x
    err = _refused(bomb, IngestLimits(min_rows=2))
    assert (err.code, err.field, err.message) == ("archive_too_large", "file",
                                                  "'cat/notes.txt' expands 1023x; refusing a likely zip bomb")
    assert load_dataset(bomb, folds=2, limits=IngestLimits(min_rows=2, max_zip_ratio=1024)).num_examples == 6


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_over_max_table_columns_is_refused(fmt, tmp_path):
    path = _csv(tmp_path / "d.csv", columns=6)  # 7 columns with the label
    if fmt == "parquet":
        import pyarrow.csv as pacsv

        pq.write_table(pacsv.read_csv(path), path := tmp_path / "d.parquet")
    assert load_dataset(path, folds=2, limits=IngestLimits(max_table_columns=7)).num_examples == 12
    err = _refused(path, IngestLimits(max_table_columns=6))
    assert (err.code, err.field) == ("too_many_columns", "file")
    assert err.message == ("the table has more than 6 columns; the limit is 6" if fmt == "csv" else
                           "the table has 7 columns; the limit is 6")


def test_too_many_classes_is_refused(tmp_path):
    path = _csv(tmp_path / "d.csv", classes=3)
    assert load_dataset(path, folds=2).num_classes == 3  # no class limit by default
    assert load_dataset(path, folds=2, limits=IngestLimits(max_classes=3)).num_classes == 3
    err = _refused(path, IngestLimits(max_classes=2))
    assert (err.code, err.field, err.message) == ("too_many_classes", "labels", "3 classes; the limit is 2")


def test_too_many_values_per_example_is_refused(tmp_path):
    err = _refused(_csv(tmp_path / "d.csv", columns=5), IngestLimits(max_values_per_example=4))
    assert (err.code, err.field, err.message) == ("example_too_large", "file", "5 features per row; the limit is 4")
    err = _refused(_image_zip(tmp_path / "d.zip", size=8), IngestLimits(min_rows=2, max_values_per_example=63))
    assert (err.code, err.field, err.message) == ("example_too_large", "file",
                                                  "64 pixels x channels per image; the limit is 63")


def test_rows_limits(tmp_path):
    path = _csv(tmp_path / "d.csv", rows=12)
    err = _refused(path, IngestLimits(min_rows=13))
    assert (err.code, err.field, err.message) == ("too_few_rows", "rows", "12 rows; an audit needs at least 13")
    err = _refused(path, IngestLimits(max_rows=11))
    assert (err.code, err.field, err.message) == ("too_many_rows", "rows", "12 rows; the limit is 11")
    assert load_dataset(path, folds=2, limits=IngestLimits(min_rows=12, max_rows=12)).num_examples == 12


def test_arrays_over_max_array_bytes_are_refused(tmp_path):
    probs, labels = tmp_path / "m_pyx.npy", tmp_path / "m_labels.npy"
    np.save(probs, np.full((12, 2), 0.5))  # 192 bytes
    np.save(labels, np.arange(12) % 2)
    err = _refused(probs, IngestLimits(max_array_bytes=191))
    assert (err.code, err.field) == ("array_too_large", "pred_probs") and err.message.endswith("the limit is 191")
    assert load_dataset(probs, folds=2, limits=IngestLimits(max_array_bytes=192)).num_examples == 12

    images = tmp_path / "t-images-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + np.asarray([12, 2, 2], dtype=">u4").tobytes()
    images.write_bytes(gzip.compress(header + bytes(48)))
    labels = bytes([0, 0, 8, 1]) + np.asarray([12], dtype=">u4").tobytes() + bytes([0, 1] * 6)
    (tmp_path / "t-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    err = _refused(images, IngestLimits(max_array_bytes=47))
    assert (err.code, err.field) == ("array_too_large", "images")
    assert load_dataset(images, folds=2, limits=IngestLimits(max_array_bytes=48)).num_examples == 12


def test_settings_build_every_ingest_limit(monkeypatch):
    names = {f.name for f in dataclasses.fields(IngestLimits)}
    assert names <= set(Settings.model_fields)
    for name in names - {"min_rows", "max_rows", "max_classes", "max_values_per_example"}:
        # the guards against hostile files are the same for the server as for the library
        assert Settings.model_fields[name].default == getattr(IngestLimits(), name), name
        assert Settings.model_fields[name].description, name
    settings = get_settings(min_rows=3, max_rows=7, max_classes=9, max_values_per_example=11, max_table_columns=13,
                            max_array_bytes=17, max_zip_uncompressed_bytes=19, max_zip_members=23, max_zip_ratio=29,
                            max_zip_pixels=31)
    assert settings.ingest_limits() == IngestLimits(min_rows=3, max_rows=7, max_classes=9, max_values_per_example=11,
                                                    max_table_columns=13, max_array_bytes=17,
                                                    max_zip_uncompressed_bytes=19, max_zip_members=23,
                                                    max_zip_ratio=29, max_zip_pixels=31)
    monkeypatch.setenv("LABELAUDIT_MAX_ZIP_MEMBERS", "500")
    assert get_settings().ingest_limits().max_zip_members == 500


def test_limits_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        IngestLimits().max_rows = 1  # type: ignore[misc]


def test_ingest_does_not_import_the_settings():
    code = "import sys, labelaudit.core.ingest; assert 'labelaudit.config' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
