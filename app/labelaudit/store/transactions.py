"""Write transactions with the right locks, the same way on SQLite and PostgreSQL.

Every multi-step write (read, check, write) runs in one :func:`write_session`:

- SQLite: the transaction starts with ``BEGIN IMMEDIATE``, which takes the
  database's write lock before the first read; writers of every process run one
  after another, so what a transaction read is still true when it writes.
- PostgreSQL: rows are locked as they are read (``SELECT ... FOR UPDATE`` /
  ``FOR SHARE``: :func:`locked`), and things that have no row of their own (a
  tenant's quota, a content-addressed file) take a transaction-scoped advisory
  lock on their name (:func:`lock_names`), always in sorted order.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, TypeVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from labelaudit.store.db import Database

T = TypeVar("T")


@contextmanager
def write_session(db: Database) -> Iterator[Session]:
    """A session in one write transaction, committed when the block ends without an exception."""
    with db.sessions() as s:
        with s.begin():
            if not db.is_postgres:
                s.execute(text("BEGIN IMMEDIATE"))
            yield s


def lock_names(session: Session, db: Database, *names: str) -> None:
    """PostgreSQL: hold an advisory lock on each name until the transaction ends (sorted, so two transactions
    never wait on each other in a circle). SQLite: nothing to do, :func:`write_session` holds the database."""
    if not db.is_postgres:
        return
    for name in sorted(set(names)):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": "labelaudit:" + name})


def locked(session: Session, db: Database, model: type[T], key: str, *, shared: bool = False) -> T | None:
    """The row of ``model`` with primary key ``key``, read afresh and locked until the transaction ends
    (PostgreSQL ``FOR UPDATE``, or ``FOR SHARE`` when ``shared``); ``None`` when there is none (any more)."""
    pk = model.__mapper__.primary_key[0]
    q = select(model).where(pk == key).execution_options(populate_existing=True)
    if db.is_postgres:
        q = q.with_for_update(read=shared)
    return session.scalar(q)


def tenant_lock(tenant: str) -> str:
    """The lock name of ``tenant``'s quotas (storage and jobs)."""
    return "tenant:" + tenant


def artifact_lock(digest: str) -> str:
    """The lock name of the content-addressed file ``digest``."""
    return "artifact:" + digest

