"""Audit use cases: create (options checked against the dataset, quotas), cancel, delete, read when done."""

from __future__ import annotations

import re

import numpy as np
from sqlalchemy.orm import Session

from labelaudit.core.pipeline import AuditOptions, check_options_for
from labelaudit.core.reference import lacking_columns
from labelaudit.config import Settings
from labelaudit.errors import Conflict, NotFound, NotReady, OptionError
from labelaudit.services.datasets import check_quota, check_storage
from labelaudit.store import queries, queue
from labelaudit.store.artifacts import ArtifactStore
from labelaudit.store.db import Database
from labelaudit.store.examples import dataset_member
from labelaudit.store.models import DONE, FAILED, RUNNING, AuditRecord, DatasetRecord
from labelaudit.store.owners import owning
from labelaudit.store.transactions import locked, write_session


def create_audit(db: Database, artifacts: ArtifactStore, settings: Settings, *, dataset_id: str, tenant: str,
                 options: dict, reference_dataset_id: str | None = None) -> AuditRecord:
    """Check ``options`` (the fields of :class:`AuditOptions`) against ``tenant``'s dataset and queue the audit.

    ``reference_dataset_id``: another dataset of ``tenant`` whose rows join every fold's training part
    (:mod:`labelaudit.core.reference`); :class:`NotFound` when there is none, :class:`OptionError` when it does
    not fit the dataset (both naming the field ``reference_dataset_id``). While the audit is queued or running
    the reference cannot be deleted.

    Raises :class:`~labelaudit.errors.OptionError` for options the dataset cannot take,
    :class:`~labelaudit.errors.StorageQuotaExceeded` when its results (pred_probs), with those
    of the tenant's queued and running audits, would not fit the tenant's quota, :class:`~labelaudit.errors.TooManyJobs` when the tenant
    already has its quota of queued and running audits.
    """
    with db.sessions() as s:
        ds_rec = queries.get_dataset(s, dataset_id=dataset_id, tenant=tenant)
        if reference_dataset_id is not None:
            check_reference(ds_rec, reference_record(s, reference_dataset_id, tenant))
    check_device(settings, options.get("device", "auto"))
    checked = None  # the options checked against the dataset: with the weights' real path
    if "weights" in options.get("backbone_options", {}):
        name, path = server_weights_path(settings, options["backbone_options"]["weights"])
        checked = AuditOptions(**{**options, "backbone_options": {**options["backbone_options"], "weights": path}})
        options = {**options, "backbone_options": {**options["backbone_options"], "weights": name}}
    audit_options = AuditOptions(**options)
    try:
        labels = dataset_member(artifacts, ds_rec.artifact, "labels")  # memory-mapped; the features stay on disk
    except FileNotFoundError:  # deleted since it was read
        raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id") from None
    check_options_for(ds_rec.modality, np.bincount(np.asarray(labels, dtype=np.int64), minlength=ds_rec.classes),
                      tuple(ds_rec.feature_shape or ()), checked or audit_options,
                      has_text=bool((ds_rec.meta or {}).get("text_names")))
    results_bytes = ds_rec.rows * ds_rec.classes * 4
    check_storage(db, settings, tenant, results_bytes)

    def check(session: Session) -> None:  # binding: in the transaction that queues it, under the tenant's lock
        queued = queries.reserved_bytes_of_tenant(session, tenant=tenant)
        check_quota(session, settings, tenant, results_bytes + queued)

    return queue.enqueue(db, dataset_id=ds_rec.id, options=audit_options.to_dict(), tenant=tenant,
                         max_active=settings.max_active_jobs_per_tenant, check=check,
                         reference_dataset_id=reference_dataset_id)


REFERENCE_FIELD = "reference_dataset_id"


def reference_record(session: Session, dataset_id: str, tenant: str | None) -> DatasetRecord:
    """``tenant``'s dataset ``dataset_id`` as an audit's reference: :class:`NotFound` naming
    ``reference_dataset_id`` when there is none (or it is another tenant's)."""
    try:
        return queries.get_dataset(session, dataset_id=dataset_id, tenant=tenant)
    except NotFound:
        raise NotFound(f"no dataset {dataset_id!r}", field=REFERENCE_FIELD) from None


