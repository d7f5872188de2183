"""/v1/audits/{id}/decisions, /history and /apply: review an audit's examples and derive the corrected dataset."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Query, Response

from labelaudit.api.datasets import created
from labelaudit.api.deps import ArtifactsDep, CallerDep, DatabaseDep, SettingsDep
from labelaudit.api.errors import responses
from labelaudit.api.guards import reject_nul
from labelaudit.api.review_schemas import ApplyIn, DecisionsIn, DecisionsPage, DecisionsWritten, HistoryOut
from labelaudit.api.schemas import MAX_INDEX, NO_NUL, DatasetOut
from labelaudit.services import corrected, review
from labelaudit.vocab import ReviewDecision

router = APIRouter(prefix="/v1/audits", tags=["review"], dependencies=[Depends(reject_nul)])


def _request(body: DecisionsIn) -> dict:
    items = None if body.items is None else [i.model_dump(mode="json") for i in body.items]
    flt = None if body.filter is None else body.filter.model_dump(mode="json", exclude_none=True)
    return {"items": items, "filter": flt, "decision": body.decision.value if body.decision else None,
            "label": body.label, "note": body.note}


@router.put("/{audit_id}/decisions", response_model=DecisionsWritten, responses=responses(404, 409, 422),
            summary="Decide on examples (bulk, idempotent)")
def put_decisions(audit_id: str, body: DecisionsIn, db: DatabaseDep, artifacts: ArtifactsDep,
                  caller: CallerDep) -> DecisionsWritten:
    """Set ``relabel`` (to a class name; omitted: the suggested class), ``keep``, ``exclude`` or ``unsure`` on a
    list of examples, or on every example the issue browser's ``filter`` matches.

    Idempotent: a decision equal to the current one changes nothing. Each change bumps the
    example's ``version`` and is kept in its history. Send the ``version`` you saw to be
    refused with 409 ``stale_version`` when someone changed it since; without it the last write wins.
    Decisions belong to the tenant and are keyed by the example's stable key, so a later audit
    of the same data (reordered, appended, relabelled) shows them.
    """
    return DecisionsWritten(**review.change(db, artifacts, audit_id=audit_id, tenant=caller.tenant, who=caller.name,
                                            **_request(body)))


@router.delete("/{audit_id}/decisions", response_model=DecisionsWritten, responses=responses(404, 409, 422),
               summary="Undo decisions (bulk)")
def delete_decisions(audit_id: str, body: DecisionsIn, db: DatabaseDep, artifacts: ArtifactsDep,
                     caller: CallerDep) -> DecisionsWritten:
    """Clear the decisions on a list of examples or on every example a ``filter`` matches; kept in the history."""
    return DecisionsWritten(**review.change(db, artifacts, audit_id=audit_id, tenant=caller.tenant, who=caller.name,
                                            undo=True, **_request(body)))


@router.get("/{audit_id}/decisions", response_model=DecisionsPage, responses=responses(404, 409, 422),
            summary="Examples with their decisions, and the review's progress")
def get_decisions(audit_id: str, db: DatabaseDep, artifacts: ArtifactsDep, caller: CallerDep,
                  state: Literal["all", "decided", "undecided"] = "decided",
                  decision: ReviewDecision | None = None,
                  given_label: Annotated[str | None, Query(max_length=255, pattern=NO_NUL)] = None,
                  suggested_label: Annotated[str | None, Query(max_length=255, pattern=NO_NUL)] = None,
                  is_issue: bool | None = None,
                  min_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
                  max_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                  cursor: Annotated[str | None, Query(pattern=r"^\d{1,10}$")] = None,
                  index: Annotated[list[int] | None, Query(max_length=1000, description=(
                      "only these examples (the issue browser's page)"))] = None) -> DecisionsPage:
    """The audit's examples (by default the decided ones) in rank order with their decisions, filtered like the issue
    browser; ``progress`` counts the whole audit."""
    flt = {k: v for k, v in {"given_label": given_label, "suggested_label": suggested_label, "is_issue": is_issue,
                             "min_score": min_score, "max_score": max_score}.items() if v is not None}
    return DecisionsPage(**review.listing(db, artifacts, audit_id=audit_id, tenant=caller.tenant, state=state,
                                          decision=decision.value if decision else None, filter=flt, limit=limit,
                                          cursor=int(cursor) if cursor else None, indices=index))


@router.get("/{audit_id}/decisions/history", response_model=HistoryOut, responses=responses(404, 409, 422),
            summary="One example's decision history")
def get_history(audit_id: str, db: DatabaseDep, artifacts: ArtifactsDep, caller: CallerDep,
                key: Annotated[Optional[str], Query(max_length=2000, pattern=NO_NUL)] = None,
                index: Annotated[Optional[int], Query(ge=0, le=MAX_INDEX)] = None) -> HistoryOut:
    """Every change of the decision on the example named by ``key`` or ``index``, oldest first."""
    return HistoryOut(**review.history(db, artifacts, audit_id=audit_id, tenant=caller.tenant, key=key, index=index))


@router.post("/{audit_id}/apply", status_code=201, response_model=DatasetOut, responses=responses(404, 409, 422, 507),
             summary="Derive the corrected dataset")
def apply_decisions(audit_id: str, db: DatabaseDep, artifacts: ArtifactsDep, settings: SettingsDep,
                    caller: CallerDep, response: Response, body: ApplyIn | None = None) -> DatasetOut:
    """A new dataset: the audit's dataset with the current decisions applied (relabelled rows carry the new label,
    excluded rows are dropped; ``original_label`` and ``review_decision`` record what was done). Its ``review``
    holds the lineage; download it with ``GET /v1/datasets/{id}/download`` and audit it like any other."""
    rec = corrected.apply_review(db, artifacts, settings, audit_id=audit_id, tenant=caller.tenant,
                                 name=body.name if body else None)
    return created(response, rec)
