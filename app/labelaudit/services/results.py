"""Finished audits as dashboards read them: stored aggregates (backfilled for older audits), the cached view of
the hot read paths, and the comparison of two audits.

Aggregates are written by the worker when an audit finishes; audits finished
before they existed get them computed from their rows on first read and stored,
in the reading request's own transaction.

A finished audit never changes, so what every issue page and class table needs
from its record (class names, row count, confusion counts, the class table
and the summary, both already serialised as JSON) is read once and kept in a small per-process LRU
cache. Each request still asks the database one primary-key question (status
and tenant), so a deleted audit, another tenant's audit or one that is not done
yet is answered exactly as without the cache.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from labelaudit.core.aggregates import audit_aggregates, headline
from labelaudit.core.compare import class_changes, diff_issues, page_after, row_key, shared_share
from labelaudit.core.constants import MIN_SHARED
from labelaudit.core.keys import example_keys
from labelaudit.errors import NotFound, NotReady, OptionError
from labelaudit.store import queries
from labelaudit.store.artifacts import ArtifactStore, dataset_arrays
from labelaudit.store.db import Database
from labelaudit.store.examples import dataset_member
from labelaudit.store.models import DONE, AuditRecord, DatasetRecord
from labelaudit.store.reads import Reader

#: Finished audits kept per process (each holds k x k confusion counts, a class table and its summary).
CACHE_SIZE = 512
#: A summary larger than this (its noise matrix is k x k) is not kept with the view but read per request.
SUMMARY_CACHE_BYTES = 256 * 1024


def aggregates_of(session: Session, rec: AuditRecord) -> dict:
    """The stored aggregates of a finished audit, computed from its rows (and stored) when missing."""
    if rec.aggregates:
        return rec.aggregates
    summary = rec.summary or {}
    names = summary.get("class_names") or []
    cols = queries.row_columns(session, audit_id=rec.id)
    given, suggested, scores, flags = (np.asarray(c) for c in zip(*cols)) if cols else ([], [], [], [])
    rates = [c.get("estimated_noise_rate") for c in summary.get("classes", [])] or None
    joint = np.asarray(summary["joint"]) if summary.get("joint") else None
    aggregates = audit_aggregates(given, suggested, scores, np.asarray(flags, dtype=bool), names, joint=joint,
                                  estimated_noise_rates=rates if rates and len(rates) == len(names) else None)
    line = None if rec.headline else headline(rec.summary, rec.timings, rec.evaluation)
    queries.save_aggregates(session, audit_id=rec.id, aggregates=aggregates, headline=line)
    session.commit()
    set_committed_value(rec, "aggregates", aggregates)  # what was stored, without marking the record dirty
    if line is not None:
        set_committed_value(rec, "headline", line)
    return aggregates


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
    #: the summary as JSON bytes (the summary response); ``None`` when too large to keep (thousands of classes)
    summary_json: bytes | None = None

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
    :class:`NotReady` before it is done."""
    _check_done(queries.audit_status(session, audit_id=audit_id), audit_id, tenant)
    view = _cache.get(audit_id)
    if view is None:
        view = _load_view(session, audit_id)
    return view


#: ``read_done_audit``'s default: read the status itself
READ_STATUS = object()


def read_done_audit(reader: Reader, db: Database, audit_id: str, *, tenant: str | None,
                    status: tuple[str, str] | None | object = READ_STATUS) -> DoneAudit:
    """:func:`done_audit_view` for the hot read paths: the status is read with ``reader`` (see
    :mod:`labelaudit.store.reads`) unless the caller read it already (``status``: ``(status, tenant)``, or
    ``None`` when there is no such audit); a session is opened only when the view is not cached yet."""
    _check_done(queries.audit_status(reader, audit_id=audit_id) if status is READ_STATUS else status, audit_id, tenant)
    view = _cache.get(audit_id)
    if view is None:
        with db.sessions() as session:
            view = _load_view(session, audit_id)
    return view


