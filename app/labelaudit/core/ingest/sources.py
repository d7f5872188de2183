"""Where a dataset comes from (a path, bytes or a binary stream) and the ways readers open it."""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Union

from labelaudit.errors import IngestError

Source = Union[str, Path, bytes, BinaryIO]


def peek(source: Source, name: str | None) -> tuple[bytes, str | None]:
    """The first 4096 bytes of ``source`` and its file name (``name``, else the path's or the stream's).

    A stream is put back where it was.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise IngestError(f"no such file: {path}", field="file", code="not_found")
        with open(path, "rb") as fh:
            return fh.read(4096), name or path.name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:4096]), name
    pos = source.tell()
    head = source.read(4096)
    source.seek(pos)
    return head, name or getattr(source, "name", None)


def read_all(source: Source) -> bytes:
    """Every byte of ``source`` (a stream from where it stands)."""
    if isinstance(source, (str, Path)):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise IngestError(f"cannot read {source}: {exc.strerror}", field="file", code="not_found") from exc
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    return source.read()


def as_binary(source: Source):
    """``source`` as ``zipfile`` opens it: a path, or a binary stream."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, Path):
        return str(source)
    return source


def as_arrow_input(source: Source):
    """``source`` as pyarrow opens it: a path, a buffer reader, or a binary stream."""
    import pyarrow as pa

    if isinstance(source, (bytes, bytearray, memoryview)):
        return pa.BufferReader(bytes(source))
    if isinstance(source, Path):
        return str(source)
    return source


@contextmanager
def binary_stream(source: Source):
    """``source`` as a binary file at its start; a caller's stream is put back where it was."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            yield fh
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(source))
    else:
        pos = source.tell()
        try:
            yield source
        finally:
            source.seek(pos)


def sibling_labels(source: Source, *swaps: tuple[str, str]) -> Path | None:
    """The labels file next to the file at ``source``, named by the first ``(old, new)`` swap in its
    name that names an existing file; ``None`` for bytes, streams, or no such file."""
    if not isinstance(source, (str, Path)):
        return None
    path = Path(source)
    for old, new in swaps:
        if old in path.name:
            candidate = path.with_name(path.name.replace(old, new))
            if candidate.is_file():
                return candidate
    return None
