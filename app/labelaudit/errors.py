"""Every error labelaudit raises on purpose, in one place; none of them knows HTTP.

Each carries a stable machine-readable ``code`` and, where one field is at fault,
the ``field`` it concerns. The API maps each class to a status in one table
(:mod:`labelaudit.api.errors`); the CLI maps each to an exit code
(:func:`exit_code`): input and usage problems 2, a failed or cancelled audit 3.
"""

from __future__ import annotations

import errno


class LabelAuditError(Exception):
    """Base class of every error labelaudit raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_dict(self) -> dict:
        """The error as a JSON-ready mapping: ``code``, ``field``, ``message``."""
        return {"code": self.code, "field": self.field, "message": self.message}

    def details(self) -> list[dict]:
        """Every problem the error reports, each as :meth:`to_dict` gives one (one, unless a subclass holds more)."""
        return [self.to_dict()]

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class IngestError(LabelAuditError):
    """A dataset could not be read or failed validation."""

    code = "invalid_dataset"


class ColumnProblems(IngestError):
    """Several columns of a table are at fault: every one is reported at once, each with its fix.

    ``problems`` lists ``{code, field, message}`` per column; the message joins them.
    """

    code = "column_problems"

    def __init__(self, problems: list[dict]):
        message = "; ".join(p["message"] for p in problems)
        super().__init__(message, field=problems[0]["field"] if len(problems) == 1 else "columns",
                         code=problems[0]["code"] if len(problems) == 1 else None)
        self.problems = problems

    def details(self) -> list[dict]:
        return [dict(p) for p in self.problems]


class UnsupportedFormat(IngestError):
    """The input is not in a format labelaudit reads."""

    code = "unsupported_format"


class OptionError(LabelAuditError):
    """An audit, noise or query option is out of range or inconsistent with the data."""

    code = "invalid_option"


class MissingExtra(OptionError):
    """The option needs an optional part of labelaudit that is not installed (``pip install "labelaudit[...]"``)."""

    code = "missing_extra"


class NotFound(LabelAuditError):
    """A named resource does not exist (or is not visible to the caller)."""

    code = "not_found"


class Conflict(LabelAuditError):
    """The request conflicts with the resource's current state (e.g. deleting a dataset an audit is using)."""

    code = "conflict"


class NotReady(Conflict):
    """The audit's results are asked for before it is done."""

    code = "not_ready"


class TooManyJobs(LabelAuditError):
    """The tenant already has its quota of queued and running audits; ``retry_after`` seconds is a fair wait."""

    code = "too_many_jobs"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 retry_after: int | None = None):
        super().__init__(message, field=field, code=code)
        self.retry_after = retry_after


class StorageQuotaExceeded(LabelAuditError):
    """What the tenant stores would exceed its storage quota."""

    code = "storage_quota_exceeded"


class AuditCancelled(LabelAuditError):
    """The audit was cancelled while it ran."""

    code = "cancelled"


class AuditFailed(LabelAuditError):
    """The audit itself failed (a fold's training broke, a worker was lost), not its input."""

    code = "audit_failed"


class ServiceError(LabelAuditError):
    """A labelaudit service answered a client's request with a problem document (RFC 9457).

    Carries the document's fields: ``status``, ``code``, ``field``, ``errors`` (every
    ``{field, message, code}``), ``request_id`` (to find the request in the server's
    log) and ``retry_after`` (seconds, when the service said). The subclasses below are
    also the matching domain errors, so ``except NotFound`` catches a local and a remote
    "not found" alike.
    """

    code = "service_error"

    def __init__(self, message: str, *, status: int, field: str | None = None, code: str | None = None,
                 errors: list[dict] | None = None, request_id: str | None = None, retry_after: int | None = None):
        super().__init__(message, field=field, code=code)
        self.status, self.errors, self.request_id, self.retry_after = status, errors or [], request_id, retry_after


class ServiceUnauthorized(ServiceError):
    """401: the service needs a valid API key."""


class ServiceNotFound(ServiceError, NotFound):
    """404 from the service."""


class ServiceConflict(ServiceError, Conflict):
    """409 from the service (e.g. results asked for before the audit is done)."""


class ServiceRefused(ServiceError, OptionError):
    """A 4xx the request's content caused (400, 413, 415, 422): the message names the field."""


class ServiceBusy(ServiceError, TooManyJobs):
    """429: the tenant's job quota is used up; ``retry_after`` says when to try again."""


class ServiceFull(ServiceError, StorageQuotaExceeded):
    """507: the tenant's storage quota (or the server's disk) is full."""


class ServiceFailed(ServiceError, AuditFailed):
    """5xx, an unreachable service, or an audit that failed or was cancelled on it."""


#: errnos of a write the server's storage refused: no space left, over a disk quota, over a file size limit
STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


#: SQLite result codes (the primary code, the low byte of an extended one) of a storage failure: I/O error, full
SQLITE_STORAGE_CODES = frozenset({10, 13})
#: PostgreSQL SQLSTATEs of a storage failure: disk full, out of memory, I/O error, data corrupted
PG_STORAGE_STATES = frozenset({"53100", "53200", "58030", "XX001"})


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` is the server's storage refusing a write (an operator's problem, not the caller's):
    the disk (``OSError`` no space / quota / file size) or the database's own storage (SQLite "database or
    disk is full" and "disk I/O error", PostgreSQL disk full or I/O error), raw or wrapped by SQLAlchemy."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_FULL_ERRNOS:
        return True
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy's DBAPIError wraps the driver's error
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in SQLITE_STORAGE_CODES
    return getattr(orig, "sqlstate", None) in PG_STORAGE_STATES


#: Exit code of the CLI for a bad input or usage.
EXIT_INPUT = 2
#: Exit code of the CLI when the audit itself failed or was cancelled.
EXIT_FAILED = 3


def exit_code(exc: LabelAuditError) -> int:
    """The CLI's exit code for ``exc``: 3 when the audit failed or was cancelled, else 2 (the input)."""
    return EXIT_FAILED if isinstance(exc, (AuditFailed, AuditCancelled)) else EXIT_INPUT
