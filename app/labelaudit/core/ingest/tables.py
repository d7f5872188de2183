"""CSV and Parquet tables: feature columns of any type, a label column, optional true-label and id columns."""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Literal

from labelaudit.core.constants import DEFAULT_LABEL_COLUMN
from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.frame import TRUE_LABEL_COLUMN, from_dataframe
from labelaudit.core.ingest.labels import check_label_column_type
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.messages import column_field, first_line, preview
from labelaudit.core.ingest.sources import Source, as_arrow_input, binary_stream, peek
from labelaudit.core.ingest.roles import DECISION_COLUMN, ORIGINAL_LABEL_COLUMN, REVIEW_COLUMNS, RoleOverrides
from labelaudit.errors import IngestError

__all__ = ["DECISION_COLUMN", "DEFAULT_LABEL_COLUMN", "ORIGINAL_LABEL_COLUMN", "REVIEW_COLUMNS", "TRUE_LABEL_COLUMN",
           "read_table"]


def read_table(
    source: Source,
    *,
    format: Literal["csv", "parquet"],
    label_column: str = DEFAULT_LABEL_COLUMN,
    id_column: str | None = None,
    true_label_column: str = TRUE_LABEL_COLUMN,
    limits: IngestLimits = IngestLimits(),
    roles: RoleOverrides = RoleOverrides(),
) -> Dataset:
    """Read a CSV or Parquet table: feature columns of any type plus a label column.

    The table goes through :func:`~labelaudit.core.ingest.frame.from_dataframe`: every column gets a role
    (numeric, boolean, categorical, text or datetime feature; identifier; ignored), missing feature values
    are kept (NaN), rows without a label are left out and listed. A ``true_label`` column, when present,
    holds known true labels (as written by ``labelaudit inject-noise``) and is not a feature.

    Parameters
    ----------
    source : path, bytes or binary file
        The table; CSV may be gzip-compressed, and is tab-separated when a path ends in ``.tsv``.
    format : {"csv", "parquet"}
    label_column : str
        The column of given labels.
    id_column : str, optional
        A column holding a stable key per example; kept out of the features.
    true_label_column : str
        The column of known true labels, when the table has it.
    limits : IngestLimits
        ``max_table_columns`` applies here, checked before the table is parsed.
    roles : RoleOverrides
        Columns named as features, dropped, categorical or text.

    Returns
    -------
    Dataset
        A ``tabular`` dataset (see :func:`~labelaudit.core.ingest.frame.from_dataframe`).

    Raises
    ------
    IngestError
        One error naming the column (or the file) at fault; :class:`~labelaudit.errors.ColumnProblems`
        with every column problem at once.
    """
    import pyarrow as pa

    table = _read_arrow_table(source, format, limits.max_table_columns)
    try:
        names = table.column_names
    except UnicodeDecodeError as exc:
        raise _not_utf8("its header is not valid UTF-8") from exc
    dupes = [n for n, count in Counter(names).items() if count > 1]
    if dupes:
        raise IngestError(f"column {dupes[0]!r} appears {names.count(dupes[0])} times; column names must be unique",
                          field=column_field(names, dupes[0]), code="duplicate_column")
    if len(names) > limits.max_table_columns:
        raise _too_many_columns(len(names), limits.max_table_columns)
    if format == "csv":
        for col in names:  # pyarrow types CSV text that is not UTF-8 as binary
            if pa.types.is_binary(table.column(col).type) or pa.types.is_large_binary(table.column(col).type):
                raise _not_utf8(f"column {col!r} holds bytes that are not valid UTF-8")
    if table.num_rows == 0:
        raise IngestError("the table has no rows", field="file", code="empty_file")
    if label_column not in names:
        raise IngestError(
            f"no label column {label_column!r}; columns are: {preview(names)}; name it with --label-column",
            field="label_column",
            code="missing_label_column",
        )
    check_label_column_type(table.column(label_column).type, column_field(names, label_column))
    frame = table.to_pandas(types_mapper=None, strings_to_categorical=False)
    ds = from_dataframe(frame, label_column, id_column=id_column, features=roles.features,
                        drop_columns=roles.drop_columns, categorical=roles.categorical, text=roles.text,
                        true_label_column=true_label_column)
    return replace(ds, meta={**ds.meta, "format": format})



def _read_arrow_table(source: Source, format: str, max_columns: int):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if format == "parquet":
            pf = pq.ParquetFile(as_arrow_input(source))
            if pf.metadata.num_columns > max_columns:
                raise _too_many_columns(pf.metadata.num_columns, max_columns)
            return pf.read()
        gz = peek(source, None)[0][:2] == b"\x1f\x8b"
        header_bytes = _check_csv_header(source, gz=gz, max_columns=max_columns)
        # the block must hold the header line; gzip is read by its magic number, not by the file name
        opts = pacsv.ReadOptions(block_size=max(1 << 22, 2 * header_bytes))
        is_tsv = isinstance(source, (str, Path)) and str(source).lower().endswith((".tsv", ".tsv.gz"))
        parse = pacsv.ParseOptions(delimiter="\t") if is_tsv else None
        stream = pa.input_stream(as_arrow_input(source), compression="gzip" if gz else None)
        return pacsv.read_csv(stream, read_options=opts, parse_options=parse)
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise IngestError("the file holds no table (no header line)", field="file", code="empty_file") from exc
        raise IngestError(f"could not parse the {format.upper()} file: {first_line(exc)}", field="file",
                          code="parse_error") from exc
    except UnicodeDecodeError as exc:
        raise _not_utf8("it is not valid UTF-8") from exc
    except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raise IngestError(f"could not read the {format.upper()} file: {first_line(exc)}", field="file",
                          code="parse_error") from exc


def _check_csv_header(source: Source, *, gz: bool, max_columns: int) -> int:
    """Reject UTF-16 and binary text, and headers of more than ``max_columns`` columns, before pyarrow
    parses anything; return the header's length in bytes."""
    with binary_stream(source) as raw:
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
            if delimiters >= max_columns:
                raise _too_many_columns(f"more than {max_columns}", max_columns)
            if end >= 0:
                break
            chunk = fh.read(1 << 20)
    return length


def _not_utf8(why: str) -> IngestError:
    return IngestError(f"the CSV file is not UTF-8 text: {why}; save it as UTF-8", field="file",
                       code="invalid_encoding")


def _too_many_columns(count, limit: int) -> IngestError:
    return IngestError(f"the table has {count} columns; the limit is {limit}", field="file", code="too_many_columns")
