"""Dataset use cases: upload (ingest, limits, quota, store), derive a noisy copy, delete.

Records and artifacts are written so that a failure leaves neither, and so that no
interleaving of uploads and deletes leaves a record without its bytes: the artifact
is staged first (a temporary file, hashed), then one write transaction locks the
tenant's quota and the artifact's digest, checks the quota, puts the file in place
and inserts the record (:mod:`labelaudit.store.owners`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest import RoleOverrides, detect_format, load_dataset
from labelaudit.core.dataset_noise import dataset_noise
from labelaudit.core.noise import realised_noise_matrix
from labelaudit.config import Settings
from labelaudit.errors import Conflict, NotFound, OptionError, StorageQuotaExceeded
from labelaudit.store import queries
from labelaudit.store.artifacts import ArtifactStore, dataset_arrays
from labelaudit.store.db import Database
from labelaudit.store.ids import new_id
from labelaudit.store.models import LOCAL_TENANT, DatasetRecord, utcnow
from labelaudit.store.owners import owning
from labelaudit.store.transactions import locked, lock_names, tenant_lock


def check_storage(db: Database, settings: Settings, tenant: str, adding: int = 0) -> None:
    """Raise :class:`StorageQuotaExceeded` when ``tenant`` would hold more than its storage quota with ``adding``
    (an early answer before costly work; the binding check runs in the write transaction: :func:`check_quota`)."""
    with db.sessions() as s:
        check_quota(s, settings, tenant, adding)


def check_quota(session: Session, settings: Settings, tenant: str, adding: int) -> None:
    """:class:`StorageQuotaExceeded` when ``tenant``'s stored bytes plus ``adding`` pass its quota (in a write
    transaction holding the tenant's lock, the count and the insert that follows cannot be overtaken)."""
    used = queries.stored_bytes_of_tenant(session, tenant=tenant)
    limit = settings.max_storage_bytes_per_tenant
    if used + adding > limit:
        raise StorageQuotaExceeded(f"storage quota exceeded: this tenant holds {used} bytes, this needs {adding} more "
                                   f"and the quota is {limit} bytes; delete datasets or audits to make room",
                                   field="file")


def ingest_file(db: Database, artifacts: ArtifactStore, settings: Settings, path: Path, *, sha256: str,
                name: str, filename: str | None, format: str | None = None, label_column: str = "label",
                labels_path: Path | None = None, tenant: str = LOCAL_TENANT, id_column: str | None = None,
                roles: RoleOverrides | None = None) -> DatasetRecord:
    """Parse an uploaded file (and optional labels file) and store it as ``tenant``'s dataset.

    ``id_column`` and ``roles`` (features, drop_columns, categorical, text) apply to tables.

    Raises :class:`~labelaudit.errors.IngestError` (nothing stored) when the file is not a valid
    dataset or breaks a limit (rows, classes, values per example), and
    :class:`~labelaudit.errors.StorageQuotaExceeded` when it would not fit the tenant's storage quota.

    pred_probs are memory-mapped from ``path``, not read; a converted or repaired copy
    goes to ``<data_dir>/tmp`` as an already unlinked file, whose space is freed once
    the dataset is saved and dropped.
    """
    temp_dir = settings.data_dir / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(path, format=format, label_column=label_column, labels=labels_path, folds=2,
                      limits=settings.ingest_limits(), name=filename, temp_dir=temp_dir, id_column=id_column,
                      roles=roles)
    if not format:
        with open(path, "rb") as fh:
            format = detect_format(fh.read(4096), filename)
    check_storage(db, settings, tenant, _nbytes(ds))
    return save_dataset(db, artifacts, ds, name=name, sha256=sha256, format=format, tenant=tenant,
                        settings=settings)


def _nbytes(ds: Dataset) -> int:
    return sum(int(a.nbytes) for a in (ds.labels, ds.features, ds.pred_probs, ds.true_labels, ds.texts)
               if a is not None)


def save_dataset(db: Database, artifacts: ArtifactStore, ds: Dataset, *, name: str, sha256: str | None = None,
                 format: str | None = None, parent_id: str | None = None, noise: dict | None = None,
                 tenant: str = LOCAL_TENANT, settings: Settings | None = None,
                 review: dict | None = None) -> DatasetRecord:
    """Store ``ds``'s arrays as an artifact and its metadata as ``tenant``'s record, in one write transaction.

    With ``settings``, the tenant's storage quota is checked in that transaction (a file the tenant
    already holds costs nothing); with ``parent_id``, :class:`NotFound` when the parent is gone;
    ``review`` is the lineage of a corrected dataset, kept in ``meta``.
    """
    staged = artifacts.stage_dataset(ds)
    try:
        info = ds.describe()
        rec = DatasetRecord(
            id=new_id("ds"), tenant=tenant, stored_bytes=staged.size, name=name[:255],
            parent_id=parent_id, rows=info["rows"], classes=info["classes"],
            class_names=[str(c) for c in info["class_names"]], modality=ds.modality,
            feature_shape=info["feature_shape"], format=format, sha256=sha256 or staged.digest,
            artifact=staged.digest, has_true_labels=ds.true_labels is not None, noise=noise,
            meta=_meta(ds, review), created_at=utcnow())
        with owning(db, artifacts) as owners:
            s = owners.session
            lock_names(s, db, tenant_lock(tenant))
            if parent_id is not None and locked(s, db, DatasetRecord, parent_id, shared=True) is None:
                raise NotFound(f"no dataset {parent_id!r}", field="dataset_id")
            if settings is not None and not queries.tenant_holds(s, tenant=tenant, digest=staged.digest):
                check_quota(s, settings, tenant, staged.size)
            owners.adopt(staged)
            s.add(rec)
    finally:
        artifacts.discard(staged)
    return rec


