"""Where an audit's per-example rows live: one table per audit, loaded bare and indexed after.

Loading a million rows into one shared, already-indexed table updates seven B-trees per
row at random places; loading them into a table of their own and building each index once
from the loaded table is a sort per index instead (``bench/row_load_options.py``).

- PostgreSQL: ``audit_rows`` is LIST-partitioned by ``audit_id``; each audit's rows are the
  partition ``audit_rows_<audit id>``. :func:`load_rows` creates it bare, with a
  ``CHECK (audit_id = ...)`` matching its partition bound (so ``ATTACH PARTITION`` need not
  rescan it), ``COPY``\\ s the rows in, builds its indexes, then attaches it. Queries go
  through the parent (partition pruning picks the one table).
- SQLite: each audit's rows are the table ``audit_rows_<audit id>`` with ``rank`` as its
  ``INTEGER PRIMARY KEY`` (the rowid: rows arrive in rank order, so they are appended),
  ``audit_id`` a virtual generated column (the one value, never stored) and the indexes
  built after the load; queries go to it directly (:func:`rows_entity`). The
  shared ``audit_rows`` table stays as the shape of those tables and holds no rows.

Either way the table is created in the caller's transaction (the audit's ``done`` status
commits with it; a failure leaves nothing) and is dropped with its audit (:func:`drop_rows`).
The indexes of an audit's table leave out the ``audit_id`` column (one value per table):
smaller, and built two to four times faster. An audit of fewer than :data:`INDEXED_FROM_ROWS`
rows gets only its primary key and its unique dataset index: any other question about so few
rows is a scan of a few hundred kilobytes, and five index builds fewer keep a small audit's
finish as cheap as it was in the shared table.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Column, MetaData, Table
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from labelaudit.store.models import ROW_COLUMNS, AuditRow

#: An audit's own indexes: (name suffix, columns, unique, partial-index predicate or ``None``). Each
#: serves one query of :mod:`labelaudit.store.queries`: the issue browser's filters in rank order
#: (given label, flagged, suggested label, a confusion cell), an example by dataset index, a score range.
#: On SQLite ``rank`` is the rowid, which every index ends in already, so it is left out there.
#: A confusion cell off the diagonal (given != suggested) is read through a partial index of the rows
#: where the two differ: usually a few percent of them, so it costs a fraction of a full index to
#: build (the query repeats the predicate so that both databases can use it); a diagonal cell is
#: the given label's index with the suggested label filtered, nearly every row of which passes.
INDEXES: tuple[tuple[str, tuple[str, ...], bool, str | None], ...] = (
    ("label_rank", ("given_label", "rank"), False, None),
    ("issue_rank", ("is_issue", "rank"), False, None),
    ("index", ("index",), True, None),
    ("suggested_rank", ("suggested_label", "rank"), False, None),
    ("off_diagonal_rank", ("given_label", "suggested_label", "rank"), False, "given_label <> suggested_label"),
    ("score_rank", ("quality_score", "rank"), False, None),
)

#: Audits with at least this many rows get every index of :data:`INDEXES`; smaller ones only the
#: unique one (and their primary key).
INDEXED_FROM_ROWS = 10_000

_SAFE_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")


def table_name(audit_id: str) -> str:
    """The name of the table holding ``audit_id``'s rows (ids are checked: they go into DDL)."""
    if not _SAFE_ID.match(audit_id):
        raise ValueError(f"not an audit id: {audit_id!r}")
    return f"{AuditRow.__tablename__}_{audit_id}"


@lru_cache(maxsize=512)
def rows_table(audit_id: str) -> Table:
    """``audit_id``'s own table as a SQLAlchemy :class:`~sqlalchemy.Table` (the columns of ``audit_rows``)."""
    return Table(table_name(audit_id), MetaData(),
                 *(Column(c.name, c.type, primary_key=c.name == "rank") for c in AuditRow.__table__.columns))


@lru_cache(maxsize=512)
def _sqlite_entity(audit_id: str):
    table = rows_table(audit_id)
    return aliased(AuditRow, table, name=table.name, adapt_on_names=True)


