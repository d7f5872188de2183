"""A database-backed job queue; the ``audits`` table is the queue.

States: ``queued -> running -> done | failed | cancelled``. A worker claims one
queued audit (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional
``UPDATE ... WHERE status = 'queued'`` on SQLite, so two workers never get the
same job), stamps a heartbeat while it runs, and finishes it in one
transaction. Running audits whose heartbeat is older than the stale limit belong
to a dead worker and go back to the queue (or fail after ``max_attempts``).

Every state change after the claim is conditional on ``worker_id``: a worker
that lost its job (requeued as stale, cancelled, deleted) cannot overwrite it.

An audit's per-example rows are bulk-loaded in the same transaction as its
``done`` status, into a table of their own built for them (:mod:`labelaudit.store.rowtables`:
a partition on PostgreSQL), indexed after the load.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from labelaudit.errors import NotFound, TooManyJobs
from labelaudit.store import queries
from labelaudit.store.db import Database
from labelaudit.store.documents import check_documents
from labelaudit.store.ids import new_id
from labelaudit.store.models import (
    CANCELLED,
    DONE,
    FAILED,
    LOCAL_TENANT,
    QUEUED,
    ROW_COLUMNS,
    RUNNING,
    AuditRecord,
    DatasetRecord,
    utcnow,
)
from labelaudit.store.owners import owning
from labelaudit.store.rowtables import load_rows
from labelaudit.store.transactions import lock_names, locked, tenant_lock, write_session

if TYPE_CHECKING:
    from labelaudit.store.artifacts import ArtifactStore, Staged

log = logging.getLogger("labelaudit.queue")


def enqueue(db: Database, *, dataset_id: str, options: dict, tenant: str = LOCAL_TENANT,
            max_active: int | None = None, check: Callable[[Session], None] | None = None,
            reference_dataset_id: str | None = None) -> AuditRecord:
    """Add a queued audit of ``dataset_id`` with ``options`` for ``tenant``; returns the record.

    One write transaction: it holds the tenant's lock (PostgreSQL: an advisory lock; SQLite:
    the database's write lock) and the dataset's row (``FOR SHARE``), so concurrent requests,
    from any process, cannot both slip under a quota, and a dataset deleted at the same moment
    is either seen gone (:class:`~labelaudit.errors.NotFound`) or sees this audit (and refuses
    to go). With ``max_active``, raises :class:`~labelaudit.errors.TooManyJobs` when the tenant
    already has that many queued or running audits; ``check(session)`` runs in the same
    transaction (the storage quota). A ``reference_dataset_id`` (the tenant's) is held the same way.
    """
    rec = AuditRecord(id=new_id("au"), dataset_id=dataset_id, tenant=tenant, status=QUEUED, options=options,
                      reference_dataset_id=reference_dataset_id,
                      cancel_requested=False, attempts=0, created_at=utcnow(),
                      progress={"stage": "queued", "fraction": 0.0})
    with write_session(db) as s:
        lock_names(s, db, tenant_lock(tenant))
        ds = locked(s, db, DatasetRecord, dataset_id, shared=True)
        if ds is None:
            raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
        if reference_dataset_id is not None:
            ref = locked(s, db, DatasetRecord, reference_dataset_id, shared=True)
            if ref is None or ref.tenant != tenant:
                raise NotFound(f"no dataset {reference_dataset_id!r}", field="reference_dataset_id")
        if max_active is not None:
            active = queries.active_audits_of_tenant(s, tenant=tenant)
            if active >= max_active:
                raise TooManyJobs(f"{active} audits are queued or running for this tenant; the limit is "
                                    f"{max_active}. Wait for one to finish or cancel one.", field="dataset_id",
                                  retry_after=10)
        if check is not None:
            check(s)
        s.add(rec)
    return rec


def claim(db: Database, worker_id: str) -> AuditRecord | None:
    """Take the oldest queued audit for ``worker_id`` (it becomes ``running``); ``None`` when the queue is empty."""
    now = utcnow()
    values = dict(status=RUNNING, worker_id=worker_id, heartbeat_at=now, started_at=now,
                  attempts=AuditRecord.attempts + 1,
                  progress={"stage": "starting", "fraction": 0.0})
    oldest = select(AuditRecord.id).where(AuditRecord.status == QUEUED).order_by(AuditRecord.created_at,
                                                                                  AuditRecord.id).limit(1)
    if db.is_postgres:
        with db.sessions.begin() as s:
            audit_id = s.scalar(oldest.with_for_update(skip_locked=True))
            if audit_id is None:
                return None
            s.execute(update(AuditRecord).where(AuditRecord.id == audit_id).values(**values))
        return _load(db, audit_id)
    for _ in range(20):  # SQLite: retry when another worker won the race for the same row
        with db.sessions.begin() as s:
            audit_id = s.scalar(oldest)
            if audit_id is None:
                return None
            won = s.execute(update(AuditRecord).where(AuditRecord.id == audit_id, AuditRecord.status == QUEUED)
                            .values(**values)).rowcount == 1
        if won:
            return _load(db, audit_id)
    return None


def heartbeat(db: Database, audit_id: str, worker_id: str, progress: dict | None = None) -> tuple[bool, bool]:
    """Stamp the heartbeat (and progress); returns ``(still_owned, cancel_requested)``."""
    values: dict = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    with db.sessions.begin() as s:
        owned = s.execute(update(AuditRecord).where(*_owned(audit_id, worker_id)).values(**values)).rowcount == 1
        cancel = bool(s.scalar(select(AuditRecord.cancel_requested).where(AuditRecord.id == audit_id)))
    return owned, cancel


def finish(db: Database, audit_id: str, worker_id: str, *, rows: Iterable[dict] = (), summary: dict,
           evaluation: dict | None, timings: dict, pred_probs_artifact: str | None,
           aggregates: dict | None = None, headline: dict | None = None, stored_bytes: int = 0,
           batch: int = 5000, row_blocks: Iterable[Mapping[str, Sequence]] | None = None,
           artifacts: ArtifactStore | None = None, staged: Staged | None = None) -> bool:
    """Store an audit's rows, summary and dashboard aggregates and mark it done, all in one transaction.

    The rows come as dicts (``rows``) or, cheaper for millions, as column blocks
    (``row_blocks``: mappings of :data:`ROW_COLUMNS` to equal-length sequences).
    Returns ``False`` (and writes nothing) when the worker no longer owns the audit. The
    documents are checked against their models first (:mod:`labelaudit.store.documents`).
    With ``staged`` (the pred_probs file, not yet in place) and ``artifacts``, the file is put in
    place under its lock in the same transaction (:mod:`labelaudit.store.owners`), or removed
    when the worker lost the audit.
    """
    check_documents(summary=summary, headline=headline, aggregates=aggregates)
    if staged is not None:
        pred_probs_artifact, stored_bytes = staged.digest, staged.size
    with owning(db, artifacts) as owners:
        s = owners.session
        owned = s.execute(update(AuditRecord).where(*_owned(audit_id, worker_id)).values(
            status=DONE, summary=summary, evaluation=evaluation, timings=timings,
            aggregates=aggregates, headline=headline,
            pred_probs_artifact=pred_probs_artifact, stored_bytes=stored_bytes, finished_at=utcnow(), error=None,
            progress={"stage": "done", "fraction": 1.0})).rowcount == 1
        if not owned:
            return False
        if staged is not None:
            owners.adopt(staged)  # needs ``artifacts``
        blocks = row_blocks if row_blocks is not None else _blocks_of(rows, batch)
        t = time.perf_counter()
        load_rows(s.connection(), audit_id, blocks)
        # for millions of rows, loading them is the longest step of all: the timings and the duration say so
        rows_seconds = time.perf_counter() - t
        values: dict = {"timings": {**(timings or {}), "rows_seconds": rows_seconds}}
        if headline and headline.get("duration_seconds") is not None:
            values["headline"] = {**headline, "duration_seconds": headline["duration_seconds"] + rows_seconds}
        s.execute(update(AuditRecord).where(AuditRecord.id == audit_id).values(**values))
    return True


def _blocks_of(rows: Iterable[dict], batch: int) -> Iterator[dict[str, list]]:
    """Row dicts regrouped as column blocks of ``batch`` rows (missing keys are NULL)."""
    block: list[dict] = []
    for row in rows:
        block.append(row)
        if len(block) >= batch:
            yield {c: [r.get(c) for r in block] for c in ROW_COLUMNS}
            block = []
    if block:
        yield {c: [r.get(c) for r in block] for c in ROW_COLUMNS}


def fail(db: Database, audit_id: str, worker_id: str, error: dict, *, status: str = FAILED,
         timings: dict | None = None) -> bool:
    """Mark a running audit ``failed`` (or ``cancelled``) with ``error``."""
    with db.sessions.begin() as s:
        return s.execute(update(AuditRecord).where(*_owned(audit_id, worker_id)).values(
            status=status, error=error, finished_at=utcnow(), timings=timings)).rowcount == 1


def request_cancel(db: Database, audit_id: str) -> str:
    """Cancel a queued audit at once, flag a running one for its worker; returns the status after."""
    with db.sessions.begin() as s:
        return request_cancel_in(s, audit_id)


def request_cancel_in(session: Session, audit_id: str) -> str | None:
    """:func:`request_cancel` in the caller's transaction."""
    cancelled = session.execute(update(AuditRecord).where(AuditRecord.id == audit_id,
                                                          AuditRecord.status == QUEUED).values(
        status=CANCELLED, cancel_requested=True, finished_at=utcnow(),
        error={"code": "cancelled", "message": "cancelled before it started", "field": None}))
    was_queued = cancelled.rowcount == 1
    session.execute(update(AuditRecord).where(AuditRecord.id == audit_id, AuditRecord.status == RUNNING).values(
        cancel_requested=True))
    status = session.scalar(select(AuditRecord.status).where(AuditRecord.id == audit_id))
    if was_queued:
        log.info("audit %s cancelled before it started", audit_id, extra={"event": "cancelled", "audit_id": audit_id})
    return status


def delete_unless_running(session: Session, audit_id: str) -> bool:
    """Delete the audit row unless a worker holds it (a conditional ``DELETE``); whether it was deleted."""
    return session.execute(delete(AuditRecord).where(AuditRecord.id == audit_id,
                                                     AuditRecord.status != RUNNING)).rowcount == 1


def requeue_stale(db: Database, *, stale_after: float, max_attempts: int) -> list[str]:
    """Return running audits with a heartbeat older than ``stale_after`` seconds to the queue.

    Those already claimed ``max_attempts`` times fail instead. Returns the ids touched
    (each is logged: ``event`` requeued, failed or cancelled, with the lost ``worker_id``).
    """
    cutoff = utcnow() - timedelta(seconds=stale_after)
    stale = (AuditRecord.status == RUNNING, AuditRecord.heartbeat_at < cutoff)
    with db.sessions.begin() as s:
        found = s.execute(select(AuditRecord.id, AuditRecord.worker_id, AuditRecord.attempts,
                                 AuditRecord.cancel_requested).where(*stale)).all()
        if not found:
            return []
        s.execute(update(AuditRecord).where(*stale, AuditRecord.attempts >= max_attempts).values(
            status=FAILED, finished_at=utcnow(), worker_id=None,
            error={"code": "worker_lost", "field": None,
                   "message": f"the worker stopped responding {max_attempts} times"}))
        s.execute(update(AuditRecord).where(*stale, AuditRecord.cancel_requested.is_(True)).values(
            status=CANCELLED, finished_at=utcnow(), worker_id=None))
        s.execute(update(AuditRecord).where(*stale).values(
            status=QUEUED, worker_id=None, heartbeat_at=None,
            progress={"stage": "requeued", "fraction": 0.0}))
    for audit_id, lost_worker, attempts, cancel in found:
        fields = {"audit_id": audit_id, "worker_id": lost_worker, "attempt": attempts}
        if attempts >= max_attempts:
            log.warning("audit %s failed: worker %s stopped responding (attempt %d of %d)", audit_id, lost_worker,
                        attempts, max_attempts, extra={"event": "failed", "reason": "worker_lost", **fields})
        elif cancel:
            log.info("audit %s cancelled: worker %s stopped responding", audit_id, lost_worker,
                     extra={"event": "cancelled", **fields})
        else:
            log.warning("audit %s requeued: worker %s stopped responding (no heartbeat for %gs)", audit_id,
                        lost_worker, stale_after, extra={"event": "requeued", "reason": "stale_heartbeat", **fields})
    return [row.id for row in found]


def _owned(audit_id: str, worker_id: str):
    return (AuditRecord.id == audit_id, AuditRecord.worker_id == worker_id, AuditRecord.status == RUNNING)


def _load(db: Database, audit_id: str) -> AuditRecord:
    with db.sessions() as s:
        return s.get(AuditRecord, audit_id)


def release(db: Database, audit_id: str, worker_id: str) -> bool:
    """Give a running audit back to the queue (the worker is shutting down)."""
    with db.sessions.begin() as s:
        return s.execute(update(AuditRecord).where(*_owned(audit_id, worker_id)).values(
            status=QUEUED, worker_id=None, heartbeat_at=None,
            progress={"stage": "requeued", "fraction": 0.0})).rowcount == 1
