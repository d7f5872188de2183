"""Policy loading, rule evaluation, baseline matching and report rendering (no audit run)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from labelaudit.audit.dataset import Dataset
from labelaudit.audit.keys import example_keys
from labelaudit.check.baseline import load_baseline_keys, new_issue_keys
from labelaudit.check.policy import Policy, evaluate_policy, load_policy
from labelaudit.check.reports import junit_xml, markdown
from labelaudit.errors import OptionError

SUMMARY = {
    "num_examples": 1000, "num_classes": 2, "num_issues": 30, "issue_rate": 0.03, "health_score": 0.96,
    "backbone": "mlp",
    "classes": [
        {"class_name": "cat", "size": 500, "num_issues": 5, "issue_rate": 0.01},
        {"class_name": "dog", "size": 500, "num_issues": 25, "issue_rate": 0.05},
    ],
}


def test_each_rule_passes_and_fails_at_its_limit():
    ok = evaluate_policy(Policy(max_issue_rate=0.03, max_class_issue_rate=0.05, min_health_score=0.96,
                                max_issues=30), SUMMARY)
    assert [r.passed for r in ok] == [True, True, True, True]
    bad = evaluate_policy(Policy(max_issue_rate=0.02, max_class_issue_rate=0.04, min_health_score=0.97,
                                 max_issues=29), SUMMARY)
    assert [r.passed for r in bad] == [False, False, False, False]
    assert "class 'dog'" in bad[1].message and "0.0400" in bad[1].message
    assert bad[0].measured == 0.03 and bad[0].limit == 0.02


def test_new_issue_rule_defaults_to_zero_with_a_baseline(tmp_path):
    results = evaluate_policy(Policy(baseline=tmp_path / "b.json"), SUMMARY, new_issues=1)
    assert results[0].rule == "max_new_issues" and not results[0].passed and results[0].limit == 0


def test_flags_override_config(tmp_path):
    (tmp_path / "labelaudit.toml").write_text("max_issue_rate = 0.1\nmin-health-score = 0.8\n")
    policy, source = load_policy({"max_issue_rate": 0.2, "max_issues": None}, cwd=tmp_path)
    assert policy.max_issue_rate == 0.2 and policy.min_health_score == 0.8 and source.endswith("labelaudit.toml")


def test_pyproject_section_and_relative_baseline(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n[tool.labelaudit]\nbaseline = 'acc.json'\n")
    policy, _ = load_policy({}, cwd=tmp_path)
    assert policy.baseline == (tmp_path / "acc.json").resolve()
    empty = tmp_path / "other"
    empty.mkdir()
    (empty / "pyproject.toml").write_text("[project]\nname='x'\n")
    policy, source = load_policy({}, cwd=empty)
    assert source is None and policy.rules() == {}


@pytest.mark.parametrize("text, field", [
    ("max_issue_rate = 2\n", "max_issue_rate"),
    ("max_issue_rat = 0.1\n", "max_issue_rat"),
    ("not toml [", "config"),
])
def test_bad_config(tmp_path, text, field):
    (tmp_path / "labelaudit.toml").write_text(text)
    with pytest.raises(OptionError) as info:
        load_policy({}, cwd=tmp_path)
    assert info.value.field == field


def test_baseline_keys(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"issues": [{"example_key": "a", "is_issue": True},
                                           {"example_key": "b", "is_issue": False}]}))
    keys = load_baseline_keys(path)
    assert keys == {"a"}
    rows = [{"example_key": "a", "is_issue": True}, {"example_key": "c", "is_issue": True},
            {"example_key": "d", "is_issue": False}]
    assert new_issue_keys(rows, keys) == ["c"]
    path.write_text(json.dumps({"summary": {}}))
    with pytest.raises(OptionError):
        load_baseline_keys(path)
    with pytest.raises(OptionError):
        load_baseline_keys(tmp_path / "missing.json")


def test_example_keys_follow_content_not_labels_or_order():
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    a = Dataset(labels=np.array([0, 1, 0, 1]), class_names=["a", "b"], modality="tabular", features=X)
    b = Dataset(labels=np.array([1, 1, 0, 0]), class_names=["a", "b"], modality="tabular", features=X[::-1].copy())
    assert list(example_keys(a)) == list(example_keys(b))[::-1]
    ids = Dataset(labels=a.labels, class_names=["a", "b"], modality="tabular", features=X,
                  example_ids=np.array(["x", "y", "z", "w"]))
    assert example_keys(ids)[0] == "id:x"


def test_junit_and_markdown_render():
    results = evaluate_policy(Policy(max_issue_rate=0.02, max_issues=100), SUMMARY)
    root = ET.fromstring(junit_xml(results, summary=SUMMARY, seconds=1.5).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.find("testcase[@name='max_issue_rate']/failure")
    assert "0.0300" in failure.get("message") and "0.0200" in failure.get("message")
    md = markdown(results, summary=SUMMARY, verdict="fail", notes=["n1"])
    assert "| `max_issue_rate` | 0.0300 | 0.0200 | **fail** |" in md and "- n1" in md
    none = ET.fromstring(junit_xml([], summary=SUMMARY, seconds=0).split("\n", 1)[1])
    assert none.find("testsuite/testcase").get("name") == "audit"
