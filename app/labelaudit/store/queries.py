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
from functools import lru_cache

from sqlalchemy import bindparam, func, null, or_, select, union, update
from sqlalchemy.orm import Session, defer

from labelaudit.errors import NotFound
from labelaudit.store.models import ACTIVE_STATES, DONE, ROW_COLUMNS, AuditRecord, AuditRow, DatasetRecord
from labelaudit.store.reads import Reader, Statement
from labelaudit.store.rowtables import drop_rows, rows_entity, table_name


def _cols(R) -> tuple:
    """The row columns of a rows entity (:func:`_rows`), in :data:`~labelaudit.store.models.ROW_COLUMNS` order."""
    return tuple(getattr(R, name) for name in ROW_COLUMNS)


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


#: What ``GET /v1/audits/{id}`` shows of an audit (not its aggregates, the largest column).
AUDIT_VIEW_COLUMNS = ("id", "tenant", "dataset_id", "reference_dataset_id", "status", "options", "progress", "timings",
                      "summary", "evaluation", "headline", "error", "attempts", "cancel_requested", "created_at",
                      "started_at", "finished_at")
_AUDIT_VIEW = select(*(getattr(AuditRecord, c) for c in AUDIT_VIEW_COLUMNS)).where(AuditRecord.id == bindparam("audit_id"))


def audit_view(session: Session, *, audit_id: str, tenant: str | None):
    """The :data:`AUDIT_VIEW_COLUMNS` of ``tenant``'s audit ``audit_id`` as one row (attributes by column name),
    read without building an ORM object; :class:`NotFound` otherwise."""
    row = session.connection().execute(_AUDIT_VIEW, {"audit_id": audit_id}).first()
    if row is None or (tenant is not None and row.tenant != tenant):
        raise NotFound(f"no audit {audit_id!r}", field="audit_id")
    return row


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
    """Delete every per-example row of ``audit_id``: drop its table (on PostgreSQL its partition)."""
    drop_rows(session.connection(), audit_id)


def _rows(session: Session, audit_id: str):
    """The entity to select ``audit_id``'s rows from (:func:`labelaudit.store.rowtables.rows_entity`)."""
    return rows_entity(session.get_bind().dialect.name, audit_id)


def _sqlite_has_rows_table(session: Session, audit_id: str) -> bool:
    return session.connection().exec_driver_sql(f'PRAGMA table_info("{table_name(audit_id)}")').first() is not None


def count_rows(session: Session, *, audit_id: str) -> int:
    """How many rows ``audit_id`` has stored (0 before it is done)."""
    if session.get_bind().dialect.name != "postgresql" and not _sqlite_has_rows_table(session, audit_id):
        return 0
    R = _rows(session, audit_id)
    return session.scalar(select(func.count()).select_from(R).where(R.audit_id == audit_id))


def status_and_row_count(session: Session, *, audit_id: str) -> tuple[str, int] | None:
    """``(status, stored rows)`` of ``audit_id`` read in one statement (one snapshot: read apart, a finish
    committing between the two reads would look half-written); ``None`` when there is no such audit."""
    for _ in range(10):
        sqlite_without_table = (session.get_bind().dialect.name != "postgresql"
                                and not _sqlite_has_rows_table(session, audit_id))
        if sqlite_without_table:
            rows = select(0).scalar_subquery()
        else:
            R = _rows(session, audit_id)
            rows = select(func.count()).select_from(R).where(R.audit_id == audit_id).scalar_subquery()
        found = session.execute(select(AuditRecord.status, rows).where(AuditRecord.id == audit_id)).first()
        if found is None:
            return None
        if sqlite_without_table and found[0] == DONE:
            continue  # finished after the table check: look again
        return found[0], int(found[1])
    raise RuntimeError(f"audit {audit_id} is done but has no rows table")


def score_rank_bounds(reader: Reader, *, audit_id: str, min_score: float | None,
                      max_score: float | None) -> tuple[int | None, int | None]:
    """The rank range ``[lo, hi]`` holding exactly the rows with ``min_score <= score <= max_score``.

    Ranks are the score order, so a score range is a rank range: each bound is one
    seek in the audit's (quality_score, rank) index, both in one statement (one round
    trip). An empty range comes back with ``lo > hi``.
    """
    if min_score is None and max_score is None:
        return None, None
    low, high = min_score is not None, max_score is not None
    lo, hi = reader.first(_score_bounds_statement(_hot_table(reader, audit_id), low, high),
                          _score_params(audit_id, min_score, max_score))
    return _rank_range(min_score, max_score, lo, hi)


