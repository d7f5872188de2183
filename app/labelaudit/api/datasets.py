"""/v1/datasets: upload, list, read, delete, derive a noisy copy."""

from __future__ import annotations

import json

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from labelaudit.api.deps import ArtifactsDep, DatabaseDep, SessionDep, SettingsDep, TenantDep
from labelaudit.api.errors import ProblemError, responses
from labelaudit.api.guards import reject_nul
from labelaudit.api.images import image_png
from labelaudit.api.schemas import MAX_INDEX, DatasetOut, NoiseIn, Page
from labelaudit.api.uploads import receive_multipart
from labelaudit.core.constants import DEFAULT_LABEL_COLUMN
from labelaudit.core.ingest import FORMATS, RoleOverrides
from labelaudit.errors import NotFound, OptionError, UnsupportedFormat
from labelaudit.services import datasets as service
from labelaudit.store import queries
from labelaudit.store.examples import dataset_member
from labelaudit.store.processes import process_tag
from labelaudit.store.models import DatasetRecord, as_utc

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], dependencies=[Depends(reject_nul)])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "CSV, Parquet, NPZ, IDX images, pred_probs .npy, image zip."},
                "labels_file": {"type": "string", "format": "binary",
                                "description": "Second file: IDX labels, or labels .npy for pred_probs."},
                "name": {"type": "string"},
                "format": {"type": "string", "enum": ["auto", *FORMATS]},
                "label_column": {"type": "string", "default": DEFAULT_LABEL_COLUMN},
                "id_column": {"type": "string", "description": "A table's column of stable example keys "
                                                               "(else the first column inferred to be an id)."},
                **{field: {"type": "string", "description": what + " (comma-separated names, or a JSON list)"}
                   for field, what in (("features", "The feature columns; every other column is ignored"),
                                       ("drop_columns", "Columns left out"),
                                       ("categorical", "Columns treated as categories"),
                                       ("text", "Columns treated as free text"))},
            }}}},
    }
}


#: The ``Location`` header of a created dataset, in the OpenAPI document.
CREATED = {201: {"description": "Created", "headers": {"Location": {
    "description": "The new dataset's URL", "schema": {"type": "string", "example": "/v1/datasets/ds_..."}}}}}


def created(response: Response, rec: DatasetRecord) -> DatasetOut:
    """The created dataset, with its URL in ``Location``."""
    response.headers["Location"] = f"{router.prefix}/{rec.id}"
    return dataset_out(rec)


def dataset_out(rec: DatasetRecord) -> DatasetOut:
    """The response model of a dataset record."""
    meta = rec.meta or {}
    return DatasetOut(id=rec.id, name=rec.name, parent_id=rec.parent_id, rows=rec.rows, classes=rec.classes,
                      class_names=rec.class_names, modality=rec.modality, feature_shape=rec.feature_shape,
                      format=rec.format, sha256=rec.sha256, has_true_labels=rec.has_true_labels, noise=rec.noise,
                      review=(rec.meta or {}).get("review"), columns=meta.get("schema"),
                      id_column=meta.get("id_column"), missing_labels=meta.get("missing_labels"),
                      created_at=as_utc(rec.created_at))


@router.post("", status_code=201, response_model=DatasetOut, openapi_extra=_UPLOAD_BODY,
             responses={**CREATED, **responses(413, 415, 422, 507)}, summary="Upload a dataset")
async def upload_dataset(request: Request, response: Response, settings: SettingsDep, db: DatabaseDep,
                         artifacts: ArtifactsDep, tenant: TenantDep) -> DatasetOut:
    """Stream a dataset file (and optional labels file) to disk, parse it and store it.

    413 past ``max_upload_bytes`` (checked against Content-Length before the body is
    read, and while it streams); 507 when the tenant's storage quota is already used up.
    """
    await run_in_threadpool(service.check_storage, db, settings, tenant, 0)
    tmp_root = settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"upload-{process_tag()}-", dir=tmp_root)  # the owner: cleaned if it dies
    try:
        form = await receive_multipart(request, Path(tmp), max_bytes=settings.max_upload_bytes,
                                       file_fields={"file", "labels_file"})
        if "file" not in form.files:
            raise ProblemError(422, "the form needs a `file` part", code="missing", field="file")
        fmt = (form.fields.get("format") or "auto").strip().lower()
        if fmt != "auto" and fmt not in FORMATS and fmt != "npy":
            raise UnsupportedFormat(f"unsupported format {fmt!r}; expected auto or one of: {', '.join(FORMATS)}",
                                    field="format")
        main = form.files["file"]
        labels = form.files.get("labels_file")
        name = (form.fields.get("name") or main.filename or "dataset").strip()[:255]
        rec = await run_in_threadpool(
            _in_slot, request.app, service.ingest_file, db, artifacts, settings, main.path, sha256=main.sha256,
            name=name,
            filename=main.filename, format=None if fmt == "auto" else fmt,
            label_column=form.fields.get("label_column") or DEFAULT_LABEL_COLUMN, labels_path=labels.path if labels else None,
            tenant=tenant, id_column=(form.fields.get("id_column") or "").strip() or None, roles=_roles(form.fields))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return created(response, rec)