def _check_done(row, audit_id: str, tenant: str | None) -> None:
    if row is None or (tenant is not None and row[1] != tenant):
        raise NotFound(f"no audit {audit_id!r}", field="audit_id")
    if row[0] != DONE:
        raise NotReady(f"the audit is {row[0]}; results exist once it is done", field="audit_id")


def _load_view(session: Session, audit_id: str) -> DoneAudit:
    rec = session.get(AuditRecord, audit_id)
    agg = aggregates_of(session, rec)
    summary = rec.summary or {}
    view = DoneAudit(id=audit_id, class_names=tuple(str(c) for c in summary.get("class_names") or []),
                     num_examples=int(summary.get("num_examples") or 0),
                     confusion=tuple(tuple(int(v) for v in cell) for cell in agg["confusion"]),
                     class_table_json=class_table_json(audit_id, agg))
    try:
        kept = _summary_bytes(summary)
    except ValueError:  # NaN in an old summary: no JSON for it (answered per request, as before)
        kept = None
    if kept is not None and len(kept) <= SUMMARY_CACHE_BYTES:
        view = replace(view, summary_json=kept)
    _cache.put(audit_id, view)
    return view


def summary_json(db: Database, view: DoneAudit) -> bytes:
    """The summary of the finished audit ``view`` as JSON bytes: kept with the view, else read again."""
    if view.summary_json is not None:
        return view.summary_json
    with db.sessions() as session:
        return _summary_bytes(session.get(AuditRecord, view.id).summary)


def _summary_bytes(summary: dict | None) -> bytes:
    return json.dumps(summary or {}, separators=(",", ":"), allow_nan=False).encode()


def class_table_json(audit_id: str, aggregates: dict) -> bytes:
    """The class table response (``{"audit_id": ..., "classes": [...]}``) of stored aggregates, as JSON bytes."""
    return json.dumps({"audit_id": audit_id, "classes": aggregates["classes"]}, separators=(",", ":")).encode()


def lineage_root(session: Session, ds: DatasetRecord) -> str:
    """The id of the first dataset of ``ds``'s lineage (its furthest stored parent; itself when it has none)."""
    seen = {ds.id}
    while ds.parent_id and ds.parent_id not in seen and len(seen) < 100:
        parent = session.get(DatasetRecord, ds.parent_id)
        if parent is None:
            break
        seen.add(parent.id)
        ds = parent
    return ds.id


def _keys(artifacts: ArtifactStore, ds: DatasetRecord, by: str) -> np.ndarray:
    if by == "example_id":
        return np.asarray(dataset_member(artifacts, ds.artifact, "example_ids")).astype(str).astype(object)
    return example_keys(dataset_arrays(artifacts, ds))


def match_key(session: Session, artifacts: ArtifactStore, base: AuditRecord, other: AuditRecord):
    """How the two audits' examples are matched: ``(by, base_keys, other_keys)``.

    ``by`` is ``example_id`` (both datasets carry ids), ``index`` (the same dataset
    or one noise lineage with the same rows: row order is kept) or ``content``
    (hashes of features/pixels). Keys are ``None`` for ``index``. Raises
    :class:`OptionError` (field ``other_id``) when the audits cannot be matched.
    """
    ds_a = queries.get_dataset(session, dataset_id=base.dataset_id, tenant=base.tenant)
    ds_b = queries.get_dataset(session, dataset_id=other.dataset_id, tenant=other.tenant)
    if queries.has_example_ids(session, audit_id=base.id) and queries.has_example_ids(session, audit_id=other.id):
        by = "example_id"
    elif ds_a.rows == ds_b.rows and lineage_root(session, ds_a) == lineage_root(session, ds_b):
        return "index", None, None
    elif "pred_probs" in (ds_a.modality, ds_b.modality):
        raise OptionError("the audits' datasets are unrelated (not one lineage, no example ids, no content to match)",
                          field="other_id", code="unrelated_audits")
    else:
        by = "content"
    keys_a, keys_b = _keys(artifacts, ds_a, by), _keys(artifacts, ds_b, by)
    shared, smaller = shared_share(keys_a, keys_b)
    if shared < MIN_SHARED * smaller:
        raise OptionError(f"the audits share {shared} of {smaller} examples (matched by {by}); "
                          f"at least {MIN_SHARED:.0%} are needed to compare them", field="other_id",
                          code="unrelated_audits")
    return by, keys_a, keys_b


