"""Load with a fault, through bench/load.py's machinery, on SQLite and PostgreSQL: 4 clients upload,
audit, poll and page against the real server and 2 `labelaudit worker` processes; one worker is
SIGKILLed mid-job. No request fails, every accepted audit ends done with all its rows, and the
killed worker's audit comes back through the stale-heartbeat requeue."""

from __future__ import annotations

import pytest

from bench import load

pytestmark = pytest.mark.slow


def test_load_with_a_worker_killed_mid_job(database_url, tmp_path):
    result = load.run(data_dir=tmp_path / "data", database_url=database_url, clients=4, duration=15, workers=2,
                      kill_worker_after=5, stale_after=3, drain_timeout=30, seed=1)
    print(load.report(result))
    jobs = result["jobs"]

    assert result["errors"] == [] and result["metrics_errors"] == {}
    assert sum(len(v) for v in result["latencies"].values()) == result["requests"] > 50
    assert jobs["accepted"] >= 8 and jobs["unfinished"] == 0
    assert jobs["done"] == jobs["complete"] == jobs["accepted"] and jobs["half_written"] == 0

    killed = result["fault"]["audit_id"]
    assert killed is not None, "no worker was caught holding an audit"
    status, attempts, rows = result["states"][killed]
    assert status == "done" and attempts >= 2 and rows == result["accepted"][killed]
    assert jobs["retried"] >= 1

    logs = result["logs"]
    assert logs["not_json"] == 0 and logs["access"] == logs["access_with_request_id"] > 50
    assert logs["events"]["requeued"] >= 1
    assert logs["events"]["finished"] >= jobs["accepted"]
    assert result["memory_peak"]["server"] > 0 and result["memory_peak"]["worker-0"] > 0
