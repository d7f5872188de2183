"""/v1/audits: queue an audit, poll it, cancel or delete it, read its results."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel

from labelaudit.api.dashboard_schemas import IssueFilters, IssuePage
from labelaudit.api.query_models import openapi_parameters, query_model
from labelaudit.api.deps import ArtifactsDep, DatabaseDep, SessionDep, SettingsDep, TenantDep
from labelaudit.api.errors import responses
from labelaudit.api.exports import MEDIA_TYPES, TableSource, export_stream
from labelaudit.api.guards import reject_nul
from labelaudit.api.hot_reads import run_hot_read
from labelaudit.api.schemas import AuditIn, AuditOut, Page, ProgressOut
from labelaudit.core.aggregates import headline
from labelaudit.errors import NotFound, OptionError
from labelaudit.services import audits as service
from labelaudit.services.results import READ_STATUS, DoneAudit, read_done_audit, summary_json
from labelaudit.store import queries
from labelaudit.store.examples import dataset_member
from labelaudit.store.models import DONE, AuditRecord, as_utc
from labelaudit.store.reads import reader
from labelaudit.vocab import AuditStatus

router = APIRouter(prefix="/v1/audits", tags=["audits"], dependencies=[Depends(reject_nul)])


def audit_out(rec: AuditRecord, *, brief: bool = False) -> AuditOut:
    """The response model of an audit record (or of a row of its columns); ``brief`` leaves out summary and
    evaluation."""
    options = rec.options if rec.reference_dataset_id is None else \
        {**rec.options, "reference_dataset_id": rec.reference_dataset_id}
    return AuditOut(id=rec.id, dataset_id=rec.dataset_id, status=rec.status, options=options,
                    progress=ProgressOut(**(rec.progress or {})), timings=rec.timings,
                    summary=None if brief else rec.summary, evaluation=None if brief else rec.evaluation,
                    headline=rec.headline or (headline(rec.summary, rec.timings, rec.evaluation)
                                              if rec.status == DONE and not brief else None),
                    error=rec.error, attempts=rec.attempts,
                    cancel_requested=rec.cancel_requested, created_at=as_utc(rec.created_at),
                    started_at=as_utc(rec.started_at), finished_at=as_utc(rec.finished_at))


@router.post("", status_code=202, response_model=AuditOut, summary="Queue an audit", responses={
    202: {"description": "Accepted: queued", "headers": {"Location": {
        "description": "The audit's URL: poll it", "schema": {"type": "string", "example": "/v1/audits/au_..."}}}},
    **responses(404, 422, 429, 507)})
def create_audit(body: AuditIn, response: Response, db: DatabaseDep, artifacts: ArtifactsDep, settings: SettingsDep,
                 tenant: TenantDep) -> AuditOut:
    """Validate the options against the dataset (and its ``reference_dataset_id``), then queue the audit (poll
    ``GET /v1/audits/{id}``).

    429 ``too_many_jobs`` when the tenant already has its quota of queued and running
    audits; 507 ``storage_quota_exceeded`` when its results (pred_probs) would not fit.
    """
    options = {k: v for k, v in body.model_dump(mode="json").items() if k not in ("dataset_id", "reference_dataset_id")}
    rec = service.create_audit(db, artifacts, settings, dataset_id=body.dataset_id, tenant=tenant, options=options,
                               reference_dataset_id=body.reference_dataset_id)
    response.headers["Location"] = f"{router.prefix}/{rec.id}"
    return audit_out(rec)


@router.get("", response_model=Page[AuditOut], responses=responses(422), summary="List audits")
def list_audits(session: SessionDep, tenant: TenantDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                cursor: Annotated[str | None, Query(max_length=64)] = None,
                dataset_id: str | None = None,
                status: AuditStatus | None = None,
                created_after: Annotated[datetime | None, Query(description="ISO 8601; inclusive")] = None,
                created_before: Annotated[datetime | None, Query(description="ISO 8601; exclusive")] = None,
                view: Annotated[Literal["full", "brief"], Query(
                    description="brief: headline figures only, no summary or evaluation")] = "full") -> Page[AuditOut]:
    """Audits newest first, cursor-paged, optionally of one dataset, in one state or created in a time range."""
    if created_after and created_before and _utc(created_after) >= _utc(created_before):
        raise OptionError("created_after must be before created_before", code="invalid_range",
                          field="created_after")
    items, nxt = queries.list_audits(session, tenant=tenant, limit=limit, cursor=cursor, dataset_id=dataset_id, status=status,
                                     created_after=_utc(created_after), created_before=_utc(created_before),
                                     brief=view == "brief")
    return Page[AuditOut](items=[audit_out(a, brief=view == "brief") for a in items], next_cursor=nxt)


def _utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC (as stored)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@router.get("/{audit_id}", response_model=AuditOut, responses=responses(404), summary="Read an audit")
async def get_audit(audit_id: str, db: DatabaseDep, tenant: TenantDep) -> Response:
    """Status, progress (stage, fold, epoch, fraction), timings; summary when done, error when failed."""
    return await run_hot_read(_audit, audit_id, db, tenant)


def _audit(audit_id: str, db, tenant: str) -> Response:
    with db.sessions() as session:  # polled while audits run: one of the hot reads (labelaudit.api.hot_reads)
        row = queries.audit_view(session, audit_id=audit_id, tenant=tenant)
    return model_response(audit_out(row))


@router.post("/{audit_id}/cancel", response_model=AuditOut, responses=responses(404, 409),
             summary="Cancel an audit")
def cancel_audit(audit_id: str, db: DatabaseDep, tenant: TenantDep) -> AuditOut:
    """A queued audit is cancelled at once; a running one at its worker's next check (within about a second)."""
    return audit_out(service.cancel_audit(db, audit_id=audit_id, tenant=tenant))


