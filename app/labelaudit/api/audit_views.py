"""/v1/audits/{id}/...: what dashboards ask of a finished audit, answered from stored aggregates.

Class table, noise matrix and confusion counts, score histogram, one example in
detail, and the comparison of two audits. The ranked issue browser itself is
``GET /v1/audits/{id}/issues`` in :mod:`labelaudit.api.audits`.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Response

from labelaudit.api.audits import done_audit, json_response
from labelaudit.api.dashboard_schemas import (
    ClassTable,
    CompareOut,
    ExampleOut,
    HistogramOut,
    NoiseMatrixOut,
    ProbabilityOut,
)
from labelaudit.api.deps import ArtifactsDep, DatabaseDep, SessionDep, TenantDep
from labelaudit.api.errors import responses
from labelaudit.api.guards import reject_nul
from labelaudit.api.hot_reads import run_hot_read
from labelaudit.api.schemas import MAX_INDEX
from labelaudit.core.aggregates import HISTOGRAM_BINS, rebin
from labelaudit.core.table_features import decode_rows
from labelaudit.errors import LabelAuditError, NotFound, OptionError
from labelaudit.services.results import aggregates_of, compare, read_done_audit
from labelaudit.store import queries
from labelaudit.store.examples import dataset_member, pred_probs_row
from labelaudit.store.reads import reader

router = APIRouter(prefix="/v1/audits", tags=["dashboard queries"], dependencies=[Depends(reject_nul)])

_BIN_CHOICES = [b for b in range(1, HISTOGRAM_BINS + 1) if HISTOGRAM_BINS % b == 0]


@router.get("/{audit_id}/classes", response_model=ClassTable, responses=responses(404, 409),
            summary="Class table")
async def get_classes(audit_id: str, db: DatabaseDep, tenant: TenantDep) -> Response:
    """Per class: size, flagged issues, issue rate, how often it is suggested, top confused-with class."""
    return await run_hot_read(_classes, audit_id, db, tenant)


def _classes(audit_id: str, db, tenant: str) -> Response:
    with reader(db.read_engine) as read:
        return json_response(None, raw=read_done_audit(read, db, audit_id, tenant=tenant).class_table_json)


@router.get("/{audit_id}/noise_matrix", response_model=NoiseMatrixOut, responses=responses(404, 409),
            summary="Noise matrix, confident joint, given vs suggested counts")
def get_noise_matrix(audit_id: str, session: SessionDep, tenant: TenantDep) -> NoiseMatrixOut:
    """The estimated noise matrix and joint, the confident joint, and given x suggested counts (for heatmaps)."""
    rec = done_audit(session, audit_id, tenant)
    summary = rec.summary or {}
    names = summary.get("class_names") or []
    agg = aggregates_of(session, rec)
    k = len(names)
    counts = np.zeros((k, k), dtype=np.int64)
    issues = np.zeros((k, k), dtype=np.int64)
    for g, s, n, m in agg["confusion"]:
        counts[g, s], issues[g, s] = n, m
    return NoiseMatrixOut(audit_id=audit_id, class_names=names, noise_matrix=summary.get("noise_matrix") or [],
                          joint=summary.get("joint") or [], confident_joint=agg.get("confident_joint"),
                          given_vs_suggested=counts.tolist(), issues_given_vs_suggested=issues.tolist())


@router.get("/{audit_id}/histogram", response_model=HistogramOut, responses=responses(404, 409, 422),
            summary="Score histogram")
def get_histogram(audit_id: str, session: SessionDep, tenant: TenantDep,
                  bins: Annotated[int, Query(ge=1, le=HISTOGRAM_BINS,
                                             description=f"a divisor of {HISTOGRAM_BINS}")] = 20) -> HistogramOut:
    """Quality scores in ``bins`` equal bins over [0, 1], all rows and flagged issues."""
    if bins not in _BIN_CHOICES:
        raise OptionError(f"bins must divide {HISTOGRAM_BINS}: one of {_BIN_CHOICES}", code="invalid_bins",
                          field="bins")
    rec = done_audit(session, audit_id, tenant)
    return HistogramOut(audit_id=audit_id, **rebin(aggregates_of(session, rec)["histogram"], bins))


@router.get("/{audit_id}/examples/{index}", response_model=ExampleOut, responses=responses(404, 409, 422),
            summary="One example in detail")
def get_example(audit_id: str, index: Annotated[int, Path(ge=0, le=MAX_INDEX)], session: SessionDep,
                tenant: TenantDep, artifacts: ArtifactsDep, top: Annotated[int, Query(ge=1, le=100)] = 5) -> ExampleOut:
    """Given, suggested (and true) label, score, class probabilities (from the stored pred_probs), and the
    example's features, or a link to its image."""
    rec = done_audit(session, audit_id, tenant)
    row = queries.row_at_index(session, audit_id=audit_id, index=index)
    if row is None:
        n = (rec.summary or {}).get("num_examples")
        raise NotFound(f"no example {index} in this audit ({n} examples)", field="index")
    ds = queries.get_dataset(session, dataset_id=rec.dataset_id, tenant=tenant)
    names = (rec.summary or {}).get("class_names") or ds.class_names
    probs = pred_probs_row(artifacts, rec.pred_probs_artifact or "", index) if rec.pred_probs_artifact else \
        np.zeros(len(names))
    order = np.argsort(-probs, kind="stable")[:top]
    out = ExampleOut(
        audit_id=audit_id, dataset_id=ds.id, index=index, rank=row.rank, given_label=row.given_label,
        given_class=names[row.given_label], suggested_label=row.suggested_label,
        suggested_class=names[row.suggested_label], quality_score=row.quality_score, is_issue=row.is_issue,
        true_label=row.true_label, true_class=None if row.true_label is None else names[row.true_label],
        example_id=row.example_id, neighbour_score=row.neighbour_score, modality=ds.modality,
        pred_probs=[float(p) for p in probs],
        top_classes=[ProbabilityOut(class_id=int(c), class_name=names[c], probability=float(probs[c]))
                     for c in order])
    if ds.modality == "image":
        out.image_url = f"/v1/datasets/{ds.id}/examples/{index}/image"
        out.image_shape = list(ds.feature_shape or [])
    elif ds.modality == "tabular":
        features = dataset_member(artifacts, ds.artifact, "features")
        values = np.asarray(features[index], dtype=np.float64)
        out.features = [None if np.isnan(v) else float(v) for v in values]
        out.feature_names = (ds.meta or {}).get("feature_names")
        if (ds.meta or {}).get("schema"):
            texts = dataset_member(artifacts, ds.artifact, "texts")
            row_texts = None if texts is None else np.asarray(texts[index])[None]
            out.fields = {k: v[0] for k, v in decode_rows(ds.meta, values[None], row_texts).items()}
    return out


