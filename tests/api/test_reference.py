"""``reference_dataset_id`` on ``POST /v1/audits``, on SQLite and PostgreSQL, with authentication on: the
reference trains in every fold, is never ranked, belongs to the same tenant, cannot be deleted while an audit
uses it, and a reference that does not fit is refused naming the field."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from labelaudit.services.keys import create_api_key
from labelaudit.store.db import open_database
from tests.service_fixtures import digits_arrays, npy_bytes, run_jobs, synthetic_pred_probs


@pytest.fixture
def service_settings(service_settings):
    return service_settings.model_copy(update={"auth": "on"})


@pytest.fixture
def tenants(service_settings):
    db = open_database(service_settings)
    try:
        return {"a": {"Authorization": f"Bearer {create_api_key(db, 'team-a')[1]}"},
                "b": {"Authorization": f"Bearer {create_api_key(db, 'team-b')[1]}"}}
    finally:
        db.dispose()


def table_csv(rows: slice, *, extra: list[str] | None = None, rename: dict | None = None) -> bytes:
    """Digits ``rows`` as CSV (``p0``..``p63``, ``label``), with an optional ``colour`` column and labels renamed."""
    X, y = digits_arrays(1000)
    X, y = X[rows], y[rows]
    head = [f"p{i}" for i in range(64)] + (["colour"] if extra else []) + ["label"]
    lines = [",".join(head)]
    for i, (row, label) in enumerate(zip(X, y)):
        cells = [f"{v:g}" for v in row] + ([extra[i % len(extra)]] if extra else [])
        lines.append(",".join(cells + [str((rename or {}).get(int(label), int(label)))]))
    return ("\n".join(lines) + "\n").encode()


PIXELS = ",".join(f"p{i}" for i in range(64))


def upload(client, headers, data: bytes, name="t.csv", form: dict | None = None, **files) -> str:
    r = client.post("/v1/datasets", files={"file": (name, data), **files}, data=form or {}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def problem(r, status: int, field: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    err = r.json()["errors"][0]
    assert err["field"] == field, r.json()
    return err


def test_audit_with_a_reference(client: TestClient, app, tenants):
    a = tenants["a"]
    # pixels blank in one part are left out of its columns: the reference takes those it lacks as missing values
    audited = upload(client, a, table_csv(slice(0, 200)))
    reference = upload(client, a, table_csv(slice(200, 700)))
    columns = {c["name"]: c for c in client.get(f"/v1/datasets/{reference}", headers=a).json()["columns"]}
    assert any(c["reason"] == "constant" for c in columns.values())
    r = client.post("/v1/audits", json={"dataset_id": audited, "reference_dataset_id": reference,
                                        "backbone": "logreg", "folds": 3}, headers=a)
    assert r.status_code == 202, r.text
    audit = r.json()
    assert audit["options"]["reference_dataset_id"] == reference
    # in use by a queued audit: the reference stays
    problem(client.delete(f"/v1/datasets/{reference}", headers=a), 409, "dataset_id")
    assert run_jobs(app) == 1
    done = client.get(f"/v1/audits/{audit['id']}", headers=a).json()
    assert done["status"] == "done", done
    assert done["summary"]["num_examples"] == 200 and done["summary"]["reference_examples"] == 500
    rows = client.get(f"/v1/audits/{audit['id']}/issues", params={"limit": 1000}, headers=a).json()["items"]
    assert sorted(row["index"] for row in rows) == list(range(200))
    # once it is done the reference may go; the audit keeps naming it
    assert client.delete(f"/v1/datasets/{reference}", headers=a).status_code == 204
    again = client.get(f"/v1/audits/{audit['id']}", headers=a).json()
    assert again["status"] == "done" and again["options"]["reference_dataset_id"] == reference
    plain = client.post("/v1/audits", json={"dataset_id": audited, "backbone": "logreg", "folds": 3}, headers=a)
    assert "reference_dataset_id" not in plain.json()["options"]


def test_a_reference_that_is_missing_or_does_not_fit_is_refused(client: TestClient, tenants):
    a, b = tenants["a"], tenants["b"]
    audited = upload(client, a, table_csv(slice(0, 200)), form={"features": PIXELS})

    def post(reference, headers=a):
        return client.post("/v1/audits", json={"dataset_id": audited, "reference_dataset_id": reference,
                                              "backbone": "logreg", "folds": 3}, headers=headers)

    assert problem(post("ds_missing"), 404, "reference_dataset_id")["code"] == "not_found"
    others = upload(client, b, table_csv(slice(200, 400)), form={"features": PIXELS})  # another tenant's: as if it did not exist
    assert problem(post(others), 404, "reference_dataset_id")["code"] == "not_found"
    assert problem(post(audited), 422, "reference_dataset_id")["code"] == "reference_mismatch"
    renamed = upload(client, a, table_csv(slice(200, 400), rename={3: "three"}), form={"features": PIXELS})
    err = problem(post(renamed), 422, "reference_dataset_id")
    assert err["code"] == "reference_classes" and "three" in err["message"]
    probs, labels = synthetic_pred_probs(300, k=10, noise=0.1)[:2]
    pp = upload(client, a, npy_bytes(probs.astype(np.float32)), name="p_pyx.npy",
                labels_file=("p_labels.npy", npy_bytes(labels)))
    assert problem(post(pp), 422, "reference_dataset_id")["code"] == "reference_pred_probs"
    narrow = upload(client, a, b"p0,p1,label\n" + b"".join(f"{i},{i % 3},{i % 10}\n".encode() for i in range(60)))
    assert problem(post(narrow), 422, "reference_dataset_id")["code"] == "reference_mismatch"
    assert client.get("/v1/audits", headers=a).json()["items"] == []  # nothing half-written


def test_a_reference_found_unfit_at_run_time_fails_the_audit_naming_the_field(client: TestClient, app, tenants):
    a = tenants["a"]
    form = {"features": PIXELS + ",colour"}
    audited = upload(client, a, table_csv(slice(0, 200), extra=["red", "blue", "green"]), form=form)  # categories
    reference = upload(client, a, table_csv(slice(200, 400), extra=["1", "2", "3.5"]), form=form)  # numbers
    r = client.post("/v1/audits", json={"dataset_id": audited, "reference_dataset_id": reference,
                                        "backbone": "logreg", "folds": 3}, headers=a)
    assert r.status_code == 202, r.text
    assert run_jobs(app) == 1
    failed = client.get(f"/v1/audits/{r.json()['id']}", headers=a).json()
    assert failed["status"] == "failed" and failed["error"]["field"] == "reference_dataset_id"
    assert "colour" in failed["error"]["message"]
    # a failed audit no longer holds its reference
    assert client.delete(f"/v1/datasets/{reference}", headers=a).status_code == 204