def _meta(ds: Dataset, review: dict | None) -> dict | None:
    """:func:`record_meta`, and a corrected dataset's lineage (``review``)."""
    meta = {**(record_meta(ds) or {}), **({"review": review} if review else {})}
    return meta or None


#: The format a stored dataset is downloaded in by default: its upload's, where labelaudit writes it.
DOWNLOAD_FORMAT = {"csv": "csv", "parquet": "parquet", "npz": "npz", "image-zip": "manifest"}


def export_dataset(artifacts: ArtifactStore, settings: Settings, rec: DatasetRecord, format: str | None) -> Path:
    """Write the stored dataset ``rec`` to a temporary file under ``<data_dir>/tmp`` (the caller removes it).

    ``format``: ``csv``, ``parquet``, ``npz`` or ``manifest`` (a CSV of ids, labels and
    review columns, for image datasets); by default the upload's format where
    labelaudit writes it, else NPZ. Raises :class:`OptionError` (field ``format``) when
    the dataset cannot be written so (a pred_probs dataset as a table).
    """
    from labelaudit.core.writers import save_dataset as write

    fmt = format or DOWNLOAD_FORMAT.get(rec.format or "", "npz")
    if rec.modality == "pred_probs" and fmt != "npz":
        raise OptionError("a pred_probs dataset downloads as npz only", field="format", code="invalid_format")
    temp_dir = settings.data_dir / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    path = temp_dir / f"{new_id('dl')}.{'csv' if fmt == 'manifest' else fmt}"
    try:
        write(dataset_arrays(artifacts, rec), path, format=fmt)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def record_meta(ds: Dataset) -> dict | None:
    """What a dataset record keeps besides its arrays: feature names and types, text columns, and for tables
    the inferred schema (every column's role, type, missing share, distinct count), the id column and the rows
    left out for want of a label."""
    meta = {"feature_names": ds.feature_names, "feature_types": ds.feature_types, "text_names": ds.text_names,
            **{k: ds.meta[k] for k in ("schema", "id_column", "missing_labels", "categories")
               if ds.meta.get(k) is not None}}
    meta = {k: v for k, v in meta.items() if v}
    return meta or None


def derive_noisy(db: Database, artifacts: ArtifactStore, settings: Settings, *, dataset_id: str, tenant: str | None,
                 kind: str, rate: float, seed: int, noise_matrix: list | None = None,
                 name: str | None = None) -> DatasetRecord:
    """A copy of ``tenant``'s dataset ``dataset_id`` with injected label noise; its original labels become the
    copy's true labels. The copy must fit the tenant's storage quota."""
    with db.sessions() as s:
        parent = queries.get_dataset(s, dataset_id=dataset_id, tenant=tenant)
    check_storage(db, settings, parent.tenant, parent.stored_bytes)
    ds = stored_arrays(artifacts, parent)
    nm = None if noise_matrix is None else np.asarray(noise_matrix, dtype=np.float64)
    noisy = dataset_noise(ds, kind=kind, rate=rate, seed=seed, noise_matrix=nm)
    true = ds.true_labels if ds.true_labels is not None else noisy.true_labels
    realised = realised_noise_matrix(noisy.labels, true, ds.num_classes)
    derived = ds.with_labels(noisy.labels, true_labels=true)
    noise = {"kind": kind, "rate": noisy.rate, "seed": seed, "num_flipped": noisy.num_flipped,
             "requested_noise_matrix": noise_matrix, "noise_matrix": realised.tolist()}
    label_hash = hashlib.sha256(np.ascontiguousarray(noisy.labels).tobytes()).hexdigest()
    return save_dataset(db, artifacts, derived, name=name or f"{parent.name} (noisy {kind} {rate:g}, seed {seed})",
                        sha256=label_hash, format=parent.format, parent_id=parent.id, noise=noise,
                        tenant=parent.tenant, settings=settings)


def stored_arrays(artifacts: ArtifactStore, rec: DatasetRecord) -> Dataset:
    """The arrays of ``rec``; :class:`NotFound` when its file went away (the dataset was deleted meanwhile)."""
    try:
        return dataset_arrays(artifacts, rec)
    except FileNotFoundError:
        raise NotFound(f"no dataset {rec.id!r}", field="dataset_id") from None


def delete_dataset(db: Database, artifacts: ArtifactStore, *, dataset_id: str, tenant: str | None) -> None:
    """Delete ``tenant``'s dataset with its finished audits (rows and pred_probs artifacts).

    One write transaction, holding the dataset's row: of concurrent deletes one wins and the
    others get :class:`NotFound`; an audit being created for it either sees it gone or is seen
    here. Artifacts go only when no other record (of any tenant: they are content-addressed)
    still refers to them. Raises :class:`Conflict` while an audit of it is queued or running; derived
    datasets are kept (their ``parent_id`` becomes null).
    """
    with owning(db, artifacts) as owners:
        s = owners.session
        rec = locked(s, db, DatasetRecord, dataset_id)
        if rec is None or (tenant is not None and rec.tenant != tenant):
            raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
        if queries.active_audits_of(s, dataset_id=dataset_id):
            raise Conflict("the dataset has queued or running audits; cancel them first", field="dataset_id")
        for a in queries.audits_of(s, dataset_id=dataset_id):
            owners.drop(a.pred_probs_artifact, "npy")
            queries.delete_audit_rows(s, audit_id=a.id)
            s.delete(a)
        queries.detach_children(s, dataset_id=dataset_id)
        owners.drop(rec.artifact, "npz")
        s.delete(rec)