@router.get("/{audit_id}/compare/{other_id}", response_model=CompareOut, responses=responses(404, 409, 422),
            summary="Compare two audits")
def compare_audits(audit_id: str, other_id: str, session: SessionDep, tenant: TenantDep, artifacts: ArtifactsDep,
                   limit: Annotated[int, Query(ge=0, le=1000, description="issues listed per side")] = 100,
                   new_cursor: Annotated[str | None, Query(pattern=r"^\d{1,10}$",
                                                           description="new_next_cursor of the last page")] = None,
                   gone_cursor: Annotated[str | None, Query(pattern=r"^\d{1,10}$",
                                                            description="gone_next_cursor of the last page")] = None
                   ) -> CompareOut:
    """``other_id`` against ``audit_id`` (the base): issue-rate change per class, issues new and gone.

    Both lists are keyset-paged by rank: ``limit`` per side, ``new_cursor`` / ``gone_cursor``
    from the previous page's ``new_next_cursor`` / ``gone_next_cursor``.

    Audits of one dataset, of a dataset and its noisy child, or of two versions
    sharing example ids or content compare; others are 422 on ``other_id``.
    """
    base = done_audit(session, audit_id, tenant)
    try:
        other = done_audit(session, other_id, tenant)
    except LabelAuditError as exc:  # name the right field: the path's second id
        exc.field = "other_id"
        raise
    return CompareOut(**compare(session, artifacts, base, other, limit=limit,
                                new_after=int(new_cursor) if new_cursor else None,
                                gone_after=int(gone_cursor) if gone_cursor else None))
