"""The questions the API and the worker ask the database, one function each.

Functions take a :class:`~sqlalchemy.orm.Session` and leave committing to the
caller unless their name says otherwise.

Lookups of datasets and audits take a keyword-only ``tenant`` with no default, so
every caller decides: the caller's tenant (the API), or ``None`` for "any tenant"
(workers and admin commands). A record of another tenant is :class:`NotFound`,
exactly like a missing one, so ids cannot be probed across tenants.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, union, update
from sqlalchemy.orm import Session, defer

from labelaudit.errors import NotFound
from labelaudit.store.models import ACTIVE_STATES, ROW_COLUMNS, AuditRecord, AuditRow, DatasetRecord

#: The row columns as table columns, in :data:`~labelaudit.store.models.ROW_COLUMNS` order.
_ROW = tuple(getattr(AuditRow, name) for name in ROW_COLUMNS)


def get_dataset(session: Session, *, dataset_id: str, tenant: str | None) -> DatasetRecord:
    """The dataset ``dataset_id`` of ``tenant`` (``None``: any); :class:`NotFound` otherwise."""
    rec = session.get(DatasetRecord, dataset_id)
    if rec is None or (tenant is not None and rec.tenant != tenant):
        raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
    return rec


def list_datasets(session: Session, *, tenant: str | None, limit: int,
                  cursor: str | None) -> tuple[list[DatasetRecord], str | None]:
    """``tenant``'s datasets newest first, keyset-paged by id; returns the page and the next cursor."""
    q = select(DatasetRecord).order_by(DatasetRecord.id.desc()).limit(limit + 1)
    if tenant is not None:
        q = q.where(DatasetRecord.tenant == tenant)
    if cursor:
        q = q.where(DatasetRecord.id < cursor)
    items = list(session.scalars(q))
    nxt = items[limit - 1].id if len(items) > limit else None
    return items[:limit], nxt


def get_audit(session: Session, *, audit_id: str, tenant: str | None) -> AuditRecord:
    """The audit ``audit_id`` of ``tenant`` (``None``: any); :class:`NotFound` otherwise."""
    rec = session.get(AuditRecord, audit_id)
    if rec is None or (tenant is not None and rec.tenant != tenant):
        raise NotFound(f"no audit {audit_id!r}", field="audit_id")
    return rec


def list_audits(session: Session, *, tenant: str | None, limit: int, cursor: str | None,
                dataset_id: str | None = None,
                status: str | None = None, created_after: datetime | None = None,
                created_before: datetime | None = None, brief: bool = False) -> tuple[list[AuditRecord], str | None]:
    """Newest first, keyset-paged by id; ``brief`` leaves the large JSON columns unloaded."""
    q = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit + 1)
    if tenant is not None:
        q = q.where(AuditRecord.tenant == tenant)
    if cursor:
        q = q.where(AuditRecord.id < cursor)
    if dataset_id:
        q = q.where(AuditRecord.dataset_id == dataset_id)
    if status:
        q = q.where(AuditRecord.status == status)
    if created_after is not None:
        q = q.where(AuditRecord.created_at >= created_after)
    if created_before is not None:
        q = q.where(AuditRecord.created_at < created_before)
    if brief:
        q = q.options(defer(AuditRecord.summary), defer(AuditRecord.evaluation), defer(AuditRecord.aggregates))
    items = list(session.scalars(q))
    nxt = items[limit - 1].id if len(items) > limit else None
    return items[:limit], nxt


def active_audits_of(session: Session, *, dataset_id: str) -> int:
    """How many queued or running audits use ``dataset_id``: audit it, or train on it as their reference data."""
    return session.scalar(select(func.count()).select_from(AuditRecord).where(
        or_(AuditRecord.dataset_id == dataset_id, AuditRecord.reference_dataset_id == dataset_id),
        AuditRecord.status.in_(ACTIVE_STATES))) or 0


def active_audits_of_tenant(session: Session, *, tenant: str) -> int:
    """How many queued or running audits ``tenant`` has."""
    return session.scalar(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.tenant == tenant, AuditRecord.status.in_(ACTIVE_STATES))) or 0


def _holdings(tenant: str):
    """(artifact, bytes) of every artifact ``tenant``'s rows refer to, each once (``UNION`` drops repeats)."""
    datasets = select(DatasetRecord.artifact.label("digest"), DatasetRecord.stored_bytes.label("bytes")).where(
        DatasetRecord.tenant == tenant)
    audits = select(AuditRecord.pred_probs_artifact, AuditRecord.stored_bytes).where(
        AuditRecord.tenant == tenant, AuditRecord.pred_probs_artifact.is_not(None))
    return union(datasets, audits).subquery()


