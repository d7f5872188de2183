"""Request guards shared by the /v1 routers."""

from __future__ import annotations

from fastapi import Request

from labelaudit.api.errors import ProblemError


async def reject_nul(request: Request) -> None:
    """422 when a path or query parameter holds a NUL character.

    No identifier or filter ever contains one, and PostgreSQL refuses NUL in text
    parameters (a driver error, so a 500), while SQLite would simply find nothing.
    ``async`` because it does no I/O: FastAPI runs a plain ``def`` dependency in the thread pool, a hop
    per request that costs more CPU than the check.
    """
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in str(value) or "\x00" in name:
            raise ProblemError(422, f"{name.replace(chr(0), '')!r} must not contain NUL characters",
                               code="invalid_text", field=name.replace("\x00", ""))