def rows_entity(dialect_name: str, audit_id: str):
    """What to select an audit's rows from: :class:`AuditRow` itself on PostgreSQL (the partitioned
    parent), an alias of it on the audit's own table on SQLite. Use its attributes as ``AuditRow``'s."""
    if dialect_name == "postgresql":
        return AuditRow
    return _sqlite_entity(audit_id)


def load_rows(conn: Connection, audit_id: str, blocks: Iterable[Mapping[str, Sequence]]) -> int:
    """Create ``audit_id``'s table in ``conn``'s open transaction, bulk-load ``blocks`` (mappings of
    :data:`ROW_COLUMNS` to equal-length sequences, in rank order) and index it; returns the rows loaded."""
    if conn.dialect.name == "postgresql":
        return _load_postgres(conn, audit_id, blocks)
    if conn.dialect.name == "sqlite":
        return _load_sqlite(conn, audit_id, blocks)
    raise ValueError(f"audit rows are stored on SQLite or PostgreSQL, not {conn.dialect.name}")  # pragma: no cover


def drop_rows(conn: Connection, audit_id: str) -> None:
    """Drop ``audit_id``'s rows (its table; on PostgreSQL its partition) in ``conn``'s transaction."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_quote(conn, table_name(audit_id))}")


def row_tables(conn: Connection) -> list[str]:
    """The names of every audit's row table in the database (for migrations and checks)."""
    prefix = AuditRow.__tablename__ + "_"
    if conn.dialect.name == "postgresql":
        names = conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %(p)s "
            "AND p.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
            {"p": AuditRow.__tablename__}).scalars()
    else:
        names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?",
                                     (len(prefix), prefix)).scalars()
    return sorted(names)


#: row columns a block may leave out (each row then stores ``NULL``)
_OPTIONAL = frozenset(c.name for c in AuditRow.__table__.columns if c.nullable)


def block_columns(block: Mapping[str, Sequence]) -> list[Sequence]:
    """``block``'s sequences in :data:`ROW_COLUMNS` order, ``None`` for each nullable column it leaves out."""
    size = len(block[ROW_COLUMNS[0]])
    return [block[c] if c in block or c not in _OPTIONAL else [None] * size for c in ROW_COLUMNS]


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _column_list(conn: Connection, columns: Sequence[str]) -> str:
    return ", ".join(_quote(conn, c) for c in columns)


def create_bare(conn: Connection, audit_id: str) -> str:
    """Create ``audit_id``'s table without its indexes (PostgreSQL: not yet attached); returns its quoted name."""
    name = _quote(conn, table_name(audit_id))
    cols = []
    if conn.dialect.name == "postgresql":
        # The parent's columns spelled out rather than LIKE audit_rows, which would lock the parent for the
        # whole load (a partition dropped meanwhile would wait for it, and every reader behind the drop).
        for c in AuditRow.__table__.columns:
            cols.append(f"{_quote(conn, c.name)} {c.type.compile(conn.dialect)}{'' if c.nullable else ' NOT NULL'}")
        # the CHECK equals the partition bound, so ATTACH PARTITION trusts it instead of scanning the rows
        cols.append(f"CONSTRAINT {_quote(conn, table_name(audit_id) + '_audit')} CHECK (audit_id IS NOT NULL AND "
                    f"audit_id = '{audit_id}')")
        conn.exec_driver_sql(f"CREATE TABLE {name} ({', '.join(cols)})")
    else:
        for c in AuditRow.__table__.columns:
            kind = c.type.compile(conn.dialect)
            if c.name == "rank":
                cols.append(f"{_quote(conn, c.name)} INTEGER PRIMARY KEY")
            elif c.name == "audit_id":  # one value per table: computed when read, neither bound nor stored
                cols.append(f"{_quote(conn, c.name)} {kind} GENERATED ALWAYS AS ('{audit_id}') VIRTUAL")
            else:
                cols.append(f"{_quote(conn, c.name)} {kind}{'' if c.nullable else ' NOT NULL'}")
        conn.exec_driver_sql(f"CREATE TABLE {name} ({', '.join(cols)})")
    return name