def stored_bytes_of_tenant(session: Session, *, tenant: str) -> int:
    """Bytes of the artifacts ``tenant``'s datasets and audits hold, each distinct file counted once (two
    uploads of the same content take its bytes once, as on disk; another tenant's copy does not count here)."""
    held = _holdings(tenant)
    return int(session.scalar(select(func.coalesce(func.sum(held.c.bytes), 0))) or 0)


def reserved_bytes_of_tenant(session: Session, *, tenant: str) -> int:
    """Bytes the pred_probs of ``tenant``'s queued and running audits will take when done (rows x classes x 4)."""
    q = (select(func.coalesce(func.sum(DatasetRecord.rows * DatasetRecord.classes * 4), 0))
         .select_from(AuditRecord).join(DatasetRecord, DatasetRecord.id == AuditRecord.dataset_id)
         .where(AuditRecord.tenant == tenant, AuditRecord.status.in_(ACTIVE_STATES)))
    return int(session.scalar(q) or 0)


def tenant_holds(session: Session, *, tenant: str, digest: str) -> bool:
    """Whether a row of ``tenant`` already refers to the artifact ``digest`` (storing it again costs nothing)."""
    held = _holdings(tenant)
    return bool(session.scalar(select(func.count()).select_from(held).where(held.c.digest == digest)))


def artifact_references(session: Session) -> dict[str, list[str]]:
    """Every artifact digest rows refer to, with the ids of those rows (``datasets`` and ``audits``)."""
    refs: dict[str, list[str]] = {}
    for digest, rid in session.execute(select(DatasetRecord.artifact, DatasetRecord.id)):
        refs.setdefault(digest, []).append(rid)
    for digest, rid in session.execute(select(AuditRecord.pred_probs_artifact, AuditRecord.id).where(
            AuditRecord.pred_probs_artifact.is_not(None))):
        refs.setdefault(digest, []).append(rid)
    return refs


def audits_of(session: Session, *, dataset_id: str) -> list[AuditRecord]:
    """Every audit of ``dataset_id``."""
    return list(session.scalars(select(AuditRecord).where(AuditRecord.dataset_id == dataset_id)))


def count_of_tenant(session: Session, *, tenant: str) -> tuple[int, int]:
    """How many datasets and audits ``tenant`` holds."""
    def count(model) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.tenant == tenant)) or 0

    return count(DatasetRecord), count(AuditRecord)


def detach_children(session: Session, *, dataset_id: str) -> None:
    """Datasets derived from ``dataset_id`` forget their parent (``parent_id`` becomes null)."""
    session.execute(update(DatasetRecord).where(DatasetRecord.parent_id == dataset_id).values(parent_id=None))


def save_aggregates(session: Session, *, audit_id: str, aggregates: dict, headline: dict | None) -> None:
    """Store the dashboard aggregates (and headline, when given) of a finished audit."""
    values: dict = {"aggregates": aggregates}
    if headline is not None:
        values["headline"] = headline
    session.execute(update(AuditRecord).where(AuditRecord.id == audit_id).values(**values))


def artifact_in_use(session: Session, *, digest: str) -> bool:
    """Whether any dataset or audit still refers to the artifact ``digest``."""
    n = session.scalar(select(func.count()).select_from(DatasetRecord).where(DatasetRecord.artifact == digest))
    m = session.scalar(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.pred_probs_artifact == digest))
    return bool(n or m)


def delete_audit_rows(session: Session, *, audit_id: str) -> None:
    """Delete every per-example row of ``audit_id``."""
    session.execute(delete(AuditRow).where(AuditRow.audit_id == audit_id))


def score_rank_bounds(session: Session, *, audit_id: str, min_score: float | None,
                      max_score: float | None) -> tuple[int | None, int | None]:
    """The rank range ``[lo, hi]`` holding exactly the rows with ``min_score <= score <= max_score``.

    Ranks are the score order, so a score range is a rank range: each bound is one
    seek in the (audit_id, quality_score, rank) index. An empty range comes back
    with ``lo > hi``.
    """
    lo = hi = None
    if min_score is not None:
        lo = session.scalar(select(AuditRow.rank).where(AuditRow.audit_id == audit_id,
                                                        AuditRow.quality_score >= min_score)
                            .order_by(AuditRow.quality_score, AuditRow.rank).limit(1))
        if lo is None:  # nothing scores that high
            return 1, 0
    if max_score is not None:
        hi = session.scalar(select(AuditRow.rank).where(AuditRow.audit_id == audit_id,
                                                        AuditRow.quality_score <= max_score)
                            .order_by(AuditRow.quality_score.desc(), AuditRow.rank.desc()).limit(1))
        if hi is None:  # nothing scores that low
            return 1, 0
    return lo, hi


def row_at_index(session: Session, *, audit_id: str, index: int) -> AuditRow | None:
    """The row of dataset example ``index`` in an audit, or ``None``."""
    return session.scalar(select(AuditRow).where(AuditRow.audit_id == audit_id, AuditRow.index == index))


