"""The worker: embedded threads run audits, report progress, honour cancel; failures are recorded."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from labelaudit.jobs.worker import run_worker
from tests.service_fixtures import csv_bytes, npy_bytes, synthetic_pred_probs, wait_for


@pytest.fixture
def worker(app):
    """One worker thread on the app's database."""
    stop = threading.Event()
    t = threading.Thread(target=run_worker, args=(app.state.settings, stop), kwargs={"db": app.state.db},
                         daemon=True)
    t.start()
    yield
    stop.set()
    t.join(30)


def test_progress_then_cancel_a_running_audit(client, worker):
    ds = client.post("/v1/datasets", files={"file": ("d.csv", csv_bytes(200))}).json()
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "mlp", "folds": 2,
                                            "epochs": 500, "device": "cpu"}).json()

    def training():
        a = client.get(f"/v1/audits/{audit['id']}").json()
        return a if a["status"] == "running" and a["progress"].get("epoch") else None

    running = wait_for(training, timeout=60)
    assert running["progress"]["stage"] == "training" and running["progress"]["folds"] == 2
    assert client.post(f"/v1/audits/{audit['id']}/cancel").json()["cancel_requested"]
    done = wait_for(lambda: (a := client.get(f"/v1/audits/{audit['id']}").json())["status"] == "cancelled" and a,
                    timeout=30)
    assert done["error"]["code"] == "cancelled"
    assert client.get(f"/v1/audits/{audit['id']}/issues").status_code == 409


def test_two_worker_threads_drain_the_queue(client, app, worker):
    second = threading.Event()
    t = threading.Thread(target=run_worker, args=(app.state.settings, second), kwargs={"db": app.state.db},
                         daemon=True)
    t.start()
    try:
        P, y = synthetic_pred_probs(200)
        ds = client.post("/v1/datasets", files={"file": ("p_pyx.npy", npy_bytes(P)),
                                                "labels_file": ("p_labels.npy", npy_bytes(y))}).json()
        ids = [client.post("/v1/audits", json={"dataset_id": ds["id"], "seed": i}).json()["id"] for i in range(6)]
        for i in ids:
            a = wait_for(lambda: (a := client.get(f"/v1/audits/{i}").json())["status"] == "done" and a, timeout=60)
            assert a["attempts"] == 1
    finally:
        second.set()
        t.join(30)


def test_stopping_worker_hands_its_audit_back(client, app):
    stop = threading.Event()
    t = threading.Thread(target=run_worker, args=(app.state.settings, stop), kwargs={"db": app.state.db},
                         daemon=True)
    t.start()
    ds = client.post("/v1/datasets", files={"file": ("d.csv", csv_bytes(200))}).json()
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "mlp", "folds": 2,
                                            "epochs": 500, "device": "cpu"}).json()
    url = f"/v1/audits/{audit['id']}"
    wait_for(lambda: client.get(url).json()["progress"].get("epoch"), timeout=60)
    stop.set()
    t.join(30)
    assert not t.is_alive()
    a = client.get(url).json()
    assert a["status"] == "queued" and a["progress"]["stage"] == "requeued" and a["attempts"] == 1


def test_an_audit_the_disk_cannot_hold_fails_as_insufficient_storage(client, app):
    """The worker's writes refused by the kernel (a file-size limit, as a full disk refuses them): the audit
    fails with ``insufficient_storage``, not ``internal_error``, and the worker lives on."""
    import resource
    import signal

    from tests.service_fixtures import run_jobs

    P, y = synthetic_pred_probs(40_000, k=25)  # a 4 MB pred_probs artifact to write
    ds = client.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(P)),
                                            "labels_file": ("y.npy", npy_bytes(y))}).json()
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * 1024 * 1024, hard))
    try:
        assert run_jobs(app) == 1
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    got = client.get(f"/v1/audits/{audit['id']}").json()
    assert got["status"] == "failed" and got["error"]["code"] == "insufficient_storage", got["error"]
    again = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    assert run_jobs(app) == 1
    assert client.get(f"/v1/audits/{again['id']}").json()["status"] == "done"


def test_a_warmed_worker_imports_nothing_heavy_during_its_first_image_audit():
    # run in a fresh interpreter: this test process has imported everything already
    script = """
import sys
from labelaudit.jobs.worker import warm_imports
warm_imports()
before = set(sys.modules)
import numpy as np
from labelaudit.core.dataset import Dataset
from labelaudit.core.pipeline import AuditOptions, run_audit
rng = np.random.default_rng(0)
X = rng.random((120, 1, 8, 8)).astype(np.float32)
y = np.arange(120) % 3
ds = Dataset(labels=y, class_names=["a", "b", "c"], modality="image", features=X)
run_audit(ds, AuditOptions(seed=0, device="cpu", epochs=1, folds=2, backbone="cnn"))
new = set(sys.modules) - before
heavy = sorted(m for m in new if m.split(".")[0] in ("sympy", "cleanlab", "sklearn") or m.startswith("torch._dynamo"))
print(len(heavy), len(new), heavy[:10])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    heavy, new = out.stdout.split()[:2]
    # before the warm-up covered them, the first audit imported about 1,600 modules (torch._dynamo, sympy)
    assert heavy == "0" and int(new) < 50, out.stdout
