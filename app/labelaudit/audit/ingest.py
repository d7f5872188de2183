"""Read datasets from files or bytes and validate them once, at the door.

Formats: CSV and Parquet tables (feature columns and a label column), NPZ arrays
(``X``, ``y``, optional ``class_names``), IDX image/label pairs (as MNIST ships
them, raw or gzip), and the caller's own out-of-sample predicted probabilities
(``pred_probs`` plus labels, as ``.npy`` files or one NPZ).

Every problem raises one :class:`~labelaudit.errors.IngestError` that names the field
and the reason; what comes out is a :class:`~labelaudit.audit.dataset.Dataset` whose
arrays later steps can trust.
"""

from __future__ import annotations

import gzip
import io
import lzma
import math
import os
import struct
import tempfile
import tokenize
import zipfile
import zlib
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Literal, Union

import numpy as np

from labelaudit.audit.dataset import Dataset
from labelaudit.audit.mapped import is_mapped, map_array, release_pages, stored_member_offset
from labelaudit.errors import IngestError, UnsupportedFormat

Source = Union[str, Path, bytes, BinaryIO]
Format = Literal["csv", "parquet", "npz", "idx", "npy", "pred-probs"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "npz", "idx", "pred-probs", "image-zip")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
#: zip-bomb guards for image and NPZ archives (uncompressed bytes, members, compression ratio of one member,
#: decoded pixels of all images together)
MAX_ZIP_UNCOMPRESSED = 8 * 1024**3
MAX_ZIP_MEMBERS = 2_000_000
MAX_ZIP_RATIO = 1000
MAX_ZIP_PIXELS = 1 << 30
#: compression methods zipfile reads: stored, deflate, bzip2, lzma
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
#: largest decoded IDX or .npy array, checked against its header before anything is allocated
MAX_ARRAY_BYTES = 8 * 1024**3
#: most columns a CSV or Parquet table may have; checked before parsing (pyarrow takes
#: seconds per 100,000 columns, so a one-line file could otherwise hold the server for hours)
MAX_TABLE_COLUMNS = 100_000

#: Largest gap between a pred_probs row sum (or value) and its valid range that is
#: repaired by clipping and renormalising; published files carry float noise this size.
PRED_PROBS_TOLERANCE = 1e-4
#: Bytes of pred_probs (in their working dtype) checked, converted or repaired at a time: temporaries
#: are this size, never n x k.
PRED_PROBS_CHUNK_BYTES = 4 * 1024 * 1024
DEFAULT_LABEL_COLUMN = "label"
TRUE_LABEL_COLUMN = "true_label"

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


# --------------------------------------------------------------------------- public entry points


def load_dataset(
    source: Source,
    *,
    format: str | None = None,
    label_column: str = DEFAULT_LABEL_COLUMN,
    labels: Source | np.ndarray | None = None,
    id_column: str | None = None,
    folds: int = 5,
    min_rows: int = 10,
    max_rows: int | None = None,
    name: str | None = None,
    image_size: int | None = None,
    skip_corrupt: bool = False,
    temp_dir: str | Path | None = None,
) -> Dataset:
    """Read and validate a dataset in any supported format.

    Parameters
    ----------
    source : path, bytes or binary file
        The dataset (for IDX the images file, for ``pred-probs`` the probabilities).
    format : {"csv", "parquet", "npz", "idx", "pred-probs"}, optional
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
    min_rows, max_rows : int
        Size limits.
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
        written (see :func:`from_pred_probs`); default: the system's temporary folder.

    Returns
    -------
    Dataset

    Raises
    ------
    IngestError
        One error naming the field at fault and the reason.
    """
    head, name = _peek(source, name)
    if not head:
        raise IngestError("the file is empty", field="file", code="empty_file")
    fmt = _normalise_format(format) if format else detect_format(head, name)
    if labels is not None and fmt in ("csv", "parquet", "npz", "image-zip"):
        raise IngestError(f"a separate labels file is only read with IDX images and pred_probs .npy files; a {fmt} "
                          "file carries its own labels", field="labels", code="unused_labels")
    announced = _announced_rows(source, fmt) if max_rows is not None else None
    if announced is not None and announced > max_rows:  # refused before a byte of data is parsed
        raise IngestError(f"{announced} rows; the limit is {max_rows}", field="rows", code="too_many_rows")
    try:
        ds = _read(source, fmt, labels, label_column=label_column, id_column=id_column, image_size=image_size,
                   skip_corrupt=skip_corrupt, temp_dir=temp_dir)
    except MemoryError as exc:
        raise IngestError("the dataset is too large to load in memory", field="file", code="too_large") from exc
    return validate_dataset(ds, folds=folds, min_rows=min_rows, max_rows=max_rows)


def _read(source: Source, fmt: str, labels, *, label_column: str, id_column: str | None, image_size: int | None,
          skip_corrupt: bool, temp_dir: str | Path | None) -> Dataset:
    if fmt in ("csv", "parquet"):
        ds = read_table(source, format=fmt, label_column=label_column, id_column=id_column)
    elif fmt == "npz":
        ds = read_npz(source, temp_dir=temp_dir)
    elif fmt == "image-zip":
        ds = read_image_zip(source, image_size=image_size, skip_corrupt=skip_corrupt)
    elif fmt == "idx":
        if labels is None:
            labels = _sibling_labels(source, ("images-idx3", "labels-idx1"))
        if labels is None:
            raise IngestError("an IDX images file needs its labels file (IDX, magic 2049)", field="labels",
                              code="missing_labels")
        ds = read_idx(source, labels)
    elif fmt in ("npy", "pred-probs"):
        ds = read_pred_probs(source, labels, temp_dir=temp_dir)
    else:  # pragma: no cover - _normalise_format guards this
        raise UnsupportedFormat(f"unsupported format {fmt!r}", field="format")
    return ds


