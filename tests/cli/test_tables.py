"""Real-world tables through the `labelaudit` command (a real subprocess): strings, missing values, blank
labels, index and id columns, text, label shapes that are not classes, and noise injection that keeps every
other column as it was."""

from __future__ import annotations

import csv
import subprocess
import sys
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.cli.test_audit import run
from tests.tables import penguins_like, reviews


@pytest.fixture
def penguins_csv(tmp_path):
    df = penguins_like(90)
    df.loc[[0, 1], "species"] = ["Gentoo", "Chinstrap"]  # two wrong labels (both Adelie)
    path = tmp_path / "penguins.csv"
    df.to_csv(path, index=False)
    return path


def test_penguins_like_table_is_audited_with_roles_shown(penguins_csv, tmp_path):
    out = tmp_path / "r.json"
    proc = run("audit", penguins_csv, "--label-column", "species", "--folds", "3", "--json", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "left out 4 rows with no label in 'species'" in proc.stderr
    assert "Features: island (categorical), bill_length_mm (numeric, 6% missing)" in proc.stdout
    assert "Identifiers (never features): Unnamed: 0, id" in proc.stdout
    assert "Ignored: year (constant)" in proc.stdout and "Rows with no label, left out: 4" in proc.stdout
    data = json.loads(out.read_text())
    assert data["summary"]["backbone"] == "gbt" and data["summary"]["num_classes"] == 3
    assert data["summary"]["missing_labels"]["count"] == 4
    flagged = {row["example_id"] for row in data["issues"] if row["is_issue"]}
    assert {"0", "1"} & flagged  # keyed by the unnamed index, and the wrong labels found


def test_id_column_and_overrides_from_the_command_line(penguins_csv, tmp_path):
    out = tmp_path / "r.json"
    proc = run("audit", penguins_csv, "--label-column", "species", "--id-column", "id", "--folds", "3",
               "--backbone", "logreg", "--drop-columns", "island", "--categorical", "flipper_length_mm", "--json",
               out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "Ignored: island (dropped by the caller), year (constant)" in proc.stdout
    assert "flipper_length_mm (categorical)" in proc.stdout
    assert json.loads(out.read_text())["issues"][0]["example_id"].startswith("P0")


def test_every_column_problem_in_one_exit_2_line(penguins_csv):
    proc = run("audit", penguins_csv, "--label-column", "species", "--features", "nope,bill_length_mm",
               "--drop-columns", "bill_length_mm", "--text", "species")
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert "--features names 'nope', which is not a column" in line
    assert "'bill_length_mm' is named by both --features and --drop-columns" in line
    assert "--text names 'species', the label column" in line


@pytest.mark.parametrize("labels, words", [
    (lambda n: ["Adelie,Gentoo" if i % 10 == 0 else ("Adelie", "Gentoo")[i % 2] for i in range(n)],
     "looks multi-label"),
    (lambda n: list(np.linspace(2700, 6300, n)), "looks like a regression target: 90 distinct numeric values"),
    (lambda n: ["Adelie"] * n, "only one class ('Adelie'"),
])
def test_label_shapes_that_are_not_classes_exit_2(tmp_path, labels, words):
    path = tmp_path / "t.csv"
    penguins_like(90, blank_labels=0).assign(species=labels(90)).to_csv(path, index=False)
    proc = run("audit", path, "--label-column", "species")
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr


def test_text_csv_audited_end_to_end(tmp_path):
    df = reviews(90)
    df.loc[[0, 2, 4, 6], "label"] = "bad"
    path = tmp_path / "reviews.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "r.json"
    proc = run("audit", path, "--folds", "3", "--json", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "review (text)" in proc.stdout and "product (categorical)" in proc.stdout
    data = json.loads(out.read_text())
    assert data["summary"]["backbone"] == "text"
    top = {row["index"] for row in data["issues"][:10]}
    assert len(top & {0, 2, 4, 6}) >= 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_inject_noise_on_a_mixed_table_keeps_every_other_column(tmp_path, suffix):
    df = penguins_like(90)
    df["note"] = [f'says "hi", {i}' if i % 3 else None for i in range(90)]  # quotes, commas, blanks
    source = tmp_path / f"in{suffix}"
    df.to_csv(source, index=False) if suffix == ".csv" else df.to_parquet(source)
    output = tmp_path / f"out{suffix}"
    proc = run("inject-noise", source, output, "--label-column", "species", "--rate", "0.3", "--seed", "2")
    assert proc.returncode == 0, proc.stderr
    if suffix == ".csv":
        before = list(csv.reader(source.open(newline="")))
        after = list(csv.reader(output.open(newline="")))
        assert after[0] == before[0] + ["true_label"]
        at = before[0].index("species")
        changed = 0
        for old, new in zip(before[1:], after[1:], strict=True):
            assert old[:at] + old[at + 1:] == new[:at] + new[at + 1:-1]  # every other cell, as text
            changed += old[at] != new[at]
            assert new[-1] == (old[at] if old[at].strip() else "")  # the original label kept as true label
        assert changed > 10
    else:
        a, b = pq.read_table(source), pq.read_table(output)
        for name in a.column_names:
            if name != "species":
                assert a.column(name).equals(b.column(name)), name
        assert (pd.Series(a.column("species").to_pylist()) != pd.Series(b.column("species").to_pylist())).sum() > 10
    proc = run("audit", output, "--label-column", "species", "--folds", "3", "-q")  # read back: true labels known
    assert proc.returncode == 0, proc.stderr
    assert "Against the known true labels" in proc.stdout


def test_instance_noise_flips_the_hard_rows_of_a_mixed_table(tmp_path):
    df = penguins_like(150, seed=3, blank_labels=0)
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    df.to_csv(source, index=False)
    proc = run("inject-noise", source, output, "--label-column", "species", "--kind", "instance", "--rate", "0.1",
               "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(output)
    flipped = out["species"] != out["true_label"]
    assert flipped.sum() == sum(round(0.1 * n) for n in df["species"].value_counts())
    pd.testing.assert_frame_equal(out.drop(columns=["species", "true_label"]),
                                  pd.read_csv(source).drop(columns="species"))


def test_check_takes_column_roles(penguins_csv):
    proc = run("check", penguins_csv, "--label-column", "species", "--fast", "--drop-columns", "island", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "verdict: pass" in proc.stdout


def test_a_table_audit_never_imports_torch(penguins_csv):
    code = ("import runpy, sys\n"
            f"sys.argv = ['labelaudit', 'audit', {str(penguins_csv)!r}, '--label-column', 'species', '-q']\n"
            "try:\n    runpy.run_module('labelaudit.cli', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print('torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"
