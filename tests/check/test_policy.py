"""Policy loading, rule evaluation, baseline matching and report rendering (no audit run)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from labelaudit.core.dataset import Dataset
from labelaudit.core.keys import example_keys
from labelaudit.check.baseline import load_baseline_keys, new_issue_rows
from labelaudit.check.gate import GateOutcome
from labelaudit.check.policy import Policy, evaluate_policy, load_config, load_policy
from labelaudit.check.reports import error_junit_xml, error_markdown, junit_xml, markdown
from labelaudit.errors import OptionError

SUMMARY = {
    "num_examples": 1000, "num_classes": 2, "num_issues": 30, "issue_rate": 0.03, "health_score": 0.96,
    "backbone": "mlp",
    "classes": [
        {"class_id": 0, "class_name": "cat", "size": 500, "num_issues": 5, "issue_rate": 0.01},
        {"class_id": 1, "class_name": "dog", "size": 500, "num_issues": 25, "issue_rate": 0.05},
    ],
}
NEW_ROW = {"example_key": "id:38", "index": 38, "given_class": "cat", "suggested_class": "dog",
           "quality_score": 0.0123, "is_issue": True}


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
    results = evaluate_policy(Policy(baseline=tmp_path / "b.json"), SUMMARY, new_issues=[NEW_ROW])
    assert results[0].rule == "max_new_issues" and not results[0].passed and results[0].limit == 0
    assert results[0].details == ("id:38 (row 38): cat -> dog, score 0.0123",)


def test_every_class_over_the_limit_is_named():
    (one,) = evaluate_policy(Policy(max_class_issue_rate=0.02), SUMMARY)
    assert not one.passed and one.details == ("class 'dog': issue rate 0.0500 (25 of 500)",)
    (both,) = evaluate_policy(Policy(max_class_issue_rate=0.005), SUMMARY)
    assert not both.passed and "2 classes' issue rates" in both.message
    assert [d.split(":")[0] for d in both.details] == ["class 'dog'", "class 'cat'"]


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


def test_data_options_sit_beside_the_policy_and_flags_win(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.labelaudit]\nmax-issue-rate = 0.1\n[tool.labelaudit.policy]\nmax_issues = 7\n"
        "[tool.labelaudit.data]\nlabel-column = 'species'\nid_column = 'rownames'\nformat = 'csv'\n"
        "labels = 'y.npy'\n")
    policy, data, source = load_config({}, {"id_column": "key"}, cwd=tmp_path)
    assert policy.max_issue_rate == 0.1 and policy.max_issues == 7  # top level and [policy] both count
    assert (data.label_column, data.id_column, data.format) == ("species", "key", "csv")
    assert data.labels == (tmp_path / "y.npy").resolve() and source.endswith("pyproject.toml")


@pytest.mark.parametrize("text, field", [
    ("max_issue_rate = 2\n", "max_issue_rate"),
    ("max_issue_rat = 0.1\n", "config"),
    ("[policy]\nmax_isues = 1\n", "max_isues"),
    ("[data]\nlabel_colum = 'y'\n", "label_colum"),
    ("[data]\nformat = 'xls'\n", "format"),
    ("label_column = 'y'\n", "config"),
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
    assert new_issue_rows(rows, keys) == [rows[1]]
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


def _outcome(policy: Policy, new: list[dict] | None = None) -> GateOutcome:
    return GateOutcome(summary=SUMMARY, rows=[], results=evaluate_policy(policy, SUMMARY, new_issues=new),
                       policy=policy, new_issues=new, notes=["n1"], seconds=1.5,
                       dataset={"name": "train.csv", "rows": 1000, "classes": 2, "sha256": "ab" * 32})


def test_junit_and_markdown_render():
    outcome = _outcome(Policy(max_issue_rate=0.02, max_issues=100))
    root = ET.fromstring(junit_xml(outcome).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.find("testcase[@name='max_issue_rate']/failure")
    assert "0.0300" in failure.get("message") and "0.0200" in failure.get("message")
    assert suite.find("properties/property[@name='dataset.sha256']").get("value") == "ab" * 32
    md = markdown(outcome)
    assert "| `max_issue_rate` | 0.0300 | 0.0200 | **fail** |" in md and "- n1" in md
    assert "dataset **train.csv**; 1,000 rows, 2 classes; sha256 `abababababababab…`" in md
    none = ET.fromstring(junit_xml(_outcome(Policy())).split("\n", 1)[1])
    assert none.find("testsuite/testcase").get("name") == "audit"


def test_reports_list_what_is_new_and_every_failing_class():
    outcome = _outcome(Policy(max_class_issue_rate=0.005, baseline=Path("b.json")), new=[NEW_ROW] * 25)
    md = markdown(outcome)
    assert "class 'cat': issue rate 0.0100 (5 of 500)" in md and "class 'dog'" in md
    assert md.count("id:38 (row 38): cat -> dog, score 0.0123") == 20 and "... and 5 more" in md
    failure = ET.fromstring(junit_xml(outcome).split("\n", 1)[1]).find(
        "testsuite/testcase[@name='max_new_issues']/failure")
    assert failure.text.count("id:38 (row 38)") == 25
    assert outcome.to_dict()["new_issues"] == ["id:38"] * 25


def test_an_error_still_gives_every_report():
    error = {"code": "invalid_dataset", "field": "label_column", "message": "no label column 'y'"}
    suite = ET.fromstring(error_junit_xml(error, exit_code=2).split("\n", 1)[1]).find("testsuite")
    assert suite.get("errors") == "1" and suite.get("failures") == "0"
    err = suite.find("testcase[@name='audit']/error")
    assert err.get("type") == "InputError" and err.get("message") == "label_column: no label column 'y'"
    md = error_markdown(error, exit_code=3, dataset={"name": "d.csv"})
    assert "exit 3" in md and "`invalid_dataset`" in md and "d.csv" in md