def audit_status_and_score_bounds(
        reader: Reader, *, audit_id: str, min_score: float | None, max_score: float | None,
) -> tuple[tuple[str, str] | None, tuple[int | None, int | None]]:
    """:func:`audit_status` and :func:`score_rank_bounds` in one statement, on PostgreSQL (where the rows'
    parent table always exists; a SQLite audit's own table only once it is done): one round trip, not two."""
    if reader.dialect.name != "postgresql":
        raise ValueError("one statement for the status and the score bounds is a PostgreSQL read")
    low, high = min_score is not None, max_score is not None
    row = reader.first(_status_and_bounds_statement(low, high), _score_params(audit_id, min_score, max_score))
    if row is None:
        return None, (None, None)
    return (row[0], row[1]), _rank_range(min_score, max_score, row[2], row[3])


def _score_params(audit_id: str, min_score: float | None, max_score: float | None) -> dict:
    params = {"audit_id": audit_id, "min_score": min_score, "max_score": max_score}
    return {k: v for k, v in params.items() if v is not None}


def _rank_range(min_score, max_score, lo, hi) -> tuple[int | None, int | None]:
    if (min_score is not None and lo is None) or (max_score is not None and hi is None):
        return 1, 0  # nothing scores that high, or that low
    return lo, hi


# The hot read paths' statements are built and compiled once, with bound parameters, and run by a
# labelaudit.store.reads.Reader: building a statement and running it through the ORM costs more CPU than the
# database's answer. They are built per rows table: on PostgreSQL the one partitioned parent (``None``), on
# SQLite each audit's own table (its id), so a SQLite server keeps a few statements per recently read audit.


def _hot_table(reader: Reader, audit_id: str) -> str | None:
    return None if reader.dialect.name == "postgresql" else audit_id


def _entity(table: str | None):
    return AuditRow if table is None else rows_entity("sqlite", table)


def _score_seeks(table: str | None, low: bool, high: bool) -> tuple:
    """(the lowest rank scoring at least ``min_score``, the highest scoring at most ``max_score``) as scalar
    subqueries; a bound not asked for is NULL."""
    R = _entity(table)

    def seek(lowest: bool):
        q = select(R.rank).where(R.audit_id == bindparam("audit_id"))
        if lowest:
            q = q.where(R.quality_score >= bindparam("min_score")).order_by(R.quality_score, R.rank)
        else:
            q = q.where(R.quality_score <= bindparam("max_score")).order_by(R.quality_score.desc(), R.rank.desc())
        return q.limit(1).scalar_subquery()

    return seek(True) if low else null(), seek(False) if high else null()


@lru_cache(maxsize=512)
def _score_bounds_statement(table: str | None, low: bool, high: bool) -> Statement:
    return Statement(select(*_score_seeks(table, low, high)))


@lru_cache(maxsize=4)
def _status_and_bounds_statement(low: bool, high: bool) -> Statement:
    return Statement(select(AuditRecord.status, AuditRecord.tenant, *_score_seeks(None, low, high))
                     .where(AuditRecord.id == bindparam("audit_id")))


_AUDIT_STATUS = Statement(select(AuditRecord.status, AuditRecord.tenant)
                          .where(AuditRecord.id == bindparam("audit_id")))


def row_at_index(session: Session, *, audit_id: str, index: int) -> AuditRow | None:
    """The row of dataset example ``index`` in an audit, or ``None``."""
    R = _rows(session, audit_id)
    return session.scalar(select(R).where(R.audit_id == audit_id, R.index == index))


def flagged_rows(session: Session, *, audit_id: str):
    """(index, example_id, rank, given_label, suggested_label, quality_score) of every flagged row, by rank."""
    R = _rows(session, audit_id)
    cols = [R.index, R.example_id, R.rank, R.given_label, R.suggested_label, R.quality_score]
    return session.execute(select(*cols).where(R.audit_id == audit_id, R.is_issue.is_(True))
                           .order_by(R.rank)).all()


def row_columns(session: Session, *, audit_id: str):
    """(given_label, suggested_label, quality_score, is_issue) of every row, as tuples in rank order."""
    R = _rows(session, audit_id)
    cols = [R.given_label, R.suggested_label, R.quality_score, R.is_issue]
    return session.execute(select(*cols).where(R.audit_id == audit_id).order_by(R.rank)).all()


