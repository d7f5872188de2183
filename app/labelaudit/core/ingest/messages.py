"""How ingest errors name a field and quote what they found."""

from __future__ import annotations

import re


def column_field(names: list[str], name: str) -> str:
    """The ``field`` naming a column: its name, or its position when the name is blank."""
    return name if name.strip() else f"column {names.index(name) + 1}"


def preview(items: list[str], limit: int = 12) -> str:
    """The first ``limit`` of ``items``, comma-separated, with the count when some are left out."""
    shown = ", ".join(map(str, items[:limit]))
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


#: an object's default repr inside a library's message
_REPR = re.compile(r"\s*<[\w.]+(?: [^<>]*)?>")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none), without the reprs of
    objects that libraries put in (``<zipfile.ZipExtFile name='a.png' mode='r'>``: a memory address or a
    stream's repr says nothing to the user)."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return _REPR.sub("", line).rstrip(" :") or type(exc).__name__
