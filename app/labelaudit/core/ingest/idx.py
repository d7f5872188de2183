"""IDX image and label files, the format MNIST ships in (raw or gzip)."""

from __future__ import annotations

import gzip
import io
import math
import zlib

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.arrays import from_arrays
from labelaudit.core.ingest.labels import label_values
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.messages import first_line
from labelaudit.core.ingest.sources import Source, read_all
from labelaudit.errors import IngestError

#: IDX type codes (the third byte of the magic number) and their big-endian dtypes
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(images: Source, labels: Source, *, limits: IngestLimits = IngestLimits()) -> Dataset:
    """Read an IDX images file (magic 2051) and its labels file (magic 2049), raw or gzip.

    Parameters
    ----------
    images, labels : path, bytes or binary file
        The ``(count, rows, cols)`` images and the ``(count,)`` labels.
    limits : IngestLimits
        ``max_array_bytes`` caps each file's decoded array.

    Returns
    -------
    Dataset
        An ``image`` dataset of uint8 (or float32) ``(n, 1, rows, cols)`` images.

    Raises
    ------
    IngestError
        An unreadable file, or images and labels that do not match.
    """
    X = read_idx_array(images, field="images", limits=limits)
    y = read_idx_array(labels, field="labels", limits=limits)
    if X.ndim != 3:
        raise IngestError(f"IDX images must be 3-D (count, rows, cols), got {X.ndim}-D", field="images",
                          code="invalid_shape")
    if y.ndim != 1:
        raise IngestError(f"IDX labels must be 1-D, got {y.ndim}-D", field="labels", code="invalid_shape")
    if X.shape[0] != y.shape[0]:
        raise IngestError(f"{X.shape[0]} images but {y.shape[0]} labels", field="labels", code="length_mismatch")
    y = label_values(y, "labels")
    try:
        ds = from_arrays(X, y)
    except IngestError as exc:
        exc.field = {"X": "images", "y": "labels"}.get(exc.field, exc.field)
        raise
    return Dataset(labels=ds.labels, class_names=ds.class_names, modality="image", features=ds.features,
                   meta={"format": "idx"})


def read_idx_array(source: Source, *, field: str = "file", limits: IngestLimits = IngestLimits()) -> np.ndarray:
    """Decode one IDX file (the format MNIST ships in) into a numpy array.

    The header is checked before the data is read: a gzip file is decompressed
    only as far as the header announces (plus one byte to tell a longer file),
    and arrays above ``limits.max_array_bytes`` are refused.

    Parameters
    ----------
    source : path, bytes or binary file
        The IDX file, raw or gzip.
    field : str
        The field every error names.
    limits : IngestLimits
        ``max_array_bytes`` applies here.

    Returns
    -------
    np.ndarray
        The array in native byte order.

    Raises
    ------
    IngestError
        A bad magic number, a truncated or corrupt file, or one larger than the limit.
    """
    max_bytes = limits.max_array_bytes
    raw = read_all(source)
    gz = raw[:2] == b"\x1f\x8b"
    fh = gzip.GzipFile(fileobj=io.BytesIO(raw)) if gz else io.BytesIO(raw)
    try:
        head = fh.read(4)
        if not is_idx_header(head):
            raise IngestError("not an IDX file (bad magic number)", field=field, code="parse_error")
        dtype = np.dtype(IDX_DTYPES[head[2]])
        dims_raw = fh.read(4 * head[3])
        if len(dims_raw) < 4 * head[3]:
            raise IngestError("truncated IDX header", field=field, code="parse_error")
        dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
        expected = math.prod(dims) * dtype.itemsize
        if expected > max_bytes:
            raise IngestError(f"IDX header announces {dims} ({expected} bytes of data); the limit is "
                              f"{max_bytes}", field=field, code="array_too_large")
        data = fh.read(expected + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"corrupt gzip stream: {first_line(exc)}", field=field, code="parse_error") from exc
    if len(data) != expected:
        holds = f"more than {expected}" if len(data) > expected else str(len(data))
        raise IngestError(f"IDX header announces {dims} ({expected} bytes of data) but the file holds {holds}",
                          field=field, code="parse_error")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def is_idx_header(head: bytes) -> bool:
    """Whether ``head`` starts with an IDX magic number: two zero bytes, a type code, 1 to 4 dimensions."""
    return len(head) >= 4 and head[0] == 0 and head[1] == 0 and head[2] in IDX_DTYPES and 1 <= head[3] <= 4
