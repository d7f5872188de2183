"""API keys: create (the plain key is shown once), verify, revoke. Only sha256 hashes are stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import timedelta

from sqlalchemy import select, update

from labelaudit.errors import NotFound, OptionError
from labelaudit.store.db import Database
from labelaudit.store.ids import new_id
from labelaudit.store.models import ApiKey, as_utc, utcnow

KEY_PREFIX = "la_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


#: Tenant names: what a person can type and read in a log line.
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def create_api_key(db: Database, name: str, tenant: str | None = None) -> tuple[ApiKey, str]:
    """A new key named ``name`` opening ``tenant``'s data (default: a tenant named like the key).

    Returns the record and the plain key (not stored anywhere). Raises
    :class:`OptionError` for a tenant name outside ``[A-Za-z0-9._-]{1,64}``.
    """
    tenant = name if tenant is None else tenant
    if not TENANT_PATTERN.match(tenant):
        raise OptionError(f"tenant {tenant!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                          "or digit", field="tenant", code="invalid_tenant")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    rec = ApiKey(id=new_id("key"), name=name[:255], tenant=tenant, prefix=plain[:10], key_hash=_hash(plain),
                 created_at=utcnow())
    with db.sessions.begin() as s:
        s.add(rec)
    return rec, plain


#: ``last_used_at`` is stamped at most this often per key, so that authenticating stays a read.
LAST_USED_RESOLUTION = timedelta(seconds=60)


#: How long a verified key is trusted without asking the database again: a revoked key stops working
#: within this time in every process (at once in the process that revoked it).
KEY_CACHE_SECONDS = 5.0
_verified: dict[str, tuple[float, ApiKey]] = {}


def cached_key(plain: str) -> ApiKey | None:
    """The key ``plain`` if it was verified less than :data:`KEY_CACHE_SECONDS` ago, else ``None``."""
    hit = _verified.get(_hash(plain))
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def verify_api_key(db: Database, plain: str) -> ApiKey | None:
    """The live key matching ``plain``, or ``None``; stamps ``last_used_at`` (to the minute)."""
    digest = _hash(plain)
    with db.sessions() as s:
        rec = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
        if rec is None:
            _verified.pop(digest, None)
            return None
        now = utcnow()
        if rec.last_used_at is None or now - as_utc(rec.last_used_at) >= LAST_USED_RESOLUTION:
            s.execute(update(ApiKey).where(ApiKey.id == rec.id).values(last_used_at=now))
            s.commit()
            rec.last_used_at = now
        s.expunge(rec)
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[digest] = (time.monotonic() + KEY_CACHE_SECONDS, rec)
    return rec


def revoke_api_key(db: Database, key_id: str) -> None:
    """Revoke the key ``key_id``; :class:`NotFound` when there is none."""
    with db.sessions.begin() as s:
        if s.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow())).rowcount != 1:
            raise NotFound(f"no API key {key_id!r}", field="key_id")
        digest = s.scalar(select(ApiKey.key_hash).where(ApiKey.id == key_id))
    _verified.pop(digest, None)


def list_api_keys(db: Database, *, include_revoked: bool = False) -> list[ApiKey]:
    """Keys oldest first (hashes only; the plain keys are not recoverable)."""
    with db.sessions() as s:
        query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        return list(s.scalars(query))