def flagged_rows(session: Session, *, audit_id: str):
    """(index, example_id, rank, given_label, suggested_label, quality_score) of every flagged row, by rank."""
    cols = [AuditRow.index, AuditRow.example_id, AuditRow.rank, AuditRow.given_label, AuditRow.suggested_label,
            AuditRow.quality_score]
    return session.execute(select(*cols).where(AuditRow.audit_id == audit_id, AuditRow.is_issue.is_(True))
                           .order_by(AuditRow.rank)).all()


def row_columns(session: Session, *, audit_id: str):
    """(given_label, suggested_label, quality_score, is_issue) of every row, as tuples in rank order."""
    cols = [AuditRow.given_label, AuditRow.suggested_label, AuditRow.quality_score, AuditRow.is_issue]
    return session.execute(select(*cols).where(AuditRow.audit_id == audit_id).order_by(AuditRow.rank)).all()


def has_example_ids(session: Session, *, audit_id: str) -> bool:
    """Whether an audit's rows carry the dataset's own example ids."""
    return session.scalar(select(AuditRow.example_id).where(AuditRow.audit_id == audit_id, AuditRow.rank == 0)) \
        is not None


def rows_in_rank_range(session: Session, *, audit_id: str, start: int, stop: int):
    """The rows of an audit with ``start <= rank < stop`` in rank order, as tuples (for exports, block by block:
    a range of the primary key)."""
    return session.execute(select(*_ROW).where(AuditRow.audit_id == audit_id, AuditRow.rank >= start,
                                               AuditRow.rank < stop).order_by(AuditRow.rank)).all()


def page_rows(session: Session, *, audit_id: str, limit: int, after_rank: int | None = None,
              given_label: int | None = None, suggested_label: int | None = None, is_issue: bool | None = None,
              min_rank: int | None = None, max_rank: int | None = None, descending: bool = False) -> list:
    """Up to ``limit`` rows as tuples of :data:`~labelaudit.store.models.ROW_COLUMNS`, in rank order after
    ``after_rank`` (keyset).

    ``descending`` walks from the highest rank down and ``after_rank`` then means "below";
    ``min_rank``/``max_rank`` bound the ranks (a score range, see :func:`score_rank_bounds`).
    """
    q = select(*_ROW).where(AuditRow.audit_id == audit_id)
    if after_rank is not None:
        q = q.where(AuditRow.rank < after_rank if descending else AuditRow.rank > after_rank)
    if min_rank is not None:
        q = q.where(AuditRow.rank >= min_rank)
    if max_rank is not None:
        q = q.where(AuditRow.rank <= max_rank)
    if given_label is not None:
        q = q.where(AuditRow.given_label == given_label)
    if suggested_label is not None:
        q = q.where(AuditRow.suggested_label == suggested_label)
    if is_issue is not None:
        q = q.where(AuditRow.is_issue.is_(is_issue))
    q = q.order_by(AuditRow.rank.desc() if descending else AuditRow.rank).limit(limit)
    return list(session.execute(q))


def audit_status(session: Session, *, audit_id: str):
    """``(status, tenant)`` of ``audit_id`` in one primary-key read, or ``None`` when there is no such audit."""
    return session.execute(select(AuditRecord.status, AuditRecord.tenant).where(AuditRecord.id == audit_id)).first()


def count_by_status(session: Session) -> dict[str, int]:
    """Audits per status."""
    return dict(session.execute(select(AuditRecord.status, func.count()).group_by(AuditRecord.status)).all())


def recent_durations(session: Session, *, limit: int = 10_000) -> list[tuple[datetime, datetime]]:
    """(started_at, finished_at) of the most recently finished audits."""
    q = (select(AuditRecord.started_at, AuditRecord.finished_at)
         .where(AuditRecord.started_at.is_not(None), AuditRecord.finished_at.is_not(None))
         .order_by(AuditRecord.finished_at.desc()).limit(limit))
    return list(session.execute(q).all())


def rows_at_indices(session: Session, *, audit_id: str, indices: list[int]) -> dict[int, AuditRow]:
    """The rows of the given dataset examples, keyed by index (missing ones are left out)."""
    if not indices:
        return {}
    q = select(AuditRow).where(AuditRow.audit_id == audit_id, AuditRow.index.in_(indices))
    return {r.index: r for r in session.scalars(q)}


def review_columns(session: Session, *, audit_id: str):
    """(index, rank, given_label, suggested_label, quality_score, is_issue) of every row of an audit, by rank."""
    cols = [AuditRow.index, AuditRow.rank, AuditRow.given_label, AuditRow.suggested_label, AuditRow.quality_score,
            AuditRow.is_issue]
    return session.execute(select(*cols).where(AuditRow.audit_id == audit_id).order_by(AuditRow.rank)).all()
