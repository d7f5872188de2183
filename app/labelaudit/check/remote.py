"""The gate's audit on a labelaudit service, through :class:`labelaudit.Client`: upload, start, wait, fetch."""

from __future__ import annotations

from pathlib import Path

from labelaudit.core.progress import Progress
from labelaudit.check.gate import AuditOutput
from labelaudit.client import Client
from labelaudit.client.multipart import UploadProgress


def remote_audit(server: str, *, api_key: str | None, path: Path | None, dataset_id: str | None,
                 labels: Path | None, label_column: str, id_column: str | None, format: str | None,
                 options, progress, timeout: float = 3600.0,
                 upload_progress: UploadProgress | None = None, kept_from_server: bool = False,
                 roles: dict | None = None) -> AuditOutput:
    """Audit on ``server`` and return what :func:`labelaudit.check.gate.local_audit` returns.

    Example keys for baseline matching are computed from the local file when a
    ``path`` is given (the same keys a local run gives); for ``--dataset-id``
    alone, and for pred_probs ``.npy`` files (whose keys are row indices anyway;
    the file is then never loaded here, only streamed), they are row indices.
    ``upload_progress`` follows the upload (see :data:`UploadProgress`). With
    ``kept_from_server``, the examples the tenant's reviewers decided ``keep`` (decisions
    carry over to this audit by example key) come back as ``kept_keys``. ``roles`` names a table's
    columns (``features``, ``drop_columns``, ``categorical``, ``text``), here and on the server alike.
    """
    roles = roles or {}
    keys = None
    if path is not None and not is_pred_probs_npy(path, format):
        from labelaudit.core.ingest import load_dataset
        from labelaudit.core.keys import example_keys

        from labelaudit.core.ingest import RoleOverrides

        overrides = RoleOverrides(**{k: tuple(v) for k, v in roles.items()}) if roles else None
        keys = example_keys(load_dataset(path, format=format, label_column=label_column, labels=labels,
                                         id_column=id_column, folds=options.folds, roles=overrides))

    def on_poll(p: dict) -> None:
        if progress is not None:
            progress(Progress(stage=p.get("stage") or p["status"], fraction=float(p.get("fraction") or 0.0),
                              fold=p.get("fold"), folds=p.get("folds"), epoch=p.get("epoch"), epochs=p.get("epochs"),
                              member=p.get("member"), members=p.get("members"),
                              message=p.get("message") or f"{p['status']} on the server"))

    with Client(server, api_key) as client:
        if path is not None:
            dataset_id = client.upload(path, label=label_column, format=format, labels=labels,
                                       progress=upload_progress, id_column=id_column, **roles)["id"]
        audit = client.create_audit(dataset_id, **{k: v for k, v in options.to_dict().items()
                                                   if k != "backbone_options"})
        state = client.wait(audit["id"], timeout=timeout, progress=on_poll)
        summary = client.summary(audit["id"])
        rows = list(client.iter_issues(audit["id"]))
        record = client.dataset(dataset_id)
        kept_rows = client.decisions(audit["id"], decision="keep")["items"] if kept_from_server else None
    for row in rows:
        row["example_key"] = str(keys[row["index"]]) if keys is not None else f"row:{row['index']}"
    kept = None
    if kept_rows is not None:
        by_index = {row["index"]: row["example_key"] for row in rows}
        kept = frozenset(by_index[r["index"]] for r in kept_rows if r["index"] in by_index)
    dataset = {"name": record.get("name"), "path": str(path) if path else None, "id": dataset_id,
               "sha256": record.get("sha256"), "rows": record.get("rows"), "classes": record.get("classes")}
    return AuditOutput(summary=summary, rows=rows, evaluation=state.get("evaluation"),
                       options={**options.to_dict(), "server": server, "audit_id": audit["id"],
                                "dataset_id": dataset_id}, dataset=dataset, kept_keys=kept)


def is_pred_probs_npy(path: Path, format: str | None) -> bool:
    """Whether ``path`` is a pred_probs ``.npy`` (by ``format``, else by its magic bytes)."""
    if format:
        return format == "pred-probs"
    try:
        with open(path, "rb") as fh:
            return fh.read(6) == b"\x93NUMPY"
    except OSError:
        return False  # the local load reports it
