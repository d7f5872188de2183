"""Crash recovery: SIGKILL a worker process mid-audit, start another; the audit completes once,
and nothing half-written is ever visible."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from labelaudit.store import queries
from tests.service_fixtures import csv_bytes, service_env, status_and_rows, wait_for

pytestmark = pytest.mark.slow


def start_worker(settings, log_path):
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "labelaudit.jobs.worker"], env=service_env(settings),
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def test_killed_worker_job_is_recovered(client, app, tmp_path):
    settings = app.state.settings
    ds = client.post("/v1/datasets", files={"file": ("d.csv", csv_bytes(300))}).json()
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "mlp", "folds": 2, "epochs": 30,
                                            "device": "cpu"}).json()
    url = f"/v1/audits/{audit['id']}"

    def row_count():
        with app.state.db.sessions() as s:
            return queries.count_rows(s, audit_id=audit["id"])

    first = start_worker(settings, tmp_path / "worker1.log")
    try:
        def training():
            a = client.get(url).json()
            assert a["status"] in ("queued", "running"), f"finished before the kill: {a['status']}"
            return a["status"] == "running" and a["progress"].get("epoch")

        try:
            wait_for(training, timeout=90, interval=0.05)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {client.get(url).json()}\n"
                                 + (tmp_path / "worker1.log").read_text()[-2000:]) from exc
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    killed = client.get(url).json()
    assert killed["status"] == "running" and killed["summary"] is None and row_count() == 0

    second = start_worker(settings, tmp_path / "worker2.log")
    try:
        def progress():
            status, rows = status_and_rows(app.state.db, audit["id"])
            # never a done audit without its rows, never rows without done
            assert (status == "done") == (rows == 300), (status, rows)
            a = client.get(url).json()
            return a if a["status"] == "done" else None

        done = wait_for(progress, timeout=180, interval=0.2)
        assert done["attempts"] == 2 and done["summary"]["num_examples"] == 300
        ranks = [r["rank"] for r in client.get(f"{url}/issues", params={"limit": 1000}).json()["items"]]
        assert ranks == list(range(300))
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    finally:
        if second.poll() is None:
            second.kill()
    log = (tmp_path / "worker2.log").read_text()
    assert "requeued stale audits" in log
