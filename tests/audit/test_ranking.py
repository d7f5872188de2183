"""Ranking with cleanlab, and scoring against known true labels."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core.evaluate import evaluate_audit
from labelaudit.core.ingest import load_dataset
from labelaudit.core.ranking import RANK_METHODS, rank_label_issues
from labelaudit.errors import OptionError
from tests.conftest import LABEL_ERRORS_DIR, require


def _synthetic(n=600, k=3, flip=0.1, seed=0):
    """pred_probs from a model that knows the truth, and labels with some flips."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 4.0
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = true.copy()
    flips = rng.choice(n, int(flip * n), replace=False)
    labels[flips] = (labels[flips] + 1) % k
    return labels, true, P


@pytest.mark.parametrize("method", RANK_METHODS)
def test_ranking_finds_flips(method):
    labels, true, P = _synthetic()
    r = rank_label_issues(labels, P, rank_method=method)
    ev = evaluate_audit(labels, true, r.is_issue, r.quality_scores)
    assert ev["average_precision"] > 0.9
    assert ev["recall"] > 0.8 and ev["precision"] > 0.8
    # order and ranks agree, lowest quality first
    assert np.all(np.diff(r.quality_scores[r.order]) >= 0)
    assert np.array_equal(r.ranks[r.order], np.arange(len(labels)))


def test_matrices_and_class_table():
    labels, _, P = _synthetic(k=4, flip=0.2)
    r = rank_label_issues(labels, P)
    assert np.allclose(r.noise_matrix.sum(axis=0), 1.0)
    assert np.isclose(r.joint.sum(), 1.0)
    table = r.class_table(["a", "b", "c", "d"])
    assert sum(row["num_issues"] for row in table) == r.num_issues
    assert all(0 <= row["estimated_noise_rate"] <= 1 for row in table)
    # flips go c -> c+1, so the confusion of class c+1's bad labels is c
    assert table[1]["top_confused_with"] == "a"
    assert 0.7 < r.health_score < 0.9


def test_bad_options():
    labels, _, P = _synthetic()
    with pytest.raises(OptionError) as info:
        rank_label_issues(labels, P, rank_method="nope")
    assert info.value.field == "rank_method"
    with pytest.raises(OptionError) as info:
        rank_label_issues(labels, P, filter_by="nope")
    assert info.value.field == "filter_by"


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_real_published_pred_probs_have_real_issues(name):
    ds = load_dataset(require(LABEL_ERRORS_DIR / f"{name}_test_set_pyx.npy"))
    r = rank_label_issues(ds.labels, ds.pred_probs)
    assert 0.001 <= r.issue_rate <= 0.05


def test_evaluate_counts_and_edge_cases():
    labels = np.array([0, 0, 1, 1])
    true = np.array([0, 1, 1, 1])
    ev = evaluate_audit(labels, true, np.array([False, True, True, False]), np.array([0.9, 0.1, 0.2, 0.8]),
                        np.array([0, 1, 1, 1]))
    assert (ev["true_positives"], ev["false_positives"], ev["false_negatives"]) == (1, 1, 0)
    assert ev["precision"] == 0.5 and ev["recall"] == 1.0
    assert ev["average_precision"] == 1.0 and ev["suggested_label_accuracy"] == 1.0
    clean = evaluate_audit(labels, labels, np.zeros(4, bool), np.ones(4))
    assert clean["average_precision"] is None and clean["f1"] == 0.0
