"""Request time limits.

Each request must have its response started within a limit: uploads
(``POST /v1/datasets``) get ``upload_timeout_seconds``, everything else
``request_timeout_seconds``. Past it the caller gets a problem response: 408
``request_timeout`` when the request body had not arrived yet (a stalled or
trickling upload), 503 ``server_timeout`` (with ``Retry-After``) when the server
was too slow. Once the response has started (e.g. a large download) the limit no
longer applies, so slow readers are not cut off mid-file.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelaudit.api.errors import problem
from labelaudit.api.request_log import request_id_of

UPLOAD_ROUTES = {("POST", "/v1/datasets")}


class TimeoutMiddleware:
    """Answers 408/503 problem+json when a request's response has not started within its limit."""

    def __init__(self, app: ASGIApp, *, request_seconds: float, upload_seconds: float):
        self.app, self.request_seconds, self.upload_seconds = app, request_seconds, upload_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = (scope["method"], scope["path"].rstrip("/")) in UPLOAD_ROUTES
        limit = self.upload_seconds if upload else self.request_seconds
        body_received = False
        started = False
        deadline = asyncio.timeout(limit)

        async def receive_tracked() -> Message:
            nonlocal body_received
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_received = True
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive_tracked, send_tracked)
        except TimeoutError:
            if not deadline.expired() or started:
                raise
            await self._answer(scope, receive, send, limit, waiting_for_body=not body_received)

    @staticmethod
    async def _answer(scope: Scope, receive: Receive, send: Send, limit: float, *, waiting_for_body: bool) -> None:
        request = Request(scope)
        if waiting_for_body:
            status, code = 408, "request_timeout"
            detail = f"the request body did not arrive within {limit:g} s"
            headers = {"Connection": "close"}
        else:
            status, code = 503, "server_timeout"
            detail = f"the server did not answer within {limit:g} s; try again later"
            headers = {"Retry-After": "5"}
        metrics = getattr(scope.get("app").state, "metrics", None) if scope.get("app") else None
        if metrics is not None:
            metrics.count_error(code, status)
        response = problem(status, detail, code=code, headers=headers, request_id=request_id_of(request),
                           errors=[{"field": "file" if waiting_for_body else None, "message": detail, "code": code}])
        await response(scope, receive, send)
