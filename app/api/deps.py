"""Shared dependencies as ``Annotated`` aliases: settings, database, sessions, artifacts, the caller's tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Iterator

from fastapi import Depends, Request

from app.api.errors import ProblemError
from sqlalchemy.orm import Session

from app.config import Settings
from app.store.artifacts import ArtifactStore
from app.store.db import Database
from app.store.models import LOCAL_TENANT


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _db(request: Request) -> Database:
    return request.app.state.db


def _artifacts(request: Request) -> ArtifactStore:
    return request.app.state.artifacts


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.db.sessions() as session:
        yield session


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant whose data the request may see, and the API key used (``None`` with auth off)."""

    tenant: str
    key_id: str | None = None


def authenticate(request: Request) -> Caller:
    """The caller of a /v1 request.

    With ``settings.auth == "off"`` everyone is the ``local`` tenant. Otherwise a live
    key (``Authorization: Bearer <key>`` or ``X-API-Key``) is required: 401 problem without one.
    """
    if request.app.state.settings.auth == "off":
        return LOCAL_CALLER
    from app.store.apikeys import verify_api_key

    auth = request.headers.get("authorization", "")
    plain = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    rec = verify_api_key(request.app.state.db, plain) if plain else None
    if rec is None:
        raise ProblemError(401, "a valid API key is required (Authorization: Bearer <key>)", code="unauthorized",
                           field="authorization", headers={"WWW-Authenticate": "Bearer"})
    request.state.tenant = rec.tenant
    return Caller(tenant=rec.tenant, key_id=rec.id)


def _tenant(caller: Annotated[Caller, Depends(authenticate)]) -> str:
    return caller.tenant


LOCAL_CALLER = Caller(tenant=LOCAL_TENANT)
SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_db)]
ArtifactsDep = Annotated[ArtifactStore, Depends(_artifacts)]
SessionDep = Annotated[Session, Depends(_session)]
CallerDep = Annotated[Caller, Depends(authenticate)]
#: The caller's tenant: pass it to every dataset/audit lookup (``queries.get_dataset(..., tenant=tenant)``).
TenantDep = Annotated[str, Depends(_tenant)]
