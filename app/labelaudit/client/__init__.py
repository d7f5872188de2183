"""The REST client of a labelaudit service, for notebooks, scripts and ``labelaudit check --server``.

>>> client = labelaudit.Client("http://127.0.0.1:8000", api_key="la_...")
>>> result = client.audit(df, label="species", backbone="logreg", seed=0)
>>> result.issues.head()          # one row per example, lowest quality first, keyed by df's index

Every error the service answers is raised as a typed :class:`~labelaudit.errors.ServiceError`
carrying the problem document's ``status``, ``code``, ``field``, ``errors`` and ``request_id``.
"""

from __future__ import annotations

import json

import io
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from labelaudit.client.multipart import MultipartBody, UploadProgress
from labelaudit.client.problems import raise_for_problem
from labelaudit.client.results import RemoteAudit
from labelaudit.errors import OptionError, ServiceFailed

__all__ = ["Client", "RemoteAudit"]

#: Seconds between two polls of a running audit.
POLL_SECONDS = 0.5
#: Rows asked for per issues page.
PAGE_SIZE = 1000


class Client:
    """A labelaudit service at ``base_url``.

    Parameters
    ----------
    base_url : str
        The service's address, e.g. ``http://127.0.0.1:8000``.
    api_key : str, optional
        Sent as ``Authorization: Bearer <key>`` (not needed when the service runs with auth off).
    timeout : float
        Seconds one HTTP request may take (uploads stream; waiting for an audit polls).
    transport : httpx.BaseTransport, optional
        For tests and special networks.
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None, *,
                 timeout: float = 120.0, transport=None):
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- datasets --------------------------------------------------------------------------------------

    def upload(self, data, *, label: str = "label", name: str | None = None, format: str | None = None,
               labels=None, progress: UploadProgress | None = None, id_column: str | None = None,
               features: list[str] | None = None, drop_columns: list[str] | None = None,
               categorical: list[str] | None = None, text: list[str] | None = None) -> dict:
        """Upload a dataset; returns its record (``id``, ``rows``, ``classes``, ``class_names``, ...).

        ``data`` is a path (streamed, never read whole), a pandas DataFrame (sent as
        Parquet, its dtypes kept), ``(X, y)`` arrays (sent as NPZ) or ``bytes``; ``label``
        names the label column of a table; ``labels`` is the labels file of IDX images or
        of a pred_probs ``.npy``; ``progress(sent, total)`` follows the upload. A table's
        ``id_column`` and column roles (``features``, ``drop_columns``, ``categorical``,
        ``text``) go along as form fields.
        """
        filename, source = _payload(data, name=name)
        fields = {"name": name or filename, "label_column": label}
        if format:
            fields["format"] = format
        if id_column:
            fields["id_column"] = id_column
        for field, names in (("features", features), ("drop_columns", drop_columns),
                             ("categorical", categorical), ("text", text)):
            if names:
                fields[field] = json.dumps(list(names))
        files: dict = {"file": source}
        if labels is not None:
            files["labels_file"] = Path(labels)
        body = MultipartBody(fields, files, progress=progress)
        return self._json("POST", "/v1/datasets", content=iter(body), headers=body.headers)

    def dataset(self, dataset_id: str) -> dict:
        """The dataset ``dataset_id``."""
        return self._json("GET", f"/v1/datasets/{dataset_id}")

    def datasets(self) -> Iterator[dict]:
        """Every dataset the key may see, newest first (pages followed)."""
        return self._pages("/v1/datasets", {})

    def inject_noise(self, dataset_id: str, *, kind: str = "pairwise", rate: float = 0.2, seed: int = 0,
                     noise_matrix: list | None = None, name: str | None = None) -> dict:
        """A noisy copy of ``dataset_id`` (its labels flipped, the originals kept as true labels)."""
        body = {"kind": kind, "rate": rate, "seed": seed, "noise_matrix": noise_matrix, "name": name}
        return self._json("POST", f"/v1/datasets/{dataset_id}/noise",
                          json={k: v for k, v in body.items() if v is not None})

    # -- audits ----------------------------------------------------------------------------------------

    def create_audit(self, dataset_id: str, **options: Any) -> dict:
        """Queue an audit of ``dataset_id`` with ``options`` (``backbone``, ``folds``, ``seed``, ``epochs``,
        ``device``, ``rank_method``, ``filter_by``, ``backbone_options``); returns the queued audit."""
        return self._json("POST", "/v1/audits", json={"dataset_id": dataset_id, **options})

    def get_audit(self, audit_id: str) -> dict:
        """The audit ``audit_id``: status, progress, timings, and its summary once done."""
        return self._json("GET", f"/v1/audits/{audit_id}")

    def audits(self, *, dataset_id: str | None = None, status: str | None = None) -> Iterator[dict]:
        """Audits newest first, optionally of one dataset or in one status (pages followed)."""
        params = {k: v for k, v in {"dataset_id": dataset_id, "status": status}.items() if v is not None}
        return self._pages("/v1/audits", params)

    def wait(self, audit_id: str, *, timeout: float = 3600.0,
             progress: Callable[[dict], None] | None = None) -> dict:
        """Poll until the audit is done (returned); :class:`ServiceFailed` when it failed, was cancelled or
        did not finish within ``timeout`` seconds. ``progress`` gets each poll's ``progress`` object."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.get_audit(audit_id)
            if progress is not None and state.get("progress"):
                progress({**state["progress"], "status": state["status"]})
            if state["status"] == "done":
                return state
            if state["status"] in ("failed", "cancelled"):
                error = state.get("error") or {}
                raise ServiceFailed(f"the audit {audit_id} {state['status']} on the server: "
                                    f"{error.get('message', '')}".rstrip(": "), status=200, field="audit",
                                    code=error.get("code") or state["status"])
            if time.monotonic() > deadline:
                raise ServiceFailed(f"the audit {audit_id} did not finish within {timeout:.0f}s", status=200,
                                    field="audit", code="timeout")
            time.sleep(POLL_SECONDS)

    def summary(self, audit_id: str) -> dict:
        """A finished audit's summary (issue count and rate, health score, noise matrix, class table)."""
        return self._json("GET", f"/v1/audits/{audit_id}/summary")

    def iter_issues(self, audit_id: str, **filters: Any) -> Iterator[dict]:
        """Every row of a finished audit in rank order (lowest quality first), pages followed; ``filters``
        are the issue browser's (``only_issues``, ``given_label`` as an id or a class name, ``max_score``...)."""
        cursor = None
        while True:
            params = {"limit": PAGE_SIZE, **filters, **({"cursor": cursor} if cursor else {})}
            page = self._json("GET", f"/v1/audits/{audit_id}/issues", params=params)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def cancel(self, audit_id: str) -> dict:
        """Cancel a queued or running audit."""
        return self._json("POST", f"/v1/audits/{audit_id}/cancel")

    def delete(self, resource_id: str) -> None:
        """Delete a dataset (``ds_...``, with its finished audits) or an audit (``au_...``)."""
        kind = {"ds_": "datasets", "au_": "audits"}.get(resource_id[:3])
        if kind is None:
            raise OptionError(f"{resource_id!r} is neither a dataset (ds_...) nor an audit (au_...) id", field="id")
        self._request("DELETE", f"/v1/{kind}/{resource_id}")

    # -- review ----------------------------------------------------------------------------------------

    def decide(self, audit_id: str, items: list[dict] | None = None, *, filter: dict | None = None,
               decision: str | None = None, label: str | None = None, note: str | None = None) -> dict:
        """Record review decisions on a finished audit's examples; returns ``{changed, unchanged, items}``.

        ``items``: ``{key | index, decision, label?, note?, version?}`` (``relabel`` without a
        label accepts the suggested class; a stale ``version`` is a :class:`~labelaudit.errors.ServiceConflict`);
        or a ``filter`` of the issue browser (``is_issue``, ``given_label``, ``state``...) with one
        ``decision`` (``label``, ``note``) for every match.
        """
        return self._json("PUT", f"/v1/audits/{audit_id}/decisions",
                          json=_decision_body(items, filter, decision, label, note))

    def undo(self, audit_id: str, items: list[dict] | None = None, *, filter: dict | None = None) -> dict:
        """Clear the decisions on ``items`` (``{key | index}``) or on every example ``filter`` matches."""
        return self._json("DELETE", f"/v1/audits/{audit_id}/decisions",
                          json=_decision_body(items, filter, None, None, None))

    def decisions(self, audit_id: str, *, state: str = "decided", **filters: Any) -> dict:
        """The audit's examples with their decisions (by default the decided ones), every page followed:
        ``{"items": [...], "progress": {...}}``; save it as JSON for ``labelaudit apply`` and
        ``labelaudit check --decisions``."""
        items, cursor, page = [], None, {}
        while True:
            params = {"limit": 10_000, "state": state, **filters, **({"cursor": cursor} if cursor else {})}
            page = self._json("GET", f"/v1/audits/{audit_id}/decisions", params=params)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return {"audit_id": audit_id, "items": items, "progress": page["progress"]}

    def history(self, audit_id: str, *, key: str | None = None, index: int | None = None) -> list[dict]:
        """Every change of the decision on one example (by ``key`` or ``index``), oldest first."""
        params = {k: v for k, v in {"key": key, "index": index}.items() if v is not None}
        return self._json("GET", f"/v1/audits/{audit_id}/decisions/history", params=params)["events"]

    def apply(self, audit_id: str, *, name: str | None = None) -> dict:
        """The corrected dataset: the audit's dataset with the decisions applied (its record, with ``review``
        holding the lineage). Audit it with :meth:`create_audit`; fetch it with :meth:`download`."""
        return self._json("POST", f"/v1/audits/{audit_id}/apply", json={"name": name} if name else {})

    def download(self, dataset_id: str, path: str | Path, *, format: str | None = None) -> Path:
        """Write the stored dataset to ``path`` (``csv``, ``parquet``, ``npz`` or ``manifest``; by default the
        upload's format), streamed."""
        params = {"format": format} if format else {}
        path = Path(path)
        import httpx

        try:
            with self._http.stream("GET", f"/v1/datasets/{dataset_id}/download", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise_for_problem(response)
                with open(path, "wb") as fh:
                    for block in response.iter_bytes():
                        fh.write(block)
        except httpx.HTTPError as exc:
            raise ServiceFailed(f"cannot reach the labelaudit service at {self.base_url}: {exc}", status=0,
                                field="server", code="unreachable") from exc
        return path

    # -- the whole round trip --------------------------------------------------------------------------

    def audit(self, data, *, label: str = "label", id: str | None = None, features: list[str] | None = None,
              drop_columns: list[str] | None = None, categorical: list[str] | None = None,
              text: list[str] | None = None, progress: bool = True, timeout: float = 3600.0,
              reference=None, **options: Any) -> RemoteAudit:
        """Upload ``data`` (see :meth:`upload`; ``id`` and the column roles go with it, as in
        :func:`labelaudit.audit`), audit it with ``options`` (``backbone``, ``folds``, ``seed``, ...), wait (with
        a progress bar unless ``progress=False``) and fetch every row: a :class:`RemoteAudit` whose ``.issues``
        DataFrame is keyed like ``data`` (its index, or the ``id`` column).

        ``reference``: trusted labelled data of the same kind, uploaded like ``data`` (with its column roles)
        and trained on in every fold, never ranked; or pass ``reference_dataset_id=`` of a dataset already on
        the server."""
        from labelaudit.client.progress import ProgressBar

        with ProgressBar(enabled=progress) as bar:
            dataset = self.upload(data, label=label, progress=bar.upload, id_column=id, features=features,
                                  drop_columns=drop_columns, categorical=categorical, text=text)
            if reference is not None:
                has_id = id is not None and id in getattr(reference, "columns", ())
                options["reference_dataset_id"] = self.upload(
                    reference, label=label, id_column=id if has_id else None, features=features,
                    drop_columns=drop_columns, categorical=categorical, text=text)["id"]
            audit = self.create_audit(dataset["id"], **options)
            state = self.wait(audit["id"], timeout=timeout, progress=bar.poll)
        rows = list(self.iter_issues(audit["id"]))
        index = getattr(data, "index", None)
        if id is not None and index is not None:
            index = data[id].to_numpy()
        return RemoteAudit(audit=state, dataset=dataset, rows=rows, index=index,
                           label_values=data[label] if index is not None and label in getattr(data, "columns", ())
                           else None)

    # -- plumbing --------------------------------------------------------------------------------------

    def _request(self, method: str, url: str, **kwargs):
        import httpx

        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceFailed(f"cannot reach the labelaudit service at {self.base_url}: {exc}", status=0,
                                field="server", code="unreachable") from exc
        raise_for_problem(response)
        return response

    def _json(self, method: str, url: str, **kwargs) -> dict:
        return self._request(method, url, **kwargs).json()

    def _pages(self, url: str, params: dict) -> Iterator[dict]:
        cursor = None
        while True:
            page = self._json("GET", url, params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})})
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _decision_body(items, filter, decision, label, note) -> dict:
    body = {"items": items, "filter": filter, "decision": decision, "label": label, "note": note}
    return {k: v for k, v in body.items() if v is not None}


def _payload(data, *, name: str | None) -> tuple[str, Path | tuple[str, bytes]]:
    """``(file name, part)`` for what :meth:`Client.upload` was given."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise OptionError(f"no such file: {path}", field="data")
        return path.name, path
    if isinstance(data, bytes):
        return name or "dataset", (name or "dataset", data)
    if hasattr(data, "to_parquet"):  # a pandas DataFrame: Parquet keeps strings, categories and missing values
        buf = io.BytesIO()
        data.reset_index(drop=True).to_parquet(buf, index=False)
        filename = (name or "dataframe") + ".parquet"
        return filename, (filename, buf.getvalue())
    if isinstance(data, tuple) and len(data) == 2:
        import numpy as np

        buf = io.BytesIO()
        np.savez(buf, X=np.asarray(data[0]), y=np.asarray(data[1]))
        filename = (name or "arrays") + ".npz"
        return filename, (filename, buf.getvalue())
    raise OptionError(f"cannot upload a {type(data).__name__}: give a path, a DataFrame, (X, y) arrays or bytes",
                      field="data")
