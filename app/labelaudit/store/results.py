"""Finished audits as dashboards read them: stored aggregates (backfilled for older audits) and comparisons.

Aggregates are written by the worker when an audit finishes; audits finished
before they existed get them computed from their rows on first read and stored.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from labelaudit.audit.aggregates import audit_aggregates, headline
from labelaudit.audit.keys import example_keys
from labelaudit.errors import OptionError
from labelaudit.store import datasets as dataset_store
from labelaudit.store import queries
from labelaudit.store.artifacts import ArtifactStore
from labelaudit.store.examples import dataset_member
from labelaudit.store.models import AuditRecord, DatasetRecord

#: Of the smaller dataset, the share of examples two audits must share to be compared.
MIN_SHARED = 0.5


def aggregates_of(session: Session, rec: AuditRecord) -> dict:
    """The stored aggregates of a finished audit, computed from its rows (and stored) when missing."""
    if rec.aggregates:
        return rec.aggregates
    summary = rec.summary or {}
    names = summary.get("class_names") or []
    cols = queries.row_columns(session, rec.id)
    given, suggested, scores, flags = (np.asarray(c) for c in zip(*cols)) if cols else ([], [], [], [])
    rates = [c.get("estimated_noise_rate") for c in summary.get("classes", [])] or None
    joint = np.asarray(summary["joint"]) if summary.get("joint") else None
    rec.aggregates = audit_aggregates(given, suggested, scores, np.asarray(flags, dtype=bool), names, joint=joint,
                                      estimated_noise_rates=rates if rates and len(rates) == len(names) else None)
    rec.headline = rec.headline or headline(rec.summary, rec.timings, rec.evaluation)
    session.commit()
    return rec.aggregates


def _root(session: Session, ds: DatasetRecord) -> str:
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
    return example_keys(dataset_store.load_arrays(artifacts, ds))


def match_key(session: Session, artifacts: ArtifactStore, base: AuditRecord, other: AuditRecord):
    """How the two audits' examples are matched: ``(by, base_keys, other_keys)``.

    ``by`` is ``example_id`` (both datasets carry ids), ``index`` (the same dataset
    or one noise lineage with the same rows: row order is kept) or ``content``
    (hashes of features/pixels). Keys are ``None`` for ``index``. Raises
    :class:`OptionError` (field ``other_id``) when the audits cannot be matched.
    """
    ds_a = queries.get_dataset(session, base.dataset_id, tenant=base.tenant)
    ds_b = queries.get_dataset(session, other.dataset_id, tenant=other.tenant)
    if queries.has_example_ids(session, base.id) and queries.has_example_ids(session, other.id):
        by = "example_id"
    elif ds_a.rows == ds_b.rows and _root(session, ds_a) == _root(session, ds_b):
        return "index", None, None
    elif "pred_probs" in (ds_a.modality, ds_b.modality):
        raise OptionError("the audits' datasets are unrelated (not one lineage, no example ids, no content to match)",
                          field="other_id", code="unrelated_audits")
    else:
        by = "content"
    keys_a, keys_b = _keys(artifacts, ds_a, by), _keys(artifacts, ds_b, by)
    shared = len(set(keys_a.tolist()) & set(keys_b.tolist()))
    if shared < MIN_SHARED * min(len(keys_a), len(keys_b)):
        raise OptionError(f"the audits share {shared} of {min(len(keys_a), len(keys_b))} examples (matched by {by}); "
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
    flagged_a, flagged_b = queries.flagged_rows(session, base.id), queries.flagged_rows(session, other.id)

    def key(rows_keys, r):
        return r.index if rows_keys is None else rows_keys[r.index]

    issues_a = {key(keys_a, r): r for r in flagged_a}
    issues_b = {key(keys_b, r): r for r in flagged_b}
    all_a = None if keys_a is None else set(keys_a.tolist())
    all_b = None if keys_b is None else set(keys_b.tolist())
    new = [r for k, r in issues_b.items() if k not in issues_a and (all_a is None or k in all_a)]
    gone = [r for k, r in issues_a.items() if k not in issues_b and (all_b is None or k in all_b)]
    # where a key maps to a row of the other audit: index lookups for the listed items only
    index_a = None if keys_a is None else {k: i for i, k in enumerate(keys_a.tolist())}
    index_b = None if keys_b is None else {k: i for i, k in enumerate(keys_b.tolist())}

    def pair(rows, this_keys, that_index, that_audit, this_is_base, after):
        if after is not None:
            rows = [r for r in rows if r.rank > after]
        more = len(rows) > limit
        rows = rows[:limit]
        that_idx = [r.index if this_keys is None else that_index[this_keys[r.index]] for r in rows]
        that_rows = queries.rows_at_indices(session, that_audit, that_idx)
        out = []
        for r, j in zip(rows, that_idx):
            a, b = (_row(r), _row(that_rows[j]) if j in that_rows else None)
            base_row, other_row = (a, b) if this_is_base else (b, a)
            out.append({"key": str(key(this_keys, r)), "base": base_row, "other": other_row})
        return out, (str(rows[-1].rank) if more and rows else None)

    new_page, new_next = pair(new, keys_b, index_a, base.id, this_is_base=False, after=new_after)
    gone_page, gone_next = pair(gone, keys_a, index_b, other.id, this_is_base=True, after=gone_after)
    cls_a = aggregates_of(session, base)["classes"]
    cls_b = aggregates_of(session, other)["classes"]
    classes = [{"class_id": a["class_id"], "class_name": a["class_name"],
                "base_size": a["size"], "other_size": b["size"],
                "base_issues": a["num_issues"], "other_issues": b["num_issues"],
                "base_issue_rate": a["issue_rate"], "other_issue_rate": b["issue_rate"],
                "issue_rate_change": b["issue_rate"] - a["issue_rate"]} for a, b in zip(cls_a, cls_b)]
    unmatched_a = 0 if all_b is None else sum(k not in all_b for k in issues_a)
    unmatched_b = 0 if all_a is None else sum(k not in all_a for k in issues_b)
    sa, sb = base.summary or {}, other.summary or {}
    return {
        "base": {"id": base.id, "dataset_id": base.dataset_id, "num_issues": sa.get("num_issues"),
                 "issue_rate": sa.get("issue_rate"), "num_examples": sa.get("num_examples")},
        "other": {"id": other.id, "dataset_id": other.dataset_id, "num_issues": sb.get("num_issues"),
                  "issue_rate": sb.get("issue_rate"), "num_examples": sb.get("num_examples")},
        "matched_by": by,
        "class_names": names_a,
        "issue_rate_change": (sb.get("issue_rate") or 0.0) - (sa.get("issue_rate") or 0.0),
        "classes": classes,
        "num_new": len(new), "num_gone": len(gone), "num_kept": len(issues_b) - len(new) - unmatched_b,
        "num_unmatched_base": unmatched_a, "num_unmatched_other": unmatched_b,
        "new_issues": new_page, "new_next_cursor": new_next,
        "gone_issues": gone_page, "gone_next_cursor": gone_next,
    }