def _announced_rows(source: Source, fmt: str) -> int | None:
    """The row count a file's own header states (Parquet metadata, a pred_probs ``.npy`` header), without
    reading its data; ``None`` for formats that state none (CSV, archives) or a header that cannot be read
    (the reader then reports it)."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(_as_arrow_input(source)).metadata.num_rows)
        if fmt == "pred-probs":
            with _binary_stream(source) as fh:
                if fh.read(6) != b"\x93NUMPY":
                    return None
                fh.seek(0, io.SEEK_END)
                size = fh.tell()
                fh.seek(0)
                # the reader's own header checks first (a header stating petabytes is array_too_large)
                shape = _npy_header(fh, size, field="pred_probs")[0]
            return int(shape[0]) if len(shape) else None
    except IngestError:
        raise
    except Exception:  # noqa: BLE001 - any unreadable header: the reader names the problem
        return None
    return None


def validate_dataset(ds: Dataset, *, folds: int = 5, min_rows: int = 10, max_rows: int | None = None) -> Dataset:
    """Check the dataset-level rules every audit needs; return it unchanged.

    Rules: at least ``min_rows`` rows (at most ``max_rows``), at least two classes,
    every class given at least ``folds`` times, true labels (when present) of the
    same length and range, no NUL characters in class or feature names (never part
    of a real name; a sign of a misread encoding such as UTF-16).
    """
    n = ds.num_examples
    if n < min_rows:
        raise IngestError(f"{n} rows; an audit needs at least {min_rows}", field="rows", code="too_few_rows")
    if max_rows is not None and n > max_rows:
        raise IngestError(f"{n} rows; the limit is {max_rows}", field="rows", code="too_many_rows")
    if ds.num_classes < 2:
        raise IngestError("only one class; an audit needs at least two", field="labels", code="single_class")
    counts = ds.class_counts()
    small = np.flatnonzero(counts < folds)
    if small.size:
        c = int(small[0])
        raise IngestError(
            f"class {ds.class_names[c]!r} has {int(counts[c])} examples, fewer than the {folds} "
            f"cross-validation folds ({small.size} such class{'es' if small.size > 1 else ''})",
            field="labels",
            code="class_too_small",
        )
    if ds.true_labels is not None:
        if ds.true_labels.shape != ds.labels.shape:
            raise IngestError("true labels and labels differ in length", field="true_labels", code="length_mismatch")
        if ds.true_labels.dtype.kind not in "iu":
            raise IngestError("true labels must be integer class ids", field="true_labels", code="invalid_labels")
        if ds.true_labels.min() < 0 or ds.true_labels.max() >= ds.num_classes:
            raise IngestError("true labels out of the class range", field="true_labels", code="label_out_of_range")
    for what, names, field in (("class", ds.class_names, "labels"), ("feature", ds.feature_names or [], "file")):
        bad = next((n for n in names if "\x00" in n), None)
        if bad is not None:
            raise IngestError(f"{what} name {bad!r} holds a NUL character", field=field, code="invalid_text")
    return ds


def detect_format(head: bytes, name: str | None = None) -> str:
    """Guess the format from the first bytes (and the file name as a fallback)."""
    suffix = (name or "").lower()
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x93NUMPY"):
        return "pred-probs"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "image-zip" if suffix.endswith(".zip") else "npz"
    if head.startswith(b"\x1f\x8b"):
        try:
            inner = gzip.GzipFile(fileobj=io.BytesIO(head)).read(4)
        except (OSError, EOFError, zlib.error):
            inner = b""
        if _is_idx_header(inner):
            return "idx"
        if suffix.endswith((".csv.gz", ".csv")):
            return "csv"
        raise UnsupportedFormat("a gzip file that is neither IDX nor CSV", field="format")
    if _is_idx_header(head):
        return "idx"
    for ext, fmt in ((".parquet", "parquet"), (".pq", "parquet"), (".npz", "npz"), (".csv", "csv"), (".tsv", "csv")):
        if suffix.endswith(ext):
            return fmt
    if not head:
        raise IngestError("the file is empty", field="file", code="empty_file")
    if b"\x00" not in head[:1024]:
        return "csv"
    raise UnsupportedFormat(
        "could not recognise the format; give one of: " + ", ".join(FORMATS), field="format"
    )


# --------------------------------------------------------------------------- tables


def read_table(
    source: Source,
    *,
    format: Literal["csv", "parquet"],
    label_column: str = DEFAULT_LABEL_COLUMN,
    id_column: str | None = None,
    true_label_column: str = TRUE_LABEL_COLUMN,
) -> Dataset:
    """Read a CSV or Parquet table: numeric feature columns plus a label column.

    Labels may be strings (class names, sorted) or integers (sorted values; names
    are their text). A ``true_label`` column, when present, holds known true labels
    (as written by ``labelaudit inject-noise``) and is not a feature.
    """
    import pyarrow as pa

    table = _read_arrow_table(source, format)
    try:
        names = table.column_names
    except UnicodeDecodeError as exc:
        raise _not_utf8("its header is not valid UTF-8") from exc
    dupes = [n for n, count in Counter(names).items() if count > 1]
    if dupes:
        raise IngestError(f"column {dupes[0]!r} appears {names.count(dupes[0])} times; column names must be unique",
                          field=_column_field(names, dupes[0]), code="duplicate_column")
    if len(names) > MAX_TABLE_COLUMNS:
        raise _too_many_columns(len(names))
    if format == "csv":
        for col in names:  # pyarrow types CSV text that is not UTF-8 as binary
            if pa.types.is_binary(table.column(col).type) or pa.types.is_large_binary(table.column(col).type):
                raise _not_utf8(f"column {col!r} holds bytes that are not valid UTF-8")
    if table.num_rows == 0:
        raise IngestError("the table has no rows", field="file", code="empty_file")
    if label_column not in names:
        raise IngestError(
            f"no label column {label_column!r}; columns are: {_preview(names)}",
            field="label_column",
            code="missing_label_column",
        )
    if id_column is not None and id_column not in names:
        raise IngestError(f"no id column {id_column!r}", field="id_column", code="missing_column")

    raw_labels = table.column(label_column)
    raw_true = table.column(true_label_column) if true_label_column in names else None
    labels, true_labels, class_names = _encode_labels(raw_labels, raw_true,
                                                      field=_column_field(names, label_column))

    skip = {label_column, true_label_column, id_column}
    feature_names = [c for c in names if c not in skip]
    if not feature_names:
        raise IngestError("the table has no feature columns besides the label", field="features",
                          code="missing_features")
    columns = []
    for col in feature_names:
        arr = table.column(col)
        t = arr.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t)):
            raise IngestError(
                f"column {col!r} is not numeric ({t}); features must be numbers",
                field=_column_field(names, col),
                code="non_numeric_feature",
            )
        if arr.null_count:
            raise IngestError(f"column {col!r} has {arr.null_count} missing values", field=_column_field(names, col),
                              code="missing_values")
        with np.errstate(over="ignore"):  # values beyond float32 become inf, which _check_finite names
            columns.append(arr.to_numpy(zero_copy_only=False).astype(np.float32, copy=False))
    features = np.column_stack(columns).astype(np.float32, copy=False)
    _check_finite(features, feature_names)

    example_ids = None
    if id_column is not None:
        example_ids = np.asarray(table.column(id_column).to_pylist(), dtype=object).astype(str)
    return Dataset(
        labels=labels,
        class_names=class_names,
        modality="tabular",
        features=features,
        true_labels=true_labels,
        feature_names=feature_names,
        example_ids=example_ids,
        meta={"format": format, "label_column": label_column},
    )


def _read_arrow_table(source: Source, format: str):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if format == "parquet":
            pf = pq.ParquetFile(_as_arrow_input(source))
            if pf.metadata.num_columns > MAX_TABLE_COLUMNS:
                raise _too_many_columns(pf.metadata.num_columns)
            return pf.read()
        gz = _peek(source, None)[0][:2] == b"\x1f\x8b"
        header_bytes = _check_csv_header(source, gz=gz)
        # the block must hold the header line; gzip is read by its magic number, not by the file name
        opts = pacsv.ReadOptions(block_size=max(1 << 22, 2 * header_bytes))
        is_tsv = isinstance(source, (str, Path)) and str(source).lower().endswith((".tsv", ".tsv.gz"))
        parse = pacsv.ParseOptions(delimiter="\t") if is_tsv else None
        stream = pa.input_stream(_as_arrow_input(source), compression="gzip" if gz else None)
        return pacsv.read_csv(stream, read_options=opts, parse_options=parse)
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise IngestError("the file holds no table (no header line)", field="file", code="empty_file") from exc
        raise IngestError(f"could not parse the {format.upper()} file: {_first_line(exc)}", field="file",
                          code="parse_error") from exc
    except UnicodeDecodeError as exc:
        raise _not_utf8("it is not valid UTF-8") from exc
    except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raise IngestError(f"could not read the {format.upper()} file: {_first_line(exc)}", field="file",
                          code="parse_error") from exc


def _check_csv_header(source: Source, *, gz: bool) -> int:
    """Reject UTF-16 and binary text, and headers of more than :data:`MAX_TABLE_COLUMNS`
    columns, before pyarrow parses anything; return the header's length in bytes."""
    with _binary_stream(source) as raw:
        fh = gzip.GzipFile(fileobj=raw) if gz else raw
        chunk = fh.read(1 << 16)
        if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise _not_utf8("it starts with a UTF-16 byte-order mark")
        delimiters, length = 0, 0
        while chunk:
            end = chunk.find(b"\n")
            line = chunk if end < 0 else chunk[:end]
            length += len(line)
            if b"\x00" in line:
                raise _not_utf8("its header holds NUL bytes (UTF-16 or a binary file?)")
            # quoted names with commas count too: an over-estimate, by far below the limit for real headers
            delimiters += line.count(b",") + line.count(b"\t")
            if delimiters >= MAX_TABLE_COLUMNS:
                raise _too_many_columns(f"more than {MAX_TABLE_COLUMNS}")
            if end >= 0:
                break
            chunk = fh.read(1 << 20)
    return length


