"""``load_dataset``: any supported file in, a validated dataset out."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.detection import detect_format, normalise_format
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.npy import npy_header
from labelaudit.core.ingest.readers import READERS, SEPARATE_LABELS, ReadOptions
from labelaudit.core.ingest.roles import RoleOverrides
from labelaudit.core.ingest.sources import Source, as_arrow_input, binary_stream, peek
from labelaudit.core.ingest.tables import DEFAULT_LABEL_COLUMN
from labelaudit.core.ingest.validation import validate_dataset
from labelaudit.errors import IngestError
from labelaudit.vocab import InputFormat

#: formats whose columns have roles
TABLE_FORMATS = frozenset({InputFormat.CSV, InputFormat.PARQUET})


def load_dataset(
    source: Source,
    *,
    format: str | None = None,
    label_column: str = DEFAULT_LABEL_COLUMN,
    labels: Source | np.ndarray | None = None,
    id_column: str | None = None,
    folds: int = 5,
    limits: IngestLimits = IngestLimits(),
    name: str | None = None,
    image_size: int | None = None,
    skip_corrupt: bool = False,
    temp_dir: str | Path | None = None,
    roles: RoleOverrides | None = None,
) -> Dataset:
    """Read and validate a dataset in any supported format.

    Parameters
    ----------
    source : path, bytes or binary file
        The dataset (for IDX the images file, for ``pred-probs`` the probabilities).
    format : {"csv", "parquet", "npz", "idx", "pred-probs", "image-zip"}, optional
        Detected from the content (and the file name) when omitted.
    label_column : str
        Label column of a table.
    labels : path, bytes, file or array, optional
        The labels, for formats that keep them in a second file (IDX, ``.npy``
        pred_probs). Found next to the source when omitted where a convention
        exists (MNIST's ``*-labels-idx1-ubyte``, ``*_pyx.npy`` + ``*_labels.npy``).
    id_column : str, optional
        A table column holding a stable key per example; kept out of the features.
    folds : int
        Cross-validation folds the dataset must support: every class needs at
        least this many examples.
    limits : IngestLimits
        Size limits (rows, classes, values per example) and the guards against
        hostile files (columns, array bytes, archive members, sizes, ratio and
        pixels). A row count the file's header states (Parquet metadata, a
        pred_probs ``.npy`` header) is checked against ``max_rows`` before any
        data are read.
    name : str, optional
        File name used for format detection when ``source`` is bytes or a stream.
    image_size : int, optional
        For image archives: resize every image to this square size (default: the
        most common size in the archive).
    skip_corrupt : bool
        For image archives: skip unreadable images (listed in ``meta["skipped"]``)
        instead of rejecting the archive.
    temp_dir : path, optional
        For pred_probs read from a path: where a converted or repaired copy is
        written (see :func:`~labelaudit.core.ingest.from_pred_probs`); default: the
        system's temporary folder.
    roles : RoleOverrides, optional
        For tables: columns named as features, dropped, categorical or text
        (see :func:`~labelaudit.core.ingest.from_dataframe`).

    Returns
    -------
    Dataset

    Raises
    ------
    IngestError
        One error naming the field at fault and the reason.
    """
    head, name = peek(source, name)
    if not head:
        raise IngestError("the file is empty", field="file", code="empty_file")
    fmt = normalise_format(format) if format else detect_format(head, name)
    if labels is not None and fmt not in SEPARATE_LABELS:
        raise IngestError(f"a separate labels file is only read with IDX images and pred_probs .npy files; a {fmt} "
                          "file carries its own labels", field="labels", code="unused_labels")
    if roles is not None and roles.named() and fmt not in TABLE_FORMATS:
        option = next(iter(roles.named()))
        raise IngestError(f"{option} names table columns; a {fmt} file has none", field=option,
                          code="unused_option")
    announced = _announced_rows(source, fmt, limits) if limits.max_rows is not None else None
    if announced is not None and announced > limits.max_rows:  # refused before a byte of data is parsed
        raise IngestError(f"{announced} rows; the limit is {limits.max_rows}", field="rows", code="too_many_rows")
    options = ReadOptions(labels=labels, label_column=label_column, id_column=id_column, image_size=image_size,
                          skip_corrupt=skip_corrupt, temp_dir=temp_dir, limits=limits,
                          roles=roles or RoleOverrides())
    try:
        ds = READERS[fmt](source, options)
    except MemoryError as exc:
        raise IngestError("the dataset is too large to load in memory", field="file", code="too_large") from exc
    return validate_dataset(ds, folds=folds, limits=limits)


def _announced_rows(source: Source, fmt: str, limits: IngestLimits) -> int | None:
    """The row count a file's own header states (Parquet metadata, a pred_probs ``.npy`` header), without
    reading its data; ``None`` for formats that state none (CSV, archives) or a header that cannot be read
    (the reader then reports it)."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(as_arrow_input(source)).metadata.num_rows)
        if fmt == "pred-probs":
            with binary_stream(source) as fh:
                if fh.read(6) != b"\x93NUMPY":
                    return None
                fh.seek(0, io.SEEK_END)
                size = fh.tell()
                fh.seek(0)
                # the reader's own header checks first (a header stating petabytes is array_too_large)
                shape = npy_header(fh, size, field="pred_probs", max_bytes=limits.max_array_bytes)[0]
            return int(shape[0]) if len(shape) else None
    except IngestError:
        raise
    except Exception:  # noqa: BLE001 - any unreadable header: the reader names the problem
        return None
    return None
