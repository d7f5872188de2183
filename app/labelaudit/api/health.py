"""/healthz (the process answers), /readyz (the database answers and storage works), /metrics (Prometheus).

Unauthenticated callers learn only liveness and readiness; the database kind is shown
to a caller with an API key, and /metrics needs the scrape token
(``LABELAUDIT_METRICS_TOKEN``) or, without one, a live API key (with auth on).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from labelaudit.api.deps import DatabaseDep, SettingsDep, authenticate
from labelaudit.api.errors import ProblemError, responses, storage_failed

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", responses=responses(503), summary="Readiness: the database is reachable, storage works")
async def readyz(request: Request, db: DatabaseDep, settings: SettingsDep) -> dict:
    """503 while the database does not answer, or for ``LABELAUDIT_STORAGE_ERROR_SECONDS`` after a write failed
    for lack of storage (the disk or the database's files)."""
    try:
        await run_in_threadpool(db.ping)
    except Exception as exc:
        raise ProblemError(503, "not ready: the database does not answer", code="not_ready",
                           field="database") from exc
    if storage_failed(request.app, settings.storage_error_seconds):
        raise ProblemError(503, "not ready: a write failed for lack of storage (disk full or failing) in the last "
                                f"{settings.storage_error_seconds:g} s", code="not_ready", field="storage")
    answer = {"status": "ready"}
    if await _known(request):
        answer["database"] = db.engine.dialect.name
    return answer


async def _known(request: Request) -> bool:
    """Whether the caller shows a live API key (or auth is off)."""
    if not (request.headers.get("authorization") or request.headers.get("x-api-key")) \
            and request.app.state.settings.auth != "off":
        return False
    try:
        await authenticate(request)
    except ProblemError:
        return False
    return True


@router.get("/metrics", response_class=Response, responses=responses(401), summary="Prometheus metrics")
async def metrics(request: Request, settings: SettingsDep) -> Response:
    """The metrics, for the scrape token (``Authorization: Bearer <LABELAUDIT_METRICS_TOKEN>``) or, when no
    token is set, any live API key; 401 otherwise."""
    if settings.metrics_token:
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
            raise ProblemError(401, "/metrics needs the scrape token (Authorization: Bearer <token>)",
                               code="unauthorized", field="authorization", headers={"WWW-Authenticate": "Bearer"})
    else:
        await authenticate(request)
    body = await run_in_threadpool(generate_latest, request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
