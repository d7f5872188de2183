"""The cheap request paths answer exactly what the record says, on SQLite and PostgreSQL: the class table and
summary served as stored JSON, the audit read serialised once, the issue filters read in one validation, the hot
reads on a DBAPI cursor (which survive a dropped PostgreSQL connection) and on a thread pool of their own
(concurrent requests each get their own answer)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import psycopg
import pytest
from sqlalchemy import func, select

from labelaudit.api.audits import audit_out
from labelaudit.api.hot_reads import HOT_READ_THREADS, run_hot_read
from labelaudit.api.dashboard_schemas import ClassTable, IssuePage
from labelaudit.api.schemas import AuditOut
from labelaudit.services.results import aggregates_of
from labelaudit.store import queries
from labelaudit.store.models import AuditRecord
from labelaudit.store.reads import Statement, reader
from tests.service_fixtures import _pg_admin_url, npy_bytes, run_jobs, synthetic_pred_probs


def _audit(client, app, n=400, k=4):
    P, y = synthetic_pred_probs(n, k=k, noise=0.08)
    ds = client.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(P)), "labels_file": ("l.npy", npy_bytes(y))})
    audit = client.post("/v1/audits", json={"dataset_id": ds.json()["id"]}).json()
    return audit["id"]


def test_stored_json_equals_the_record_and_vanishes_with_it(client, app):
    aid = _audit(client, app)
    assert client.get(f"/v1/audits/{aid}/classes").status_code == 409  # not done: nothing cached, nothing served
    run_jobs(app)
    with app.state.db.sessions() as s:
        rec = s.get(AuditRecord, aid)
        expected_classes = {"audit_id": aid, "classes": aggregates_of(s, rec)["classes"]}
        expected_summary = rec.summary
    for _ in range(2):  # the first read fills the per-process view, the second is served from it
        classes = client.get(f"/v1/audits/{aid}/classes")
        summary = client.get(f"/v1/audits/{aid}/summary")
        assert classes.headers["content-type"] == summary.headers["content-type"] == "application/json"
        assert classes.json() == expected_classes and ClassTable.model_validate(classes.json())
        assert summary.json() == expected_summary and summary.json()["num_examples"] == 400
    assert client.delete(f"/v1/audits/{aid}").status_code == 204
    for path in ("classes", "summary", "issues"):  # the cached view never outlives the record
        r = client.get(f"/v1/audits/{aid}/{path}")
        assert r.status_code == 404 and r.json()["errors"][0]["field"] == "audit_id"


def test_the_audit_read_is_the_record_in_its_schema(client, app):
    aid = _audit(client, app)
    for stage in ("queued", "done"):
        if stage == "done":
            run_jobs(app)
        got = client.get(f"/v1/audits/{aid}")
        with app.state.db.sessions() as s:
            expected = audit_out(s.get(AuditRecord, aid)).model_dump(mode="json")
        assert got.status_code == 200 and got.headers["content-type"] == "application/json"
        assert got.json() == expected and AuditOut.model_validate(got.json()).status == stage
    assert client.get("/v1/audits/au_missing").status_code == 404
    spec = client.get("/openapi.json").json()["paths"]
    schema = spec["/v1/audits/{audit_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/AuditOut"}  # still documented by the response model


def test_issue_pages_keep_their_schema_and_their_filters_validate_as_parameters(client, app):
    aid = _audit(client, app)
    run_jobs(app)
    page = client.get(f"/v1/audits/{aid}/issues", params={"limit": 7, "given_label": 1, "is_issue": "false"}).json()
    assert IssuePage.model_validate(page) and len(page["items"]) == 7
    assert all(r["given_label"] == 1 and r["is_issue"] is False for r in page["items"])
    bad = client.get(f"/v1/audits/{aid}/issues", params={"limit": 0, "sort": "size", "is_issue": "maybe"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert {(e["field"], e["code"]) for e in bad.json()["errors"]} == {
        ("limit", "greater_than_equal"), ("sort", "literal_error"), ("is_issue", "bool_parsing")}
    params = {p["name"]: p for p in
              client.get("/openapi.json").json()["paths"]["/v1/audits/{audit_id}/issues"]["get"]["parameters"]}
    assert set(params) == {"audit_id", "limit", "cursor", "given_label", "suggested_label", "only_issues",
                           "is_issue", "min_score", "max_score", "sort"}
    assert params["limit"]["in"] == "query" and params["limit"]["schema"]["maximum"] == 1000
    assert params["sort"]["schema"]["enum"] == ["rank", "-rank", "score", "-score"]


def test_hot_reads_run_on_their_own_few_threads_and_answer_each_caller():
    active, peak, lock = 0, 0, threading.Lock()

    def work(i: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with lock:
            active -= 1
        return i * i

    async def main() -> dict[int, int]:
        answers: dict[int, int] = {}

        async def one(i: int) -> None:
            answers[i] = await run_hot_read(work, i)

        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(one, i)
        return answers

    assert anyio.run(main) == {i: i * i for i in range(12)}
    assert peak == HOT_READ_THREADS


def test_concurrent_dashboard_requests_each_get_their_own_answer(client, app):
    aid = _audit(client, app, n=600, k=5)
    run_jobs(app)
    requests = [(f"/v1/audits/{aid}/issues", {"limit": 9, "given_label": g, "suggested_label": s})
                for g in range(5) for s in range(5)]
    requests += [(f"/v1/audits/{aid}/classes", {}), (f"/v1/audits/{aid}", {}), (f"/v1/audits/{aid}/summary", {})]
    expected = [client.get(path, params=params).json() for path, params in requests]
    with ThreadPoolExecutor(16) as pool:  # all at once, several times over, in shuffled order
        order = [i for _ in range(4) for i in range(len(requests))][::-1]
        got = list(pool.map(lambda i: (i, client.get(requests[i][0], params=requests[i][1])), order))
    for i, r in got:
        assert r.status_code == 200 and r.json() == expected[i], requests[i]


def test_score_range_pages_check_the_audit_before_reading_its_rows(client, app):
    aid = _audit(client, app)
    url, params = f"/v1/audits/{aid}/issues", {"min_score": 0.2, "max_score": 0.8, "limit": 1000}
    assert client.get(url, params=params).status_code == 409  # queued: no rows yet
    assert client.get("/v1/audits/au_0000000000000000000/issues", params=params).status_code == 404
    run_jobs(app)
    every = client.get(url, params={"limit": 1000}).json()["items"]
    for lo, hi in ((0.2, 0.8), (0.9, None), (None, 0.1), (1.0, None), (None, 0.0), (0.7, 0.3)):
        page = client.get(url, params={k: v for k, v in (("min_score", lo), ("max_score", hi), ("limit", 1000))
                                       if v is not None}).json()
        if lo is not None and hi is not None and lo > hi:
            assert page["status"] == 422 and page["errors"][0]["field"] == "min_score"
            continue
        want = [r for r in every
                if (lo is None or r["quality_score"] >= lo) and (hi is None or r["quality_score"] <= hi)]
        assert page["items"] == want and page["total"] == len(want)


def test_hot_reads_retry_once_on_a_dropped_connection(app, backend):
    if backend != "postgres":
        pytest.skip("a dropped server connection is a PostgreSQL case")
    db = app.state.db
    pid = Statement(select(func.pg_backend_pid()))
    with reader(db.read_engine) as r:
        first = r.scalar(pid, {})
        assert queries.audit_status(r, audit_id="au_none") is None
    with psycopg.connect(_pg_admin_url(), autocommit=True) as admin:  # the server drops the pooled connection
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    with reader(db.read_engine) as r:
        assert r.scalar(pid, {}) != first  # answered on a new connection, no error
