"""The CPU budget on the service: /v1/usage shows it and the worker concurrency; audits record their share."""

from __future__ import annotations

import logging

from labelaudit.core.cpubudget import CpuBudget, available_cores
from tests.service_fixtures import csv_bytes, run_jobs


def test_usage_shows_the_budget_and_an_audit_records_its_share(client, app, caplog):
    settings = app.state.settings
    cpu = client.get("/v1/usage").json()["cpu"]
    assert cpu == {"executor": "local", "workers": 0, "cpu_budget": "shared", "threads": available_cores(),
                   "cores": available_cores(), "shared": True, "running": 0}
    budget = CpuBudget(settings.data_dir / "cpu-budget")  # another process's job on this host, say
    with budget.lease() as other:
        assert client.get("/v1/usage").json()["cpu"]["running"] == 1
        ds = client.post("/v1/datasets", files={"file": ("d.csv", csv_bytes(200))}).json()
        audit = client.post("/v1/audits", json={"dataset_id": ds["id"], "backbone": "logreg", "folds": 2}).json()
        with caplog.at_level(logging.INFO, logger="labelaudit.worker"):
            assert run_jobs(app) == 1
        share = max(1, available_cores() // 2)
        assert other.threads() == available_cores()  # the audit's lease is gone with its job
    got = client.get(f"/v1/audits/{audit['id']}").json()
    assert got["status"] == "done" and got["timings"]["fold_threads"] == [share, share]
    logged = [r for r in caplog.records if getattr(r, "event", None) == "threads"]
    assert logged and logged[0].fold_threads == [share, share]
