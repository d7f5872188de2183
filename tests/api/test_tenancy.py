"""Tenancy through a real server with auth on, on SQLite and PostgreSQL: every dataset and audit
belongs to the key's tenant; another tenant gets 404 for it (exactly as for an id that does not
exist), sees none of it in lists, and cannot change or delete it; keys of one tenant share data."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from labelaudit.services.keys import create_api_key
from labelaudit.store.db import open_database
from tests.service_fixtures import npy_bytes, synthetic_pred_probs, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def service_settings(service_settings):
    """The shared settings with authentication on (the production shape)."""
    return service_settings.model_copy(update={"auth": "on"})


@pytest.fixture
def keys(service_settings):
    """Plain keys: two of tenant team-a (one named otherwise), one of team-b."""
    db = open_database(service_settings)
    try:
        return {"a": create_api_key(db, "team-a")[1], "a2": create_api_key(db, "ci-bot", tenant="team-a")[1],
                "b": create_api_key(db, "team-b")[1]}
    finally:
        db.dispose()


def _client(url: str, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def _upload_pred_probs(c: httpx.Client, seed: int) -> dict:
    probs, labels = synthetic_pred_probs(300, k=4, noise=0.1, seed=seed)[:2]
    r = c.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(probs.astype(np.float32))),
                                      "labels_file": ("l.npy", npy_bytes(labels))}, data={"format": "pred-probs"})
    assert r.status_code == 201, r.text
    return r.json()


def _not_found(r: httpx.Response) -> None:
    assert r.status_code == 404, (r.request.method, r.request.url, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["code"] == "not_found"


def test_other_tenants_get_404_for_everything(live_server, keys):
    a, a2, b = _client(live_server, keys["a"]), _client(live_server, keys["a2"]), _client(live_server, keys["b"])
    anonymous = _client(live_server, None)
    ds = _upload_pred_probs(a, seed=1)
    audit = a.post("/v1/audits", json={"dataset_id": ds["id"]})
    assert audit.status_code == 202, audit.text
    audit = audit.json()
    wait_for(lambda: a.get(f"/v1/audits/{audit['id']}").json()["status"] == "done", timeout=60)
    b_ds = _upload_pred_probs(b, seed=2)

    # the owner, and another key of the same tenant, see everything
    for c in (a, a2):
        assert c.get(f"/v1/datasets/{ds['id']}").status_code == 200
        assert [d["id"] for d in c.get("/v1/datasets").json()["items"]] == [ds["id"]]
        assert [x["id"] for x in c.get("/v1/audits").json()["items"]] == [audit["id"]]
        assert c.get(f"/v1/audits/{audit['id']}/issues").status_code == 200

    # another tenant: 404 everywhere, the same answer as for an id that never existed
    aid, did = audit["id"], ds["id"]
    reads = [f"/v1/datasets/{did}", f"/v1/audits/{aid}", f"/v1/audits/{aid}/summary", f"/v1/audits/{aid}/issues",
             f"/v1/audits/{aid}/classes", f"/v1/audits/{aid}/noise_matrix", f"/v1/audits/{aid}/histogram",
             f"/v1/audits/{aid}/examples/0", f"/v1/audits/{aid}/pred_probs", f"/v1/audits/{aid}/export",
             f"/v1/datasets/{did}/examples/0/image"]
    for path in reads:
        _not_found(b.get(path))
    ghost = b.get("/v1/datasets/ds_doesnotexist").json()
    assert ghost["status"] == 404 and ghost["errors"][0]["code"] == "not_found"
    _not_found(b.post(f"/v1/datasets/{did}/noise", json={"kind": "symmetric", "rate": 0.1, "seed": 0}))
    _not_found(b.post("/v1/audits", json={"dataset_id": did}))
    _not_found(b.post(f"/v1/audits/{aid}/cancel"))
    _not_found(b.delete(f"/v1/audits/{aid}"))
    _not_found(b.delete(f"/v1/datasets/{did}"))
    # comparing one's own audit with another tenant's is 404 on the other id
    b_audit = b.post("/v1/audits", json={"dataset_id": b_ds["id"]}).json()
    wait_for(lambda: b.get(f"/v1/audits/{b_audit['id']}").json()["status"] == "done", timeout=60)
    _not_found(b.get(f"/v1/audits/{b_audit['id']}/compare/{aid}"))
    assert [d["id"] for d in b.get("/v1/datasets").json()["items"]] == [b_ds["id"]]
    assert [x["id"] for x in b.get("/v1/audits").json()["items"]] == [b_audit["id"]]
    assert b.get("/v1/audits", params={"dataset_id": did}).json()["items"] == []

    # nothing of team-a was touched by team-b's attempts
    assert a.get(f"/v1/datasets/{did}").status_code == 200
    assert a.get(f"/v1/audits/{aid}").json()["status"] == "done"

    # no key: 401 everywhere under /v1; health stays open
    r = anonymous.get("/v1/datasets")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert anonymous.get("/healthz").status_code == 200

    # the owner can delete; then it is gone for the owner too
    assert a.delete(f"/v1/audits/{aid}").status_code == 204
    assert a.delete(f"/v1/datasets/{did}").status_code == 204
    _not_found(a2.get(f"/v1/datasets/{did}"))
    assert b.get(f"/v1/datasets/{b_ds['id']}").status_code == 200
