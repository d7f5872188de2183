"""Run the gate's audit on a labelaudit service: upload, start, wait with progress, fetch results."""

from __future__ import annotations

import time
from pathlib import Path

from app.audit.pipeline import AuditOptions
from app.audit.progress import Progress
from app.errors import LabelAuditError, OptionError

POLL_SECONDS = 0.5
PAGE_SIZE = 1000


class RemoteAuditFailed(LabelAuditError):
    """The service could not run the audit (it failed, was cancelled, or could not be reached)."""

    code = "audit_failed"


def remote_audit(server: str, *, api_key: str | None, path: Path | None, dataset_id: str | None,
                 labels: Path | None, label_column: str, id_column: str | None, format: str | None,
                 options: AuditOptions, progress, timeout: float = 3600.0) -> tuple[dict, list[dict], dict | None, dict]:
    """Audit on ``server`` and return what :func:`app.check.gate.local_audit` returns.

    Example keys for baseline matching are computed from the local file when a
    ``path`` is given (the same keys a local run gives); for ``--dataset-id``
    alone they are row indices.
    """
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    keys = None
    if path is not None:
        from app.audit.ingest import load_dataset
        from app.audit.keys import example_keys

        keys = example_keys(load_dataset(path, format=format, label_column=label_column, labels=labels,
                                         id_column=id_column, folds=options.folds))
    try:
        with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=120.0) as client:
            if path is not None:
                dataset_id = _upload(client, path, labels=labels, label_column=label_column, format=format)
            body = {"dataset_id": dataset_id, **{k: v for k, v in options.to_dict().items()
                                                 if k != "backbone_options"}}
            audit = _ok(client.post("/v1/audits", json=body))
            audit_id = audit["id"]
            state = _wait(client, audit_id, progress, timeout)
            summary = _ok(client.get(f"/v1/audits/{audit_id}/summary"))
            rows = _all_rows(client, audit_id)
    except httpx.HTTPError as exc:
        raise RemoteAuditFailed(f"cannot reach the labelaudit service at {server}: {exc}", field="server") from exc
    for row in rows:
        row["example_key"] = str(keys[row["index"]]) if keys is not None else f"row:{row['index']}"
    return summary, rows, state.get("evaluation"), {**options.to_dict(), "server": server, "audit_id": audit_id,
                                                     "dataset_id": dataset_id}


def _upload(client, path: Path, *, labels: Path | None, label_column: str, format: str | None) -> str:
    data = {"name": path.name, "label_column": label_column}
    if format:
        data["format"] = format
    with open(path, "rb") as fh:
        files = {"file": (path.name, fh, "application/octet-stream")}
        if labels is not None:
            files["labels_file"] = (labels.name, open(labels, "rb"), "application/octet-stream")
        try:
            return _ok(client.post("/v1/datasets", data=data, files=files))["id"]
        finally:
            if labels is not None:
                files["labels_file"][1].close()


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
            raise RemoteAuditFailed(f"the audit {audit_id} {status} on the server: {state.get('error') or ''}".strip(),
                                    field="audit")
        if time.monotonic() > deadline:
            raise RemoteAuditFailed(f"the audit {audit_id} did not finish within {timeout:.0f}s", field="audit")
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
        raise RemoteAuditFailed(f"the service failed (HTTP {response.status_code}): {detail}", field="server")
    raise OptionError(f"the service refused the request (HTTP {response.status_code}): {detail}", field=field)
