"""An audit's rows exported as CSV or Parquet, streamed in blocks of rows: the server holds one block at a time.

Rows are read by rank range (the primary key's order), each block on a short session of its own, turned
into Arrow tables and written with pyarrow's incremental writers into a sink that hands
back what each block added, so a million-row export costs the server one block of memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from labelaudit.core.table_features import decode_rows
from labelaudit.store import queries
from labelaudit.store.db import Database
from labelaudit.store.models import ROW_COLUMNS, AuditRow

#: Rows read, converted and sent at a time.
EXPORT_BLOCK_ROWS = 100_000
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


class _Drain(io.RawIOBase):
    """A write-only file that keeps what was written since the last :meth:`take` (and counts all of it)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


@dataclass(frozen=True)
class TableSource:
    """A table dataset's stored features and texts (memory-mapped) and its record's ``meta``: the columns an
    export with ``columns`` adds to each row."""

    meta: dict
    features: np.ndarray | None
    texts: np.ndarray | None


def _column_arrays(table: TableSource, index: np.ndarray) -> dict:
    """The original columns of the rows at ``index`` as Arrow arrays named ``column.<name>``."""
    import pyarrow as pa

    values = np.asarray(table.features[index]) if table.features is not None else np.zeros((len(index), 0))
    texts = None if table.texts is None else np.asarray(table.texts[index])
    decoded = decode_rows(table.meta, values, texts)
    return {f"column.{name}": pa.array(col, from_pandas=True) for name, col in decoded.items()}


def _column_fields(meta: dict) -> list:
    """The Arrow fields of a table's columns in an export: numbers float64, booleans bool, the rest text."""
    import pyarrow as pa

    types = dict(zip(meta.get("feature_names") or [], meta.get("feature_types") or []))
    types.update({name: "text" for name in meta.get("text_names") or []})
    order = [c["name"] for c in meta.get("schema") or [] if c["name"] in types]
    arrow = {"numeric": pa.float64(), "boolean": pa.bool_()}
    return [pa.field(f"column.{name}", arrow.get(types[name], pa.string())) for name in order]


def _schema(class_names: list[str] | None):
    import pyarrow as pa

    types = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}
    columns = AuditRow.__table__.columns
    fields = [pa.field(name, types[columns[name].type.python_type]) for name in ROW_COLUMNS]
    if class_names:
        fields += [pa.field("given_class", pa.string()), pa.field("suggested_class", pa.string())]
    return pa.schema(fields)


def _table(rows, schema, names: np.ndarray | None, table: TableSource | None = None):
    import pyarrow as pa

    cols = list(zip(*rows))
    arrays = [pa.array(list(col), type=schema.field(i).type) for i, col in enumerate(cols)]
    if names is not None:
        arrays += [pa.array(names[np.asarray(cols[2], dtype=np.int64)], type=pa.string()),
                   pa.array(names[np.asarray(cols[3], dtype=np.int64)], type=pa.string())]
    if table is not None:
        index = np.asarray(cols[ROW_COLUMNS.index("index")], dtype=np.int64)
        extra = _column_arrays(table, index)
        arrays += [extra[schema.field(i).name].cast(schema.field(i).type)
                   for i in range(len(arrays), len(schema))]
    return pa.Table.from_arrays(arrays, schema=schema)


def export_stream(db: Database, audit_id: str, fmt: str, class_names: list[str] | None,
                  block_rows: int | None = None, table: TableSource | None = None) -> Iterator[bytes]:
    """The bytes of ``audit_id``'s rows in rank order as ``fmt`` (``csv`` or ``parquet``), block by block
    (``block_rows``, default :data:`EXPORT_BLOCK_ROWS`; a Parquet row group each).

    With ``class_names``, two more columns name the given and suggested classes; with ``table``, the
    table's original columns follow (``column.<name>``).
    """
    import pyarrow as pa

    block_rows = block_rows or EXPORT_BLOCK_ROWS
    schema = _schema(class_names)
    if table is not None:
        schema = pa.schema([*schema, *_column_fields(table.meta)])
    names = np.asarray(class_names, dtype=object) if class_names else None
    sink = _Drain()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        writer = pacsv.CSVWriter(pa.PythonFile(sink, mode="w"), schema)
    else:
        import pyarrow.parquet as pq

        writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema)
    try:
        start = 0
        while True:
            # a short session per block: no transaction (and, on PostgreSQL, no lock on audit_rows that
            # dropping another audit's partition would wait for) stays open while a slow client downloads
            with db.sessions() as session:
                rows = queries.rows_in_rank_range(session, audit_id=audit_id, start=start, stop=start + block_rows)
            if not rows:
                break
            block = _table(rows, schema, names, table)
            writer.write_table(block)
            start += block_rows
            if data := sink.take():
                yield data
    finally:
        writer.close()
    if data := sink.take():
        yield data
