"""Domain exceptions with machine-readable codes.

Every error a caller can cause carries a stable ``code`` and, where one field is
at fault, the ``field`` it concerns. The HTTP layer maps them to RFC 9457
problem+json; the CLI prints them as one line and exits 2.
"""

from __future__ import annotations

import errno


class LabelAuditError(Exception):
    """Base class of every error labelaudit raises on purpose."""

    code: str = "error"
    status: int = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_dict(self) -> dict:
        """The error as a JSON-ready mapping: ``code``, ``field``, ``message``."""
        return {"code": self.code, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class IngestError(LabelAuditError):
    """A dataset could not be read or failed validation."""

    code = "invalid_dataset"
    status = 422


class UnsupportedFormat(IngestError):
    """The input is not in a format labelaudit reads."""

    code = "unsupported_format"
    status = 415


class OptionError(LabelAuditError):
    """An audit or noise option is out of range or inconsistent with the data."""

    code = "invalid_option"
    status = 422


class NotFound(LabelAuditError):
    """A named resource does not exist (or is not visible to the caller)."""

    code = "not_found"
    status = 404


class AuditCancelled(LabelAuditError):
    """The audit was cancelled while it ran."""

    code = "cancelled"
    status = 409


class Conflict(LabelAuditError):
    """The request conflicts with the resource's current state (e.g. deleting a dataset an audit is using)."""

    code = "conflict"
    status = 409


class QuotaExceeded(LabelAuditError):
    """A per-tenant limit is reached: too many active jobs (429) or too much storage (507)."""

    code = "quota_exceeded"
    status = 429

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, status: int = 429,
                 retry_after: int | None = None):
        super().__init__(message, field=field, code=code)
        self.status = status
        self.retry_after = retry_after


#: errnos of a write the server's storage refused: no space left, over a disk quota, over a file size limit
STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` is the server's disk refusing a write (an operator's problem, not the caller's)."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_FULL_ERRNOS
