"""Deleting a dataset removes its record, its audits, their rows and the artifacts no one else
refers to, and nothing else: not a twin dataset sharing its content-addressed artifact, not
another dataset's audits, not a derived child (which keeps its data and loses only its parent)."""

from __future__ import annotations

from sqlalchemy import func, select

from labelaudit.store import queries
from labelaudit.store.models import AuditRecord, DatasetRecord
from tests.service_fixtures import csv_bytes, npy_bytes, run_jobs, synthetic_pred_probs


def _files(settings, ext: str) -> set:
    return {p.name for p in (settings.data_dir / "artifacts").rglob(f"*.{ext}")}


def _rows(app, audit_id: str) -> int:
    with app.state.db.sessions() as s:
        return queries.count_rows(s, audit_id=audit_id)


def _count(app, model, **where) -> int:
    with app.state.db.sessions() as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.scalar(q)


def test_delete_removes_only_what_belongs_to_the_dataset(client, app):
    settings = app.state.settings
    body = csv_bytes(120)
    victim = client.post("/v1/datasets", files={"file": ("a.csv", body)}).json()
    twin = client.post("/v1/datasets", files={"file": ("b.csv", body)}).json()  # same content, same artifact
    probs, labels = synthetic_pred_probs(200, k=3, seed=4)[:2]
    other = client.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(probs)),
                                               "labels_file": ("l.npy", npy_bytes(labels))},
                        data={"format": "pred-probs"}).json()
    child = client.post(f"/v1/datasets/{victim['id']}/noise", json={"kind": "symmetric", "rate": 0.2,
                                                                     "seed": 1}).json()
    audits = {name: client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg", "folds": 2,
                                                     "seed": 0}).json()
              for name, ds in (("victim", victim), ("twin", twin), ("other", other), ("child", child))}
    assert run_jobs(app) == 4
    datasets_before, pred_probs_before = _files(settings, "npz"), _files(settings, "npy")
    assert len(datasets_before) == 3  # victim and twin share one
    with app.state.db.sessions() as s:
        victim_npy = s.get(AuditRecord, audits["victim"]["id"]).pred_probs_artifact
        shared_npy = s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.pred_probs_artifact == victim_npy)) > 1

    assert client.delete(f"/v1/datasets/{victim['id']}").status_code == 204

    assert client.get(f"/v1/datasets/{victim['id']}").status_code == 404
    assert client.get(f"/v1/audits/{audits['victim']['id']}").status_code == 404
    assert _rows(app, audits["victim"]["id"]) == 0
    for name in ("twin", "other", "child"):
        a = client.get(f"/v1/audits/{audits[name]['id']}").json()
        assert a["status"] == "done", name
        rows = {"twin": 120, "other": 200, "child": 120}[name]
        assert _rows(app, a["id"]) == rows, name
        assert len(client.get(f"/v1/audits/{a['id']}/issues", params={"limit": 1000}).json()["items"]) == rows
    assert client.get(f"/v1/datasets/{child['id']}").json()["parent_id"] is None
    # the shared artifact stays (the twin still needs it); the child's and the other's too
    assert _files(settings, "npz") == datasets_before
    assert client.post("/v1/audits", json={"dataset_id": twin["id"], "backbone": "logreg",
                                           "folds": 2}).status_code == 202
    # the victim audit's pred_probs went, unless another audit holds identical ones; all others stay
    assert _files(settings, "npy") == pred_probs_before - ({f"{victim_npy}.npy"} if not shared_npy else set())
    assert _count(app, DatasetRecord) == 3 and _count(app, AuditRecord) == 4

    # deleting the twin too leaves the artifact unreferenced: now it goes
    with app.state.db.sessions() as s:
        digest = s.get(DatasetRecord, twin["id"]).artifact
    for a in client.get("/v1/audits", params={"dataset_id": twin["id"]}).json()["items"]:
        if a["status"] == "queued":
            client.post(f"/v1/audits/{a['id']}/cancel")
    assert client.delete(f"/v1/datasets/{twin['id']}").status_code == 204
    assert f"{digest}.npz" not in _files(settings, "npz")
    assert _count(app, DatasetRecord) == 2
