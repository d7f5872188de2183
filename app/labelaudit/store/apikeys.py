"""API key records: insert, find a live key by its hash, stamp its use, revoke, list. Only sha256 hashes are stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelaudit.store.ids import new_id
from labelaudit.store.models import ApiKey, DatasetRecord, utcnow


def insert_key(session: Session, *, name: str, tenant: str, prefix: str, key_hash: str) -> ApiKey:
    """Add a key record (the caller commits)."""
    rec = ApiKey(id=new_id("key"), name=name[:255], tenant=tenant, prefix=prefix, key_hash=key_hash,
                 created_at=utcnow())
    session.add(rec)
    return rec


def live_key(session: Session, *, key_hash: str) -> ApiKey | None:
    """The key with ``key_hash`` unless it is revoked (or absent)."""
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


def stamp_used(session: Session, *, key_id: str, at: datetime) -> None:
    """Record that key ``key_id`` was used at ``at``."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))


def revoke_key(session: Session, *, key_id: str) -> str | None:
    """Mark key ``key_id`` revoked; its hash, or ``None`` when there is no such key."""
    if session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow())).rowcount != 1:
        return None
    return session.scalar(select(ApiKey.key_hash).where(ApiKey.id == key_id))


def list_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKey]:
    """Keys oldest first."""
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def tenant_exists(session: Session, *, tenant: str) -> bool:
    """Whether ``tenant`` has any key (revoked ones too) or any dataset."""
    keys = session.scalar(select(ApiKey.id).where(ApiKey.tenant == tenant).limit(1))
    return keys is not None or session.scalar(select(DatasetRecord.id).where(DatasetRecord.tenant == tenant)
                                              .limit(1)) is not None
