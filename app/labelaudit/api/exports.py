"""An audit's rows exported as CSV or Parquet, streamed in blocks of rows: the server holds one block at a time.

Rows are read by rank range (the primary key's order) on a session of their own, turned
into Arrow tables and written with pyarrow's incremental writers into a sink that hands
back what each block added, so a million-row export costs the server one block of memory.
"""

from __future__ import annotations

import io
from typing import Iterator

import numpy as np

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


def _schema(class_names: list[str] | None):
    import pyarrow as pa

    types = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}
    columns = AuditRow.__table__.columns
    fields = [pa.field(name, types[columns[name].type.python_type]) for name in ROW_COLUMNS]
    if class_names:
        fields += [pa.field("given_class", pa.string()), pa.field("suggested_class", pa.string())]
    return pa.schema(fields)


def _table(rows, schema, names: np.ndarray | None):
    import pyarrow as pa

    cols = list(zip(*rows))
    arrays = [pa.array(list(col), type=schema.field(i).type) for i, col in enumerate(cols)]
    if names is not None:
        arrays += [pa.array(names[np.asarray(cols[2], dtype=np.int64)], type=pa.string()),
                   pa.array(names[np.asarray(cols[3], dtype=np.int64)], type=pa.string())]
    return pa.Table.from_arrays(arrays, schema=schema)


def export_stream(db: Database, audit_id: str, fmt: str, class_names: list[str] | None,
                  block_rows: int | None = None) -> Iterator[bytes]:
    """The bytes of ``audit_id``'s rows in rank order as ``fmt`` (``csv`` or ``parquet``), block by block
    (``block_rows``, default :data:`EXPORT_BLOCK_ROWS`; a Parquet row group each).

    With ``class_names``, two more columns name the given and suggested classes.
    """
    import pyarrow as pa

    block_rows = block_rows or EXPORT_BLOCK_ROWS
    schema = _schema(class_names)
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
        with db.sessions() as session:
            while True:
                rows = queries.rows_in_rank_range(session, audit_id=audit_id, start=start, stop=start + block_rows)
                if not rows:
                    break
                writer.write_table(_table(rows, schema, names))
                start += block_rows
                if data := sink.take():
                    yield data
    finally:
        writer.close()
    if data := sink.take():
        yield data