def _row(r) -> dict:
    return {"index": r.index, "rank": r.rank, "given_label": r.given_label, "suggested_label": r.suggested_label,
            "quality_score": r.quality_score}


def compare(session: Session, artifacts: ArtifactStore, base: AuditRecord, other: AuditRecord, *,
            limit: int = 100, new_after: int | None = None, gone_after: int | None = None) -> dict:
    """Issue-rate change per class and the issues new in ``other`` / gone since ``base``.

    Both audits must be done and have the same classes. Lists hold ``limit`` issues
    by rank (of ``other`` for new ones, of ``base`` for gone ones), after the rank
    ``new_after`` / ``gone_after`` (keyset paging: pass back ``new_next_cursor`` /
    ``gone_next_cursor``), each with the example's row in both audits when it has one.
    """
    names_a = (base.summary or {}).get("class_names")
    names_b = (other.summary or {}).get("class_names")
    if names_a != names_b:
        raise OptionError("the audits have different classes; only audits of the same classes compare",
                          field="other_id", code="different_classes")
    by, keys_a, keys_b = match_key(session, artifacts, base, other)
    diff = diff_issues(queries.flagged_rows(session, audit_id=base.id),
                       queries.flagged_rows(session, audit_id=other.id), keys_a, keys_b)
    # where a key maps to a row of the other audit: index lookups for the listed items only
    index_a = None if keys_a is None else {k: i for i, k in enumerate(keys_a.tolist())}
    index_b = None if keys_b is None else {k: i for i, k in enumerate(keys_b.tolist())}

    def pair(rows, this_keys, that_index, that_audit, this_is_base, after):
        rows, nxt = page_after(rows, after=after, limit=limit)
        that_idx = [r.index if this_keys is None else that_index[this_keys[r.index]] for r in rows]
        that_rows = queries.rows_at_indices(session, audit_id=that_audit, indices=that_idx)
        out = []
        for r, j in zip(rows, that_idx):
            a, b = (_row(r), _row(that_rows[j]) if j in that_rows else None)
            base_row, other_row = (a, b) if this_is_base else (b, a)
            out.append({"key": str(row_key(this_keys, r)), "base": base_row, "other": other_row})
        return out, nxt

    new_page, new_next = pair(diff.new, keys_b, index_a, base.id, this_is_base=False, after=new_after)
    gone_page, gone_next = pair(diff.gone, keys_a, index_b, other.id, this_is_base=True, after=gone_after)
    sa, sb = base.summary or {}, other.summary or {}
    return {
        "base": {"id": base.id, "dataset_id": base.dataset_id, "num_issues": sa.get("num_issues"),
                 "issue_rate": sa.get("issue_rate"), "num_examples": sa.get("num_examples")},
        "other": {"id": other.id, "dataset_id": other.dataset_id, "num_issues": sb.get("num_issues"),
                  "issue_rate": sb.get("issue_rate"), "num_examples": sb.get("num_examples")},
        "matched_by": by,
        "class_names": names_a,
        "issue_rate_change": (sb.get("issue_rate") or 0.0) - (sa.get("issue_rate") or 0.0),
        "classes": class_changes(aggregates_of(session, base)["classes"], aggregates_of(session, other)["classes"]),
        "num_new": len(diff.new), "num_gone": len(diff.gone), "num_kept": diff.num_kept,
        "num_unmatched_base": diff.unmatched_base, "num_unmatched_other": diff.unmatched_other,
        "new_issues": new_page, "new_next_cursor": new_next,
        "gone_issues": gone_page, "gone_next_cursor": gone_next,
    }
