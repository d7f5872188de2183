"""Races between requests, through two real server processes on one database (SQLite and PostgreSQL), with
threads released together by a barrier, ``ROUNDS`` times each, asserting every outcome:

- tenant B uploads the content tenant A deletes at the same moment: B's dataset keeps its bytes;
- an audit is created while its dataset is deleted: (202, 409) or (404, 204), nothing else, and a 202's
  audit exists;
- concurrent deletes of one dataset (or audit): exactly one 204, the others 404;
- simultaneous uploads and audits against the storage and job quotas: no overshoot, no under-use;
- delete or cancel of a queued audit while a worker claims it: the delete is 409 exactly when the claim won;

never a 500. After each race, each tenant's ``/v1/usage`` equals the bytes of the distinct files its rows
refer to, and at the end ``labelaudit doctor``'s check finds no orphan and no dangling reference.
Figures in docs/reliability.md.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from bench.common import free_port
from labelaudit.services.doctor import check_store
from labelaudit.services.keys import create_api_key
from labelaudit.store import queue
from labelaudit.store.artifacts import artifact_store
from labelaudit.store.db import open_database
from labelaudit.store.models import AuditRecord, DatasetRecord
from tests.service_fixtures import npy_bytes, serving, service_env, synthetic_pred_probs

pytestmark = pytest.mark.slow

ROUNDS = 10
#: storage quota per tenant: room for five of the small uploads below (about 7.6 KB each), not six
QUOTA = 40_000
MAX_JOBS = 3


@pytest.fixture
def service_settings(service_settings):
    return service_settings.model_copy(update={"auth": "on", "max_storage_bytes_per_tenant": QUOTA,
                                               "max_active_jobs_per_tenant": MAX_JOBS})


@pytest.fixture
def servers(service_settings, tmp_path):
    """Two server processes (no embedded workers) on one database and data folder; yields their URLs."""
    first = service_env(service_settings, LABELAUDIT_PORT=free_port(), LABELAUDIT_WORKERS=0)
    second = {**first, "LABELAUDIT_PORT": str(free_port())}
    with serving(first, tmp_path / "one.log") as one, serving(second, tmp_path / "two.log") as two:
        yield one, two


def _body(seed: int) -> dict:
    probs, labels = synthetic_pred_probs(200, k=4, noise=0.1, seed=seed)[:2]
    return {"files": {"file": ("p.npy", npy_bytes(probs.astype(np.float32))),
                      "labels_file": ("l.npy", npy_bytes(labels))}, "data": {"format": "pred-probs"}}


def _together(*calls):
    """Run the calls in threads released at once (each after a small seeded jitter); their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(run, c) for c in calls]]


def _jitter(rng: random.Random, call):
    delay = rng.uniform(0, 0.02)

    def run():
        threading.Event().wait(delay)
        return call()
    return run


def _usage_matches_disk(db, settings, clients: dict) -> None:
    store = artifact_store(settings)
    with db.sessions() as s:
        for tenant, c in clients.items():
            digests = {d for (d,) in s.execute(select(DatasetRecord.artifact).where(DatasetRecord.tenant == tenant))}
            files = [store.path(d, "npz") for d in digests]
            digests = {d for (d,) in s.execute(select(AuditRecord.pred_probs_artifact).where(
                AuditRecord.tenant == tenant, AuditRecord.pred_probs_artifact.is_not(None)))}
            files += [store.path(d, "npy") for d in digests]
            on_disk = sum(f.stat().st_size for f in files)  # raises if a referenced file is missing
            assert c.get("/v1/usage").json()["stored_bytes"] == on_disk, tenant


