"""``labelaudit audit --reference`` and ``labelaudit check --reference``, run as real subprocesses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli.test_audit import run

NAMES = np.array("zero one two three four five six seven eight nine".split())


def write_csv(path, X, labels, *, reverse_columns: bool = False):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cols = {f"p{i}": X[:, i] for i in range(X.shape[1])}
    if reverse_columns:
        cols = dict(reversed(list(cols.items())))
    pacsv.write_csv(pa.table({**cols, "label": labels}), path)
    return path


@pytest.fixture
def parts(tmp_path, digits):
    """A 300-row audited table with every fifth label flipped to the next class, and a clean reference of the
    remaining digits with its columns in another order."""
    X, y = digits
    X = X.reshape(len(X), -1)
    perm = np.random.default_rng(0).permutation(len(y))
    a, r = perm[:300], perm[300:]
    given = y[a].copy()
    given[::5] = (given[::5] + 1) % 10
    return (write_csv(tmp_path / "audited.csv", X[a], NAMES[given]),
            write_csv(tmp_path / "reference.csv", X[r], NAMES[y[r]], reverse_columns=True), y[a])


def test_audit_with_a_reference_ranks_only_the_audited_rows(parts, tmp_path):
    audited, reference, true = parts
    alone, helped = tmp_path / "alone.json", tmp_path / "helped.json"
    assert run("audit", audited, "--backbone", "logreg", "--json", alone, "-q").returncode == 0
    proc = run("audit", audited, "--backbone", "logreg", "--reference", reference, "--json", helped, "-q")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(helped.read_text())
    assert len(data["issues"]) == 300 and data["summary"]["reference_examples"] == 1497
    flipped = {i for i in range(0, 300, 5)}

    def found(path):  # flipped rows among the 60 lowest-quality ones
        return len(flipped & {row["index"] for row in json.loads(path.read_text())["issues"][:60]})

    assert found(helped) > found(alone)


def test_a_reference_with_an_unknown_class_exits_2_naming_it(parts, tmp_path, digits):
    audited, _, _ = parts
    X, y = digits
    bad = write_csv(tmp_path / "bad.csv", X.reshape(len(X), -1)[:50], np.where(y[:50] == 3, "drei", NAMES[y[:50]]))
    proc = run("audit", audited, "--backbone", "logreg", "--reference", bad)
    assert proc.returncode == 2
    assert "reference" in proc.stderr and "'drei'" in proc.stderr
    missing = run("audit", audited, "--backbone", "logreg", "--reference", tmp_path / "nope.csv")
    assert missing.returncode == 2 and "reference" in missing.stderr


def test_check_with_a_reference(parts, tmp_path):
    audited, reference, _ = parts
    out = tmp_path / "check.json"
    proc = run("check", audited, "--backbone", "logreg", "--reference", reference, "--max-issue-rate", "1",
               "--json", out, "-q")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["summary"]["reference_examples"] == 1497
    remote = run("check", audited, "--reference", reference, "--server", "http://127.0.0.1:9")
    assert remote.returncode == 2 and "reference" in remote.stderr
