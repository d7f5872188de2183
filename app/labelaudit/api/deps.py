"""Shared dependencies as ``Annotated`` aliases: settings, database, sessions, artifacts, the caller's tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, AsyncIterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from labelaudit.api.errors import ProblemError
from labelaudit.config import Settings
from labelaudit.store.artifacts import ArtifactStore
from labelaudit.store.db import Database
from labelaudit.store.models import LOCAL_TENANT


# The dependencies that only read app state are ``async def``: FastAPI runs plain ``def`` dependencies
# in the thread pool, a hop that costs more than the work here.
async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _db(request: Request) -> Database:
    return request.app.state.db


async def _artifacts(request: Request) -> ArtifactStore:
    return request.app.state.artifacts


async def _session(request: Request) -> AsyncIterator[Session]:
    # Creating a session does no I/O (it connects on first use, in the sync route's thread); closing
    # one that holds a connection hands it back to the pool, which may talk to the database.
    session = request.app.state.db.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant whose data the request may see, and the API key used (``None`` with auth off)."""

    tenant: str
    key_id: str | None = None
    #: who the caller is to people (review decisions record it): the API key's name, ``local`` with auth off
    name: str = "local"


async def authenticate(request: Request) -> Caller:
    """The caller of a /v1 request.

    With ``settings.auth == "off"`` everyone is the ``local`` tenant. Otherwise a live
    key (``Authorization: Bearer <key>`` or ``X-API-Key``) is required: 401 problem without one.
    Verified keys are remembered for a few seconds (:data:`labelaudit.services.keys.KEY_CACHE_SECONDS`).
    """
    if request.app.state.settings.auth == "off":
        return LOCAL_CALLER
    from labelaudit.services.keys import cached_key, verify_api_key

    auth = request.headers.get("authorization", "")
    plain = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    rec = cached_key(plain) if plain else None
    if rec is None and plain:
        rec = await run_in_threadpool(verify_api_key, request.app.state.db, plain)
    if rec is None:
        raise ProblemError(401, "a valid API key is required (Authorization: Bearer <key>)", code="unauthorized",
                           field="authorization", headers={"WWW-Authenticate": "Bearer"})
    request.state.tenant = rec.tenant
    return Caller(tenant=rec.tenant, key_id=rec.id, name=rec.name)


async def _tenant(caller: Annotated[Caller, Depends(authenticate)]) -> str:
    return caller.tenant


LOCAL_CALLER = Caller(tenant=LOCAL_TENANT)
SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_db)]
ArtifactsDep = Annotated[ArtifactStore, Depends(_artifacts)]
SessionDep = Annotated[Session, Depends(_session)]
CallerDep = Annotated[Caller, Depends(authenticate)]
#: The caller's tenant: pass it to every dataset/audit lookup (``queries.get_dataset(..., tenant=tenant)``).
TenantDep = Annotated[str, Depends(_tenant)]
