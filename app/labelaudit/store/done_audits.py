"""The read path of finished audits, for the dashboard's most frequent questions.

A finished audit never changes, so what every issue page and class table needs
from its record (class names, row count, confusion counts, the class table
itself, already serialised) is read once and kept in a small per-process LRU
cache. Each request still asks the database one primary-key question (status
and tenant), so a deleted audit, another tenant's audit or one that is not done
yet is answered exactly as without the cache. Page rows are read as plain
column tuples, not ORM objects.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelaudit.errors import NotFound, NotReady
from labelaudit.store.models import DONE, AuditRecord, AuditRow
from labelaudit.store.results import aggregates_of

#: Finished audits kept per process (each holds k x k confusion counts and a class table).
CACHE_SIZE = 512

ROW_COLUMNS = (AuditRow.rank, AuditRow.index, AuditRow.given_label, AuditRow.suggested_label, AuditRow.quality_score,
               AuditRow.is_issue, AuditRow.true_label, AuditRow.example_id)


@dataclass(frozen=True)
class DoneAudit:
    """What the hot read paths need of one finished audit."""

    id: str
    class_names: tuple[str, ...]
    num_examples: int
    #: (given, suggested, rows, flagged rows) for every non-empty cell
    confusion: tuple[tuple[int, int, int, int], ...]
    #: ``{"audit_id": ..., "classes": [...]}`` as JSON bytes (the class table response)
    class_table_json: bytes

    def class_name(self, i: int) -> str | None:
        return self.class_names[i] if 0 <= i < len(self.class_names) else None


class _LRU:
    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key: str) -> DoneAudit | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: str, value: DoneAudit) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_cache = _LRU(CACHE_SIZE)


def done_audit_view(session: Session, audit_id: str, *, tenant: str | None) -> DoneAudit:
    """The finished audit ``audit_id`` of ``tenant``: :class:`NotFound` when missing or another tenant's,
    :class:`Conflict` (``not_ready``) before it is done."""
    row = session.execute(select(AuditRecord.status, AuditRecord.tenant).where(AuditRecord.id == audit_id)).first()
    if row is None or (tenant is not None and row.tenant != tenant):
        raise NotFound(f"no audit {audit_id!r}", field="audit_id")
    if row.status != DONE:
        raise NotReady(f"the audit is {row.status}; results exist once it is done", field="audit_id")
    view = _cache.get(audit_id)
    if view is None:
        rec = session.get(AuditRecord, audit_id)
        agg = aggregates_of(session, rec)
        summary = rec.summary or {}
        view = DoneAudit(id=audit_id, class_names=tuple(str(c) for c in summary.get("class_names") or []),
                         num_examples=int(summary.get("num_examples") or 0),
                         confusion=tuple(tuple(int(v) for v in cell) for cell in agg["confusion"]),
                         class_table_json=json.dumps({"audit_id": audit_id, "classes": agg["classes"]},
                                                     separators=(",", ":")).encode())
        _cache.put(audit_id, view)
    return view


def page_rows(session: Session, audit_id: str, *, limit: int, after_rank: int | None = None,
              given_label: int | None = None, suggested_label: int | None = None, is_issue: bool | None = None,
              min_rank: int | None = None, max_rank: int | None = None, descending: bool = False) -> list:
    """Up to ``limit`` rows as tuples of :data:`ROW_COLUMNS`, in rank order after ``after_rank`` (keyset).

    ``descending`` walks from the highest rank down and ``after_rank`` then means "below";
    ``min_rank``/``max_rank`` bound the ranks (a score range, see ``queries.score_rank_bounds``).
    """
    q = select(*ROW_COLUMNS).where(AuditRow.audit_id == audit_id)
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
