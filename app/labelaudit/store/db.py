"""Engine and session factory: a SQLite file by default, PostgreSQL by URL.

Nothing here runs at import time; :func:`open_database` builds an engine for one
:class:`~labelaudit.config.Settings` and applies the Alembic migrations.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from labelaudit.config import Settings


@dataclass
class Database:
    """One engine and its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]
    _read_engine: Engine | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def read_engine(self) -> Engine:
        """The engine of the hot read paths (:mod:`labelaudit.store.reads`), made on first use."""
        if self._read_engine is None:
            from labelaudit.store.reads import make_read_engine

            with self._lock:
                if self._read_engine is None:
                    self._read_engine = make_read_engine(self.engine)
        return self._read_engine

    def dispose(self) -> None:
        self.engine.dispose()
        if self._read_engine is not None and self._read_engine is not self.engine:
            self._read_engine.dispose()

    def ping(self) -> None:
        """Ask the database a trivial question; raises when it cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


#: Connections a SQLite engine keeps open: as many as the server's request threads (anyio's default 40), so
#: that concurrent requests do not close and reopen connections (each reopen sets the pragmas and parses
#: the schema again, which grows with every audit's rows table). Idle SQLite connections cost little.
SQLITE_POOL_SIZE = 40


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               **({} if ":memory:" in url or url.rstrip("/") == "sqlite:" else
                                  {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 10}))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """Engine + sessions for ``settings``, with the schema upgraded to head."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    if migrate:
        from labelaudit.store.migrations import upgrade

        upgrade(engine)
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
