"""`labelaudit check`, the CI gate, run as a real subprocess."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tests.conftest import LABEL_ERRORS_DIR, require
from tests.cli.test_audit import run


def _junit_cases(path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
    return {c.get("name"): c for c in cases}


def test_loose_policy_passes_strict_policy_fails(digits_csv, tmp_path):
    junit = tmp_path / "ok.xml"
    proc = run("check", digits_csv, "--fast", "--max-issue-rate", "0.05", "--min-health-score", "0.9",
               "--junit", junit, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "verdict: pass" in proc.stdout
    cases = _junit_cases(junit)
    assert set(cases) == {"max_issue_rate", "min_health_score"}
    assert all(c.find("failure") is None for c in cases.values())

    junit = tmp_path / "strict.xml"
    report = tmp_path / "r.json"
    proc = run("check", digits_csv, "--fast", "--max-issue-rate", "0.0001", "--max-class-issue-rate", "0.5",
               "--junit", junit, "--json", report, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "verdict: fail" in proc.stdout
    cases = _junit_cases(junit)
    failure = cases["max_issue_rate"].find("failure")
    assert failure is not None and "exceeds the limit 0.0001" in failure.get("message")
    assert cases["max_class_issue_rate"].find("failure") is None
    data = json.loads(report.read_text())
    assert data["verdict"] == "fail" and data["policy"]["max_issue_rate"] == 0.0001
    assert "--fast" in " ".join(data["notes"])
    assert [r["rule"] for r in data["rules"] if not r["passed"]] == ["max_issue_rate"]


def test_bad_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 definitely not parquet")
    proc = run("check", bad, "--max-issue-rate", "0.1", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_bad_flag_and_bad_config_exit_2(digits_csv, tmp_path):
    assert run("check", digits_csv, "--max-issue-rate", "7", cwd=tmp_path).returncode == 2
    (tmp_path / "labelaudit.toml").write_text("max_issue_rate = 'lots'\n")
    proc = run("check", digits_csv, "--fast", cwd=tmp_path)
    assert proc.returncode == 2 and "max_issue_rate" in proc.stderr


def test_baseline_passes_when_nothing_new_and_fails_on_new_noise(digits_csv, tmp_path):
    base = tmp_path / "base.json"
    assert run("check", digits_csv, "--fast", "--json", base, "-q", cwd=tmp_path).returncode == 0
    accepted = [r for r in json.loads(base.read_text())["issues"] if r["is_issue"]]
    assert all(r["example_key"].startswith("sha:") for r in accepted)

    proc = run("check", digits_csv, "--fast", "--baseline", base, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 issues not in the baseline" in proc.stdout

    noisy = tmp_path / "noisy.csv"
    assert run("inject-noise", digits_csv, noisy, "--rate", "0.05", "--seed", "1").returncode == 0
    report = tmp_path / "after.json"
    junit = tmp_path / "after.xml"
    proc = run("check", noisy, "--fast", "--baseline", base, "--max-new-issues", "5", "--json", report,
               "--junit", junit, "-q", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    assert len(data["new_issues"]) > 5
    assert _junit_cases(junit)["max_new_issues"].find("failure") is not None


def test_policy_from_config_files_and_flags_win(digits_csv, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.labelaudit]\nmax-issue-rate = 0.0001\n")
    proc = run("check", digits_csv, "--fast", "-q", cwd=tmp_path)
    assert proc.returncode == 1 and "pyproject.toml" in proc.stdout
    proc = run("check", digits_csv, "--fast", "-q", "--max-issue-rate", "0.5", cwd=tmp_path)
    assert proc.returncode == 0
    (tmp_path / "labelaudit.toml").write_text("[policy]\nmin_health_score = 0.5\n")
    proc = run("check", digits_csv, "--fast", "-q", cwd=tmp_path)
    assert proc.returncode == 0 and "labelaudit.toml" in proc.stdout


def test_markdown_and_github_step_summary(digits_csv, tmp_path, monkeypatch):
    summary = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    md = tmp_path / "m.md"
    proc = run("check", digits_csv, "--fast", "--max-issues", "0", "--markdown", md, "-q", cwd=tmp_path)
    assert proc.returncode == 1
    text = md.read_text()
    assert "| `max_issues` |" in text and "**fail**" in text
    assert summary.read_text() == text


def test_published_pred_probs_report_the_real_issue_rate(tmp_path):
    pyx = require(LABEL_ERRORS_DIR / "cifar10_test_set_pyx.npy")
    report = tmp_path / "r.json"
    proc = run("check", pyx, "--max-issue-rate", "0.05", "--json", report, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert 0.01 < data["summary"]["issue_rate"] < 0.05
    assert "your pred_probs" in proc.stdout


def test_pred_probs_flag_skips_training(digits_csv, tmp_path):
    from labelaudit.core.ingest import load_dataset

    ds = load_dataset(digits_csv)
    rng = np.random.default_rng(0)
    P = np.full((ds.num_examples, ds.num_classes), 0.01)
    P[np.arange(ds.num_examples), ds.labels] = 0.91
    P[:20] = rng.dirichlet(np.ones(ds.num_classes), 20)
    np.save(tmp_path / "p.npy", P / P.sum(axis=1, keepdims=True))
    report = tmp_path / "r.json"
    proc = run("check", digits_csv, "--pred-probs", tmp_path / "p.npy", "--json", report, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert data["summary"]["backbone"] is None
    assert data["summary"]["num_issues"] <= 20


@pytest.mark.parametrize("args", [["--dataset-id", "abc"], []])
def test_usage_errors(args, tmp_path):
    proc = run("check", *args, cwd=tmp_path)
    assert proc.returncode == 2


def _shuffled(src, dst, seed=0):
    """The same CSV rows in another order (the header first)."""
    header, *rows = src.read_text().splitlines()
    order = np.random.default_rng(seed).permutation(len(rows))
    dst.write_text("\n".join([header, *(rows[i] for i in order)]) + "\n")
    return dst


def test_the_same_rows_in_another_order_give_the_same_verdict(digits_csv, tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert run("check", digits_csv, "--fast", "--json", first, "-q", cwd=tmp_path).returncode == 0
    shuffled = _shuffled(digits_csv, tmp_path / "shuffled.csv")
    proc = run("check", shuffled, "--fast", "--baseline", first, "--max-new-issues", "0", "--json", second, "-q",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 issues not in the baseline" in proc.stdout

    def scores(report):
        return {r["example_key"]: (r["is_issue"], r["quality_score"]) for r in json.loads(report.read_text())["issues"]}

    a, b = scores(first), scores(second)
    assert a == b and sum(flag for flag, _ in a.values()) > 0  # the same flagged set, the same scores, bit for bit


def test_an_input_error_still_writes_every_report(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,4\n")
    junit, report, md = tmp_path / "r.xml", tmp_path / "r.json", tmp_path / "r.md"
    proc = run("check", bad, "--label-column", "label", "--junit", junit, "--json", report, "--markdown", md,
               cwd=tmp_path)
    assert proc.returncode == 2 and "label_column" in proc.stderr
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("errors") == "1"
    assert "label_column" in suite.find("testcase[@name='audit']/error").get("message")
    data = json.loads(report.read_text())
    assert data["verdict"] == "error" and data["exit_code"] == 2 and data["error"]["field"] == "label_column"
    assert data["dataset"]["name"] == "bad.csv" and len(data["dataset"]["sha256"]) == 64
    assert "exit 2" in md.read_text()


def test_reports_name_the_dataset_and_list_the_new_issues(digits_csv, tmp_path):
    report, md = tmp_path / "r.json", tmp_path / "r.md"
    proc = run("check", digits_csv, "--fast", "--max-new-issues", "0", "--max-class-issue-rate", "0.0001",
               "--json", report, "--markdown", md, cwd=tmp_path)
    assert proc.returncode == 1
    data = json.loads(report.read_text())
    assert data["dataset"]["name"] == "digits.csv" and data["dataset"]["rows"] == 1797
    flagged = [r for r in data["issues"] if r["is_issue"]]
    assert data["new_issues"] == [r["example_key"] for r in flagged]
    text = md.read_text()
    first = flagged[0]
    assert f"{first['example_key']} (row {first['index']}): {first['given_class']} -> {first['suggested_class']}" in text
    rule = next(r for r in data["rules"] if r["rule"] == "max_class_issue_rate")
    failing = {c["class_name"] for c in data["summary"]["classes"] if c["issue_rate"] > 0.0001}
    assert len(rule["details"]) == len(failing) > 1 and all(f"'{c}'" in text for c in failing)
    assert "labelaudit check" in proc.stdout and first["example_key"] in proc.stdout


def test_data_options_from_the_config_file(digits_csv, tmp_path):
    table = tmp_path / "species.csv"
    header, rest = digits_csv.read_text().split("\n", 1)
    table.write_text(header.replace("label", "species") + "\n" + rest)
    (tmp_path / "labelaudit.toml").write_text("max_issue_rate = 0.5\n[data]\nlabel_column = 'species'\n")
    proc = run("check", table, "--fast", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "labelaudit.toml").write_text("[data]\nlabel_colum = 'species'\n")
    proc = run("check", table, "--fast", "-q", cwd=tmp_path)
    assert proc.returncode == 2 and "label_colum" in proc.stderr


def test_a_closed_pipe_is_not_an_error(digits_csv, tmp_path):
    import subprocess

    from tests.cli.test_audit import CLI

    cmd = " ".join([*CLI, "audit", str(digits_csv), "--backbone", "logreg", "--folds", "3", "-q"])
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd} | head -n 1"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