@router.delete("/{audit_id}", status_code=204, responses=responses(404, 409), summary="Delete an audit")
def delete_audit(audit_id: str, db: DatabaseDep, artifacts: ArtifactsDep, tenant: TenantDep) -> Response:
    """Delete an audit with its rows and pred_probs; 409 while it runs (cancel it first)."""
    service.delete_audit(db, artifacts, audit_id=audit_id, tenant=tenant)
    return Response(status_code=204)


def done_audit(session, audit_id: str, tenant: str) -> AuditRecord:
    """``tenant``'s audit ``audit_id`` if it is done: 404 when missing (or another tenant's), 409 ``not_ready``
    before it finished."""
    return service.done_audit(session, audit_id=audit_id, tenant=tenant)


@router.get("/{audit_id}/summary", response_model=dict, responses=responses(404, 409),
            summary="Audit summary")
async def get_summary(audit_id: str, db: DatabaseDep, tenant: TenantDep) -> Response:
    """The audit's summary (what ``AuditResult.summary()`` gives): issue count and rate, health score, noise
    matrix, per-class table. Evaluation and timings are on ``GET /v1/audits/{id}``."""
    return await run_hot_read(_summary, audit_id, db, tenant)


def _summary(audit_id: str, db, tenant: str) -> Response:
    with reader(db.read_engine) as read:  # the summary never changes once done: serialised once, then cached
        return json_response(None, raw=summary_json(db, read_done_audit(read, db, audit_id, tenant=tenant)))


@router.get("/{audit_id}/issues", response_model=IssuePage, responses=responses(404, 409, 422),
            summary="Ranked examples (the issue browser)", openapi_extra=openapi_parameters(IssueFilters))
async def get_issues(audit_id: str, db: DatabaseDep, tenant: TenantDep,
                     filters: Annotated[IssueFilters, Depends(query_model(IssueFilters))]) -> Response:
    """Examples from least to most likely correctly labelled (or the reverse), keyset-paged by rank.

    Filters combine: given and suggested class, issue flag, score range. ``total``
    counts the matching rows when the stored aggregates answer it (no score range
    together with other filters), else it is null.
    """
    return await run_hot_read(_issue_page, audit_id, db, tenant, filters)


def _issue_page(audit_id: str, db, tenant: str, f: IssueFilters) -> Response:
    limit, min_score, max_score = f.limit, f.min_score, f.max_score
    # one hop to a thread per request (labelaudit.api.hot_reads); see labelaudit.store.reads for why the
    # reads bypass the ORM
    with reader(db.read_engine) as read:
        status, bounds = READ_STATUS, None
        if (min_score is not None or max_score is not None) and read.dialect.name == "postgresql":
            status, bounds = queries.audit_status_and_score_bounds(read, audit_id=audit_id, min_score=min_score,
                                                                   max_score=max_score)  # one round trip
        view = read_done_audit(read, db, audit_id, tenant=tenant, status=status)
        names = view.class_names
        given_label = class_id(names, f.given_label, field="given_label")
        suggested_label = class_id(names, f.suggested_label, field="suggested_label")
        if min_score is not None and max_score is not None and min_score > max_score:
            raise OptionError(f"min_score {min_score} is above max_score {max_score}", code="invalid_range",
                              field="min_score")
        flag = True if f.only_issues else f.is_issue
        lo, hi = bounds or queries.score_rank_bounds(read, audit_id=audit_id, min_score=min_score,
                                                     max_score=max_score)
        empty = lo is not None and hi is not None and lo > hi
        rows = [] if empty else queries.page_rows(
            read, audit_id=audit_id, limit=limit + 1, after_rank=int(f.cursor) if f.cursor else None,
            given_label=given_label, suggested_label=suggested_label, is_issue=flag, min_rank=lo, max_rank=hi,
            descending=f.sort.startswith("-"))
    nxt = str(rows[limit - 1][0]) if len(rows) > limit else None
    items = [{"rank": rank, "index": index, "given_label": given, "suggested_label": suggested,
              "quality_score": score, "is_issue": bool(issue), "true_label": true, "example_id": example_id,
              "given_class": view.class_name(given), "suggested_class": view.class_name(suggested),
              "neighbour_score": near}
             for rank, index, given, suggested, score, issue, true, example_id, near in rows[:limit]]
    total = 0 if empty else _total(view, given_label, suggested_label, flag, lo, hi)
    # Serialised here rather than through the response model: the page is the dashboard's hottest request
    # and its shape is fixed (IssuePage documents it), so re-validating every row only costs CPU.
    return json_response({"items": items, "next_cursor": nxt, "total": total})


