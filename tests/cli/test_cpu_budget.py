"""Two `labelaudit audit` processes sharing a data directory share the host's cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from labelaudit.core.cpubudget import CpuBudget, available_cores

CLI = [sys.executable, "-m", "labelaudit.cli"]


@pytest.mark.skipif(available_cores() < 2, reason="one core: no share below the machine's")
def test_two_overlapping_cli_audits_each_train_with_fewer_threads_than_the_machine(digits_csv, tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "CI": "1", "LABELAUDIT_DATA_DIR": str(data)}
    for key in ("LABELAUDIT_DEBUG", "LABELAUDIT_CPU_THREADS", "LABELAUDIT_CPU_BUDGET"):
        env.pop(key, None)
    budget = CpuBudget(data / "cpu-budget")
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    # Held until both audits hold their leases, so that they certainly overlap (however slowly each starts).
    with budget.lease():
        procs = [subprocess.Popen([*CLI, "audit", str(digits_csv), "--backbone", "logreg", "--folds", "3", "-q",
                                   "--json", str(out)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for out in outs]
        deadline = time.monotonic() + 120
        seen = set()
        while len(seen) < 2 and time.monotonic() < deadline and all(p.poll() is None for p in procs):
            leases = [json.loads(p.read_text()) for p in budget.live_leases() if p.exists()]
            seen = {lease["pid"] for lease in leases} & {p.pid for p in procs}
            time.sleep(0.02)
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert seen == {p.pid for p in procs}  # both held a lease in the shared folder at once
    for out in outs:
        threads = json.loads(out.read_text())["timings"]["fold_threads"]
        assert len(threads) == 3 and min(threads) < available_cores(), threads
    assert budget.live_leases() == []  # each process removed its lease


def test_a_cli_audit_away_from_a_service_writes_nothing_where_it_runs(digits_csv, tmp_path):
    work = tmp_path / "ci-workspace"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
    done = subprocess.run([*CLI, "audit", str(digits_csv), "--backbone", "logreg", "--folds", "3", "-q"],
                          cwd=work, env={**env, "CI": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(work.iterdir()) == []  # no ./labelaudit-data: the budget's leases went to the temp directory
