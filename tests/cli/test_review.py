"""`labelaudit apply` and `labelaudit check --decisions`, run as real subprocesses."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.csv as pacsv

from tests.cli.test_audit import run


def test_apply_relabels_excludes_and_reads_back(digits_csv, tmp_path):
    from labelaudit.core.ingest import load_dataset
    from labelaudit.core.keys import example_keys

    ds = load_dataset(digits_csv)
    keys = example_keys(ds)
    decisions = tmp_path / "d.json"
    decisions.write_text(json.dumps({"items": [
        {"index": 0, "decision": "relabel", "label": "one"},
        {"key": str(keys[1]), "decision": "exclude"},
        {"key": str(keys[2]), "decision": "keep", "note": "fine"},
        {"key": "sha:0000000000000000", "decision": "keep"},  # not in this file: reported, not an error
        {"index": 3, "decision": None}]}))  # an undone decision is skipped
    out = tmp_path / "fixed.csv"
    proc = run("apply", digits_csv, "--decisions", decisions, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "1 relabelled, 1 excluded, 1 kept" in proc.stdout and "1 decisions name examples not in" in proc.stderr
    table = pacsv.read_csv(out).to_pydict()
    assert len(table["label"]) == ds.num_examples - 1
    assert table["label"][0] == "one" and table["original_label"][0] == ds.class_names[ds.labels[0]]
    assert table["review_decision"][:2] == ["relabel", "keep"]
    again = load_dataset(out)  # the review columns are not features
    assert again.features.shape == (ds.num_examples - 1, ds.features.shape[1]) and again.class_names == ds.class_names
    assert set(example_keys(again).tolist()) == set(keys.tolist()) - {keys[1]}

    npz = tmp_path / "fixed.npz"
    assert run("apply", digits_csv, "--decisions", decisions, "-o", npz).returncode == 0
    with np.load(npz) as z:
        assert z["y"].shape == (ds.num_examples - 1,) and z["review_decision"][0] == "relabel"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"index": 0, "decision": "relabel", "label": "eleven"}]))
    proc = run("apply", digits_csv, "--decisions", bad, "-o", out)
    assert proc.returncode == 2 and "decisions.0.label" in proc.stderr


def test_check_accepts_examples_decided_keep(digits_csv, tmp_path):
    import pyarrow as pa

    table = pacsv.read_csv(digits_csv).slice(0, 400)
    labels = table.column("label").to_pylist()
    wrong = [("one" if lbl != "one" else "two") if i % 15 == 0 else lbl for i, lbl in enumerate(labels)]
    digits_csv = tmp_path / "small.csv"  # 400 digits, 27 of them mislabelled
    pacsv.write_csv(table.set_column(table.schema.get_field_index("label"), "label", pa.array(wrong)), digits_csv)
    none = tmp_path / "none.json"
    none.write_text("[]")
    first = tmp_path / "first.json"
    proc = run("check", digits_csv, "--fast", "--decisions", none, "--json", first, "-q", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # with decisions, every issue not kept is new
    flagged = [r["example_key"] for r in json.loads(first.read_text())["issues"] if r["is_issue"]]
    assert len(flagged) > 1
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps({"items": [{"key": k, "decision": "keep"} for k in flagged[1:]]}))
    report = tmp_path / "second.json"
    proc = run("check", digits_csv, "--fast", "--decisions", kept, "--max-new-issues", "1", "--json", report, "-q",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(report.read_text())["new_issues"] == flagged[:1]
    proc = run("check", digits_csv, "--server-decisions", "-q", cwd=tmp_path)
    assert proc.returncode == 2 and "--server-decisions needs --server" in proc.stderr
