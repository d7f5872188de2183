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
    from labelaudit.audit.ingest import load_dataset

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
