"""API keys: create (the plain key is shown once), verify (with a short cache), revoke, list."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import timedelta

from labelaudit.errors import Conflict, NotFound, OptionError
from labelaudit.store import apikeys
from labelaudit.store.db import Database
from labelaudit.store.models import ApiKey, as_utc, utcnow
from labelaudit.store.transactions import lock_names, tenant_lock, write_session

KEY_PREFIX = "la_"
#: Tenant names: what a person can type and read in a log line.
TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Key names: printable text, at most this long.
MAX_NAME = 255
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: ``last_used_at`` is stamped at most this often per key, so that authenticating stays a read.
LAST_USED_RESOLUTION = timedelta(seconds=60)
#: How long a verified key is trusted without asking the database again: a revoked key stops working
#: within this time in every process (at once in the process that revoked it).
KEY_CACHE_SECONDS = 5.0
_verified: dict[str, tuple[float, ApiKey]] = {}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(db: Database, name: str, tenant: str | None = None) -> tuple[ApiKey, str]:
    """A new key named ``name`` opening ``tenant``'s data.

    Without ``tenant`` the key starts a new tenant named like the key, and
    :class:`Conflict` when that tenant already has keys (joining it must be asked for
    by naming it). Returns the record and the plain key (not stored anywhere). Raises
    :class:`OptionError` for a tenant name outside ``[A-Za-z0-9._-]{1,64}`` or a key name
    with control characters (newlines would forge log lines) or over 255 characters.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or CONTROL.search(name):
        raise OptionError(f"key name {name!r}: use 1-{MAX_NAME} printable characters (no control characters "
                          "such as newlines)", field="name", code="invalid_name")
    joining = tenant is not None
    tenant = name if tenant is None else tenant
    if not TENANT_PATTERN.fullmatch(tenant):
        raise OptionError(f"tenant {tenant!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                          "or digit", field="tenant", code="invalid_tenant")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    with write_session(db) as s:
        lock_names(s, db, tenant_lock(tenant))
        if not joining and apikeys.tenant_exists(s, tenant=tenant):
            raise Conflict(f"tenant {tenant!r} already exists; to add a key to it, name it explicitly "
                           f"(--tenant {tenant})", field="name", code="tenant_exists")
        rec = apikeys.insert_key(s, name=name, tenant=tenant, prefix=plain[:10], key_hash=_hash(plain))
    return rec, plain


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
        rec = apikeys.live_key(s, key_hash=digest)
        if rec is None:
            _verified.pop(digest, None)
            return None
        now = utcnow()
        if rec.last_used_at is None or now - as_utc(rec.last_used_at) >= LAST_USED_RESOLUTION:
            apikeys.stamp_used(s, key_id=rec.id, at=now)
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
        digest = apikeys.revoke_key(s, key_id=key_id)
        if digest is None:
            raise NotFound(f"no API key {key_id!r}", field="key_id")
    _verified.pop(digest, None)


def list_api_keys(db: Database, *, include_revoked: bool = False) -> list[ApiKey]:
    """Keys oldest first (hashes only; the plain keys are not recoverable)."""
    with db.sessions() as s:
        return apikeys.list_keys(s, include_revoked=include_revoked)
