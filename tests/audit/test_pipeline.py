"""run_audit end to end on small real data."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core.ingest import from_arrays, load_dataset
from labelaudit.core.noise import inject_noise
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.errors import OptionError
from tests.conftest import LABEL_ERRORS_DIR, require


def test_audit_of_injected_noise_finds_it(digits):
    X, y = digits
    noisy = inject_noise(y, kind="pairwise", rate=0.2, seed=0)
    ds = from_arrays(X, noisy.labels, true_labels=noisy.true_labels)
    stages = []
    result = run_audit(ds, AuditOptions(backbone="cnn", epochs=8, seed=0, backbone_options={"width": 16}),
                       progress=stages.append)
    ev = result.evaluation
    assert ev["average_precision"] > 0.8  # chance is 0.2
    assert ev["recall"] > 0.7
    summary = result.summary()
    assert summary["backbone"] == "cnn" and summary["num_issues"] == result.ranking.num_issues
    assert abs(summary["issue_rate"] - 0.2) < 0.1
    assert stages[0].stage == "training" and stages[-1].stage == "done"
    rows = list(result.rows())
    assert len(rows) == len(y) and rows[0]["quality_score"] <= rows[-1]["quality_score"]
    assert set(rows[0]) >= {"index", "given_label", "suggested_label", "quality_score", "is_issue", "true_label"}


def test_pred_probs_dataset_skips_training():
    ds = load_dataset(require(LABEL_ERRORS_DIR / "cifar10_test_set_pyx.npy"))
    result = run_audit(ds)
    assert result.crossval is None and result.summary()["backbone"] is None
    assert 0.005 < result.ranking.issue_rate < 0.05
    assert result.evaluation is None


def test_options_checked_before_training(digits):
    X, y = digits
    ds = from_arrays(X, y)
    for opts, field in [(AuditOptions(rank_method="x"), "rank_method"), (AuditOptions(folds=1), "folds"),
                        (AuditOptions(backbone="nope"), "backbone"), (AuditOptions(epochs=0), "epochs"),
                        (AuditOptions(device="tpu"), "device"), (AuditOptions(filter_by="x"), "filter_by"),
                        (AuditOptions(backbone="cnn", backbone_options={"depth": 9}), "backbone_options")]:
        with pytest.raises(OptionError) as info:
            run_audit(ds, opts, should_stop=lambda: pytest.fail("training started"))
        assert info.value.field == field


def test_result_dict_is_json_ready(digits):
    import json

    X, y = digits
    ds = from_arrays(X.reshape(len(X), -1)[:400], y[:400])
    result = run_audit(ds, AuditOptions(backbone="logreg"))
    data = json.loads(json.dumps(result.to_dict(top=5)))
    assert len(data["issues"]) == 5
    assert set(data["summary"]) >= {"issue_rate", "num_issues", "noise_matrix", "classes", "health_score"}
    assert np.array(data["summary"]["noise_matrix"]).shape == (10, 10)


@pytest.mark.parametrize("backbone, epochs, neighbours", [("logreg", None, 0), ("mlp", 2, 0), ("mlp", 2, 5)])
def test_the_same_rows_in_any_order_give_the_same_audit(digits, backbone, epochs, neighbours):
    """Folds, training order and the ranking follow example keys (content hashes here), not row positions:
    every example gets the same scores and flag, bit for bit, whatever the order of the rows."""
    from labelaudit.core.ingest import from_arrays
    from labelaudit.core.keys import example_keys

    X, y = digits
    X, y = X[:600].reshape(600, -1), y[:600]
    opts = AuditOptions(backbone=backbone, folds=3, epochs=epochs, seed=3, neighbours=neighbours)
    first = run_audit(from_arrays(X, y), opts)
    perm = np.random.default_rng(0).permutation(600)
    second = run_audit(from_arrays(X[perm], y[perm]), opts)
    keys = example_keys(first.dataset)
    assert np.array_equal(example_keys(second.dataset), keys[perm])
    assert np.array_equal(second.pred_probs, first.pred_probs[perm])
    assert np.array_equal(second.ranking.quality_scores, first.ranking.quality_scores[perm])
    assert np.array_equal(second.ranking.is_issue, first.ranking.is_issue[perm])
    if neighbours:  # the neighbour vote too: each fold's training rows are embedded in key order
        assert np.array_equal(second.neighbour_scores, first.neighbour_scores[perm])
    # the same examples in the same rank order
    assert np.array_equal(keys[perm][second.ranking.order], keys[first.ranking.order])
