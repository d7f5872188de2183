"""Zip archives (image folders, NPZ): guards against zip bombs and unsafe paths, checked before anything
is decompressed."""

from __future__ import annotations

import io
import struct
import zipfile

from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.messages import first_line
from labelaudit.core.ingest.sources import Source, as_binary, binary_stream
from labelaudit.errors import IngestError

#: compression methods zipfile reads: stored, deflate, bzip2, lzma
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def open_zip(source: Source, *, what: str, limits: IngestLimits) -> zipfile.ZipFile:
    """Open a zip archive after :func:`_check_zip_directory`; a broken one is a ``parse_error``."""
    try:
        with binary_stream(source) as fh:
            _check_zip_directory(fh, limits.max_zip_members)
        return zipfile.ZipFile(as_binary(source))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error, NotImplementedError) as exc:
        # NotImplementedError: a directory entry claiming a zip version zipfile does not support
        raise IngestError(f"not a readable {what} archive: {first_line(exc)}", field="file",
                          code="parse_error") from exc


def _check_zip_directory(fh, max_members: int) -> None:
    """Refuse an archive whose end record declares more than ``max_members`` members (or a central
    directory too large for them), before zipfile reads the whole directory into memory."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_len = min(size, 22 + 0xFFFF + 20 + 56)  # end record, the longest comment, zip64 locator and end record
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # not a zip: zipfile says so
    entries, directory = struct.unpack("<HI", tail[at + 10:at + 16])
    z64 = tail.rfind(b"PK\x06\x06", 0, at)
    if (entries == 0xFFFF or directory == 0xFFFFFFFF) and z64 >= 0 and at - z64 >= 56:
        entries, directory = struct.unpack("<QQ", tail[z64 + 32:z64 + 48])
    if entries > max_members or directory > 128 * max_members:
        raise IngestError(f"the archive declares {entries} files ({directory} bytes of directory); the limit is "
                          f"{max_members} files", field="file", code="archive_too_large")


def check_zip_limits(members: list[zipfile.ZipInfo], limits: IngestLimits) -> None:
    """Zip-bomb and path checks on the members' declared metadata, before anything is decompressed."""
    if len(members) > limits.max_zip_members:
        raise IngestError(f"the archive has {len(members)} files; the limit is {limits.max_zip_members}",
                          field="file", code="archive_too_large")
    total = sum(m.file_size for m in members)
    if total > limits.max_zip_uncompressed_bytes:
        raise IngestError(f"the archive unpacks to {total} bytes; the limit is {limits.max_zip_uncompressed_bytes}",
                          field="file", code="archive_too_large")
    for m in members:
        name = m.filename.replace("\\", "/")
        if name.startswith("/") or name[1:2] == ":" or ".." in name.split("/"):
            raise IngestError(f"unsafe path in the archive: {m.filename!r}", field="file", code="unsafe_path")
        if m.flag_bits & 0x1:
            raise IngestError(f"{m.filename!r} is encrypted; upload an archive without a password", field="file",
                              code="encrypted_archive")
        if m.compress_type not in ZIP_METHODS:
            raise IngestError(f"{m.filename!r} uses compression method {m.compress_type}; use deflate (or store, "
                              "bzip2, lzma)", field="file", code="unsupported_compression")
        if m.file_size > 1 << 20 and m.file_size > limits.max_zip_ratio * max(m.compress_size, 1):
            raise IngestError(f"{m.filename!r} expands {m.file_size // max(m.compress_size, 1)}x; refusing a likely "
                              "zip bomb", field="file", code="archive_too_large")


def zip_parts(name: str) -> list[str]:
    """The folders and file name of an archive path (either slash separates)."""
    return [p for p in name.replace("\\", "/").split("/") if p]
