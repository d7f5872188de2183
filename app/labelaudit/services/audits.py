"""Audit use cases: create (options checked against the dataset, quotas), cancel, delete, read when done."""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np
from sqlalchemy.orm import Session

from labelaudit.core.pipeline import AuditOptions, check_options_for
from labelaudit.config import Settings
from labelaudit.errors import Conflict, NotReady, OptionError
from labelaudit.services.artifacts import remove_unused
from labelaudit.services.datasets import check_storage
from labelaudit.store import queries, queue
from labelaudit.store.artifacts import ArtifactStore
from labelaudit.store.db import Database
from labelaudit.store.examples import dataset_member
from labelaudit.store.models import DONE, RUNNING, AuditRecord


def create_audit(db: Database, artifacts: ArtifactStore, settings: Settings, *, dataset_id: str, tenant: str,
                 options: dict) -> AuditRecord:
    """Check ``options`` (the fields of :class:`AuditOptions`) against ``tenant``'s dataset and queue the audit.

    Raises :class:`~labelaudit.errors.OptionError` for options the dataset cannot take,
    :class:`~labelaudit.errors.StorageQuotaExceeded` when its results (pred_probs) would
    not fit the tenant's quota, :class:`~labelaudit.errors.TooManyJobs` when the tenant
    already has its quota of queued and running audits.
    """
    with db.sessions() as s:
        ds_rec = queries.get_dataset(s, dataset_id=dataset_id, tenant=tenant)
    if "weights" in options.get("backbone_options", {}):
        options = {**options, "backbone_options": {
            **options["backbone_options"],
            "weights": server_weights_path(settings, options["backbone_options"]["weights"])}}
    audit_options = AuditOptions(**options)
    labels = dataset_member(artifacts, ds_rec.artifact, "labels")  # memory-mapped; the features stay on disk
    check_options_for(ds_rec.modality, np.bincount(np.asarray(labels, dtype=np.int64), minlength=ds_rec.classes),
                      tuple(ds_rec.feature_shape or ()), audit_options,
                      has_text=bool((ds_rec.meta or {}).get("text_names")))
    check_storage(db, settings, tenant, ds_rec.rows * ds_rec.classes * 4)
    return queue.enqueue(db, dataset_id=ds_rec.id, options=audit_options.to_dict(), tenant=tenant,
                         max_active=settings.max_active_jobs_per_tenant)


def server_weights_path(settings: Settings, name) -> str:
    """The file ``backbone_options.weights`` names over the API: a file under ``LABELAUDIT_WEIGHTS_DIR``.

    API callers may not name arbitrary server paths (that would reveal which files
    exist and read them): absolute paths and ``..`` are refused, and without a
    weights folder configured no weights can be used over HTTP (the CLI takes any local path).
    """
    if not isinstance(name, str):
        raise OptionError(f"weights must be a file name, not {type(name).__name__}", field="backbone_options.weights")
    root = settings.weights_dir
    if root is None:
        raise OptionError("pretrained weights are not enabled on this server (it has no LABELAUDIT_WEIGHTS_DIR)",
                          field="backbone_options.weights", code="weights_disabled")
    rel = PurePosixPath(str(name))
    if not str(name) or rel.is_absolute() or ".." in rel.parts or "\\" in str(name):
        raise OptionError("weights must name a file inside the server's weights folder, e.g. resnet18.pt",
                          field="backbone_options.weights", code="invalid_path")
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise OptionError(f"no weights file {str(name)!r} in the server's weights folder",
                          field="backbone_options.weights", code="not_found")
    return str(path)


def cancel_audit(db: Database, *, audit_id: str, tenant: str | None) -> AuditRecord:
    """Cancel ``tenant``'s audit: a queued one at once, a running one at its worker's next check.

    Returns the record as it is after the request; :class:`Conflict` when it already finished.
    """
    with db.sessions() as s:
        rec = queries.get_audit(s, audit_id=audit_id, tenant=tenant)
    if rec.status in ("done", "failed"):
        raise Conflict(f"the audit is already {rec.status}", field="audit_id")
    queue.request_cancel(db, audit_id)
    with db.sessions() as s:
        return queries.get_audit(s, audit_id=audit_id, tenant=tenant)


def delete_audit(db: Database, artifacts: ArtifactStore, *, audit_id: str, tenant: str | None) -> None:
    """Delete ``tenant``'s audit (not while it runs), with its rows and pred_probs artifact."""
    with db.sessions.begin() as s:
        rec = queries.get_audit(s, audit_id=audit_id, tenant=tenant)
        if rec.status == RUNNING:
            raise Conflict("the audit is running; cancel it first", field="audit_id")
        digest = rec.pred_probs_artifact
        queries.delete_audit_rows(s, audit_id=audit_id)
        s.delete(rec)
    remove_unused(db, artifacts, (digest, "npy"))


def done_audit(session: Session, *, audit_id: str, tenant: str | None) -> AuditRecord:
    """``tenant``'s audit ``audit_id`` if it is done: :class:`NotFound` when missing (or another tenant's),
    :class:`NotReady` before it finished."""
    rec = queries.get_audit(session, audit_id=audit_id, tenant=tenant)
    if rec.status != DONE:
        raise NotReady(f"the audit is {rec.status}; results exist once it is done", field="audit_id")
    return rec