def class_id(names: tuple[str, ...], value: str | None, *, field: str) -> int | None:
    """The class ``value`` names: a number is a class id, anything else a class name; 422 ``unknown_class`` when
    the audit has no such class."""
    if value is None:
        return None
    if value.isdecimal():
        if int(value) < len(names):
            return int(value)
        raise OptionError(f"{field} {value} is not a class of this audit (0..{len(names) - 1})",
                          code="unknown_class", field=field)
    if value in names:
        return names.index(value)
    shown = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
    raise OptionError(f"{field} {value!r} is not a class of this audit; its classes are {shown}", code="unknown_class",
                      field=field)


def _total(view: DoneAudit, given: int | None, suggested: int | None, flag: bool | None,
           lo: int | None, hi: int | None) -> int | None:
    if lo is not None or hi is not None:
        if given is None and suggested is None and flag is None:
            return (view.num_examples - 1 if hi is None else hi) - (0 if lo is None else lo) + 1
        return None
    total = 0
    for g, s, count, issues in view.confusion:
        if (given is None or g == given) and (suggested is None or s == suggested):
            total += issues if flag is True else count - issues if flag is False else count
    return total


def model_response(model: BaseModel) -> Response:
    """``model`` (built by the server, so valid) serialised once by pydantic, without FastAPI validating it again
    against the route's ``response_model`` (which still documents it)."""
    return Response(model.model_dump_json(), media_type="application/json")


def json_response(content, *, raw: bytes | None = None) -> Response:
    """A JSON response serialised with the standard library (or ``raw`` bytes already serialised)."""
    body = raw if raw is not None else json.dumps(content, separators=(",", ":"), allow_nan=False).encode()
    return Response(body, media_type="application/json")


@router.get("/{audit_id}/pred_probs", response_class=FileResponse, responses={
    200: {"content": {"application/octet-stream": {}}, "description": "float32 (n, k) .npy"},
    **responses(404, 409)}, summary="Download pred_probs")
def get_pred_probs(audit_id: str, session: SessionDep, artifacts: ArtifactsDep, tenant: TenantDep) -> FileResponse:
    """The out-of-sample predicted probabilities as a NumPy ``.npy`` file."""
    rec = done_audit(session, audit_id, tenant)
    path = artifacts.path(rec.pred_probs_artifact or "", "npy")
    if not rec.pred_probs_artifact or not path.exists():
        raise NotFound("the pred_probs artifact is missing", field="pred_probs")
    return FileResponse(path, media_type="application/octet-stream", filename=f"{audit_id}_pred_probs.npy")


@router.get("/{audit_id}/export", responses={
    200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}, **responses(404, 409, 422)},
    summary="Export all rows")
def export(audit_id: str, session: SessionDep, db: DatabaseDep, tenant: TenantDep, artifacts: ArtifactsDep,
           format: Literal["csv", "parquet"] = "csv",
           columns: Annotated[bool, Query(description="a table's columns too, as read (prefixed `column.`)")] = False
           ) -> StreamingResponse:
    """Every example in rank order as CSV or Parquet, streamed (the server holds one block of rows at a time);
    with ``columns``, a table's original columns beside each row (category names, dates, text)."""
    rec = done_audit(session, audit_id, tenant)
    names = (rec.summary or {}).get("class_names")
    table = None
    if columns:
        ds = queries.get_dataset(session, dataset_id=rec.dataset_id, tenant=tenant)
        if (ds.meta or {}).get("schema"):
            table = TableSource(meta=ds.meta, features=dataset_member(artifacts, ds.artifact, "features"),
                                texts=dataset_member(artifacts, ds.artifact, "texts"))
    return StreamingResponse(export_stream(db, audit_id, format, names, table=table), media_type=MEDIA_TYPES[format],
                             headers={"Content-Disposition": f'attachment; filename="{audit_id}.{format}"'})
