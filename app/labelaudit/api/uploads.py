"""Streaming multipart uploads straight to disk, with a size limit enforced while reading.

The request body is fed chunk by chunk to python-multipart's parser; file parts
go to files in a private temporary folder (hashing with sha256 on the way),
text fields stay in memory (64 KiB each at most). Nothing reads a whole file
into memory, and the upload stops with 413 as soon as the body passes the limit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from labelaudit.api.errors import ProblemError

MAX_FIELD_BYTES = 64 * 1024
#: bounds on the form's framing, which is held in memory: header bytes of one part, parts in all
MAX_HEADER_BYTES = 16 * 1024
MAX_PARTS = 32


@dataclass
class SavedFile:
    """A file part written to disk."""

    path: Path
    filename: str | None
    size: int = 0
    sha256: str = ""


@dataclass
class Upload:
    """The parsed form: text fields and saved files by field name."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, SavedFile] = field(default_factory=dict)


def _text(raw: bytes) -> str:
    """A form value or header parameter as text: UTF-8 (bad bytes replaced), without NUL characters,
    which no database column accepts."""
    return raw.decode("utf-8", "replace").replace("\x00", "")


def _safe_name(name: str | None, fallback: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "").name).strip("._")
    return base[:120] or fallback


async def receive_multipart(request: Request, dest: Path, *, max_bytes: int, file_fields: set[str]) -> Upload:
    """Parse ``request``'s multipart body, writing the ``file_fields`` parts under ``dest``.

    Raises :class:`ProblemError` 413 past ``max_bytes``, 415 for a body that is not
    multipart, 422 for a malformed one.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise ProblemError(415, "send the dataset as multipart/form-data", code="unsupported_media_type",
                           field="file")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise ProblemError(413, f"the upload is larger than the limit of {max_bytes} bytes", code="too_large",
                           field="file")

    upload = Upload()
    state: dict = {"headers": {}, "hname": b"", "hval": b"", "hbytes": 0, "parts": 0, "name": None, "fh": None,
                   "hash": None, "saved": None, "buf": bytearray(), "ended": False}

    def header_bytes(n: int) -> None:
        state["hbytes"] += n
        if state["hbytes"] > MAX_HEADER_BYTES:
            raise ProblemError(422, f"malformed multipart body: a part's headers pass {MAX_HEADER_BYTES} bytes",
                               code="invalid_multipart", field="file")

    def on_header_field(data, start, end):
        header_bytes(end - start)
        state["hname"] += data[start:end]

    def on_header_value(data, start, end):
        header_bytes(end - start)
        state["hval"] += data[start:end]

    def on_header_end():
        state["headers"][state["hname"].lower()] = state["hval"]
        state["hname"], state["hval"] = b"", b""

    def on_headers_finished():
        _, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = _text(opts.get(b"name", b""))
        state["name"] = name
        state["parts"] += 1
        if state["parts"] > MAX_PARTS:
            raise ProblemError(422, f"the form has more than {MAX_PARTS} parts", code="too_many_parts", field=name)
        if b"filename" in opts and name in file_fields:
            if name in upload.files:
                raise ProblemError(422, f"{name} was sent twice", code="duplicate_field", field=name)
            filename = _text(opts[b"filename"])
            path = dest / f"{name}-{_safe_name(filename, name)}"
            saved = SavedFile(path=path, filename=filename or None)
            state["fh"], state["hash"], state["saved"] = open(path, "wb"), hashlib.sha256(), saved
            upload.files[name] = saved
        elif b"filename" in opts:
            raise ProblemError(422, f"unexpected file field {name!r}; expected: {', '.join(sorted(file_fields))}",
                               code="unexpected_field", field=name)

    def on_part_data(data, start, end):
        chunk = data[start:end]
        if state["fh"] is not None:
            state["fh"].write(chunk)
            state["hash"].update(chunk)
            state["saved"].size += len(chunk)
            if state["saved"].size > max_bytes:
                raise ProblemError(413, f"the upload is larger than the limit of {max_bytes} bytes", code="too_large",
                                   field=state["name"])
        else:
            state["buf"] += chunk
            if len(state["buf"]) > MAX_FIELD_BYTES:
                raise ProblemError(422, f"field {state['name']!r} is too long", code="too_long", field=state["name"])

    def on_part_end():
        if state["fh"] is not None:
            state["fh"].close()
            state["saved"].sha256 = state["hash"].hexdigest()
        elif state["name"]:
            upload.fields[state["name"]] = _text(bytes(state["buf"]))
        state.update(headers={}, hbytes=0, name=None, fh=None, hash=None, saved=None, buf=bytearray())

    def on_end():
        state["ended"] = True

    parser = MultipartParser(params[b"boundary"], {
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_end": on_end})
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes + 64 * 1024:  # the limit is on the file bytes, with slack for the form framing
                raise ProblemError(413, f"the upload is larger than the limit of {max_bytes} bytes",
                                   code="too_large", field="file")
            parser.write(chunk)
        parser.finalize()
    except (ProblemError, OSError):  # OSError: writing the parts to disk failed, the server's fault (507 or 500)
        raise
    except Exception as exc:  # python-multipart's parse errors
        raise ProblemError(422, f"malformed multipart body: {exc}", code="invalid_multipart", field="file") from exc
    finally:
        if state["fh"] is not None:
            state["fh"].close()
    if not state["ended"]:  # python-multipart's finalize() does not check this itself
        raise ProblemError(422, "malformed multipart body: it ends before the closing boundary",
                           code="invalid_multipart", field="file")
    for saved in upload.files.values():
        if saved.size > max_bytes:
            raise ProblemError(413, f"the upload is larger than the limit of {max_bytes} bytes", code="too_large",
                               field="file")
    return upload
