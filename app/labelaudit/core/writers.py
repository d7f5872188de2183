"""Write datasets back to files (for ``labelaudit inject-noise``), readable by :mod:`labelaudit.core.ingest`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest import DEFAULT_LABEL_COLUMN, TRUE_LABEL_COLUMN
from labelaudit.errors import OptionError

WRITE_FORMATS = ("csv", "parquet", "npz", "manifest")


def save_dataset(ds: Dataset, path: str | Path, *, format: str | None = None,
                 label_column: str = DEFAULT_LABEL_COLUMN) -> Path:
    """Write ``ds`` to ``path`` as CSV, Parquet or NPZ (chosen by ``format`` or the suffix).

    Tables get one column per feature, the label column (class names) and, when
    true labels are known, a ``true_label`` column; extra columns (a corrected
    dataset's original label and decision) follow. ``manifest`` is a CSV without the
    features: ``id`` (an image's path in its zip, else the row), the labels and extra columns. NPZ files hold ``X`` (or
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
    elif fmt == "manifest":
        _write_manifest(ds, path, label_column)
    else:
        if ds.modality == "pred_probs":
            raise OptionError("a pred_probs dataset can only be written as .npz", field="output")
        _write_table(ds, path, fmt, label_column)
    return path


def relabel_table(ds: Dataset, source: str | Path, path: str | Path, *, label_column: str,
                  format: str | None = None) -> Path:
    """Write the table at ``source`` to ``path`` with ``ds``'s labels in ``label_column`` and its true labels in a
    ``true_label`` column; every other column is written as it was read, value for value.

    ``ds`` is the dataset read from ``source``; rows it left out for want of a label keep their (missing)
    label and get no true label. A CSV written from a CSV keeps every other cell's text as it was (only the
    quoting may be normalised); otherwise the columns are read and written by pyarrow, CSV cells as text.
    """
    source, path = Path(source), Path(path)
    fmt_in = ds.meta.get("format")
    fmt = {"pq": "parquet"}.get((format or path.suffix.lstrip(".")).lower(), (format or path.suffix.lstrip(".")).lower())
    if fmt not in ("csv", "parquet") or fmt_in not in ("csv", "parquet"):
        raise OptionError("a table's labels are written back to a .csv or .parquet file", field="output")
    kept = ds.meta.get("kept_rows")
    rows = np.arange(ds.num_examples) if kept is None else np.asarray(kept)
    names = np.asarray(ds.class_names, dtype=object)
    given = {int(r): names[y] for r, y in zip(rows.tolist(), ds.labels.tolist())}
    true = {} if ds.true_labels is None else {int(r): names[y] for r, y in zip(rows.tolist(), ds.true_labels.tolist())}
    if fmt_in == "csv" and fmt == "csv":
        _relabel_csv(source, path, label_column, given, true)
    else:
        _relabel_arrow(source, fmt_in, path, fmt, label_column, given, true)
    return path


def _relabel_csv(source: Path, path: Path, label_column: str, given: dict, true: dict) -> None:
    import csv
    import gzip

    delimiter = "\t" if source.name.lower().endswith((".tsv", ".tsv.gz")) else ","
    with open(source, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(source, "rt", encoding="utf-8", newline="") as fin, open(path, "w", encoding="utf-8",
                                                                        newline="") as fout:
        reader = csv.reader(fin, delimiter=delimiter)
        writer = csv.writer(fout, delimiter=delimiter, lineterminator="\n")
        header = next(reader)
        at = header.index(label_column)
        true_at = header.index(TRUE_LABEL_COLUMN) if TRUE_LABEL_COLUMN in header else None
        writer.writerow(header if true_at is not None or not true else [*header, TRUE_LABEL_COLUMN])
        for i, row in enumerate(reader):
            if i in given:
                row[at] = given[i]
            if true:
                value = true.get(i, "")
                if true_at is None:
                    row.append(value)
                else:
                    row[true_at] = value
            writer.writerow(row)


def _relabel_arrow(source: Path, fmt_in: str, path: Path, fmt: str, label_column: str, given: dict,
                   true: dict) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt_in == "parquet":
        table = pq.read_table(source)
    else:  # every cell as the text it was
        header = pacsv.read_csv(source, read_options=pacsv.ReadOptions(block_size=1 << 22)).column_names
        table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in header}, strings_can_be_null=False,
            quoted_strings_can_be_null=False))
    labels = table.column(label_column)
    old = labels.to_pylist()
    values = [given.get(i, None if v is None else str(v)) for i, v in enumerate(old)]
    table = table.set_column(table.column_names.index(label_column), label_column,
                             pa.array(values, type=pa.string()).cast(labels.type))
    if true:
        column = pa.array([true.get(i) for i in range(table.num_rows)], type=pa.string())
        if TRUE_LABEL_COLUMN in table.column_names:
            table = table.set_column(table.column_names.index(TRUE_LABEL_COLUMN), TRUE_LABEL_COLUMN, column)
        else:
            table = table.append_column(TRUE_LABEL_COLUMN, column)
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)


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
    if ds.example_ids is not None:
        arrays["ids"] = np.asarray(ds.example_ids).astype(str)
    for name, column in (ds.extra_columns or {}).items():
        arrays[name] = np.asarray(column).astype(str)
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
    for name, column in (ds.extra_columns or {}).items():
        columns[name] = np.asarray(column).astype(str)
    if ds.example_ids is not None:
        columns = {"id": ds.example_ids.astype(str), **columns}
    table = pa.table(columns)
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)


def _write_manifest(ds: Dataset, path: Path, label_column: str) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    ids = ds.example_ids.astype(str) if ds.example_ids is not None else np.arange(ds.num_examples)
    class_values = _class_values(ds.class_names)
    columns = {"id": ids, label_column: class_values[ds.labels]}
    if ds.true_labels is not None:
        columns[TRUE_LABEL_COLUMN] = class_values[ds.true_labels]
    for name, column in (ds.extra_columns or {}).items():
        columns[name] = np.asarray(column).astype(str)
    pacsv.write_csv(pa.table(columns), path)


def _class_values(class_names: list[str]) -> np.ndarray:
    """Class names as integers when they all are, so a round trip keeps the same ids."""
    try:
        ints = [int(c) for c in class_names]
    except ValueError:
        return np.asarray(class_names, dtype=object)
    if [str(i) for i in ints] == list(class_names):
        return np.asarray(ints, dtype=np.int64)
    return np.asarray(class_names, dtype=object)