def _column_field(names: list[str], name: str) -> str:
    """The ``field`` naming a column: its name, or its position when the name is blank."""
    return name if name.strip() else f"column {names.index(name) + 1}"


def _not_utf8(why: str) -> IngestError:
    return IngestError(f"the CSV file is not UTF-8 text: {why}; save it as UTF-8", field="file",
                       code="invalid_encoding")


def _too_many_columns(count) -> IngestError:
    return IngestError(f"the table has {count} columns; the limit is {MAX_TABLE_COLUMNS}", field="file",
                       code="too_many_columns")


def _encode_labels(raw, raw_true, *, field: str) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Map a label column (and optional true-label column) to contiguous class ids."""
    if raw.null_count:
        raise IngestError(f"{raw.null_count} rows have no label", field=field, code="missing_values")
    _check_label_type(raw.type, field)
    values = _label_values(raw.to_numpy(zero_copy_only=False), field)
    true_values = None
    if raw_true is not None:
        if raw_true.null_count:
            raise IngestError(f"{raw_true.null_count} rows have no true label", field=TRUE_LABEL_COLUMN,
                              code="missing_values")
        _check_label_type(raw_true.type, TRUE_LABEL_COLUMN)
        true_values = _label_values(raw_true.to_numpy(zero_copy_only=False), TRUE_LABEL_COLUMN)
        if true_values.dtype.kind != values.dtype.kind:
            true_values = true_values.astype(str)
            values = values.astype(str)
    pool = values if true_values is None else np.concatenate([values, true_values])
    classes, inverse = np.unique(pool, return_inverse=True)
    labels = inverse[: len(values)].astype(np.int64)
    true_labels = None if true_values is None else inverse[len(values):].astype(np.int64)
    return labels, true_labels, [str(c) for c in classes]


def _check_label_type(t, field: str) -> None:
    """Labels are class names (text) or class ids (numbers); nested, binary and temporal columns are not."""
    import pyarrow as pa

    value = t.value_type if pa.types.is_dictionary(t) else t
    is_text = pa.types.is_string(value) or pa.types.is_large_string(value) or (
        hasattr(pa.types, "is_string_view") and pa.types.is_string_view(value))
    if not (is_text or pa.types.is_integer(value) or pa.types.is_floating(value) or pa.types.is_boolean(value)
            or pa.types.is_null(value)):
        raise IngestError(f"the label column is of type {t}; labels must be class names (text) or class ids "
                          "(integers)", field=field, code="invalid_labels")


#: largest float that still is an exact integer id (beyond it, float labels alias each other)
_MAX_FLOAT_ID = 2.0**53


def _label_values(values: np.ndarray, field: str) -> np.ndarray:
    if values.dtype.kind in "iub":
        if values.dtype.kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
            raise IngestError("labels are integers beyond the int64 range", field=field, code="invalid_labels")
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)):
            raise IngestError("labels contain NaN or infinity", field=field, code="non_finite")
        if not np.all(values == np.round(values)):
            raise IngestError("labels are fractional numbers; give class ids or names", field=field,
                              code="invalid_labels")
        largest = np.abs(values.astype(np.float64)).max() if values.size else 0.0
        if largest > _MAX_FLOAT_ID:
            raise IngestError(f"labels as large as {largest:.3g} are not class ids", field=field,
                              code="invalid_labels")
        return values.astype(np.int64)
    if values.dtype.kind == "U":
        return values.astype(str)
    if values.dtype.kind == "S":
        try:
            return values.astype(str)
        except UnicodeDecodeError as exc:
            raise IngestError("labels are bytes that are not ASCII text", field=field, code="invalid_labels") from exc
    if values.dtype.kind == "O" and all(isinstance(v, str) for v in values.tolist()):
        return values.astype(str)
    raise IngestError(f"labels must be class names (text) or class ids (integers), not {values.dtype}", field=field,
                      code="invalid_labels")


# --------------------------------------------------------------------------- arrays


def read_npz(source: Source, *, temp_dir: str | Path | None = None) -> Dataset:
    """Read an NPZ archive.

    Keys: ``X`` (features ``(n, d)`` or images ``(n, h, w)``, ``(n, h, w, c)``,
    ``(n, c, h, w)``) and ``y`` (labels); or ``pred_probs`` and ``y``. Optional:
    ``class_names``, ``true_labels``. The archive gets the zip-bomb checks of image
    archives, and each array's header is checked against its member's size before
    it is read; members that are not ``.npy`` files are ignored.

    From a path, a ``pred_probs`` (or ``pyx``) member stored uncompressed (as
    ``np.savez`` writes it) is not read into memory but mapped where it lies in the
    archive, after zipfile has read it through once in chunks (so its CRC and length
    are checked as reading would check them); see :func:`from_pred_probs` for
    ``temp_dir``. A compressed member (``np.savez_compressed``) is read whole, as
    is every array of an archive given as bytes or a stream.
    """
    arrays = {}
    mappable = isinstance(source, (str, Path))
    with _open_zip(source, what="NPZ") as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        _check_zip_limits(members)
        for m in members:
            if not m.filename.endswith(".npy"):
                continue
            key = m.filename[:-4]
            try:
                if mappable and key in _PRED_PROBS_KEYS and m.compress_type == zipfile.ZIP_STORED:
                    arrays[key] = _map_npz_member(archive, m, source, field=key)
                else:
                    arrays[key] = _load_npy(lambda m=m: archive.open(m), m.file_size, field=key)
            except _READ_ERRORS as exc:
                raise IngestError(f"could not read {m.filename!r} in the NPZ file: {_first_line(exc)}", field=key,
                                  code="parse_error") from exc

    def pick(*keys):
        for k in keys:
            if k in arrays:
                return arrays[k]
        return None

    y = pick("y", "labels", "label")
    if y is None:
        raise IngestError(f"no labels array 'y' in the NPZ (keys: {_preview(list(arrays))})", field="y",
                          code="missing_label_column")
    names = pick("class_names", "classes")
    true = pick("true_labels", "y_true")
    pred_probs = pick(*_PRED_PROBS_KEYS)
    X = pick("X", "x", "features", "images")
    if X is None and pred_probs is not None:
        return from_pred_probs(pred_probs, y, class_names=names, true_labels=true, temp_dir=temp_dir)
    if X is None:
        raise IngestError(f"no features array 'X' in the NPZ (keys: {_preview(list(arrays))})", field="X",
                          code="missing_features")
    return from_arrays(X, y, class_names=names, true_labels=true)


#: NPZ keys of predicted probabilities, in order of preference
_PRED_PROBS_KEYS = ("pred_probs", "pyx")


def _map_npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str | Path, *, field: str) -> np.ndarray:
    """The stored (uncompressed) ``.npy`` member ``info`` of the NPZ at ``path`` as a read-only memory map.

    The member's header gets the checks of :func:`_load_npy`, then zipfile reads the
    member through in 1 MB pieces (local header, CRC and length checked as a full read
    checks them; nothing is kept), then its data are mapped where they lie in the file.
    """
    with archive.open(info) as fh:
        shape, fortran, dtype, header = _npy_header(fh, info.file_size, field=field)
        while fh.read(1 << 20):
            pass
    with open(path, "rb") as raw:
        start = stored_member_offset(raw, info)
    return _map_data(path, start + header, shape, dtype, fortran, field=field)


def from_arrays(
    X: np.ndarray,
    y: np.ndarray,
    *,
    class_names=None,
    true_labels: np.ndarray | None = None,
) -> Dataset:
    """Build a dataset from a feature or image array and labels.

    A 2-D ``X`` is a feature table; 3-D ``(n, h, w)`` and 4-D arrays are images
    (channels-last when the last axis has 1, 3 or 4 entries and the second not).
    """
    X = np.asarray(X)
    if X.dtype.kind not in "iufb":
        raise IngestError(f"features must be numbers, not {X.dtype}", field="X", code="non_numeric_feature")
    labels, true, names = _encode_array_labels(y, class_names, true_labels)
    if X.ndim == 0 or X.shape[0] != labels.shape[0]:
        raise IngestError(f"X has {X.shape[0] if X.ndim else 0} rows but y has {labels.shape[0]}", field="y",
                          code="length_mismatch")
    if X.ndim == 2:
        with np.errstate(over="ignore"):  # values beyond float32 become inf, which _check_finite names
            features = X.astype(np.float32, copy=False)
        _check_finite(features, None)
        modality = "tabular"
    elif X.ndim in (3, 4):
        features = _to_nchw(X)
        if features.dtype != np.uint8:
            with np.errstate(over="ignore"):
                features = features.astype(np.float32, copy=False)
            _check_finite(features, None)
        modality = "image"
    else:
        raise IngestError(f"X must be 2-D (n, d) or images (n, h, w[, c]), got shape {X.shape}", field="X",
                          code="invalid_shape")
    if features.shape[0] and features[0].size == 0:
        raise IngestError("X has no features", field="X", code="invalid_shape")
    return Dataset(labels=labels, class_names=names, modality=modality, features=features, true_labels=true)


def _to_nchw(X: np.ndarray) -> np.ndarray:
    if X.ndim == 3:
        return np.ascontiguousarray(X[:, None, :, :])
    if X.shape[-1] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    return np.ascontiguousarray(X)


def _encode_array_labels(y, class_names, true_labels) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    y = np.asarray(y)
    if y.ndim != 1:
        raise IngestError(f"labels must be 1-D, got shape {y.shape}", field="y", code="invalid_shape")
    if true_labels is not None and np.shape(true_labels) != y.shape:
        raise IngestError(f"true_labels has shape {np.shape(true_labels)} but y has {y.shape}", field="true_labels",
                          code="length_mismatch")
    if y.dtype.kind in "US":
        classes, labels = np.unique(_label_values(y, "y"), return_inverse=True)
        names = [str(c) for c in classes]
        true = None
        if true_labels is not None:
            lookup = {c: i for i, c in enumerate(names)}
            try:
                true = np.array([lookup[str(v)] for v in _label_values(np.asarray(true_labels), "true_labels")],
                                dtype=np.int64)
            except KeyError as exc:
                raise IngestError(f"true label {exc.args[0]!r} is not a class", field="true_labels",
                                  code="label_out_of_range") from exc
        return labels.astype(np.int64), true, names
    values = _label_values(y, "y")
    true = None if true_labels is None else _label_values(np.asarray(true_labels), "true_labels")
    if true is not None and true.dtype.kind not in "iu":
        raise IngestError("true_labels must be integer class ids when y is", field="true_labels",
                          code="invalid_labels")
    if class_names is not None:
        names = _class_names(class_names)
        k = len(names)
        for arr, field in ((values, "y"), (true, "true_labels")):
            if arr is not None and arr.size and (arr.min() < 0 or arr.max() >= k):
                raise IngestError(f"{field} has ids outside 0..{k - 1} (class_names lists {k} classes)", field=field,
                                  code="label_out_of_range")
        return values, true, names
    pool = values if true is None else np.concatenate([values, true])
    classes, inverse = np.unique(pool, return_inverse=True)
    labels = inverse[: len(values)].astype(np.int64)
    true_ids = None if true is None else inverse[len(values):].astype(np.int64)
    return labels, true_ids, [str(c) for c in classes.tolist()]


def _class_names(class_names) -> list[str]:
    """A ``class_names`` array as a list of distinct strings."""
    arr = np.asarray(class_names)
    if arr.ndim != 1:
        raise IngestError(f"class_names must be 1-D, got shape {arr.shape}", field="class_names",
                          code="invalid_shape")
    if arr.dtype.kind not in "USiub":
        raise IngestError(f"class_names must be text, not {arr.dtype}", field="class_names", code="invalid_labels")
    try:
        names = [str(c) for c in arr.astype(str).tolist()]
    except UnicodeDecodeError as exc:
        raise IngestError("class_names are bytes that are not ASCII text", field="class_names",
                          code="invalid_labels") from exc
    if len(set(names)) != len(names):
        dupe = next(n for n, count in Counter(names).items() if count > 1)
        raise IngestError(f"class_names lists {dupe!r} more than once", field="class_names",
                          code="duplicate_class_names")
    return names


def read_idx(images: Source, labels: Source) -> Dataset:
    """Read an IDX images file (magic 2051) and its labels file (magic 2049), raw or gzip."""
    X = read_idx_array(images, field="images")
    y = read_idx_array(labels, field="labels")
    if X.ndim != 3:
        raise IngestError(f"IDX images must be 3-D (count, rows, cols), got {X.ndim}-D", field="images",
                          code="invalid_shape")
    if y.ndim != 1:
        raise IngestError(f"IDX labels must be 1-D, got {y.ndim}-D", field="labels", code="invalid_shape")
    if X.shape[0] != y.shape[0]:
        raise IngestError(f"{X.shape[0]} images but {y.shape[0]} labels", field="labels", code="length_mismatch")
    y = _label_values(y, "labels")
    try:
        ds = from_arrays(X, y)
    except IngestError as exc:
        exc.field = {"X": "images", "y": "labels"}.get(exc.field, exc.field)
        raise
    return Dataset(labels=ds.labels, class_names=ds.class_names, modality="image", features=ds.features,
                   meta={"format": "idx"})


def read_idx_array(source: Source, *, field: str = "file") -> np.ndarray:
    """Decode one IDX file (the format MNIST ships in) into a numpy array.

    The header is checked before the data is read: a gzip file is decompressed
    only as far as the header announces (plus one byte to tell a longer file),
    and arrays above :data:`MAX_ARRAY_BYTES` are refused.
    """
    raw = _read_all(source)
    gz = raw[:2] == b"\x1f\x8b"
    fh = gzip.GzipFile(fileobj=io.BytesIO(raw)) if gz else io.BytesIO(raw)
    try:
        head = fh.read(4)
        if not _is_idx_header(head):
            raise IngestError("not an IDX file (bad magic number)", field=field, code="parse_error")
        dtype = np.dtype(_IDX_DTYPES[head[2]])
        dims_raw = fh.read(4 * head[3])
        if len(dims_raw) < 4 * head[3]:
            raise IngestError("truncated IDX header", field=field, code="parse_error")
        dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
        expected = math.prod(dims) * dtype.itemsize
        if expected > MAX_ARRAY_BYTES:
            raise IngestError(f"IDX header announces {dims} ({expected} bytes of data); the limit is "
                              f"{MAX_ARRAY_BYTES}", field=field, code="array_too_large")
        data = fh.read(expected + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"corrupt gzip stream: {_first_line(exc)}", field=field, code="parse_error") from exc
    if len(data) != expected:
        holds = f"more than {expected}" if len(data) > expected else str(len(data))
        raise IngestError(f"IDX header announces {dims} ({expected} bytes of data) but the file holds {holds}",
                          field=field, code="parse_error")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _is_idx_header(head: bytes) -> bool:
    return len(head) >= 4 and head[0] == 0 and head[1] == 0 and head[2] in _IDX_DTYPES and 1 <= head[3] <= 4


# --------------------------------------------------------------------------- image folders


def read_image_zip(source: Source, *, image_size: int | None = None, skip_corrupt: bool = False) -> Dataset:
    """Read a zip archive in ImageFolder layout: ``class_name/*.png|jpg|jpeg``.

    The class of an image is the name of the folder holding it (a single folder
    wrapping the class folders is fine). Images are decoded with Pillow, kept
    grayscale when every image is, else converted to RGB, and resized to
    ``image_size`` (default: the most common size). Unreadable images are
    reported by path; with ``skip_corrupt`` they are skipped and listed in
    ``meta["skipped"]`` (as are images outside a class folder). The archive paths
    become the examples' ids.

    Nothing is decompressed before the archive passes :func:`_check_zip_limits`
    (members, declared sizes, paths, encryption, compression method), and decoding
    stops once the images together pass :data:`MAX_ZIP_PIXELS`.
    """
    from PIL import Image

    with _open_zip(source, what="zip") as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        _check_zip_limits(members)
        images = [m for m in members if m.filename.lower().endswith(IMAGE_EXTENSIONS)
                  and not any(part.startswith((".", "__MACOSX")) for part in _zip_parts(m.filename))]
        if not images:
            raise IngestError("the archive holds no .png/.jpg/.jpeg images in class folders", field="file",
                              code="no_images")
        flat = [m.filename for m in images if len(_zip_parts(m.filename)) < 2]
        if flat and not skip_corrupt:
            raise IngestError(f"{len(flat)} image{'s are' if len(flat) > 1 else ' is'} not inside a class folder "
                              f"(the layout is class_name/image.png): {_preview(flat, 5)}", field="file",
                              code="no_class_folder")
        decoded, classes, paths = [], [], []
        bad = [(name, "not inside a class folder") for name in flat]
        pixels = 0
        for m in images:
            parts = _zip_parts(m.filename)
            if len(parts) < 2:
                continue
            # Hostile bytes: zipfile, zlib and Pillow's decoders raise many exception types, all meaning "unreadable".
            try:
                img = Image.open(io.BytesIO(archive.read(m)))
            except Exception as exc:
                bad.append((m.filename, _first_line(exc)))
                continue
            with img:
                pixels += img.width * img.height
                if pixels > MAX_ZIP_PIXELS:
                    raise IngestError(f"the images decode to more than {MAX_ZIP_PIXELS} pixels; refusing a likely "
                                      "decompression bomb", field="file", code="archive_too_large")
                try:
                    img.load()
                    gray = img.mode in ("1", "L", "LA", "I", "I;16", "F")
                    decoded.append(img.convert("L" if gray else "RGB"))
                except Exception as exc:
                    bad.append((m.filename, _first_line(exc)))
                    continue
            classes.append(parts[-2])
            paths.append(m.filename)
    if bad and not skip_corrupt:
        shown = "; ".join(f"{p} ({why})" for p, why in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise IngestError(f"{len(bad)} unreadable image{'s' if len(bad) > 1 else ''}: {shown}{more} "
                          "(pass skip_corrupt to skip them)", field="file", code="corrupt_image")
    if not decoded:
        raise IngestError("no readable images in the archive", field="file", code="no_images")
    rgb = any(img.mode == "RGB" for img in decoded)
    if image_size is not None:
        size = (int(image_size), int(image_size))
    else:
        size = Counter(img.size for img in decoded).most_common(1)[0][0]  # (width, height)
    channels = 3 if rgb else 1
    X = np.empty((len(decoded), channels, size[1], size[0]), dtype=np.uint8)
    for i, img in enumerate(decoded):
        img = img.convert("RGB" if rgb else "L")
        if img.size != size:
            img = img.resize(size, Image.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
        X[i] = arr.transpose(2, 0, 1) if rgb else arr[None]
    names, labels = np.unique(np.asarray(classes), return_inverse=True)
    return Dataset(labels=labels.astype(np.int64), class_names=[str(c) for c in names], modality="image",
                   features=X, example_ids=np.asarray(paths), meta={"format": "image-zip",
                                                                    "skipped": [p for p, _ in bad]})


def _zip_parts(name: str) -> list[str]:
    """The folders and file name of an archive path (either slash separates)."""
    return [p for p in name.replace("\\", "/").split("/") if p]


def _open_zip(source: Source, *, what: str) -> zipfile.ZipFile:
    """Open a zip archive after :func:`_check_zip_directory`; a broken one is a ``parse_error``."""
    try:
        with _binary_stream(source) as fh:
            _check_zip_directory(fh)
        return zipfile.ZipFile(_as_binary(source))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error, NotImplementedError) as exc:
        # NotImplementedError: a directory entry claiming a zip version zipfile does not support
        raise IngestError(f"not a readable {what} archive: {_first_line(exc)}", field="file",
                          code="parse_error") from exc


def _check_zip_directory(fh) -> None:
    """Refuse an archive whose end record declares more than :data:`MAX_ZIP_MEMBERS` members (or a central
    directory too large for them), before zipfile reads the whole directory into memory."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_len = min(size, 22 + 0xFFFF + 20 + 56)  # end record, the longest comment, zip64 locator and end record
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # not a zip: zipfile says so
    entries, directory = struct.unpack("<HI", tail[at + 10:at + 16])
    z64 = tail.rfind(b"PK\x06\x06", 0, at)
    if (entries == 0xFFFF or directory == 0xFFFFFFFF) and z64 >= 0 and at - z64 >= 56:
        entries, directory = struct.unpack("<QQ", tail[z64 + 32:z64 + 48])
    if entries > MAX_ZIP_MEMBERS or directory > 128 * MAX_ZIP_MEMBERS:
        raise IngestError(f"the archive declares {entries} files ({directory} bytes of directory); the limit is "
                          f"{MAX_ZIP_MEMBERS} files", field="file", code="archive_too_large")


def _check_zip_limits(members) -> None:
    """Zip-bomb and path checks on the members' declared metadata, before anything is decompressed."""
    if len(members) > MAX_ZIP_MEMBERS:
        raise IngestError(f"the archive has {len(members)} files; the limit is {MAX_ZIP_MEMBERS}", field="file",
                          code="archive_too_large")
    total = sum(m.file_size for m in members)
    if total > MAX_ZIP_UNCOMPRESSED:
        raise IngestError(f"the archive unpacks to {total} bytes; the limit is {MAX_ZIP_UNCOMPRESSED}", field="file",
                          code="archive_too_large")
    for m in members:
        name = m.filename.replace("\\", "/")
        if name.startswith("/") or name[1:2] == ":" or ".." in name.split("/"):
            raise IngestError(f"unsafe path in the archive: {m.filename!r}", field="file", code="unsafe_path")
        if m.flag_bits & 0x1:
            raise IngestError(f"{m.filename!r} is encrypted; upload an archive without a password", field="file",
                              code="encrypted_archive")
        if m.compress_type not in ZIP_METHODS:
            raise IngestError(f"{m.filename!r} uses compression method {m.compress_type}; use deflate (or store, "
                              "bzip2, lzma)", field="file", code="unsupported_compression")
        if m.file_size > 1 << 20 and m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1):
            raise IngestError(f"{m.filename!r} expands {m.file_size // max(m.compress_size, 1)}x; refusing a likely "
                              "zip bomb", field="file", code="archive_too_large")


# --------------------------------------------------------------------------- predicted probabilities


def read_pred_probs(source: Source, labels: Source | np.ndarray | None, *,
                    temp_dir: str | Path | None = None) -> Dataset:
    """Read ``pred_probs`` from a ``.npy`` file and labels from another ``.npy`` (or an array).

    From a path the probabilities are memory-mapped, not read (see :func:`from_pred_probs`
    for ``temp_dir``); from bytes or a stream they are read into memory. Labels are read.
    """
    pred_probs = read_npy(source, field="pred_probs", mmap=True)
    if labels is None:
        labels = _sibling_labels(source, ("_pyx", "_original_labels"), ("_pyx", "_labels"),
                                 ("pred_probs", "labels"))
    if labels is None:
        raise IngestError("predicted probabilities need their labels (a .npy file of class ids)", field="labels",
                          code="missing_labels")
    y = labels if isinstance(labels, np.ndarray) else read_npy(labels, field="labels")
    return from_pred_probs(pred_probs, y, temp_dir=temp_dir)


def from_pred_probs(pred_probs, labels, *, class_names=None, true_labels=None,
                    temp_dir: str | Path | None = None) -> Dataset:
    """Validate the caller's out-of-sample probabilities (n x k) and labels.

    Values may stray from [0, 1] and rows from summing to 1 by at most
    :data:`PRED_PROBS_TOLERANCE`; such rows are clipped and renormalised. Larger
    errors are rejected with the first offending row named.

    The rows are checked in chunks of about :data:`PRED_PROBS_CHUNK_BYTES` (no n x k
    temporaries), so a read-only memory map (what :func:`read_pred_probs` gives for a
    path) is never read whole, and its pages are given back as each chunk is done.
    Native float32 stays float32 and anything else becomes float64, as before; valid
    values in that dtype are used as they are (a map stays a map). Values that need
    conversion or repair are written chunk by chunk: for an in-memory input into a new
    array, for a memory-mapped one into a temporary file in ``temp_dir`` (default: the
    system's temporary folder) that is mapped read-only and unlinked at once, so it
    takes disk space only while the returned dataset holds it and is never left behind.
    """
    P = np.asarray(pred_probs)
    if P.dtype.kind not in "fiu":
        raise IngestError(f"pred_probs must be numbers, not {P.dtype}", field="pred_probs", code="invalid_dtype")
    if P.ndim != 2:
        raise IngestError(f"pred_probs must be 2-D (n, k), got shape {P.shape}", field="pred_probs",
                          code="invalid_shape")
    n, k = P.shape
    if k < 2:
        raise IngestError(f"pred_probs has {k} column; it needs one per class (at least 2)", field="pred_probs",
                          code="invalid_shape")
    y = np.asarray(labels)
    if y.ndim != 1:
        raise IngestError(f"labels must be 1-D, got shape {y.shape}", field="labels", code="invalid_shape")
    if y.shape[0] != n:
        raise IngestError(f"pred_probs has {n} rows but labels has {y.shape[0]}", field="labels",
                          code="length_mismatch")
    y = _label_values(y, "labels") if y.dtype.kind in "iufb" else None
    if y is None or y.dtype.kind not in "iu":
        raise IngestError("labels must be integer class ids matching the pred_probs columns", field="labels",
                          code="invalid_labels")
    if n and (y.min() < 0 or y.max() >= k):
        raise IngestError(f"labels must lie in 0..{k - 1} (one per pred_probs column)", field="labels",
                          code="label_out_of_range")
    work = np.dtype(np.float32 if P.dtype == np.float32 else np.float64)
    repair = _check_pred_probs(P, work)
    if repair or P.dtype != work:
        P = _rewrite_pred_probs(P, work, repair=repair, temp_dir=temp_dir)
    if class_names is not None:
        names = _class_names(class_names)
        if len(names) != k:
            raise IngestError(f"class_names lists {len(names)} classes but pred_probs has {k} columns",
                              field="class_names", code="length_mismatch")
    else:
        names = [str(i) for i in range(k)]
    true = None
    if true_labels is not None:
        true = _label_values(np.asarray(true_labels), "true_labels")
        if true.dtype.kind not in "iu":
            raise IngestError("true_labels must be integer class ids matching the pred_probs columns",
                              field="true_labels", code="invalid_labels")
    return Dataset(labels=y, class_names=names, modality="pred_probs", pred_probs=P, true_labels=true,
                   meta={"format": "pred-probs"})


def _pred_probs_chunks(P: np.ndarray, work: np.dtype):
    """``(first row, rows as ``work``)`` in chunks of :data:`PRED_PROBS_CHUNK_BYTES`; a mapped chunk's
    pages are given back once the caller moves on.

    A chunk keeps the layout of ``P`` (a Fortran-ordered chunk stays one), so its row sums are
    added in the same order as the whole array's would be: the same float rounding, bit for bit.
    """
    n, k = P.shape
    rows = max(1, PRED_PROBS_CHUNK_BYTES // (k * work.itemsize))
    for start in range(0, n, rows):
        view = P[start:start + rows]
        yield start, view.astype(work, copy=False)
        release_pages(view)


def _check_pred_probs(P: np.ndarray, work: np.dtype) -> bool:
    """Check ``P`` chunk by chunk; return whether it needs clipping and renormalising.

    Errors (and their order, first rows and counts) are those of the whole-array
    checks: NaN or infinity anywhere first, then values outside [0, 1] beyond the
    tolerance, then row sums off 1 beyond it.
    """
    tol = PRED_PROBS_TOLERANCE
    out_of_range = bad_sum = 0
    first_out = first_bad = first_bad_sum = None
    repair = False
    for start, block in _pred_probs_chunks(P, work):
        with np.errstate(over="ignore", invalid="ignore"):
            sums = block.sum(axis=1)
        if not np.isfinite(sums).all():  # a NaN or infinity makes its row sum one; float overflow does too
            finite = np.isfinite(block).all(axis=1)
            if not finite.all():
                row = start + int(np.flatnonzero(~finite)[0])
                raise IngestError(f"row {row} has NaN or infinity", field="pred_probs", code="non_finite")
        # finite from here, so a row's min and max say what comparing every value would
        low, high = block.min(axis=1), block.max(axis=1)
        outside = (low < -tol) | (high > 1 + tol)
        if outside.any():
            if first_out is None:
                first_out = start + int(np.flatnonzero(outside)[0])
            out_of_range += int(outside.sum())
        off = np.abs(sums - 1.0)
        bad = off > tol
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            if first_bad is None:
                first_bad, first_bad_sum = start + i, sums[i]
            bad_sum += int(bad.sum())
        repair = repair or bool(low.min() < 0 or high.max() > 1 or (off > 1e-7).any())
    if out_of_range:
        raise IngestError(f"row {first_out} has values outside [0, 1] ({out_of_range} such rows)",
                          field="pred_probs", code="out_of_range")
    if bad_sum:
        raise IngestError(f"row {first_bad} sums to {first_bad_sum:.6g}, not 1 ({bad_sum} such rows)",
                          field="pred_probs", code="not_normalised")
    return repair


def _rewrite_pred_probs(P: np.ndarray, work: np.dtype, *, repair: bool, temp_dir: str | Path | None) -> np.ndarray:
    """``P`` as ``work`` (with ``repair``: clipped to [0, 1], rows divided by their sums), chunk by chunk.

    An in-memory ``P`` gives a new array; a memory-mapped one a read-only map of a
    temporary file in ``temp_dir``, unlinked before this returns (or raises): the
    map keeps the data until it is dropped, and no path is left to clean up.
    """
    if not is_mapped(P) or P.size == 0:
        out = np.empty(P.shape, dtype=work)
        for start, block in _pred_probs_chunks(P, work):
            out[start:start + len(block)] = _repaired(block) if repair else block
        return out
    fd, name = tempfile.mkstemp(prefix="pred-probs-", suffix=".tmp", dir=temp_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            for _, block in _pred_probs_chunks(P, work):
                fh.write(np.ascontiguousarray(_repaired(block) if repair else block).data)
        return map_array(name, offset=0, shape=P.shape, dtype=work)
    finally:
        os.unlink(name)


def _repaired(block: np.ndarray) -> np.ndarray:
    """Rows clipped to [0, 1] and divided by their sums (the same operations, in the same order, as on the
    whole array)."""
    clipped = np.clip(block, 0.0, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return clipped


# --------------------------------------------------------------------------- helpers


def _normalise_format(fmt: str) -> str:
    f = fmt.lower().replace("_", "-")
    aliases = {"zip": "image-zip", "images": "image-zip", "pq": "parquet", "pred-probs": "pred-probs", "pyx": "pred-probs", "npy": "pred-probs", "tsv": "csv"}
    f = aliases.get(f, f)
    if f not in FORMATS:
        raise UnsupportedFormat(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}", field="format")
    return f


def _peek(source: Source, name: str | None) -> tuple[bytes, str | None]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise IngestError(f"no such file: {path}", field="file", code="not_found")
        with open(path, "rb") as fh:
            return fh.read(4096), name or path.name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:4096]), name
    pos = source.tell()
    head = source.read(4096)
    source.seek(pos)
    return head, name or getattr(source, "name", None)


def _read_all(source: Source) -> bytes:
    if isinstance(source, (str, Path)):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise IngestError(f"cannot read {source}: {exc.strerror}", field="file", code="not_found") from exc
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    return source.read()


def _as_binary(source: Source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, Path):
        return str(source)
    return source


def _as_arrow_input(source: Source):
    import pyarrow as pa

    if isinstance(source, (bytes, bytearray, memoryview)):
        return pa.BufferReader(bytes(source))
    if isinstance(source, Path):
        return str(source)
    return source


def read_npy(source: Source, *, field: str, mmap: bool = False) -> np.ndarray:
    """Read one ``.npy`` array (no pickles); errors name ``field``.

    With ``mmap`` and a path, the array is not read but returned as a read-only
    memory map, after the same header checks.
    """
    with _binary_stream(source) as fh:
        head = fh.read(6)
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise IngestError("expected a .npy array, got an archive (NPZ or zip)", field=field, code="parse_error")
    if isinstance(source, (str, Path)):
        if mmap:
            return _map_npy(source, size, field=field)
        return _load_npy(lambda: open(source, "rb"), size, field=field)
    data = _read_all(source)
    return _load_npy(lambda: io.BytesIO(data), len(data), field=field)


def _load_npy(open_fn, size: int, *, field: str) -> np.ndarray:
    """Read the ``.npy`` array ``open_fn()`` gives (``size`` bytes long), checking its header first
    (:func:`_npy_header`)."""
    from numpy.lib import format as npy

    with open_fn() as fh:
        _npy_header(fh, size, field=field)
    with open_fn() as fh:
        try:
            return npy.read_array(fh, allow_pickle=False)
        except _READ_ERRORS as exc:
            raise IngestError(f"could not read the .npy file: {_first_line(exc)}", field=field,
                              code="parse_error") from exc


def _npy_header(fh, size: int, *, field: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Read and check the header of the ``.npy`` data starting at ``fh``'s position (``size`` bytes in all).

    Returns the shape, whether it is Fortran-ordered, the dtype and the header's length.
    A header announcing more data than the file holds, or more than
    :data:`MAX_ARRAY_BYTES`, or Python objects, is refused before anything is allocated.
    """
    from numpy.lib import format as npy

    begin = fh.tell()
    try:
        version = npy.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(fh)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read")
        header = fh.tell() - begin
    except _READ_ERRORS as exc:
        raise IngestError(f"could not read the .npy file: {_first_line(exc)}", field=field,
                          code="parse_error") from exc
    if dtype.hasobject:
        raise IngestError("the .npy file holds Python objects (pickles), which are not loaded", field=field,
                          code="parse_error")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise IngestError(f"the .npy header announces shape {shape} ({nbytes} bytes); the limit is "
                          f"{MAX_ARRAY_BYTES}", field=field, code="array_too_large")
    if nbytes > size - header:
        raise IngestError(f"the .npy file is truncated: its header announces shape {shape} ({nbytes} bytes) but "
                          f"{size - header} bytes follow", field=field, code="parse_error")
    return shape, fortran, dtype, header


def _map_npy(path: str | Path, size: int, *, field: str) -> np.ndarray:
    """The ``.npy`` file at ``path`` (``size`` bytes) as a read-only memory map, after :func:`_npy_header`."""
    with open(path, "rb") as fh:
        shape, fortran, dtype, header = _npy_header(fh, size, field=field)
    return _map_data(path, header, shape, dtype, fortran, field=field)


def _map_data(path: str | Path, offset: int, shape: tuple[int, ...], dtype: np.dtype, fortran: bool, *,
              field: str) -> np.ndarray:
    """Checked ``.npy`` data at ``offset`` of ``path`` as a read-only memory map (an empty array as itself)."""
    if math.prod(shape) * dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype)  # nothing to map (mmap refuses a length of 0)
    try:
        return map_array(path, offset=offset, shape=shape, dtype=dtype, fortran=fortran)
    except (OSError, ValueError) as exc:
        raise IngestError(f"could not read the .npy file: {_first_line(exc)}", field=field,
                          code="parse_error") from exc


#: what reading hostile archive members and .npy files raises (numpy parses a header's dict with
#: ``tokenize`` and ``ast.literal_eval``, and its dtype with ``np.dtype``)
_READ_ERRORS = (OSError, EOFError, ValueError, TypeError, KeyError, SyntaxError, tokenize.TokenError, zlib.error,
                zipfile.BadZipFile, lzma.LZMAError, NotImplementedError)


@contextmanager
def _binary_stream(source: Source):
    """``source`` as a binary file at its start; a caller's stream is put back where it was."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            yield fh
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(source))
    else:
        pos = source.tell()
        try:
            yield source
        finally:
            source.seek(pos)


def _sibling_labels(source: Source, *swaps: tuple[str, str]) -> Path | None:
    if not isinstance(source, (str, Path)):
        return None
    path = Path(source)
    for old, new in swaps:
        if old in path.name:
            candidate = path.with_name(path.name.replace(old, new))
            if candidate.is_file():
                return candidate
    return None


def _check_finite(features: np.ndarray, names: list[str] | None) -> None:
    ok = np.isfinite(features)
    if ok.all():
        return
    if features.ndim == 2:
        col = int(np.flatnonzero(~ok.all(axis=0))[0])
        row = int(np.flatnonzero(~ok[:, col])[0])
        field = _column_field(names, names[col]) if names else "X"
        where = f"column {names[col]!r}" if names else f"column {col}"
        raise IngestError(f"{where} has NaN or infinity, or a number beyond float32's range (first at row {row})",
                          field=field, code="non_finite")
    raise IngestError("features contain NaN or infinity", field="X", code="non_finite")


def _preview(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(map(str, items[:limit]))
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
