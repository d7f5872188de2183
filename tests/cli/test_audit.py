"""The `labelaudit` command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import LABEL_ERRORS_DIR, require

CLI = [sys.executable, "-m", "labelaudit.cli"]


def run(*args, cwd=None):
    env = {**os.environ, "CI": "1"}
    env.pop("LABELAUDIT_DEBUG", None)
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_audit_of_injected_noise_writes_json_and_csv(digits_csv, tmp_path):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    proc = run("audit", digits_csv, "--inject-noise", "pairwise", "--noise-rate", "0.2", "--seed", "1",
               "--epochs", "6", "--json", out_json, "--csv", out_csv)
    assert proc.returncode == 0, proc.stderr
    assert "Label issues:" in proc.stdout and "Per class" in proc.stdout
    assert "fold 5/5" in proc.stderr  # plain progress lines when not on a terminal
    data = json.loads(out_json.read_text())
    assert data["summary"]["num_issues"] > 0 and 0.1 < data["summary"]["issue_rate"] < 0.35
    ev = data["evaluation"]
    assert ev["average_precision"] > 0.8 and ev["precision"] > 0.6 and ev["recall"] > 0.6 and ev["f1"] > 0.6
    issues = data["issues"]
    assert len(issues) == 1797
    assert set(issues[0]) >= {"index", "given_label", "suggested_label", "quality_score", "is_issue"}
    scores = [row["quality_score"] for row in issues]
    assert scores == sorted(scores)
    assert out_csv.read_text().splitlines()[0].startswith("rank,index,given_label")


def test_top_shortens_the_rows(digits_csv, tmp_path):
    out_json = tmp_path / "r.json"
    proc = run("audit", digits_csv, "--backbone", "logreg", "--top", "7", "--json", out_json, "-q")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out_json.read_text())["issues"]) == 7


def test_neighbours_add_a_neighbour_score_column_and_a_summary_line(digits_csv, tmp_path):
    out_csv = tmp_path / "r.csv"
    proc = run("audit", digits_csv, "--backbone", "mlp", "--epochs", "2", "--folds", "2", "--neighbours", "5",
               "--csv", out_csv, "--top", "20", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "Neighbourhood (5 nearest)" in proc.stdout and "neighbours" in proc.stdout
    header, *rows = out_csv.read_text().splitlines()
    column = header.split(",").index("neighbour_score")
    assert len(rows) == 20 and all(0 < float(r.split(",")[column]) < 1 for r in rows)


@pytest.mark.parametrize("args, needle", [
    (["audit", "{missing}"], "no such file"),
    (["audit", "{csv}", "--label-column", "nope"], "label_column: no label column 'nope'"),
    (["audit", "{csv}", "--backbone", "cnn"], "backbone"),
    (["audit", "{csv}", "--rank-method", "bogus"], "--rank-method"),
    (["audit", "{csv}", "--folds", "400"], "folds"),
    (["audit", "{csv}", "--backbone", "logreg", "--neighbours", "5"], "neighbours needs a torch backbone"),
])
def test_bad_input_exits_2_with_one_line(digits_csv, tmp_path, args, needle):
    args = [a.format(missing=tmp_path / "missing.csv", csv=digits_csv) for a in args]
    proc = run(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_corrupt_file_exits_2(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    proc = run("audit", bad)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("error:")


def test_inject_noise_writes_true_labels_and_round_trips(digits_csv, tmp_path):
    out = tmp_path / "noisy.csv"
    proc = run("inject-noise", digits_csv, out, "--kind", "symmetric", "--rate", "0.1", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    header = out.read_text().splitlines()[0].replace('"', "").split(",")
    assert "true_label" in header and "label" in header
    from labelaudit.core.ingest import load_dataset

    ds = load_dataset(out)
    assert ds.true_labels is not None
    flipped = int((ds.labels != ds.true_labels).sum())
    original = load_dataset(digits_csv)
    expected = sum(round(0.1 * c) for c in original.class_counts())
    assert flipped == expected
    assert ds.class_names == original.class_names
    # the noisy file audits straight away and is scored against its true labels
    out_json = tmp_path / "r.json"
    assert run("audit", out, "--backbone", "logreg", "--json", out_json, "-q").returncode == 0
    assert json.loads(out_json.read_text())["evaluation"]["num_true_errors"] == expected


def test_inject_noise_to_npz_and_parquet(tmp_path, digits):
    X, y = digits
    src = tmp_path / "d.npz"
    np.savez(src, X=X, y=y)
    for name in ("n.npz", "n.parquet"):
        proc = run("inject-noise", src, tmp_path / name, "--rate", "0.2")
        assert proc.returncode == 0, proc.stderr


def test_pred_probs_input_reports_real_issue_rate(tmp_path):
    pyx = require(LABEL_ERRORS_DIR / "cifar10_test_set_pyx.npy")
    out_json = tmp_path / "r.json"
    proc = run("audit", pyx, "--json", out_json)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out_json.read_text())["summary"]
    assert 0.01 < summary["issue_rate"] < 0.05 and summary["num_examples"] == 10000


def test_help_lists_commands():
    proc = run("--help")
    assert proc.returncode == 0
    for cmd in ("audit", "inject-noise", "serve", "worker"):
        assert cmd in proc.stdout