def _in_slot(app, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` once one of the process's ``ingest_slots`` is free (parsing is where an upload
    takes memory: this many at once, each within the limits)."""
    with app.state.ingest_slots:
        return fn(*args, **kwargs)
def _roles(fields: dict) -> RoleOverrides | None:
    """The column roles an upload names: ``features``, ``drop_columns``, ``categorical``, ``text``, each a
    comma-separated list of names or a JSON list of strings."""
    named = {}
    for field in ("features", "drop_columns", "categorical", "text"):
        raw = (fields.get(field) or "").strip()
        if not raw:
            continue
        if raw.startswith("["):
            try:
                names = json.loads(raw)
            except ValueError:
                names = None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise OptionError(f"{field} must be a JSON list of column names or a comma-separated list",
                                  field=field)
        else:
            names = [n.strip() for n in raw.split(",") if n.strip()]
        named[field] = tuple(names)
    return RoleOverrides(**named) if named else None


@router.get("", response_model=Page[DatasetOut], responses=responses(422), summary="List datasets")
def list_datasets(session: SessionDep, tenant: TenantDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  cursor: Annotated[str | None, Query(max_length=64)] = None) -> Page[DatasetOut]:
    """Datasets newest first, cursor-paged."""
    items, nxt = queries.list_datasets(session, tenant=tenant, limit=limit, cursor=cursor)
    return Page[DatasetOut](items=[dataset_out(r) for r in items], next_cursor=nxt)


@router.get("/{dataset_id}", response_model=DatasetOut, responses=responses(404), summary="Read a dataset")
def get_dataset(dataset_id: str, session: SessionDep, tenant: TenantDep) -> DatasetOut:
    return dataset_out(queries.get_dataset(session, dataset_id=dataset_id, tenant=tenant))


@router.delete("/{dataset_id}", status_code=204, responses=responses(404, 409), summary="Delete a dataset")
def delete_dataset(dataset_id: str, db: DatabaseDep, artifacts: ArtifactsDep, tenant: TenantDep) -> Response:
    """Delete a dataset, its finished audits and their artifacts.

    409 while an audit of it is queued or running (cancel those first). Datasets
    derived from it are kept, with ``parent_id`` set to null.
    """
    service.delete_dataset(db, artifacts, dataset_id=dataset_id, tenant=tenant)
    return Response(status_code=204)


DOWNLOAD_TYPES = {"csv": "text/csv", "manifest": "text/csv", "parquet": "application/vnd.apache.parquet",
                  "npz": "application/octet-stream"}


@router.get("/{dataset_id}/download", response_class=FileResponse, responses={
    200: {"content": {t: {} for t in sorted(set(DOWNLOAD_TYPES.values()))}}, **responses(404, 422)},
    summary="Download a dataset")
def download_dataset(dataset_id: str, session: SessionDep, artifacts: ArtifactsDep, settings: SettingsDep,
                     tenant: TenantDep,
                     format: Annotated[Literal["csv", "parquet", "npz", "manifest"] | None, Query(
                         description="default: the upload's format (image zips: manifest, a CSV of paths and "
                                     "labels); a corrected dataset adds original_label and review_decision")] = None
                     ) -> FileResponse:
    """The stored dataset written back to a file readable by an upload (a corrected dataset re-audits as is)."""
    rec = queries.get_dataset(session, dataset_id=dataset_id, tenant=tenant)
    path = service.export_dataset(artifacts, settings, rec, format)
    fmt = format or service.DOWNLOAD_FORMAT.get(rec.format or "", "npz")
    return FileResponse(path, media_type=DOWNLOAD_TYPES[fmt], filename=f"{rec.id}{path.suffix}",
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.post("/{dataset_id}/noise", status_code=201, response_model=DatasetOut,
             responses={**CREATED, **responses(404, 422, 507)}, summary="Derive a copy with injected label noise")
def add_noise(dataset_id: str, body: NoiseIn, response: Response, db: DatabaseDep, artifacts: ArtifactsDep,
              settings: SettingsDep, tenant: TenantDep) -> DatasetOut:
    """A new dataset whose labels carry controlled noise; its original labels become known true labels."""
    return created(response, service.derive_noisy(db, artifacts, settings, dataset_id=dataset_id, tenant=tenant,
                                                  kind=body.kind, rate=body.rate, seed=body.seed,
                                                  noise_matrix=body.noise_matrix, name=body.name))


@router.get("/{dataset_id}/examples/{index}/image", response_class=Response, responses={
    200: {"content": {"image/png": {}}, "description": "PNG"}, 304: {"description": "Not modified (ETag)"},
    **responses(404, 422)}, summary="One image as a PNG thumbnail")
def get_image(dataset_id: str, index: Annotated[int, PathParam(ge=0, le=MAX_INDEX)], request: Request,
              session: SessionDep, artifacts: ArtifactsDep, tenant: TenantDep,
              size: Annotated[int | None, Query(ge=8, le=512, description="longer side in pixels; default native")]
              = None) -> Response:
    """Example ``index`` of an image dataset as PNG, optionally scaled (nearest neighbour up, bilinear down).

    Datasets never change, so responses carry a strong ``ETag`` and may be cached
    for a day; ``If-None-Match`` answers 304.
    """
    rec = queries.get_dataset(session, dataset_id=dataset_id, tenant=tenant)
    if rec.modality != "image":
        raise OptionError(f"the dataset holds {rec.modality} data, not images", code="not_images",
                          field="dataset_id")
    if index >= rec.rows:
        raise NotFound(f"no example {index}: the dataset has {rec.rows}", field="index")
    etag = f'"{rec.artifact[:16]}-{index}-{size or 0}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400, immutable"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    pixels = dataset_member(artifacts, rec.artifact, "features")[index]
    return Response(image_png(pixels, size=size), media_type="image/png", headers=headers)
