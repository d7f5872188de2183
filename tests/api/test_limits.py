"""Limits through a real server and database: per-tenant job quota (429) and storage quota (507),
dataset limits (rows, classes, values per example: 422), upload size (413 before the body is read)
and request time limits (408 for a stalled upload, 503 for a slow answer)."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlparse

import httpx
import pytest

from labelaudit.services.keys import create_api_key
from labelaudit.store.db import open_database
from tests.service_fixtures import csv_bytes, npy_bytes, synthetic_pred_probs

pytestmark = pytest.mark.slow

ROWS, K = 300, 4
#: fits a 300 x 4 dataset with a few audits; a 400 x 5 one (float32 pred_probs + int64 labels: about 11.2 kB)
#: once, not twice
STORAGE_QUOTA = 20_000


@pytest.fixture
def live_workers() -> int:
    return 0  # audits stay queued: the job quota is what is under test


@pytest.fixture
def service_settings(service_settings):
    return service_settings.model_copy(update={
        "auth": "on", "max_active_jobs_per_tenant": 2, "max_storage_bytes_per_tenant": STORAGE_QUOTA,
        "max_rows": 400, "max_classes": 5, "max_values_per_example": 64, "max_upload_bytes": 200_000,
        "upload_timeout_seconds": 4.0})  # short for the stalled-upload test, long enough for a loaded CI machine


@pytest.fixture
def clients(service_settings, live_server):
    db = open_database(service_settings)
    try:
        keys = {t: create_api_key(db, t)[1] for t in ("team-a", "team-b")}
    finally:
        db.dispose()
    made = {t: httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {k}"}, timeout=30)
            for t, k in keys.items()}
    yield made
    for c in made.values():
        c.close()


def upload_pred_probs(c: httpx.Client, *, rows: int = ROWS, k: int = K, seed: int = 0) -> httpx.Response:
    probs, labels = synthetic_pred_probs(rows, k=k, noise=0.1, seed=seed)[:2]
    return c.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(probs)), "labels_file": ("l.npy", npy_bytes(labels))},
                  data={"format": "pred-probs"})


def problem_code(r: httpx.Response) -> tuple[int, str, str | None]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body = r.json()
    return r.status_code, body["errors"][0]["code"], body["errors"][0]["field"]


def test_job_quota_is_429_per_tenant(clients):
    a, b = clients["team-a"], clients["team-b"]
    ds_a, ds_b = upload_pred_probs(a).json(), upload_pred_probs(b).json()
    first = [a.post("/v1/audits", json={"dataset_id": ds_a["id"], "seed": s}) for s in range(2)]
    assert [r.status_code for r in first] == [202, 202]
    over = a.post("/v1/audits", json={"dataset_id": ds_a["id"], "seed": 9})
    assert problem_code(over) == (429, "too_many_jobs", "dataset_id")
    assert int(over.headers["retry-after"]) > 0 and "limit is 2" in over.json()["detail"]
    assert len(a.get("/v1/audits").json()["items"]) == 2  # the refused one left no record
    # the quota is the tenant's: team-b is not held back by team-a's jobs
    assert b.post("/v1/audits", json={"dataset_id": ds_b["id"]}).status_code == 202
    # cancelling one frees a slot
    assert a.post(f"/v1/audits/{first[0].json()['id']}/cancel").json()["status"] == "cancelled"
    assert a.post("/v1/audits", json={"dataset_id": ds_a["id"], "seed": 9}).status_code == 202
    usage = a.get("/v1/usage").json()
    assert usage["tenant"] == "team-a" and usage["active_jobs"] == 2 and usage["limits"]["max_active_jobs"] == 2


def test_storage_quota_is_507_and_deleting_frees_it(clients, service_settings):
    a, b = clients["team-a"], clients["team-b"]
    first = upload_pred_probs(a, rows=400, k=5)
    assert first.status_code == 201, first.text
    used = a.get("/v1/usage").json()["stored_bytes"]
    assert 0 < used <= STORAGE_QUOTA
    artifacts = sorted((service_settings.data_dir / "artifacts").rglob("*.npz"))
    second = upload_pred_probs(a, rows=400, k=5, seed=1)
    assert problem_code(second) == (507, "storage_quota_exceeded", "file")
    assert str(STORAGE_QUOTA) in second.json()["detail"]
    noisy = a.post(f"/v1/datasets/{first.json()['id']}/noise", json={"kind": "symmetric", "rate": 0.1, "seed": 0})
    assert problem_code(noisy) == (507, "storage_quota_exceeded", "file")
    # nothing half-stored: one dataset, the same artifacts, no upload leftovers
    assert len(a.get("/v1/datasets").json()["items"]) == 1
    assert sorted((service_settings.data_dir / "artifacts").rglob("*.npz")) == artifacts
    assert not any((service_settings.data_dir / "tmp").iterdir())
    # another tenant has its own quota
    assert upload_pred_probs(b, rows=400, k=5, seed=1).status_code == 201
    assert a.delete(f"/v1/datasets/{first.json()['id']}").status_code == 204
    assert a.get("/v1/usage").json()["stored_bytes"] == 0
    assert upload_pred_probs(a, rows=400, k=5, seed=1).status_code == 201


def test_dataset_limits_are_422_naming_the_limit(clients):
    a = clients["team-a"]
    assert problem_code(upload_pred_probs(a, rows=450)) == (422, "too_many_rows", "rows")
    assert problem_code(upload_pred_probs(a, k=6)) == (422, "too_many_classes", "labels")
    wide = "\n".join([",".join(f"f{i}" for i in range(65)) + ",label"]
                     + [",".join(str((i + j) % 7) for j in range(65)) + f",{i % 2}" for i in range(40)]).encode()
    r = a.post("/v1/datasets", files={"file": ("wide.csv", wide)})
    assert problem_code(r) == (422, "example_too_large", "file") and "65 features per row" in r.json()["detail"]
    assert upload_pred_probs(a).status_code == 201  # within every limit
    assert a.get("/v1/usage").json()["datasets"] == 1


def _raw(url: str, request: bytes, *, then_wait: float = 0.0) -> bytes:
    """Send ``request`` on a fresh socket (and nothing more), wait, and read what the server answers."""
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(request)
        time.sleep(then_wait)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and b'"request_id"' in b"".join(chunks):
                break
        return b"".join(chunks)


def _headers(url: str, key: str, length: int, boundary: str = "B") -> bytes:
    return (f"POST /v1/datasets HTTP/1.1\r\nHost: {urlparse(url).netloc}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n").encode()


def test_oversized_upload_is_413_before_the_body_is_sent(clients, live_server):
    key = clients["team-a"].headers["authorization"].split()[1]
    answer = _raw(live_server, _headers(live_server, key, 10 ** 12))  # headers only: no body ever follows
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"too_large"' in answer


def test_stalled_upload_is_408_and_leaves_nothing(clients, live_server, service_settings):
    key = clients["team-a"].headers["authorization"].split()[1]
    part = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n\r\n"
            + csv_bytes(50)[:500])
    answer = _raw(live_server, _headers(live_server, key, 100_000) + part, then_wait=0.5)  # then it stalls
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b'"request_timeout"' in answer
    assert clients["team-a"].get("/v1/datasets").json()["items"] == []
    assert not any((service_settings.data_dir / "tmp").iterdir())
    metrics = httpx.get(live_server + "/metrics", headers={"Authorization": f"Bearer {key}"}).text  # auth is on
    assert 'labelaudit_errors_total{code="request_timeout",status="408"} 1.0' in metrics


def test_slow_answer_is_503_and_a_started_response_is_not_cut():
    """The middleware itself, around a toy app whose handler is too slow or streams slowly."""
    from labelaudit.api.timeouts import TimeoutMiddleware

    async def slow_app(scope, receive, send):
        await receive()
        if scope["path"] == "/slow":
            await asyncio.sleep(5)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for _ in range(3):  # a streamed body that takes longer than the limit in all
            await asyncio.sleep(0.15)
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def call(path):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        app = TimeoutMiddleware(slow_app, request_seconds=0.3, upload_seconds=10)
        await app({"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b"", "state": {}},
                  receive, send)
        return sent

    slow = asyncio.run(call("/slow"))
    assert slow[0]["status"] == 503 and (b"retry-after", b"5") in slow[0]["headers"]
    assert b'"server_timeout"' in slow[1]["body"]
    streamed = asyncio.run(call("/stream"))
    assert streamed[0]["status"] == 200 and b"".join(m.get("body", b"") for m in streamed[1:]) == b"xxx"
