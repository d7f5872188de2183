"""Review decisions and their history: read the current ones by key, write changes in bulk, read the history.

Functions take a :class:`~sqlalchemy.orm.Session` first and leave committing to the caller.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from labelaudit.store.models import ReviewDecisionRecord, ReviewEvent

#: Keys per ``IN (...)`` list: well under SQLite's and PostgreSQL's parameter limits.
KEY_CHUNK = 5000
#: Past this many keys, one scan of the tenant's live decisions beats many ``IN`` lists.
SCAN_ABOVE = 20_000
#: The columns of a current decision as :func:`current` returns them, in this order.
DECISION_COLUMNS = ("example_key", "decision", "label", "note", "decided_by", "decided_at", "version", "audit_id")
_COLS = tuple(getattr(ReviewDecisionRecord, c) for c in DECISION_COLUMNS)


def lock_tenant(session: Session, *, tenant: str) -> None:
    """Hold ``tenant``'s review write lock until the transaction ends: its decision writes run one at a time, so
    two first decisions on one example cannot both insert, nor a version check race a write (PostgreSQL: a
    per-tenant advisory lock; SQLite: the database's write lock, taken before reading)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": "labelaudit-review:" + tenant})
    else:
        session.execute(text("BEGIN IMMEDIATE"))


def current(session: Session, *, tenant: str, keys: Iterable[str]) -> dict[str, tuple]:
    """The current decisions (undone ones included, with ``decision`` null) of ``tenant`` on ``keys``: key -> row
    of :data:`DECISION_COLUMNS`. Writers hold :func:`lock_tenant` first."""
    keys = list(dict.fromkeys(keys))
    out: dict[str, tuple] = {}
    for start in range(0, len(keys), KEY_CHUNK):
        q = select(*_COLS).where(ReviewDecisionRecord.tenant == tenant,
                                 ReviewDecisionRecord.example_key.in_(keys[start:start + KEY_CHUNK]))
        out.update((r[0], tuple(r)) for r in session.execute(q))
    return out


def live(session: Session, *, tenant: str, keys: Iterable[str]) -> dict[str, tuple]:
    """The live (not undone) decisions of ``tenant`` on ``keys``: key -> row of :data:`DECISION_COLUMNS`.

    Past :data:`SCAN_ABOVE` keys, by one scan of the tenant's live decisions (an audit's
    every example); else by ``IN`` lists.
    """
    keys = set(keys)
    if len(keys) <= SCAN_ABOVE:
        return {k: r for k, r in current(session, tenant=tenant, keys=keys).items() if r[1] is not None}
    q = select(*_COLS).where(ReviewDecisionRecord.tenant == tenant, ReviewDecisionRecord.decision.is_not(None))
    return {r[0]: tuple(r) for r in session.execute(q.execution_options(yield_per=10_000)) if r[0] in keys}


def write(session: Session, *, inserts: list[dict], updates: list[dict], events: list[dict]) -> None:
    """Insert new decisions, update changed ones (by primary key) and append their history events, in bulk
    (each in key order: neighbouring index pages, not random ones)."""
    inserts, updates = (sorted(rows, key=lambda r: r["example_key"]) for rows in (inserts, updates))
    if inserts:
        session.execute(insert(ReviewDecisionRecord), inserts)
    if updates:
        session.execute(update(ReviewDecisionRecord), updates)
    if events:
        session.execute(insert(ReviewEvent), events)


def history(session: Session, *, tenant: str, key: str) -> list[ReviewEvent]:
    """Every change of ``tenant``'s decision on ``key``, oldest first."""
    q = select(ReviewEvent).where(ReviewEvent.tenant == tenant, ReviewEvent.example_key == key) \
        .order_by(ReviewEvent.version, ReviewEvent.id)
    return list(session.scalars(q))
