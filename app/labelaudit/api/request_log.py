"""Request ids and the access log.

Every request gets an id: the caller's ``X-Request-ID`` when it is 1 to 128
characters of ``[A-Za-z0-9._-]``, else a new one. It is bound to the log
context (every log line written while the request runs carries it), kept in
``request.state.request_id`` (error bodies quote it), and returned in the
``X-Request-ID`` response header. When the request ends, one access line is
logged: method, path, status, duration_ms.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelaudit import logs

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")
access_log = logging.getLogger("labelaudit.access")


def request_id_from(value: str | None) -> str:
    """``value`` when it is an acceptable request id, else a fresh one (32 hex digits)."""
    if value and _VALID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def request_id_of(request: Request) -> str | None:
    """The id :class:`RequestLogMiddleware` gave ``request`` (``None`` outside it)."""
    return getattr(request.state, "request_id", None)


class RequestLogMiddleware:
    """Assigns the request id, echoes it in the response and writes the access line."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_from(Request(scope).headers.get(HEADER))
        scope.setdefault("state", {})["request_id"] = rid
        status = 500  # stays 500 when the app raises before answering
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if HEADER not in headers:
                    headers.append(HEADER, rid)
            await send(message)

        with logs.bound(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                access_log.info("%s %s %d", scope["method"], scope["path"], status,
                                extra={"method": scope["method"], "path": scope["path"], "status": status,
                                       "duration_ms": round((time.perf_counter() - start) * 1000, 2)})
