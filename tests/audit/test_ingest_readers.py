"""The reader registry: every input format has a reader, and load_dataset reads each format through it."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from labelaudit.core.ingest import FORMATS, READERS, IngestLimits, ReadOptions, detect_format, load_dataset
from labelaudit.core.ingest.detection import normalise_format
from labelaudit.vocab import InputFormat, values

N = 12  # rows of each file: two classes of six


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _idx(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08}[array.dtype]
    return bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes() + array.tobytes()


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4), value, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def write_example(fmt: InputFormat, tmp_path) -> tuple:
    """A small valid file of ``fmt`` on disk: ``(path, labels path or None)``."""
    y = np.arange(N) % 2
    if fmt == InputFormat.CSV:
        path = tmp_path / "d.csv"
        path.write_text("f,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(N)))
        return path, None
    if fmt == InputFormat.PARQUET:
        path = tmp_path / "d.parquet"
        pq.write_table(pa.table({"f": np.arange(N, dtype=float), "label": y}), path)
        return path, None
    if fmt == InputFormat.NPZ:
        path = tmp_path / "d.npz"
        np.savez(path, X=np.arange(2.0 * N).reshape(N, 2), y=y)
        return path, None
    if fmt == InputFormat.IDX:
        images, labels = tmp_path / "t-images-idx3-ubyte.gz", tmp_path / "t-labels-idx1-ubyte.gz"
        images.write_bytes(gzip.compress(_idx(np.arange(N * 4, dtype=np.uint8).reshape(N, 2, 2))))
        labels.write_bytes(gzip.compress(_idx(y.astype(np.uint8))))
        return images, labels
    if fmt == InputFormat.PRED_PROBS:
        path, labels = tmp_path / "m_pyx.npy", tmp_path / "m_labels.npy"
        path.write_bytes(_npy(np.where(y[:, None] == np.arange(2), 0.8, 0.2).astype(np.float32)))
        labels.write_bytes(_npy(y))
        return path, labels
    if fmt == InputFormat.IMAGE_ZIP:
        path = tmp_path / "d.zip"
        with zipfile.ZipFile(path, "w") as z:
            for i in range(N):
                z.writestr(f"{'ab'[i % 2]}/{i}.png", _png(i))
        return path, None
    raise AssertionError(f"no example of {fmt}")


def test_every_input_format_has_a_reader():
    assert set(READERS) == set(InputFormat)
    assert all(callable(reader) for reader in READERS.values())
    assert FORMATS == values(InputFormat)


@pytest.mark.parametrize("fmt", list(InputFormat))
def test_each_reader_reads_its_format(fmt, tmp_path):
    path, labels = write_example(fmt, tmp_path)
    assert detect_format(path.read_bytes()[:4096], path.name) == fmt
    ds = READERS[fmt](path, ReadOptions(labels=labels))
    assert ds.num_examples == N and ds.class_names in (["0", "1"], ["a", "b"])
    assert np.array_equal(ds.labels, np.arange(N) % 2)
    loaded = load_dataset(path, labels=labels, folds=2)
    assert np.array_equal(loaded.labels, ds.labels) and loaded.meta == ds.meta
    assert load_dataset(path, format=fmt.value, labels=labels, folds=2).num_examples == N


@pytest.mark.parametrize("fmt", list(InputFormat))
def test_load_dataset_dispatches_through_the_registry(fmt, tmp_path, monkeypatch):
    """load_dataset calls the registered reader, with the options it was given."""
    path, labels = write_example(fmt, tmp_path)
    seen = []
    original = READERS[fmt]

    def spy(source, options):
        seen.append(options)
        return original(source, options)

    monkeypatch.setitem(READERS, fmt, spy)
    limits = IngestLimits(min_rows=3, max_zip_members=100)
    load_dataset(path, labels=labels, folds=2, limits=limits, temp_dir=tmp_path)
    assert len(seen) == 1
    assert seen[0].limits is limits and seen[0].temp_dir == tmp_path
    assert (seen[0].labels is None) == (labels is None)


@pytest.mark.parametrize("alias, fmt", [("npy", "pred-probs"), ("pyx", "pred-probs"), ("pred_probs", "pred-probs"),
                                        ("zip", "image-zip"), ("images", "image-zip"), ("pq", "parquet"),
                                        ("tsv", "csv"), ("CSV", "csv"), ("IDX", "idx")])
def test_format_aliases_name_a_registered_format(alias, fmt):
    assert normalise_format(alias) == fmt
    assert InputFormat(fmt) in READERS
