"""One error shape for every response: RFC 9457 ``application/problem+json``.

``{type, title, status, detail, errors: [{field, message, code}]}``. Domain
errors (which know nothing of HTTP) get their status from one table,
:data:`STATUS_OF`; request validation errors list each bad field; a write
refused by a full disk is a 507 ``insufficient_storage``; anything unexpected is
a 500 with no internals in the body. :class:`ProblemError` is for transport
problems only (multipart framing, authentication, timeouts, readiness).
"""

from __future__ import annotations

import logging
import time
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from labelaudit.api.request_log import HEADER as REQUEST_ID_HEADER
from labelaudit.api.request_log import request_id_of
from labelaudit.errors import (
    AuditCancelled,
    AuditFailed,
    Conflict,
    IngestError,
    LabelAuditError,
    NotFound,
    OptionError,
    StorageQuotaExceeded,
    TooManyJobs,
    UnsupportedFormat,
    is_storage_full,
)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://labelaudit.dev/problems/"
log = logging.getLogger("labelaudit.api")

#: The HTTP status of each domain error; a subclass not listed takes its nearest listed base's.
STATUS_OF: dict[type[LabelAuditError], int] = {
    LabelAuditError: 400,
    UnsupportedFormat: 415,
    IngestError: 422,
    OptionError: 422,
    NotFound: 404,
    Conflict: 409,
    AuditCancelled: 409,
    TooManyJobs: 429,
    StorageQuotaExceeded: 507,
    AuditFailed: 502,
}


def status_of(exc: LabelAuditError) -> int:
    """The HTTP status that answers ``exc`` (see :data:`STATUS_OF`)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, code: str | None = None, field: str | None = None,
                 headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.code, self.field, self.headers = status, detail, code, field, headers


def problem(status: int, detail: str, *, code: str | None = None, errors: list[dict] | None = None,
            headers: dict | None = None, request_id: str | None = None) -> JSONResponse:
    """A problem+json response; with ``request_id``, quoted in the body and the ``X-Request-ID`` header."""
    title = _title(status)
    code = code or _default_code(status)
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "errors": errors or []}
    if request_id:
        body["request_id"] = request_id
        headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _title(status: int) -> str:
    return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"


def _default_code(status: int) -> str:
    return _title(status).lower().replace(" ", "_")


def _answer(request: Request, status: int, detail: str, *, code: str | None = None, **kwargs) -> JSONResponse:
    """The problem response to ``request``, counted in ``labelaudit_errors_total`` by code and status."""
    code = code or _default_code(status)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.count_error(code, status)
    return problem(status, detail, code=code, request_id=request_id_of(request), **kwargs)


def _field(loc) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


async def _domain(request: Request, exc: LabelAuditError) -> JSONResponse:
    retry = getattr(exc, "retry_after", None)
    return _answer(request, status_of(exc), exc.message, code=exc.code, errors=exc.details(),
                   headers={"Retry-After": str(retry)} if retry else None)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid"), "code": e.get("type", "invalid")}
              for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "invalid request"
    return _answer(request, 422, detail, code="validation_error", errors=errors)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _answer(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
    errors = [{"field": exc.field, "message": exc.detail, "code": exc.code}] if exc.field or exc.code else []
    return _answer(request, exc.status, exc.detail, code=exc.code, errors=errors, headers=exc.headers)


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    """507 when the server's own storage (its disk, or the database's) refused a write (the request may succeed
    later or elsewhere), and ``/readyz`` answers 503 for a while (:func:`storage_failed`); else a 500."""
    if not is_storage_full(exc):
        return await _unexpected(request, exc)
    log.error("storage full: %s", exc, extra={"request_id": request_id_of(request), "event": "storage_full"})
    request.app.state.storage_failed_at = time.monotonic()
    detail = ("the server cannot store this right now (its disk is full or failing); nothing was stored. "
              "Try again later, or ask its operator to free space.")
    return _answer(request, 507, detail, code="insufficient_storage",
                   errors=[{"field": None, "message": detail, "code": "insufficient_storage"}])


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Runs outside the request-id middleware (Starlette's outermost layer), so the id is passed explicitly.
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id_of(request)})
    return _answer(request, 500, "internal error; see the server log", code="internal_error")


def storage_failed(app, hold_seconds: float) -> bool:
    """Whether a write failed for lack of storage within the last ``hold_seconds``."""
    at = getattr(app.state, "storage_failed_at", None)
    return at is not None and time.monotonic() - at < hold_seconds


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(LabelAuditError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(DBAPIError, _os_error)
    app.add_exception_handler(Exception, _unexpected)


#: OpenAPI description of error responses, for ``responses=`` on routes.
PROBLEM_RESPONSE = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def responses(*codes: int) -> dict:
    """``responses=`` for a route that may answer with these problem statuses."""
    return {c: {**PROBLEM_RESPONSE, "description": HTTPStatus(c).phrase} for c in codes}
