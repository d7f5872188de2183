"""The ``calibrated_posterior`` issue filter: confident learning's rows and, with a temperature fitted to the
held-out likelihood, those whose given label keeps at most POSTERIOR_ISSUE_LEVEL of the calibrated probability."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core.constants import POSTERIOR_ISSUE_LEVEL
from labelaudit.core.evaluate import evaluate_audit
from labelaudit.core.ranking import rank_label_issues
from labelaudit.core.ranking.calibration import fit_temperature, given_posterior, scaled, temperature_rows
from labelaudit.core.ranking.chunked import rank_label_issues_chunked


def _calibrated(n=4000, k=5, seed=0):
    """Probabilities that are calibrated by construction: labels are drawn from them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, k))
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(max=k - 1)
    return labels.astype(np.int64), P


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_fit_recovers_the_temperature_that_distorted_calibrated_probabilities(temperature):
    labels, P = _calibrated()
    distorted = scaled(P, 1.0 / temperature)  # softmax(log P * T): undoing it needs T
    assert fit_temperature(labels, distorted) == pytest.approx(temperature, rel=0.1)


def test_flags_rows_whose_given_label_keeps_little_calibrated_probability():
    labels, P = _calibrated(seed=1)
    r = rank_label_issues(labels, P, filter_by="calibrated_posterior")
    t = fit_temperature(labels, P)
    post = given_posterior(P, labels, t)
    assert r.filter_by == "calibrated_posterior"
    assert r.is_issue.any()
    assert not np.any(r.is_issue & (P.argmax(axis=1) == labels))  # never the predicted class, as cleanlab's filters
    pruned = rank_label_issues(labels, P, filter_by="prune_by_noise_rate").is_issue
    doubted = (post <= POSTERIOR_ISSUE_LEVEL) & (P.argmax(axis=1) != labels)
    assert doubted.any() and (doubted & ~pruned).any()
    assert np.array_equal(r.is_issue, pruned | doubted)


def test_high_precision_on_flips_a_confident_model_sees():
    rng = np.random.default_rng(2)
    n, k = 3000, 4
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 4.0
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = true.copy()
    flips = rng.choice(n, 60, replace=False)
    labels[flips] = (labels[flips] + 1) % k
    r = rank_label_issues(labels, P, filter_by="calibrated_posterior")
    ev = evaluate_audit(labels, true, r.is_issue, r.quality_scores)
    assert ev["precision"] >= 0.9 and ev["recall"] >= 0.6


def test_temperature_rows_are_bounded_and_follow_the_rows_not_their_positions():
    labels, P = _calibrated(n=3000, seed=5)
    assert np.array_equal(temperature_rows(labels, P), np.arange(3000))
    rows = temperature_rows(labels, P, max_rows=500)
    assert rows.size == 500 and np.unique(rows).size == 500
    perm = np.random.default_rng(1).permutation(3000)
    moved = temperature_rows(labels[perm], P[perm], max_rows=500)
    # the same rows, met in the same order: row i of the copy is row perm[i] of the original
    assert np.array_equal(perm[moved], rows)
    # a row's label is part of its key
    relabelled = labels.copy()
    relabelled[rows[:50]] = (relabelled[rows[:50]] + 1) % P.shape[1]
    assert not np.array_equal(temperature_rows(relabelled, P, max_rows=500), rows)


def test_temperature_of_a_reordered_copy_is_the_same():
    labels, P = _calibrated(n=4000, seed=6)
    perm = np.random.default_rng(2).permutation(4000)
    for probs in (P, P.astype(np.float32)):
        t = fit_temperature(labels, probs, max_rows=900)
        assert fit_temperature(labels[perm], probs[perm], max_rows=900) == t


def test_chunked_path_fits_on_the_same_rows(monkeypatch):
    import labelaudit.core.ranking.calibration as calibration

    labels, P = _calibrated(n=5000, seed=3)
    monkeypatch.setattr(calibration, "TEMPERATURE_ROWS", 700)
    monkeypatch.setattr(calibration.fit_temperature, "__kwdefaults__", {"max_rows": 700})
    whole = rank_label_issues(labels, P.astype(np.float32), filter_by="calibrated_posterior", chunked=False)
    for cells in (5 * 333, 5 * 5000):
        chunked = rank_label_issues_chunked(labels, P.astype(np.float32), rank_method="normalized_margin",
                                            filter_by="calibrated_posterior", chunk_cells=cells, threads=2)
        assert np.array_equal(chunked.is_issue, whole.is_issue)


def test_estimated_issues_are_never_fewer_than_the_rows_flagged():
    """cleanlab's count misses the rows only the calibrated test flags; the health score must not say otherwise."""
    from cleanlab.count import num_label_issues

    labels, P = _calibrated(n=3000, seed=7)
    counted = int(num_label_issues(labels, P))
    for chunked in (False, True):
        r = rank_label_issues(labels, P, filter_by="calibrated_posterior", chunked=chunked)
        assert r.num_issues > counted  # the calibrated test flags rows confident learning does not count
        assert r.estimated_num_issues == r.num_issues
        assert r.health_score == pytest.approx(1 - r.num_issues / labels.size)
        pruned = rank_label_issues(labels, P, filter_by="prune_by_noise_rate", chunked=chunked)
        assert pruned.estimated_num_issues == counted