def check_reference(ds_rec: DatasetRecord, ref_rec: DatasetRecord) -> None:
    """What the records tell of whether ``ref_rec`` fits ``ds_rec`` as its reference data (the worker checks
    the arrays again: :func:`labelaudit.core.reference.align_reference`); :class:`OptionError` naming
    ``reference_dataset_id``."""
    if ref_rec.id == ds_rec.id:
        raise OptionError("a dataset cannot be its own reference", field=REFERENCE_FIELD, code="reference_mismatch")
    for rec, which in ((ds_rec, "the audited dataset"), (ref_rec, "the reference")):
        if rec.modality == "pred_probs":
            raise OptionError(f"{which} is a pred_probs dataset; reference data need features or images on both "
                              "sides", field=REFERENCE_FIELD, code="reference_pred_probs")
    if ref_rec.modality != ds_rec.modality:
        raise OptionError(f"the reference is {ref_rec.modality} data but the audited dataset is {ds_rec.modality}",
                          field=REFERENCE_FIELD, code="reference_mismatch")
    unknown = [n for n in ref_rec.class_names if n not in set(ds_rec.class_names)]
    if unknown:
        raise OptionError(f"the reference has {len(unknown)} class(es) the audited dataset does not: "
                          f"{', '.join(repr(n) for n in unknown[:10])}", field=REFERENCE_FIELD,
                          code="reference_classes")
    if ds_rec.modality != "tabular":
        if list(ref_rec.feature_shape or ()) != list(ds_rec.feature_shape or ()):
            raise OptionError(f"the reference's examples have shape {ref_rec.feature_shape} but the audited "
                              f"dataset's {ds_rec.feature_shape}", field=REFERENCE_FIELD, code="reference_mismatch")
        return
    meta, ref_meta = ds_rec.meta or {}, ref_rec.meta or {}
    names = (meta.get("feature_names") or [str(i) for i in range((ds_rec.feature_shape or [0])[0])]) + \
        list(meta.get("text_names") or ())
    ref_names = (ref_meta.get("feature_names") or [str(i) for i in range((ref_rec.feature_shape or [0])[0])]) + \
        list(ref_meta.get("text_names") or ())
    lacking = lacking_columns(names, ref_names, ref_meta.get("schema"))[0]
    if lacking:
        raise OptionError(f"the reference lacks {len(lacking)} feature column(s) of the audited dataset: "
                          f"{', '.join(lacking[:10])}{' ...' if len(lacking) > 10 else ''}", field=REFERENCE_FIELD,
                          code="reference_mismatch")


#: a weights name over the API: letters, digits, ``._-`` and ``/`` between folders, at most 255 characters
WEIGHTS_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
MAX_WEIGHTS_NAME = 255


def server_weights_path(settings: Settings, name) -> tuple[str, str]:
    """The file ``backbone_options.weights`` names over the API: a file under ``LABELAUDIT_WEIGHTS_DIR``.

    Returns ``(name, path)``: the relative name, which is stored and shown, and the
    resolved path, which only the server sees (:func:`weights_path` finds it again).
    API callers may not name arbitrary server paths (that would reveal which files
    exist and read them): absolute paths, ``..``, control characters and names over 255
    characters are refused, and without a weights folder configured no weights can be used
    over HTTP (the CLI takes any local path).
    """
    field = "backbone_options.weights"
    if not isinstance(name, str):
        raise OptionError(f"weights must be a file name, not {type(name).__name__}", field=field)
    root = settings.weights_dir
    if root is None:
        raise OptionError("pretrained weights are not enabled on this server (it has no LABELAUDIT_WEIGHTS_DIR)",
                          field=field, code="weights_disabled")
    if len(name) > MAX_WEIGHTS_NAME:
        raise OptionError(f"weights names are at most {MAX_WEIGHTS_NAME} characters, not {len(name)}", field=field,
                          code="invalid_path")
    if not WEIGHTS_NAME.fullmatch(name) or ".." in name.split("/"):
        raise OptionError("weights must name a file inside the server's weights folder with letters, digits, "
                          "'.', '_', '-' and '/' between folders, e.g. resnet18.pt", field=field, code="invalid_path")
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise OptionError(f"no weights file {name!r} in the server's weights folder", field=field, code="not_found")
    return name, str(path)