def index_and_attach(conn: Connection, audit_id: str, rows: int) -> None:
    """Build the indexes of ``audit_id``'s table, loaded with ``rows`` rows, and, on PostgreSQL, attach
    it as a partition."""
    table = table_name(audit_id)
    name = _quote(conn, table)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.exec_driver_sql(f"ALTER TABLE {name} ADD CONSTRAINT {_quote(conn, table + '_pkey')} PRIMARY KEY (rank)")
    for suffix, columns, unique, where in INDEXES:
        if rows < INDEXED_FROM_ROWS and not unique:
            continue
        if not postgres and columns[-1] == "rank":
            columns = columns[:-1]
        conn.exec_driver_sql(f"CREATE {'UNIQUE ' if unique else ''}INDEX {_quote(conn, f'{table}_{suffix}')} "
                             f"ON {name} ({_column_list(conn, columns)}){f' WHERE {where}' if where else ''}")
    if postgres:
        if rows >= INDEXED_FROM_ROWS:
            # statistics now, not when autovacuum comes by: without them the planner sorts a whole class
            # (or scans the whole table for the flagged rows) instead of walking an index in rank order
            conn.exec_driver_sql(f"ANALYZE {name}")
        # the first lock on the parent (SHARE UPDATE EXCLUSIVE: readers go on), held only until the commit
        conn.exec_driver_sql(f"ALTER TABLE {_quote(conn, AuditRow.__tablename__)} ATTACH PARTITION {name} "
                             f"FOR VALUES IN ('{audit_id}')")


#: PostgreSQL type of each SQLAlchemy column type of ``audit_rows``, for a binary ``COPY``
_PG_TYPES = {"Integer": "int4", "Float": "float8", "Boolean": "bool", "Text": "text", "String": "varchar"}


def _load_postgres(conn: Connection, audit_id: str, blocks: Iterable[Mapping[str, Sequence]]) -> int:
    """``COPY ... FROM STDIN (FORMAT BINARY)`` (psycopg's ``cursor.copy()``) into the bare table, on the
    session's own connection (same transaction). Binary: the server parses nothing (2.4x faster than text)."""
    name = create_bare(conn, audit_id)
    raw = conn.connection.driver_connection  # the psycopg connection, inside the open transaction
    columns = ("audit_id", *ROW_COLUMNS)
    types = [_PG_TYPES[type(AuditRow.__table__.c[c].type).__name__] for c in columns]
    n = 0
    with raw.cursor() as cur, cur.copy(f"COPY {name} ({_column_list(conn, columns)}) FROM STDIN (FORMAT BINARY)") \
            as copy:
        copy.set_types(types)
        for block in blocks:
            ids = [audit_id] * len(block[ROW_COLUMNS[0]])
            n += len(ids)
            for values in zip(ids, *block_columns(block)):
                copy.write_row(values)
    index_and_attach(conn, audit_id, n)
    return n


#: SQLite page cache (KiB) while a large audit's rows are loaded and indexed (the default is 2 MiB).
BULK_LOAD_CACHE_KIB = 256 * 1024
#: Rows from which an audit's load gets that cache (a worker's blocks hold 50,000).
BULK_LOAD_ROWS = 50_000


def _load_sqlite(conn: Connection, audit_id: str, blocks: Iterable[Mapping[str, Sequence]]) -> int:
    """One ``executemany`` of plain tuples per block, then the indexes, with a larger page cache from the
    second block (or a first one over :data:`BULK_LOAD_ROWS` rows) on: the inserts then stop spilling dirty pages to the WAL mid-transaction (about a fifth
    faster for a million rows), and each index build is a sort of the whole table."""
    name = create_bare(conn, audit_id)
    sql = f"INSERT INTO {name} ({_column_list(conn, ROW_COLUMNS)}) VALUES ({', '.join('?' * len(ROW_COLUMNS))})"
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    n, grown = 0, False
    try:
        for block in blocks:
            rows = list(zip(*block_columns(block)))
            if rows:
                if (n or len(rows) > BULK_LOAD_ROWS) and not grown:  # a small audit keeps the cache as it is
                    conn.exec_driver_sql(f"PRAGMA cache_size={-BULK_LOAD_CACHE_KIB}")
                    grown = True
                n += len(rows)
                conn.exec_driver_sql(sql, rows)
        index_and_attach(conn, audit_id, n)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")
    return n
