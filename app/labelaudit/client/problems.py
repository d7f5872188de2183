"""A problem+json answer as the typed :class:`~labelaudit.errors.ServiceError` that says what went wrong."""

from __future__ import annotations

from labelaudit.errors import (ServiceBusy, ServiceConflict, ServiceError, ServiceFailed, ServiceFull,
                               ServiceNotFound, ServiceRefused, ServiceUnauthorized)

#: The error class of each status; other 4xx are :class:`ServiceRefused`, other 5xx :class:`ServiceFailed`.
ERROR_OF_STATUS: dict[int, type[ServiceError]] = {401: ServiceUnauthorized, 403: ServiceUnauthorized,
                                                   404: ServiceNotFound, 409: ServiceConflict, 429: ServiceBusy,
                                                   507: ServiceFull}


def raise_for_problem(response) -> None:
    """Raise the typed error of an error ``response`` (status 400 and up); return on success."""
    status = response.status_code
    if status < 400:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    errors = [e for e in problem.get("errors") or [] if isinstance(e, dict)]
    detail = problem.get("detail") or problem.get("title") or response.text[:200] or f"HTTP {status}"
    cls = ERROR_OF_STATUS.get(status) or (ServiceFailed if status >= 500 else ServiceRefused)
    retry = response.headers.get("retry-after")
    code = (errors[0].get("code") if errors else None) or (problem.get("type") or "").rsplit("/", 1)[-1] or None
    raise cls(f"the service answered HTTP {status}: {detail}", status=status,
              field=errors[0].get("field") if errors else None, code=code, errors=errors,
              request_id=problem.get("request_id") or response.headers.get("x-request-id"),
              retry_after=int(retry) if retry and retry.isdigit() else None)