def test_races(servers, service_settings):
    db = open_database(service_settings)
    keys = {t: create_api_key(db, t)[1] for t in ("a", "b", "c")}
    one, two = servers
    clients = {t: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[t]}"}, timeout=60)
               for t, url in (("a", one), ("b", two), ("c", one))}
    a, b, c = clients["a"], clients["b"], clients["c"]
    # the same tenant through the other server: its requests race across processes
    a2 = httpx.Client(base_url=two, headers={"Authorization": f"Bearer {keys['a']}"}, timeout=60)
    rng = random.Random(20)
    statuses: Counter = Counter()

    def seen(*responses):
        for r in responses:
            statuses[r.status_code] += 1
            assert r.status_code < 500 or r.status_code == 507, (r.request.method, r.request.url, r.status_code, r.text)
        return responses

    body = _body(seed=1)
    try:
        # 1. B uploads X while A deletes its copy of X
        for _ in range(ROUNDS):
            mine = a.post("/v1/datasets", **body)
            assert mine.status_code == 201, mine.text
            up, gone = seen(*_together(_jitter(rng, lambda: b.post("/v1/datasets", **body)),
                                       _jitter(rng, lambda: a2.delete(f"/v1/datasets/{mine.json()['id']}"))))
            assert (up.status_code, gone.status_code) == (201, 204)
            theirs = up.json()["id"]
            derived = seen(b.post(f"/v1/datasets/{theirs}/noise", json={"kind": "symmetric", "rate": 0.1}))[0]
            assert derived.status_code == 201, derived.text  # its bytes are there
            queued = seen(b.post("/v1/audits", json={"dataset_id": theirs}))[0]
            assert queued.status_code == 202, queued.text
            _usage_matches_disk(db, service_settings, clients)
            assert b.post(f"/v1/audits/{queued.json()['id']}/cancel").status_code == 200
            for ds in (derived.json()["id"], theirs):
                assert b.delete(f"/v1/datasets/{ds}").status_code == 204
        _usage_matches_disk(db, service_settings, clients)

        # 2. an audit created while its dataset is deleted
        outcomes: Counter = Counter()
        for _ in range(ROUNDS):
            ds = a.post("/v1/datasets", **body).json()["id"]
            made, gone = seen(*_together(_jitter(rng, lambda: a.post("/v1/audits", json={"dataset_id": ds})),
                                         _jitter(rng, lambda: a2.delete(f"/v1/datasets/{ds}"))))
            pair = (made.status_code, gone.status_code)
            outcomes[pair] += 1
            assert pair in ((202, 409), (404, 204)), (pair, made.text, gone.text)
            if made.status_code == 202:
                audit = made.json()["id"]
                assert a.get(f"/v1/audits/{audit}").status_code == 200
                assert a.post(f"/v1/audits/{audit}/cancel").status_code == 200
                assert a.delete(f"/v1/datasets/{ds}").status_code == 204
        _usage_matches_disk(db, service_settings, clients)

        # 3. six deletes of one dataset, then of one audit: exactly one 204
        for _ in range(ROUNDS):
            ds = a.post("/v1/datasets", **body).json()["id"]
            audit = a.post("/v1/audits", json={"dataset_id": ds}).json()["id"]
            a.post(f"/v1/audits/{audit}/cancel")
            for url in (f"/v1/audits/{audit}", f"/v1/datasets/{ds}"):
                codes = sorted(r.status_code for r in seen(*_together(
                    *[_jitter(rng, lambda u=url, k=k: (a, a2)[k % 2].delete(u)) for k in range(6)])))
                assert codes == [204] + [404] * 5, (url, codes)
        _usage_matches_disk(db, service_settings, clients)

        # 4. storage quota: eight different uploads at once; exactly as many fit as the quota holds
        for r in range(ROUNDS // 2):
            ups = seen(*_together(*[_jitter(rng, lambda s=s: c.post(
                "/v1/datasets", **_body(seed=100 + 10 * r + s))) for s in range(8)]))
            made = [u for u in ups if u.status_code == 201]
            assert {u.status_code for u in ups} <= {201, 507}
            used = c.get("/v1/usage").json()["stored_bytes"]
            size = used // len(made)
            assert used <= QUOTA < used + size, (used, len(made))
            _usage_matches_disk(db, service_settings, clients)
            for u in made:
                assert c.delete(f"/v1/datasets/{u.json()['id']}").status_code == 204
        # ... and the job quota: eight audits at once, exactly MAX_JOBS accepted
        ds = c.post("/v1/datasets", **body).json()["id"]
        for _ in range(ROUNDS // 2):
            made = seen(*_together(*[_jitter(rng, lambda: c.post("/v1/audits", json={"dataset_id": ds}))
                                     for _ in range(8)]))
            assert sorted(m.status_code for m in made) == [202] * MAX_JOBS + [429] * (8 - MAX_JOBS)
            for m in made:
                if m.status_code == 202:
                    c.post(f"/v1/audits/{m.json()['id']}/cancel")

        # 5. delete / cancel of a queued audit while a worker claims it (the worker on the test's own connection)
        claims: Counter = Counter()
        for k in range(ROUNDS):
            audit = c.post("/v1/audits", json={"dataset_id": ds}).json()["id"]
            verb = "delete" if k % 2 == 0 else "cancel"
            ask = (lambda: c.delete(f"/v1/audits/{audit}")) if verb == "delete" else \
                (lambda: c.post(f"/v1/audits/{audit}/cancel"))
            answer, job = _together(_jitter(rng, ask), _jitter(rng, lambda: queue.claim(db, "race-worker")))
            seen(answer)
            claimed = job is not None and job.id == audit
            claims[(verb, claimed)] += 1
            if verb == "delete":
                assert answer.status_code == (409 if claimed else 204), (claimed, answer.text)
            else:
                assert answer.status_code == 200
                assert answer.json()["status"] == ("running" if claimed else "cancelled")
                assert answer.json()["cancel_requested"]
            if claimed:
                assert queue.fail(db, audit, "race-worker", {"code": "test", "message": "race", "field": None})
            else:
                assert job is None  # nothing else was queued
        _usage_matches_disk(db, service_settings, clients)
        report = check_store(db, artifact_store(service_settings))
        assert report.ok, report.to_dict()
        print(f"\nraces on {db.engine.dialect.name}: statuses {dict(statuses)}; create-vs-delete {dict(outcomes)}; "
              f"claims {dict(claims)}")
    finally:
        for cl in (*clients.values(), a2):
            cl.close()
        db.dispose()
