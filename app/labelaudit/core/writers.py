"""Write datasets back to files (for ``labelaudit inject-noise``), readable by :mod:`labelaudit.core.ingest`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest import DEFAULT_LABEL_COLUMN, TRUE_LABEL_COLUMN
from labelaudit.errors import OptionError

WRITE_FORMATS = ("csv", "parquet", "npz")


def save_dataset(ds: Dataset, path: str | Path, *, format: str | None = None,
                 label_column: str = DEFAULT_LABEL_COLUMN) -> Path:
    """Write ``ds`` to ``path`` as CSV, Parquet or NPZ (chosen by ``format`` or the suffix).

    Tables get one column per feature, the label column (class names) and, when
    true labels are known, a ``true_label`` column. NPZ files hold ``X`` (or
    ``pred_probs``), ``y``, ``class_names`` and ``true_labels``. Reading the file
    back gives the same labels, class names and true labels.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    fmt = {"pq": "parquet"}.get(fmt, fmt)
    if fmt not in WRITE_FORMATS:
        raise OptionError(f"cannot write {fmt!r}; use a .csv, .parquet or .npz file name", field="output")
    if fmt == "npz":
        _write_npz(ds, path)
    else:
        if ds.modality == "pred_probs":
            raise OptionError("a pred_probs dataset can only be written as .npz", field="output")
        _write_table(ds, path, fmt, label_column)
    return path


def _write_npz(ds: Dataset, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {"y": ds.labels, "class_names": np.asarray(ds.class_names, dtype=str)}
    if ds.modality == "pred_probs":
        arrays["pred_probs"] = ds.pred_probs
    elif ds.modality == "image" and ds.features.shape[1] == 1:
        arrays["X"] = ds.features[:, 0]
    elif ds.modality == "image":
        arrays["X"] = ds.features.transpose(0, 2, 3, 1)
    else:
        arrays["X"] = ds.features
    if ds.true_labels is not None:
        arrays["true_labels"] = ds.true_labels
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def _write_table(ds: Dataset, path: Path, fmt: str, label_column: str) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    X = ds.features.reshape(ds.num_examples, -1)
    names = ds.feature_names or [f"x{i}" for i in range(X.shape[1])]
    columns = {name: X[:, j] for j, name in enumerate(names)}
    class_values = _class_values(ds.class_names)
    columns[label_column] = class_values[ds.labels]
    if ds.true_labels is not None:
        columns[TRUE_LABEL_COLUMN] = class_values[ds.true_labels]
    if ds.example_ids is not None:
        columns = {"id": ds.example_ids.astype(str), **columns}
    table = pa.table(columns)
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)


def _class_values(class_names: list[str]) -> np.ndarray:
    """Class names as integers when they all are, so a round trip keeps the same ids."""
    try:
        ints = [int(c) for c in class_names]
    except ValueError:
        return np.asarray(class_names, dtype=object)
    if [str(i) for i in ints] == list(class_names):
        return np.asarray(ints, dtype=np.int64)
    return np.asarray(class_names, dtype=object)
