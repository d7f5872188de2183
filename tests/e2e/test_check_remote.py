"""`labelaudit check --server`: the CI gate against a real running service gives the local verdict."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_audit import run

pytestmark = pytest.mark.slow


def test_remote_check_matches_local_and_applies_policy(live_server, digits_csv, tmp_path):
    local = tmp_path / "local.json"
    assert run("check", digits_csv, "--fast", "--seed", "3", "--json", local, "-q", cwd=tmp_path).returncode == 0

    remote, junit = tmp_path / "remote.json", tmp_path / "remote.xml"
    proc = run("check", digits_csv, "--fast", "--seed", "3", "--server", live_server, "--max-issue-rate", "0.0001",
               "--baseline", local, "--json", remote, "--junit", junit, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(remote.read_text())
    assert data["verdict"] == "fail"
    assert data["options"]["server"] == live_server and data["options"]["audit_id"].startswith("au")
    failed = [r["rule"] for r in data["rules"] if not r["passed"]]
    assert failed == ["max_issue_rate"]
    # Same data, options and seed: the service's audit finds exactly the local one's issues.
    loc = json.loads(local.read_text())
    assert data["summary"]["num_issues"] == loc["summary"]["num_issues"] > 0
    keys = lambda d: sorted(r["example_key"] for r in d["issues"] if r["is_issue"])  # noqa: E731
    assert keys(data) == keys(loc)
    assert "max_issue_rate" in junit.read_text()

    proc = run("check", digits_csv, "--fast", "--seed", "3", "--server", live_server, "--baseline", local, "-q",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 issues not in the baseline" in proc.stdout


def test_remote_check_with_an_id_column_flags_the_same_ids_as_local(live_server, tmp_path):
    """A table as it comes (strings, missing values, blank labels) keyed by its id column: the gate flags
    the same examples, by id, here and on the server, even when the server gets the rows in another order."""
    from tests.tables import penguins_like

    df = penguins_like(150, seed=5)
    df.loc[df.index[:20], "species"] = df["species"].iloc[20:40].to_numpy()  # wrong labels to find
    table, shuffled = tmp_path / "penguins.csv", tmp_path / "shuffled.csv"
    df.to_csv(table, index=False)
    df.sample(frac=1.0, random_state=1).to_csv(shuffled, index=False)
    local = tmp_path / "local.json"
    args = ("--label-column", "species", "--id-column", "id", "--folds", "3", "--seed", "2",
            "--max-issue-rate", "1.0", "-q")
    assert run("check", table, *args, "--json", local, cwd=tmp_path).returncode == 0
    remote = tmp_path / "remote.json"
    proc = run("check", shuffled, *args, "--server", live_server, "--json", remote, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    flagged = lambda d: sorted(r["example_key"] for r in json.loads(d.read_text())["issues"] if r["is_issue"])  # noqa: E731
    assert flagged(local) and flagged(remote) == flagged(local)
    assert all(key.startswith("id:P") for key in flagged(local))


def test_remote_check_unreachable_server_exits_3(digits_csv, tmp_path):
    proc = run("check", digits_csv, "--fast", "--server", "http://127.0.0.1:9", cwd=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cannot reach the labelaudit service" in proc.stderr


def test_remote_check_unknown_dataset_id_exits_2(live_server, tmp_path):
    proc = run("check", "--dataset-id", "ds_missing", "--server", live_server, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "404" in proc.stderr and "Traceback" not in proc.stderr
