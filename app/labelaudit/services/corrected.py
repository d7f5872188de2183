"""A corrected dataset: an audit's dataset with the tenant's review decisions applied, stored as a new dataset.

Relabelled rows carry their new label, excluded rows are dropped, and two extra
columns record each row's original label and the decision applied
(:func:`labelaudit.core.review.apply_decisions`). The new dataset is the original's
child (``parent_id``) and records its lineage (the parent audit, the decisions
applied) under ``meta.review``; it is auditable like any other.
"""

from __future__ import annotations

from labelaudit.core.review import Decision, apply_decisions
from labelaudit.config import Settings
from labelaudit.errors import OptionError
from labelaudit.services.datasets import check_storage, save_dataset
from labelaudit.services.review_view import review_view
from labelaudit.store import decisions as store
from labelaudit.store import queries
from labelaudit.store.artifacts import ArtifactStore, dataset_arrays
from labelaudit.store.db import Database
from labelaudit.store.models import DatasetRecord
from labelaudit.vocab import ReviewDecision

#: An audit needs at least this many examples; a corrected dataset with fewer could not be audited again.
MIN_CORRECTED_ROWS = 2


def apply_review(db: Database, artifacts: ArtifactStore, settings: Settings, *, audit_id: str, tenant: str,
                 name: str | None = None) -> DatasetRecord:
    """Store ``tenant``'s audit's dataset with the current decisions applied, as a new dataset of the tenant.

    Raises :class:`OptionError` when nothing would be left (every row excluded),
    :class:`~labelaudit.errors.StorageQuotaExceeded` when the copy would not fit.
    """
    with db.sessions() as s:
        view = review_view(s, artifacts, audit_id, tenant=tenant)
        parent = queries.get_dataset(s, dataset_id=view.dataset_id, tenant=tenant)
        rows = store.live(s, tenant=tenant, keys=view.keys.tolist())
    decisions = {k: Decision(ReviewDecision(r[1]), r[2], r[3]) for k, r in rows.items() if r[1] is not None}
    corrected = apply_decisions(dataset_arrays(artifacts, parent), view.keys, decisions)
    if corrected.dataset.num_examples < MIN_CORRECTED_ROWS:
        raise OptionError("the decisions exclude every example; nothing would be left to audit", field="decisions",
                          code="empty_dataset")
    check_storage(db, settings, tenant, parent.stored_bytes)
    lineage = {"audit_id": audit_id, "dataset_id": parent.id, "decisions_applied": corrected.applied,
               "relabelled": corrected.relabelled, "excluded": corrected.excluded, "kept": corrected.kept,
               "unsure": corrected.unsure}
    return save_dataset(db, artifacts, corrected.dataset, name=name or f"{parent.name} (reviewed)",
                        format=parent.format, parent_id=parent.id, tenant=tenant, settings=settings, review=lineage)
