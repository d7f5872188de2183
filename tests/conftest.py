"""Shared fixtures: small real datasets and the path to the shared reference data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

#: the service fixtures (databases, app, client, live server) for every test folder
pytest_plugins = ["tests.service_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
MNIST_DIR = SHARED / "mnist-test"
LABEL_ERRORS_DIR = SHARED / "label-errors"


def require(path: Path) -> Path:
    """Skip (with the reason) when a reference file from ../shared/datasets is absent."""
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (see ../shared/datasets/README.md)")
    return path


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits: 1,797 8x8 images, 10 classes."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


@pytest.fixture
def digits_csv(tmp_path, digits) -> Path:
    """The digits as a CSV table with 64 pixel columns and string class names."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    X, y = digits
    names = np.array("zero one two three four five six seven eight nine".split())
    cols = {f"p{i}": X.reshape(len(X), -1)[:, i] for i in range(64)}
    cols["label"] = names[y]
    path = tmp_path / "digits.csv"
    pacsv.write_csv(pa.table(cols), path)
    return path


def write_idx(path: Path, array: np.ndarray, *, gz: bool = True) -> Path:
    """Write an IDX file (uint8) the way MNIST ships them."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def mnist_subset(tmp_path) -> tuple[Path, Path]:
    """The first 600 MNIST test images and labels as a gzip IDX pair."""
    from labelaudit.core.ingest import read_idx_array

    images = read_idx_array(require(MNIST_DIR / "t10k-images-idx3-ubyte.gz"))[:600]
    labels = read_idx_array(require(MNIST_DIR / "t10k-labels-idx1-ubyte.gz"))[:600]
    return (write_idx(tmp_path / "sub-images-idx3-ubyte.gz", images),
            write_idx(tmp_path / "sub-labels-idx1-ubyte.gz", labels))
