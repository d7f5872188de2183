"""The Ray executor on a real local Ray cluster: same pred_probs as the local executor, retries, cancel."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from labelaudit.core.backbones.logreg import LogRegBackbone
from labelaudit.core.backbones.mlp import MLPBackbone
from labelaudit.core.crossval import cross_val_pred_probs
from labelaudit.core.executors import FoldFailed, LocalExecutor, RayExecutor, job_runtime_env
from labelaudit.errors import AuditCancelled, OptionError
from labelaudit.services.executors import executor_from_settings

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster():
    """A real two-CPU Ray on this machine, shared by the module's tests."""
    # The test backbones below live in this module; ship them by value so Ray's worker processes need not
    # import the tests package.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    started = not ray.is_initialized()
    # What ensure_ray does when it starts a local Ray itself (plus the job environment the fold tasks want).
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
             runtime_env=job_runtime_env())
    yield
    if started:
        ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def table(digits):
    X, y = digits
    return X[:600].reshape(600, -1), y[:600]


def _cv(X, y, executor, **kw):
    kw = {"num_classes": 10, "modality": "tabular", "folds": 3, "seed": 7, **kw}
    return cross_val_pred_probs(X, y, executor=executor, **kw)


def _attempts(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


class FlakyLogReg(LogRegBackbone):
    """Logistic regression whose fold ``fail_fold`` raises on its first ``failures`` attempts.

    Attempts are counted in a file, so they are seen across Ray's worker processes.
    ``crash`` kills the worker process instead of raising (a lost worker, not an exception).
    """

    def __init__(self, marker: Path, fail_fold: int, failures: int, *, error: type[Exception] = RuntimeError,
                 crash: bool = False):
        self.marker, self.fail_fold, self.failures, self.error, self.crash = marker, fail_fold, failures, error, crash

    def fit_predict(self, X_train, y_train, X_eval, ctx):
        if ctx.seed % 1000 == self.fail_fold:
            with open(self.marker, "a") as fh:
                fh.write(f"{os.getpid()}\n")
            n = _attempts(self.marker)
            if n <= self.failures:
                if self.crash:
                    os._exit(1)
                raise self.error(f"injected failure {n}")
        return super().fit_predict(X_train, y_train, X_eval, ctx)


class CountingMLP(MLPBackbone):
    """The MLP, appending a line to ``log`` after every epoch (to see whether training goes on)."""

    def __init__(self, log: Path):
        self.log = log

    def fit_predict(self, X_train, y_train, X_eval, ctx):
        report = ctx.on_epoch

        def on_epoch(epoch, total):
            with open(self.log, "a") as fh:
                fh.write(f"{ctx.seed % 1000} {epoch}\n")
            if report:
                report(epoch, total)

        ctx.on_epoch = on_epoch
        return super().fit_predict(X_train, y_train, X_eval, ctx)


@pytest.mark.parametrize("backbone, epochs", [("logreg", None), ("mlp", 3)])
def test_ray_pred_probs_equal_local(ray_cluster, table, backbone, epochs):
    X, y = table
    local = _cv(X, y, LocalExecutor(), backbone=backbone, epochs=epochs)
    seen = []
    remote = _cv(X, y, RayExecutor(max_retries=0), backbone=backbone, epochs=epochs, progress=seen.append)
    assert np.array_equal(remote.pred_probs, local.pred_probs)  # bit for bit, not merely close
    assert np.array_equal(remote.fold_ids, local.fold_ids)
    assert remote.fold_accuracy == local.fold_accuracy
    assert (remote.backbone, remote.device, remote.epochs) == (local.backbone, local.device, local.epochs)
    # progress came back from the tasks: every fold's every epoch, the fraction never falling, ending at 1
    total = epochs or 1
    assert sorted((p.fold, p.epoch) for p in seen) == [(f, e) for f in (1, 2, 3) for e in range(1, total + 1)]
    assert all(a.fraction <= b.fraction for a, b in zip(seen, seen[1:]))
    assert seen[-1].fraction == pytest.approx(1.0)
    assert {p.folds for p in seen} == {3} and all(p.stage == "training" for p in seen)


def test_failed_fold_is_retried_and_result_unchanged(ray_cluster, table, tmp_path):
    X, y = table
    marker = tmp_path / "attempts"
    local = _cv(X, y, LocalExecutor(), backbone="logreg")
    remote = _cv(X, y, RayExecutor(max_retries=2), backbone=FlakyLogReg(marker, fail_fold=1, failures=1))
    assert _attempts(marker) == 2  # failed once, retried once
    assert np.array_equal(remote.pred_probs, local.pred_probs)


def test_lost_worker_is_retried(ray_cluster, table, tmp_path):
    X, y = table
    marker = tmp_path / "attempts"
    local = _cv(X, y, LocalExecutor(), backbone="logreg")
    remote = _cv(X, y, RayExecutor(max_retries=1), backbone=FlakyLogReg(marker, fail_fold=0, failures=1, crash=True))
    assert _attempts(marker) == 2
    assert np.array_equal(remote.pred_probs, local.pred_probs)


def test_fold_that_always_fails_ends_with_a_clear_error(ray_cluster, table, tmp_path):
    X, y = table
    marker = tmp_path / "attempts"
    with pytest.raises(FoldFailed) as info:
        _cv(X, y, RayExecutor(max_retries=2), backbone=FlakyLogReg(marker, fail_fold=2, failures=99))
    assert _attempts(marker) == 3  # the first try and max_retries=2 retries, no more
    assert str(info.value) == "fold 3/3 failed after 3 attempts: RuntimeError: injected failure 3"
    assert (info.value.fold, info.value.attempts) == (2, 3)


def test_option_errors_are_not_retried(ray_cluster, table, tmp_path):
    X, y = table
    marker = tmp_path / "attempts"
    with pytest.raises(OptionError):
        _cv(X, y, RayExecutor(max_retries=2),
            backbone=FlakyLogReg(marker, fail_fold=0, failures=99, error=lambda m: OptionError(m, field="lr")))
    assert _attempts(marker) == 1


def test_executor_from_settings(monkeypatch):
    from labelaudit.config import get_settings

    monkeypatch.delenv("LABELAUDIT_EXECUTOR", raising=False)
    assert isinstance(executor_from_settings(get_settings()), LocalExecutor)
    ex = executor_from_settings(get_settings(executor="ray", ray_gpus_per_fold=0.25, ray_cpus_per_fold=2,
                                             ray_max_retries=4))
    assert isinstance(ex, RayExecutor)
    assert (ex.gpus_per_fold, ex.cpus_per_fold, ex.max_retries) == (0.25, 2.0, 4)
    monkeypatch.setenv("LABELAUDIT_EXECUTOR", "ray")
    monkeypatch.setenv("RAY_ADDRESS", "ray://ray-head:10001")
    ex = executor_from_settings(get_settings())
    assert isinstance(ex, RayExecutor) and ex.address == "ray://ray-head:10001"


def test_device_requests(ray_cluster):
    mlp, logreg = MLPBackbone(), LogRegBackbone()
    cpu_only = RayExecutor()  # this cluster has no GPU: auto means cpu, one GPU per fold is not asked for
    assert cpu_only.device_for("auto", mlp) == "cpu" and cpu_only.device_for("cpu", mlp) == "cpu"
    with pytest.raises(OptionError) as info:
        cpu_only.device_for("cuda", mlp)
    assert info.value.field == "device"
    shared = RayExecutor(gpus_per_fold=0.25)  # a quarter GPU per fold: cuda in the task
    assert shared.device_for("auto", mlp) == "cuda" and shared.device_for("cuda:1", mlp) == "cuda"
    assert shared.device_for("auto", logreg) == "cpu"  # scikit-learn folds ask for no GPU


def test_run_audit_on_ray_reports_progress_and_matches_local(ray_cluster, table):
    from labelaudit.core.ingest import from_arrays
    from labelaudit.core.pipeline import AuditOptions, run_audit

    X, y = table
    ds = from_arrays(X, y)
    opts = AuditOptions(backbone="logreg", folds=3, seed=1)
    stages = []
    remote = run_audit(ds, opts, progress=stages.append, executor=RayExecutor(max_retries=0))
    local = run_audit(ds, opts, executor=LocalExecutor())
    assert np.array_equal(remote.pred_probs, local.pred_probs)
    assert np.array_equal(remote.ranking.quality_scores, local.ranking.quality_scores)
    assert remote.summary() == local.summary()
    assert [p.stage for p in stages][0] == "training" and stages[-1].stage == "done"
    assert {(p.fold, p.epoch) for p in stages if p.epoch} == {(1, 1), (2, 1), (3, 1)}
    assert all(a.fraction <= b.fraction for a, b in zip(stages, stages[1:]))


def test_worker_with_ray_executor_setting(ray_cluster, tmp_path, monkeypatch):
    """A queued audit through the real worker with LABELAUDIT_EXECUTOR=ray: the folds run as Ray tasks,
    progress reaches the audit row while they train, and the result is the local executor's."""
    import threading

    from fastapi.testclient import TestClient

    from labelaudit.core import executors
    from labelaudit.config import get_settings
    from labelaudit.jobs.worker import run_worker
    from labelaudit.main import create_app
    from tests.service_fixtures import csv_bytes, wait_for

    ray_runs = []
    real_run_folds = executors.RayExecutor.run_folds

    def spy(self, specs, *args, **kwargs):
        ray_runs.append(len(specs))
        return real_run_folds(self, specs, *args, **kwargs)

    monkeypatch.setattr(executors.RayExecutor, "run_folds", spy)
    monkeypatch.setenv("LABELAUDIT_EXECUTOR", "ray")
    settings = get_settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                            workers=0, min_rows=10, auth="off", heartbeat_seconds=0.2, worker_poll_seconds=0.1,
                            ray_max_retries=0)
    assert settings.executor == "ray"
    app = create_app(settings)
    stop = threading.Event()
    with TestClient(app) as client:
        worker = threading.Thread(target=run_worker, args=(settings, stop), kwargs={"db": app.state.db},
                                  daemon=True)
        worker.start()
        try:
            ds = client.post("/v1/datasets", files={"file": ("d.csv", csv_bytes(300))}).json()
            options = {"backbone": "mlp", "folds": 2, "epochs": 40, "seed": 3, "device": "cpu"}
            audit = client.post("/v1/audits", json={"dataset_id": ds["id"], **options}).json()
            running = wait_for(lambda: (a := client.get(f"/v1/audits/{audit['id']}").json())["status"] == "running"
                               and (a["progress"] or {}).get("epoch") and a, timeout=90)
            assert running["progress"]["stage"] == "training" and running["progress"]["folds"] == 2
            done = wait_for(lambda: (a := client.get(f"/v1/audits/{audit['id']}").json())["status"] in
                            ("done", "failed") and a, timeout=120)
            assert done["status"] == "done", done.get("error")
            stored = np.load(io.BytesIO(client.get(f"/v1/audits/{audit['id']}/pred_probs").content))
        finally:
            stop.set()
            worker.join(30)
    assert ray_runs == [2]  # the worker's folds went through the Ray executor
    from labelaudit.core.ingest import load_dataset
    from labelaudit.core.pipeline import AuditOptions, run_audit

    path = tmp_path / "d.csv"
    path.write_bytes(csv_bytes(300))
    local = run_audit(load_dataset(path), AuditOptions(**options), executor=LocalExecutor())
    assert np.array_equal(stored, local.pred_probs.astype(np.float32))  # the worker stores float32


def test_cancel_stops_the_ray_tasks(ray_cluster, table, tmp_path):
    X, y = table
    log = tmp_path / "epochs"
    executor = RayExecutor(max_retries=2)
    seen = []
    started = None

    def stop():
        return bool(seen)

    def on_progress(p):
        nonlocal started
        seen.append(p)
        started = started or time.monotonic()

    t0 = time.monotonic()
    with pytest.raises(AuditCancelled):
        _cv(X, y, executor, backbone=CountingMLP(log), epochs=10_000, progress=on_progress, should_stop=stop)
    assert started is not None and time.monotonic() - started < 5  # promptly after the first report
    assert len(executor.last_refs) == 3  # two were running (2 CPUs), one waiting
    for ref in executor.last_refs:
        with pytest.raises(ray.exceptions.TaskCancelledError):
            ray.get(ref, timeout=30)
    # and no training goes on: the epoch log stops growing
    time.sleep(0.5)
    before = _attempts(log)
    time.sleep(2.0)
    assert _attempts(log) == before
    assert time.monotonic() - t0 < 60
