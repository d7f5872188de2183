"""Observability: JSON log lines with request ids, X-Request-ID, labelaudit_errors_total, job events.

The first two tests run the real server (uvicorn subprocess, one embedded worker) and read
its captured stdout/stderr; the others check what a subprocess cannot show cheaply
(an unhandled exception, the stale-requeue and failure events) in process.
"""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from labelaudit import logs
from labelaudit.api.request_log import HEADER
from labelaudit.store import queue
from labelaudit.store.models import AuditRecord, utcnow
from tests.service_fixtures import csv_bytes, run_jobs, synthetic_pred_probs, wait_for

GENERATED = re.compile(r"[0-9a-f]{32}")


def log_lines(path) -> list[dict]:
    """Every line of the server's log, parsed; fails on a line that is not one JSON object."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            doc = json.loads(line)
            assert isinstance(doc, dict), line
            assert {"timestamp", "level", "logger", "message"} <= doc.keys(), line
            out.append(doc)
    return out


def errors_total(metrics_text: str) -> dict[tuple[str, str], float]:
    return {(s.labels["code"], s.labels["status"]): s.value
            for fam in text_string_to_metric_families(metrics_text) if fam.name == "labelaudit_errors"
            for s in fam.samples if s.name == "labelaudit_errors_total"}


def test_request_ids_errors_and_json_logs_on_a_live_server(live_server, tmp_path):
    with httpx.Client(base_url=live_server, timeout=30) as c:
        assert c.get("/healthz", headers={HEADER: "client-req.42_A"}).headers[HEADER] == "client-req.42_A"
        replaced = []
        for bad in ("has spaces!", "x" * 129, "ünïcode".encode()):
            rid = c.get("/healthz", headers={HEADER: bad}).headers[HEADER]
            assert rid != bad and GENERATED.fullmatch(rid)
            replaced.append(rid)
        fresh = c.get("/healthz").headers[HEADER]
        assert GENERATED.fullmatch(fresh) and fresh not in replaced

        missing = c.get("/v1/audits/au_missing", headers={HEADER: "trace-404"})
        assert missing.status_code == 404 and missing.headers[HEADER] == "trace-404"
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json()["request_id"] == "trace-404" and missing.json()["errors"][0]["code"] == "not_found"
        invalid = c.post("/v1/audits", json={"dataset_id": "ds_x", "folds": 1})
        assert invalid.status_code == 422 and invalid.json()["request_id"] == invalid.headers[HEADER]
        assert c.get("/no/such/route").status_code == 404

        counts = errors_total(c.get("/metrics").text)
        assert counts == {("not_found", "404"): 2.0, ("validation_error", "422"): 1.0}

    def access_line(rid):
        return next((d for d in log_lines(tmp_path / "server.log")
                     if d["logger"] == "labelaudit.access" and d.get("request_id") == rid), None)

    line = wait_for(lambda: access_line("trace-404"), timeout=10)
    assert line["method"] == "GET" and line["path"] == "/v1/audits/au_missing" and line["status"] == 404
    assert line["level"] == "info" and line["duration_ms"] >= 0
    assert access_line(replaced[0])["path"] == "/healthz"
    assert access_line(invalid.headers[HEADER])["status"] == 422
    lines = log_lines(tmp_path / "server.log")
    access = [d for d in lines if d["logger"] == "labelaudit.access"]
    assert len(access) >= 9 and all(d.get("request_id") for d in access)
    assert not [d for d in lines if d["logger"] == "uvicorn.access"]  # replaced by our own access line
    assert any(d["logger"] == "uvicorn.error" and "Uvicorn running" in d["message"] for d in lines)


def test_job_events_of_a_finished_audit_on_a_live_server(live_server, tmp_path):
    with httpx.Client(base_url=live_server, timeout=30) as c:
        ds = c.post("/v1/datasets", files={"file": ("d.csv", csv_bytes(150))}).json()
        created = c.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg", "folds": 3})
        assert created.status_code == 202, created.text
        audit_id = created.json()["id"]
        wait_for(lambda: c.get(f"/v1/audits/{audit_id}").json()["status"] == "done", timeout=60, interval=0.2)

    def events():
        found = [d for d in log_lines(tmp_path / "server.log") if d.get("audit_id") == audit_id and d.get("event")]
        return found if any(d["event"] == "finished" for d in found) else None

    found = wait_for(events, timeout=10)
    kinds = [d["event"] for d in found]
    assert kinds[0] == "claimed" and kinds[-1] == "finished", kinds
    assert [d["stage"] for d in found if d["event"] == "stage"] == ["loading", "training", "ranking", "storing"]
    assert found[0]["attempt"] == 1 and found[-1]["duration_ms"] > 0
    worker = {d["worker_id"] for d in found}
    assert len(worker) == 1 and worker.pop()
    # the worker thread runs outside any request: no request id leaks into its lines
    assert not any("request_id" in d for d in found)
    create_line = next(d for d in log_lines(tmp_path / "server.log")
                       if d["logger"] == "labelaudit.access" and d.get("request_id") == created.headers[HEADER])
    assert create_line["method"] == "POST" and create_line["status"] == 202


@pytest.fixture
def json_log():
    """Root logger writing JSON lines to a buffer (restored afterwards)."""
    buf = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logs.JsonFormatter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_unhandled_error_counts_as_internal_error_with_request_id(app, json_log):
    from fastapi.testclient import TestClient

    @app.get("/boom")
    def boom():  # a sync route runs in the thread pool: the request id must follow it there
        logging.getLogger("labelaudit.test").info("about to fail")
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom", headers={HEADER: "boom-1"})
        assert r.status_code == 500 and r.headers[HEADER] == "boom-1"
        body = r.json()
        assert body["type"].endswith("/internal_error") and body["request_id"] == "boom-1"
        assert "kaboom" not in r.text
        assert errors_total(c.get("/metrics").text) == {("internal_error", "500"): 1.0}
    lines = json_log()
    before = next(d for d in lines if d["message"] == "about to fail")
    assert before["request_id"] == "boom-1"
    crash = next(d for d in lines if d["message"] == "unhandled error")
    assert crash["request_id"] == "boom-1" and crash["level"] == "error" and "kaboom" in crash["exception"]
    access = next(d for d in lines if d["logger"] == "labelaudit.access")
    assert access["status"] == 500 and access["request_id"] == "boom-1"


def _pred_probs_dataset(app) -> str:
    from labelaudit.core.ingest import from_pred_probs
    from labelaudit.services.datasets import save_dataset

    P, y = synthetic_pred_probs(60)
    return save_dataset(app.state.db, app.state.artifacts, from_pred_probs(P, y), name="p").id


def test_requeue_failure_and_cancel_events(app, json_log):
    db = app.state.db
    ds = _pred_probs_dataset(app)

    stale = queue.enqueue(db, dataset_id=ds, options={})
    assert queue.claim(db, "w-dead").id == stale.id
    with db.sessions.begin() as s:
        s.execute(update(AuditRecord).values(heartbeat_at=utcnow() - timedelta(seconds=120)))
    assert queue.requeue_stale(db, stale_after=60, max_attempts=3) == [stale.id]
    queued = queue.enqueue(db, dataset_id=ds, options={})
    assert queue.request_cancel(db, queued.id) == "cancelled"
    bad = queue.enqueue(db, dataset_id=ds, options={"rank_method": "no_such_method"})
    assert run_jobs(app) == 2
    lines = json_log()

    def events(audit_id):
        return [d for d in lines if d.get("audit_id") == audit_id and d.get("event")]

    requeued, *rerun = events(stale.id)
    assert requeued["event"] == "requeued" and requeued["worker_id"] == "w-dead"
    assert requeued["reason"] == "stale_heartbeat" and requeued["level"] == "warning"
    assert rerun[0]["event"] == "claimed" and rerun[-1]["event"] == "finished"  # run again by the next worker
    assert rerun[0]["attempt"] == 2 and rerun[0]["worker_id"] != "w-dead"
    assert [d["event"] for d in events(queued.id)] == ["cancelled"]
    failed = events(bad.id)[-1]
    assert failed["event"] == "failed" and failed["reason"] == "invalid_option" and failed["level"] == "warning"
    assert failed["worker_id"] == rerun[0]["worker_id"] and failed["duration_ms"] >= 0
