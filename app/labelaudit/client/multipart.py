"""A ``multipart/form-data`` request body streamed from files (and small in-memory parts).

The body is generated piece by piece (files read :data:`UPLOAD_CHUNK` bytes at a
time) with its ``Content-Length`` known up front, so a multi-GB file never sits in
the client's memory, and a callback sees the bytes sent so far.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterator

#: Bytes read from a file and sent at a time.
UPLOAD_CHUNK = 1024 * 1024

UploadProgress = Callable[[int, int], None]
"""``(bytes_sent, total_bytes)`` after every piece of an upload; the last call has ``bytes_sent == total_bytes``."""


_FORM_ESCAPES = {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}}
_FORM_ESCAPE_RE = re.compile("|".join(re.escape(c) for c in _FORM_ESCAPES))


def _form_param(name: str, value: str) -> bytes:
    """``name="value"`` escaped as HTML5 forms (and httpx) do."""
    return f'{name}="{_FORM_ESCAPE_RE.sub(lambda m: _FORM_ESCAPES[m.group(0)], value)}"'.encode()


class MultipartBody:
    """A ``multipart/form-data`` body streamed from files: iterate it for the bytes.

    Text ``fields`` first, then ``files`` (field name -> a path, or ``(file name, bytes)``
    for a part already in memory), each file read ``chunk_size`` bytes at a time.
    ``len(body)`` (also in :attr:`headers` as ``Content-Length``) is known before
    anything is read; ``progress(sent, total)`` is called after each piece. A file that changes size while it is sent raises
    ``OSError`` (the request is then cut short and fails).
    """

    def __init__(self, fields: dict[str, str], files: dict[str, Path | tuple[str, bytes]], *,
                 chunk_size: int = UPLOAD_CHUNK,
                 progress: UploadProgress | None = None, boundary: str | None = None):
        self.boundary = boundary or os.urandom(16).hex()
        self.chunk_size = chunk_size
        self.progress = progress
        self._parts: list[bytes | tuple[Path, int]] = []
        dash = b"--" + self.boundary.encode()
        for name, value in fields.items():
            self._parts.append(b"%s\r\nContent-Disposition: form-data; %s\r\n\r\n%s\r\n" % (
                dash, _form_param("name", name), str(value).encode()))
        for name, source in files.items():
            if isinstance(source, tuple):
                filename, data = source
            else:
                source = Path(source)
                filename, data = source.name, (source, source.stat().st_size)
            self._parts.append(b"%s\r\nContent-Disposition: form-data; %s; %s\r\n"
                               b"Content-Type: application/octet-stream\r\n\r\n" % (
                                   dash, _form_param("name", name), _form_param("filename", filename)))
            self._parts.append(data)
            self._parts.append(b"\r\n")
        self._parts.append(dash + b"--\r\n")
        self.total = sum(len(p) if isinstance(p, bytes) else p[1] for p in self._parts)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Content-Length": str(self.total)}

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for part in self._parts:
            if isinstance(part, bytes):
                sent += len(part)
                yield part
                self._report(sent)
                continue
            path, size = part
            left = size
            with open(path, "rb") as fh:
                while left:
                    block = fh.read(min(self.chunk_size, left))
                    if not block:
                        raise OSError(f"{path} shrank while it was uploaded")
                    left -= len(block)
                    sent += len(block)
                    yield block
                    self._report(sent)
                if fh.read(1):
                    raise OSError(f"{path} grew while it was uploaded")

    def _report(self, sent: int) -> None:
        if self.progress is not None:
            self.progress(sent, self.total)
