"""Tables: datasets, audits (which double as jobs) and per-example audit rows."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labelaudit.vocab import ACTIVE_STATUSES, AuditStatus

#: Audit (job) states, as the plain strings stored in ``audits.status``.
QUEUED, RUNNING, DONE, FAILED, CANCELLED = (s.value for s in AuditStatus)
STATES = tuple(s.value for s in AuditStatus)
ACTIVE_STATES = tuple(s.value for s in ACTIVE_STATUSES)
#: The tenant of everything stored while authentication is off (local single-user mode).
LOCAL_TENANT = "local"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Base(DeclarativeBase):
    pass


class DatasetRecord(Base):
    """A stored dataset: metadata here, arrays in the artifact store (``artifact`` = sha256 of the .npz)."""

    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_tenant_id", "tenant", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: who owns it: the API key's tenant (``local`` with auth off); other tenants never see it
    tenant: Mapped[str] = mapped_column(String(64), default=LOCAL_TENANT)
    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("datasets.id", ondelete="SET NULL"),
                                                  nullable=True)
    rows: Mapped[int] = mapped_column(Integer)
    classes: Mapped[int] = mapped_column(Integer)
    class_names: Mapped[list] = mapped_column(JSON)
    modality: Mapped[str] = mapped_column(String(20))
    feature_shape: Mapped[list | None] = mapped_column(JSON, nullable=True)
    format: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    artifact: Mapped[str] = mapped_column(String(64))
    has_true_labels: Mapped[bool] = mapped_column(Boolean, default=False)
    #: bytes of its artifact, counted against the tenant's storage quota
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    noise: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    meta: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditRecord(Base):
    """An audit request, its job state and, when done, its summary."""

    __tablename__ = "audits"
    __table_args__ = (Index("ix_audits_status_created", "status", "created_at"),
                      Index("ix_audits_created", "created_at"),
                      Index("ix_audits_tenant_id", "tenant", "id"),
                      Index("ix_audits_tenant_status", "tenant", "status"),
                      Index("ix_audits_reference_status", "reference_dataset_id", "status"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: the dataset's tenant, copied so tenant-scoped lists need no join
    tenant: Mapped[str] = mapped_column(String(64), default=LOCAL_TENANT)
    dataset_id: Mapped[str] = mapped_column(String(40), ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    options: Mapped[dict] = mapped_column(JSON)
    #: the tenant's dataset of trusted rows trained on beside this one (reference data), or none; no foreign
    #: key: a finished audit keeps naming it after it is deleted (one in use by a queued or running audit is not)
    reference_dataset_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    progress: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    timings: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    evaluation: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: small figures for lists: issue rate, health score, backbone, duration (set when done)
    headline: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: computed once when done: class table, score histogram, confusion counts (see labelaudit.core.aggregates)
    aggregates: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    pred_probs_artifact: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: bytes of its pred_probs artifact (set when done), counted against the tenant's storage quota
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditRow(Base):
    """One example of a finished audit, in rank order (0 = least likely correct).

    Each audit's rows live in a table of their own, created, loaded and indexed when the audit
    finishes (:mod:`labelaudit.store.rowtables`): on PostgreSQL ``audit_rows`` is their
    LIST-partitioned parent (one partition per audit); on SQLite it is only the shape of those
    tables and holds no rows. Select through :func:`labelaudit.store.rowtables.rows_entity`.
    """

    __tablename__ = "audit_rows"
    __table_args__ = {"postgresql_partition_by": "LIST (audit_id)"}

    audit_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    index: Mapped[int] = mapped_column(Integer)
    given_label: Mapped[int] = mapped_column(Integer)
    suggested_label: Mapped[int] = mapped_column(Integer)
    quality_score: Mapped[float] = mapped_column(Float)
    is_issue: Mapped[bool] = mapped_column(Boolean)
    true_label: Mapped[int | None] = mapped_column(Integer, nullable=True)
    example_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the audit's neighbourhood score of the example (``AuditResult.neighbour_scores``); ``None`` without one
    neighbour_score: Mapped[float | None] = mapped_column(Float, nullable=True)


#: The columns of an ``audit_rows`` row besides ``audit_id``, in table order: the one list every reader,
#: loader and export of per-example rows uses.
ROW_COLUMNS: tuple[str, ...] = tuple(c.name for c in AuditRow.__table__.columns if c.name != "audit_id")


class ApiKey(Base):
    """An API key: only its sha256 is stored; ``prefix`` (the first characters) identifies it to people."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    #: the tenant whose data the key opens; keys of one tenant share its datasets and audits
    tenant: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ReviewDecisionRecord(Base):
    """A reviewer's current decision on one example of a tenant, keyed by the example's stable key.

    The key is :func:`labelaudit.core.keys.example_keys`'s (``id:...`` or ``sha:...``; positional keys
    are scoped to their dataset lineage), so a decision carries over to a later audit of the same data.
    ``decision`` null means the decision was undone (the row stays, so ``version`` only grows).
    """

    __tablename__ = "review_decisions"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    example_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: the class name a ``relabel`` sets (null for the other decisions)
    label: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: who decided: the API key's name (``local`` with auth off)
    decided_by: Mapped[str] = mapped_column(String(255))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: the audit it was decided on
    audit_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: 1 for the first decision, +1 for every change (undo included): what a caller sends back to detect conflicts
    version: Mapped[int] = mapped_column(Integer, default=1)


class ReviewEvent(Base):
    """One change of a decision (set, changed or undone), never updated: the review's history."""

    __tablename__ = "review_history"
    __table_args__ = (Index("ix_review_history_key", "tenant", "example_key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    example_key: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    label: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(255))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    audit_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
