"""Crash safety of the API process: SIGKILL the server (with its embedded worker) while uploads
stream in and an audit trains, start it again, and check that every upload it had accepted (201)
is intact, nothing it had not accepted half-exists, and the interrupted audit is requeued and
finishes once with all its rows. On SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import httpx
import pytest
from sqlalchemy import select

from labelaudit.store.db import open_database
from labelaudit.store.models import DatasetRecord
from tests.service_fixtures import csv_bytes, free_port, service_env, status_and_rows, wait_for

pytestmark = pytest.mark.slow


class Server:
    """``labelaudit.main.serve`` in a subprocess that can be killed and started again on the same port."""

    def __init__(self, settings, log_path):
        self.port, self.log_path = free_port(), log_path
        self.env = service_env(settings, LABELAUDIT_PORT=self.port, LABELAUDIT_WORKERS=1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", "from labelaudit.main import serve; serve()"],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)

        def up():
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            try:
                return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, interval=0.2)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def test_sigkilled_api_loses_no_accepted_upload_and_no_audit(service_settings, tmp_path):
    server = Server(service_settings, tmp_path / "server.log")
    server.start()
    try:
        c = httpx.Client(base_url=server.url, timeout=30)
        seed_ds = c.post("/v1/datasets", files={"file": ("d.csv", csv_bytes(300))}).json()
        audit = c.post("/v1/audits", json={"dataset_id": seed_ds["id"], "backbone": "mlp", "folds": 2,
                                           "epochs": 40, "device": "cpu"}).json()
        wait_for(lambda: c.get(f"/v1/audits/{audit['id']}").json()["progress"].get("epoch"), timeout=90,
                 interval=0.05)

        accepted: list[str] = [seed_ds["id"]]
        stop = threading.Event()

        def upload_forever():
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    r = httpx.post(server.url + "/v1/datasets", files={"file": (f"u{i}.csv", csv_bytes(200 + i))},
                                   timeout=10)
                except httpx.HTTPError:
                    continue  # the server died mid-request: not accepted
                if r.status_code == 201:
                    accepted.append(r.json()["id"])

        uploader = threading.Thread(target=upload_forever, daemon=True)
        uploader.start()
        wait_for(lambda: len(accepted) >= 4, timeout=60, interval=0.05)
        server.kill()  # mid-training, and most likely mid-upload
        stop.set()
        uploader.join(20)

        server.start()
        db = open_database(service_settings, migrate=False)
        try:
            with db.sessions() as s:
                stored = set(s.scalars(select(DatasetRecord.id)))
            assert set(accepted) <= stored  # every 201 survived
            assert len(stored - set(accepted)) <= 1  # at most the one in flight, and only if complete (below)
            for ds_id in stored:
                r = c.post(f"/v1/datasets/{ds_id}/noise", json={"kind": "symmetric", "rate": 0.1, "seed": 0})
                assert r.status_code == 201, r.text  # the artifact is there and whole

            def audit_done():
                status, rows = status_and_rows(db, audit["id"])
                assert (status == "done") == (rows == 300), (status, rows)  # never half-written
                assert status not in ("failed", "cancelled"), status
                return c.get(f"/v1/audits/{audit['id']}").json() if status == "done" else None

            done = wait_for(audit_done, timeout=180, interval=0.25)
            assert done["attempts"] == 2 and done["summary"]["num_examples"] == 300
        finally:
            db.dispose()
    finally:
        server.stop()