def has_example_ids(session: Session, *, audit_id: str) -> bool:
    """Whether an audit's rows carry the dataset's own example ids."""
    R = _rows(session, audit_id)
    return session.scalar(select(R.example_id).where(R.audit_id == audit_id, R.rank == 0)) is not None


def rows_in_rank_range(session: Session, *, audit_id: str, start: int, stop: int):
    """The rows of an audit with ``start <= rank < stop`` in rank order, as tuples (for exports, block by block:
    a range of the primary key)."""
    R = _rows(session, audit_id)
    return session.execute(select(*_cols(R)).where(R.audit_id == audit_id, R.rank >= start, R.rank < stop)
                           .order_by(R.rank)).all()


def page_rows(reader: Reader, *, audit_id: str, limit: int, after_rank: int | None = None,
              given_label: int | None = None, suggested_label: int | None = None, is_issue: bool | None = None,
              min_rank: int | None = None, max_rank: int | None = None, descending: bool = False) -> list:
    """Up to ``limit`` rows as tuples of :data:`~labelaudit.store.models.ROW_COLUMNS`, in rank order after
    ``after_rank`` (keyset).

    ``descending`` walks from the highest rank down and ``after_rank`` then means "below";
    ``min_rank``/``max_rank`` bound the ranks (a score range, see :func:`score_rank_bounds`).
    """
    params = {"audit_id": audit_id, "limit": limit, "after_rank": after_rank, "min_rank": min_rank,
              "max_rank": max_rank, "given_label": given_label, "suggested_label": suggested_label,
              "is_issue": is_issue}
    filters = frozenset(k for k, v in params.items() if v is not None)
    if given_label is not None and suggested_label is not None and given_label != suggested_label:
        filters |= {"off_diagonal"}  # lets the partial index of those rows serve the cell (rowtables.INDEXES)
    q = _page_statement(_hot_table(reader, audit_id), filters, descending)
    return reader.rows(q, {k: v for k, v in params.items() if v is not None})


@lru_cache(maxsize=1024)
def _page_statement(table: str | None, filters: frozenset[str], descending: bool) -> Statement:
    """The page query on one rows table for one combination of filters (at most 2^7 x 2 of them), built once."""
    R = _entity(table)
    q = select(*_cols(R)).where(R.audit_id == bindparam("audit_id"))
    if "after_rank" in filters:
        after = bindparam("after_rank")
        q = q.where(R.rank < after if descending else R.rank > after)
    if "min_rank" in filters:
        q = q.where(R.rank >= bindparam("min_rank"))
    if "max_rank" in filters:
        q = q.where(R.rank <= bindparam("max_rank"))
    if "given_label" in filters:
        q = q.where(R.given_label == bindparam("given_label"))
    if "suggested_label" in filters:
        q = q.where(R.suggested_label == bindparam("suggested_label"))
    if "is_issue" in filters:
        q = q.where(R.is_issue == bindparam("is_issue"))
    if "off_diagonal" in filters:
        q = q.where(R.given_label != R.suggested_label)
    return Statement(q.order_by(R.rank.desc() if descending else R.rank).limit(bindparam("limit")))


def audit_status(source: Reader | Session, *, audit_id: str) -> tuple[str, str] | None:
    """``(status, tenant)`` of ``audit_id`` in one primary-key read, or ``None`` when there is no such audit."""
    if isinstance(source, Reader):
        return source.first(_AUDIT_STATUS, {"audit_id": audit_id})
    return source.connection().execute(_AUDIT_STATUS.stmt, {"audit_id": audit_id}).first()


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
    R = _rows(session, audit_id)
    if not indices:
        return {}
    q = select(R).where(R.audit_id == audit_id, R.index.in_(indices))
    return {r.index: r for r in session.scalars(q)}


def review_columns(session: Session, *, audit_id: str):
    """(index, rank, given_label, suggested_label, quality_score, is_issue) of every row of an audit, by rank."""
    R = _rows(session, audit_id)
    cols = [R.index, R.rank, R.given_label, R.suggested_label, R.quality_score,
            R.is_issue]
    return session.execute(select(*cols).where(R.audit_id == audit_id).order_by(R.rank)).all()
