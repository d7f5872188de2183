"""Structured logs for ``labelaudit serve`` and ``labelaudit worker``.

One JSON object per line on stderr: ``timestamp``, ``level``, ``logger``,
``message``, then the fields bound to the current context (``request_id`` during
an HTTP request, ``worker_id`` and ``audit_id`` while a worker runs a job) and
any ``extra=`` fields of the call (``method``, ``path``, ``status``,
``duration_ms``, ``event``, ...). ``LABELAUDIT_LOG_FORMAT=text`` gives the same
content as ``key=value`` text for a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Iterator

_context: ContextVar[dict] = ContextVar("labelaudit_log_context", default={})

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message"}  # color_message: uvicorn's ANSI copy of the message


@contextmanager
def bound(**fields) -> Iterator[None]:
    """Add ``fields`` to every log line inside the ``with`` block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def record_fields(record: logging.LogRecord) -> dict:
    """The structured fields of ``record``: the bound context, then its ``extra=`` fields."""
    fields = dict(_context.get())
    fields.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for key, value in record_fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for reading on a terminal."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{k}={v}" for k, v in record_fields(record).items())
        if not fields:
            return line
        head, sep, tail = line.partition("\n")  # keep key=value on the message line, before a traceback
        return f"{head} {fields}{sep}{tail}"


def configure_logging(settings=None, *, log_format: str | None = None, stream=None) -> None:
    """Send INFO logs of every logger to stderr in ``settings.log_format`` (``json`` or ``text``).

    Replaces the root logger's handlers (safe to call twice). Uvicorn's loggers
    go through the same handler; its access log is silenced because the API
    writes its own access line per request (with the request id). Alembic's
    start-up chatter only shows when something goes wrong. ``stream`` (default
    stderr) is for tests.
    """
    fmt = log_format or getattr(settings, "log_format", "json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.captureWarnings(True)  # Python warnings become log lines too, not raw text on stderr
