"""Review decisions and their history: read the current ones by key, write changes in bulk, read the history.

Functions take a :class:`~sqlalchemy.orm.Session` first and leave committing to the caller.

On PostgreSQL, large reads and writes pass each column as one array parameter
(``= ANY(:keys)``, ``unnest(...)``): one statement for 100,000 decisions instead of
one per row or per ``IN`` list. SQLite runs ``executemany`` and ``IN`` lists, which
cost it little (no network round trips).
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from labelaudit.store.models import ReviewDecisionRecord, ReviewEvent

#: Keys per ``IN (...)`` list: well under SQLite's and PostgreSQL's parameter limits.
KEY_CHUNK = 5000
#: Past this many keys, one scan of the tenant's live decisions beats many ``IN`` lists (SQLite).
SCAN_ABOVE = 20_000
#: Past this many rows, PostgreSQL writes them in one statement over arrays.
ARRAYS_ABOVE = 500
#: The columns of a current decision as :func:`current` returns them, in this order.
DECISION_COLUMNS = ("example_key", "decision", "label", "note", "decided_by", "decided_at", "version", "audit_id")
_COLS = tuple(getattr(ReviewDecisionRecord, c) for c in DECISION_COLUMNS)
#: The columns written for a decision or an event that vary by row (array parameters on PostgreSQL), with their
#: types; the others (tenant, who, when, audit) are one value per request.
_VARYING = (("example_key", "text"), ("decision", "text"), ("label", "text"), ("note", "text"), ("version", "int"))
_SHARED = ("tenant", "decided_by", "decided_at", "audit_id")


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_tenant(session: Session, *, tenant: str) -> None:
    """Hold ``tenant``'s review write lock until the transaction ends: its decision writes run one at a time, so
    two first decisions on one example cannot both insert, nor a version check race a write (PostgreSQL: a
    per-tenant advisory lock; SQLite: the database's write lock, taken before reading)."""
    if _postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": "labelaudit-review:" + tenant})
    else:
        session.execute(text("BEGIN IMMEDIATE"))


def current(session: Session, *, tenant: str, keys: Iterable[str]) -> dict[str, tuple]:
    """The current decisions (undone ones included, with ``decision`` null) of ``tenant`` on ``keys``: key -> row
    of :data:`DECISION_COLUMNS`. Writers hold :func:`lock_tenant` first."""
    keys = list(dict.fromkeys(keys))
    out: dict[str, tuple] = {}
    if _postgres(session) and len(keys) > KEY_CHUNK:
        cols = ", ".join(DECISION_COLUMNS)
        q = text(f"SELECT {cols} FROM review_decisions WHERE tenant = :tenant "
                 "AND example_key = ANY(CAST(:keys AS text[]))")
        return {r[0]: tuple(r) for r in session.execute(q, {"tenant": tenant, "keys": keys})}
    for start in range(0, len(keys), KEY_CHUNK):
        q = select(*_COLS).where(ReviewDecisionRecord.tenant == tenant,
                                 ReviewDecisionRecord.example_key.in_(keys[start:start + KEY_CHUNK]))
        out.update((r[0], tuple(r)) for r in session.execute(q))
    return out


def live(session: Session, *, tenant: str, keys: Iterable[str]) -> dict[str, tuple]:
    """The live (not undone) decisions of ``tenant`` on ``keys``: key -> row of :data:`DECISION_COLUMNS`.

    Past :data:`SCAN_ABOVE` keys on SQLite, by one scan of the tenant's live decisions (an
    audit's every example); else by key.
    """
    keys = set(keys)
    if len(keys) <= SCAN_ABOVE or _postgres(session):
        return {k: r for k, r in current(session, tenant=tenant, keys=keys).items() if r[1] is not None}
    q = select(*_COLS).where(ReviewDecisionRecord.tenant == tenant, ReviewDecisionRecord.decision.is_not(None))
    return {r[0]: tuple(r) for r in session.execute(q.execution_options(yield_per=10_000)) if r[0] in keys}


def write(session: Session, *, inserts: list[dict], updates: list[dict], events: list[dict]) -> None:
    """Insert new decisions, update changed ones (by primary key) and append their history events, in bulk
    (each in key order: neighbouring index pages, not random ones). Every row names its ``tenant``."""
    inserts, updates = (sorted(rows, key=lambda r: r["example_key"]) for rows in (inserts, updates))
    arrays = _postgres(session)
    for table, model, rows in (("review_decisions", ReviewDecisionRecord, inserts),
                               ("review_history", ReviewEvent, events)):
        if arrays and len(rows) > ARRAYS_ABOVE:
            _by_tenant(session, _INSERT.format(table=table), rows)
        elif rows:
            session.execute(insert(model), rows)
    if arrays and len(updates) > ARRAYS_ABOVE:
        _by_tenant(session, _UPDATE, updates)
    elif updates:
        session.execute(update(ReviewDecisionRecord), updates)


_UNNEST = "unnest(" + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in _VARYING) + ") AS v(" + \
    ", ".join(c for c, _ in _VARYING) + ")"
_INSERT = "INSERT INTO {table} (" + ", ".join(_SHARED + tuple(c for c, _ in _VARYING)) + ") SELECT " + \
    ", ".join(f":{c}" for c in _SHARED) + ", v.* FROM " + _UNNEST
_UPDATE = "UPDATE review_decisions AS d SET " + \
    ", ".join([f"{c} = :{c}" for c in _SHARED[1:]] + [f"{c} = v.{c}" for c, _ in _VARYING[1:]]) + \
    " FROM " + _UNNEST + " WHERE d.tenant = :tenant AND d.example_key = v.example_key"


def _by_tenant(session: Session, sql: str, rows: list[dict]) -> None:
    """Run ``sql`` once per (tenant, who, when, audit) of ``rows`` (one, for one request), each varying column of
    theirs as one array parameter."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[c] for c in _SHARED), []).append(r)
    for shared, mine in groups.items():
        session.execute(text(sql), {**dict(zip(_SHARED, shared)), **{c: [r[c] for r in mine] for c, _ in _VARYING}})


def history(session: Session, *, tenant: str, key: str) -> list[ReviewEvent]:
    """Every change of ``tenant``'s decision on ``key``, oldest first."""
    q = select(ReviewEvent).where(ReviewEvent.tenant == tenant, ReviewEvent.example_key == key) \
        .order_by(ReviewEvent.version, ReviewEvent.id)
    return list(session.scalars(q))