def weights_path(settings: Settings, options: dict) -> dict:
    """Audit ``options`` with a stored weights name (relative to ``LABELAUDIT_WEIGHTS_DIR``) made a path for
    training; options without weights, or with an absolute path stored by an older version, stay as they are."""
    name = (options.get("backbone_options") or {}).get("weights")
    if not isinstance(name, str) or settings.weights_dir is None or name.startswith("/"):
        return options
    return {**options, "backbone_options": {**options["backbone_options"],
                                            "weights": str((settings.weights_dir / name).resolve())}}


def check_device(settings: Settings, device: str) -> None:
    """:class:`OptionError` (field ``device``) for ``cuda`` on a server that cannot train on CUDA
    (``LABELAUDIT_CUDA_AUDITS``: ``auto`` asks this host's torch once, ``on``/``off`` say so)."""
    if not str(device).startswith("cuda") or settings.cuda_audits == "on":
        return
    if settings.cuda_audits == "off" or not cuda_available():
        raise OptionError(f"device {device!r}: this server has no CUDA GPU to train on; use auto or cpu",
                          field="device", code="no_cuda")


def cuda_available() -> bool:
    """Whether this host's torch sees a CUDA GPU (imports torch once; cached)."""
    global _CUDA
    if _CUDA is None:
        from labelaudit.core.backbones.device import cuda_available as probe

        _CUDA = probe()
    return _CUDA


_CUDA: bool | None = None


def cancel_audit(db: Database, *, audit_id: str, tenant: str | None) -> AuditRecord:
    """Cancel ``tenant``'s audit: a queued one at once, a running one at its worker's next check.

    Returns the record as it is after the request; :class:`Conflict` when it already finished,
    :class:`NotFound` when it is (or was meanwhile) deleted. One write transaction holding the row.
    """
    with write_session(db) as s:
        rec = locked(s, db, AuditRecord, audit_id)
        if rec is None or (tenant is not None and rec.tenant != tenant):
            raise NotFound(f"no audit {audit_id!r}", field="audit_id")
        if rec.status in (DONE, FAILED):
            raise Conflict(f"the audit is already {rec.status}", field="audit_id")
        queue.request_cancel_in(s, audit_id)
        s.flush()
        s.refresh(rec)
        return rec


def delete_audit(db: Database, artifacts: ArtifactStore, *, audit_id: str, tenant: str | None) -> None:
    """Delete ``tenant``'s audit (not while it runs), with its rows and pred_probs artifact.

    One write transaction holding the row: a worker claiming it at the same moment either
    claims it first (then this is a :class:`Conflict`, 409) or finds it gone; of concurrent
    deletes one wins and the others get :class:`NotFound`.
    """
    with owning(db, artifacts) as owners:
        s = owners.session
        rec = locked(s, db, AuditRecord, audit_id)
        if rec is None or (tenant is not None and rec.tenant != tenant):
            raise NotFound(f"no audit {audit_id!r}", field="audit_id")
        if rec.status == RUNNING:
            raise Conflict("the audit is running; cancel it first", field="audit_id")
        owners.drop(rec.pred_probs_artifact, "npy")
        queries.delete_audit_rows(s, audit_id=audit_id)
        if not queue.delete_unless_running(s, audit_id):
            raise Conflict("the audit is running; cancel it first", field="audit_id")


def done_audit(session: Session, *, audit_id: str, tenant: str | None) -> AuditRecord:
    """``tenant``'s audit ``audit_id`` if it is done: :class:`NotFound` when missing (or another tenant's),
    :class:`NotReady` before it finished."""
    rec = queries.get_audit(session, audit_id=audit_id, tenant=tenant)
    if rec.status != DONE:
        raise NotReady(f"the audit is {rec.status}; results exist once it is done", field="audit_id")
    return rec
