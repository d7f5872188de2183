"""The hot read paths' database access: a few indexed reads run on a DBAPI cursor, outside any transaction.

The issue browser and the class table ask the database one or two indexed
questions per request, which take well under a millisecond to answer; building
the statement, running it through the ORM and opening and rolling back a
transaction cost more CPU than that (and on PostgreSQL two extra round trips).
So these reads use statements compiled once per dialect (:class:`Statement`) and
run them on a pooled DBAPI connection:

* on PostgreSQL a second, small engine whose connections are in autocommit
  mode: no ``BEGIN``, and handing a connection back (a rollback) does no I/O.
  It skips the pool's pre-ping (a round trip per request); instead a read that
  meets a dropped connection is retried once on a fresh one (reads are
  idempotent);
* on SQLite the database's own engine: a ``SELECT`` opens no transaction there.

Every read is a single statement, so each sees one consistent snapshot.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import create_engine
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import Select


class Statement:
    """A Core ``SELECT`` compiled once per dialect, run with its parameters by name."""

    def __init__(self, stmt: Select):
        self.stmt = stmt
        self._compiled: dict[str, tuple[str, dict[str, Any], tuple[str, ...] | None]] = {}

    def compiled(self, dialect: Dialect) -> tuple[str, dict[str, Any], tuple[str, ...] | None]:
        """(SQL text, default parameter values, parameter order when the driver's style is positional)."""
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.stmt.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if dialect.positional else None
            found = (compiled.string, dict(compiled.construct_params(_check=False)), order)
            self._compiled[dialect.name] = found
        return found


class Reader:
    """Runs :class:`Statement` s on one pooled DBAPI connection (see :func:`reader`)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect
        self._raw = None

    def rows(self, statement: Statement, params: dict[str, Any]) -> list[tuple]:
        """Every row ``statement`` gives for ``params``, as tuples of driver values."""
        sql, defaults, order = statement.compiled(self.dialect)
        values = {**defaults, **params}
        args = tuple(values[name] for name in order) if order is not None else values
        for attempt in (0, 1):
            if self._raw is None:
                self._raw = self.engine.raw_connection()
            cursor = self._raw.cursor()
            try:
                cursor.execute(sql, args)
                return cursor.fetchall()
            except self.dialect.loaded_dbapi.Error as exc:
                if attempt or not self.dialect.is_disconnect(exc, self._raw.dbapi_connection, cursor):
                    raise
                self._raw.invalidate()  # the server went away (a restart): once more on a new connection
                self._raw = None
            finally:
                cursor.close()
        raise AssertionError("unreachable")

    def first(self, statement: Statement, params: dict[str, Any]) -> tuple | None:
        """The first row, or ``None``."""
        rows = self.rows(statement, params)
        return rows[0] if rows else None

    def scalar(self, statement: Statement, params: dict[str, Any]) -> Any:
        """The first column of the first row, or ``None``."""
        row = self.first(statement, params)
        return None if row is None else row[0]

    def close(self) -> None:
        if self._raw is not None:
            raw, self._raw = self._raw, None
            raw.close()


#: Connections the PostgreSQL read engine keeps open (see :func:`make_read_engine`).
READ_POOL_SIZE = 20


def make_read_engine(engine: Engine) -> Engine:
    """The engine the hot reads of ``engine``'s database use (see the module's docstring)."""
    if engine.dialect.name != "postgresql":
        return engine
    # Connections are held only for the few reads of one request, but up to one per request thread at once:
    # a pool that keeps as many as 20 concurrent requests need, so that a burst does not open and close
    # connections (a new one costs a connection handshake and a server process fork).
    return create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=READ_POOL_SIZE, max_overflow=10)


@contextmanager
def reader(engine: Engine) -> Iterator[Reader]:
    """A :class:`Reader` on ``engine`` (a database's :attr:`~labelaudit.store.db.Database.read_engine`); its
    connection goes back to the pool at the end."""
    r = Reader(engine)
    try:
        yield r
    finally:
        r.close()
