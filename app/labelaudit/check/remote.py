"""Run the gate's audit on a labelaudit service: upload, start, wait with progress, fetch results.

Uploads stream: the multipart body is generated piece by piece from the files
(read :data:`UPLOAD_CHUNK` bytes at a time) with its ``Content-Length`` known up
front, so a multi-GB file never sits in the client's memory, and a callback sees
the bytes sent so far.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Callable, Iterator

from labelaudit.audit.pipeline import AuditOptions
from labelaudit.audit.progress import Progress
from labelaudit.check.gate import AuditOutput
from labelaudit.errors import AuditFailed, OptionError

POLL_SECONDS = 0.5
PAGE_SIZE = 1000
#: Bytes read from a file and sent at a time.
UPLOAD_CHUNK = 1024 * 1024

UploadProgress = Callable[[int, int], None]
"""``(bytes_sent, total_bytes)`` after every piece of an upload; the last call has ``bytes_sent == total_bytes``."""


def remote_audit(server: str, *, api_key: str | None, path: Path | None, dataset_id: str | None,
                 labels: Path | None, label_column: str, id_column: str | None, format: str | None,
                 options: AuditOptions, progress, timeout: float = 3600.0,
                 upload_progress: UploadProgress | None = None) -> AuditOutput:
    """Audit on ``server`` and return what :func:`labelaudit.check.gate.local_audit` returns.

    Example keys for baseline matching are computed from the local file when a
    ``path`` is given (the same keys a local run gives); for ``--dataset-id``
    alone, and for pred_probs ``.npy`` files (whose keys are row indices anyway;
    the file is then never loaded here, only streamed), they are row indices.
    ``upload_progress`` follows the upload (see :data:`UploadProgress`).
    """
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    keys = None
    if path is not None and not _is_pred_probs_npy(path, format):
        from labelaudit.audit.ingest import load_dataset
        from labelaudit.audit.keys import example_keys

        keys = example_keys(load_dataset(path, format=format, label_column=label_column, labels=labels,
                                         id_column=id_column, folds=options.folds))
    try:
        with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=120.0) as client:
            if path is not None:
                dataset_id = _upload(client, path, labels=labels, label_column=label_column, format=format,
                                     progress=upload_progress)
            body = {"dataset_id": dataset_id, **{k: v for k, v in options.to_dict().items()
                                                 if k != "backbone_options"}}
            audit = _ok(client.post("/v1/audits", json=body))
            audit_id = audit["id"]
            state = _wait(client, audit_id, progress, timeout)
            summary = _ok(client.get(f"/v1/audits/{audit_id}/summary"))
            rows = _all_rows(client, audit_id)
            record = _ok(client.get(f"/v1/datasets/{dataset_id}"))
    except httpx.HTTPError as exc:
        raise AuditFailed(f"cannot reach the labelaudit service at {server}: {exc}", field="server") from exc
    for row in rows:
        row["example_key"] = str(keys[row["index"]]) if keys is not None else f"row:{row['index']}"
    dataset = {"name": record.get("name"), "path": str(path) if path else None, "id": dataset_id,
               "sha256": record.get("sha256"), "rows": record.get("rows"), "classes": record.get("classes")}
    return AuditOutput(summary=summary, rows=rows, evaluation=state.get("evaluation"),
                       options={**options.to_dict(), "server": server, "audit_id": audit_id,
                                "dataset_id": dataset_id}, dataset=dataset)


def _is_pred_probs_npy(path: Path, format: str | None) -> bool:
    if format:
        return format == "pred-probs"
    try:
        with open(path, "rb") as fh:
            return fh.read(6) == b"\x93NUMPY"
    except OSError:
        return False  # the local load reports it


def _upload(client, path: Path, *, labels: Path | None, label_column: str, format: str | None,
            progress: UploadProgress | None = None) -> str:
    fields = {"name": path.name, "label_column": label_column}
    if format:
        fields["format"] = format
    files = {"file": path}
    if labels is not None:
        files["labels_file"] = labels
    body = MultipartBody(fields, files, progress=progress)
    return _ok(client.post("/v1/datasets", content=iter(body), headers=body.headers))["id"]


_FORM_ESCAPES = {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}}
_FORM_ESCAPE_RE = re.compile("|".join(re.escape(c) for c in _FORM_ESCAPES))


def _form_param(name: str, value: str) -> bytes:
    """``name="value"`` escaped as HTML5 forms (and httpx) do."""
    return f'{name}="{_FORM_ESCAPE_RE.sub(lambda m: _FORM_ESCAPES[m.group(0)], value)}"'.encode()


class MultipartBody:
    """A ``multipart/form-data`` body streamed from files: iterate it for the bytes.

    Text ``fields`` first, then ``files`` (field name -> path), each file read
    ``chunk_size`` bytes at a time. ``len(body)`` (also in :attr:`headers` as
    ``Content-Length``) is known before anything is read; ``progress(sent, total)``
    is called after each piece. A file that changes size while it is sent raises
    ``OSError`` (the request is then cut short and fails).
    """

    def __init__(self, fields: dict[str, str], files: dict[str, Path], *, chunk_size: int = UPLOAD_CHUNK,
                 progress: UploadProgress | None = None, boundary: str | None = None):
        self.boundary = boundary or os.urandom(16).hex()
        self.chunk_size = chunk_size
        self.progress = progress
        self._parts: list[bytes | tuple[Path, int]] = []
        dash = b"--" + self.boundary.encode()
        for name, value in fields.items():
            self._parts.append(b"%s\r\nContent-Disposition: form-data; %s\r\n\r\n%s\r\n" % (
                dash, _form_param("name", name), str(value).encode()))
        for name, path in files.items():
            path = Path(path)
            self._parts.append(b"%s\r\nContent-Disposition: form-data; %s; %s\r\n"
                               b"Content-Type: application/octet-stream\r\n\r\n" % (
                                   dash, _form_param("name", name), _form_param("filename", path.name)))
            self._parts.append((path, path.stat().st_size))
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


def _wait(client, audit_id: str, progress, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = _ok(client.get(f"/v1/audits/{audit_id}"))
        status = state.get("status")
        p = state.get("progress") or {}
        if progress is not None and p:
            progress(Progress(stage=p.get("stage") or status, fraction=float(p.get("fraction") or 0.0),
                              fold=p.get("fold"), folds=p.get("folds"), epoch=p.get("epoch"), epochs=p.get("epochs"),
                              message=p.get("message") or f"{status} on the server"))
        if status == "done":
            return state
        if status in ("failed", "cancelled"):
            raise AuditFailed(f"the audit {audit_id} {status} on the server: {state.get('error') or ''}".strip(),
                                    field="audit")
        if time.monotonic() > deadline:
            raise AuditFailed(f"the audit {audit_id} did not finish within {timeout:.0f}s", field="audit")
        time.sleep(POLL_SECONDS)


def _all_rows(client, audit_id: str) -> list[dict]:
    rows, cursor = [], None
    while True:
        params = {"limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
        page = _ok(client.get(f"/v1/audits/{audit_id}/issues", params=params))
        rows.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return rows


def _ok(response) -> dict:
    if response.status_code < 400:
        return response.json()
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:200]}
    detail = problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}"
    errors = problem.get("errors") or []
    field = errors[0].get("field") if errors and isinstance(errors[0], dict) else None
    if response.status_code >= 500:
        raise AuditFailed(f"the service failed (HTTP {response.status_code}): {detail}", field="server")
    raise OptionError(f"the service refused the request (HTTP {response.status_code}): {detail}", field=field)
