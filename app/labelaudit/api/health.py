"""/healthz (the process answers), /readyz (the database answers), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from labelaudit.api.deps import DatabaseDep
from labelaudit.api.errors import ProblemError, responses

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", responses=responses(503), summary="Readiness: the database is reachable")
def readyz(db: DatabaseDep) -> dict:
    try:
        db.ping()
    except Exception as exc:
        raise ProblemError(503, f"database unreachable: {type(exc).__name__}", code="not_ready",
                           field="database") from exc
    return {"status": "ready", "database": db.engine.dialect.name}


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
