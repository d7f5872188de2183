"""Shared dependencies as ``Annotated`` aliases: settings, database, sessions, artifacts."""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, Request

from app.api.errors import ProblemError
from sqlalchemy.orm import Session

from app.config import Settings
from app.store.artifacts import ArtifactStore
from app.store.db import Database


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _db(request: Request) -> Database:
    return request.app.state.db


def _artifacts(request: Request) -> ArtifactStore:
    return request.app.state.artifacts


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.db.sessions() as session:
        yield session


def require_api_key(request: Request) -> str | None:
    """The caller's API key id when ``settings.auth`` is on; 401 problem without a valid key."""
    if request.app.state.settings.auth == "off":
        return None
    from app.store.apikeys import verify_api_key

    auth = request.headers.get("authorization", "")
    plain = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    rec = verify_api_key(request.app.state.db, plain) if plain else None
    if rec is None:
        raise ProblemError(401, "a valid API key is required (Authorization: Bearer <key>)", code="unauthorized",
                           field="authorization", headers={"WWW-Authenticate": "Bearer"})
    return rec.id


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_db)]
ArtifactsDep = Annotated[ArtifactStore, Depends(_artifacts)]
SessionDep = Annotated[Session, Depends(_session)]
ApiKeyDep = Annotated[str | None, Depends(require_api_key)]
