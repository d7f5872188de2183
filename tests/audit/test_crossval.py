"""Cross-validation: out-of-sample, stratified, seeded, reports progress, honours cancel."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core.crossval import cross_val_pred_probs, fold_plan
from labelaudit.core.order import key_folds, key_hashes
from labelaudit.errors import AuditCancelled, OptionError

KEYS = np.array([f"id:{i}" for i in range(3000)], dtype=object)


def _folds(keys, labels, seed, folds=5):
    return key_folds(key_hashes(keys, seed), labels, folds)


def test_folds_come_from_keys_and_seed_stratified_in_expectation():
    y = np.repeat(np.arange(3), [500, 1000, 1500])
    a = _folds(KEYS, y, seed=1)
    assert np.array_equal(a, _folds(KEYS, y, seed=1))
    assert (a != _folds(KEYS, y, seed=2)).mean() > 0.7
    for c, size in enumerate([500, 1000, 1500]):
        counts = np.bincount(a[y == c], minlength=5)
        assert np.all(np.abs(counts - size / 5) < 4 * np.sqrt(size / 5)), counts  # binomial spread, no fold empty


def test_a_row_keeps_its_fold_whatever_the_order_and_when_rows_are_appended():
    y = np.arange(3000) % 3
    a = _folds(KEYS, y, seed=0)
    shuffled = np.random.default_rng(1).permutation(3000)
    assert np.array_equal(_folds(KEYS[shuffled], y[shuffled], seed=0), a[shuffled])
    more = np.concatenate([KEYS, np.array([f"id:new{i}" for i in range(500)], dtype=object)])
    grown = _folds(more, np.concatenate([y, np.arange(500) % 3]), seed=0)
    assert np.array_equal(grown[:3000], a)


def test_a_tiny_class_is_dealt_so_every_fold_trains_on_it():
    y = np.zeros(200, dtype=np.int64)
    y[:3] = 1  # three examples of class 1
    for seed in range(40):
        folds = _folds(KEYS[:200], y, seed=seed, folds=3)
        assert np.unique(folds[:3]).size >= 2, seed


def test_the_canonical_order_does_not_follow_positions():
    y = np.arange(300) % 3
    plan = fold_plan(y, KEYS[:300], folds=3, seed=4)
    shuffled = np.random.default_rng(2).permutation(300)
    other = fold_plan(y[shuffled], KEYS[:300][shuffled], folds=3, seed=4)
    for f in range(3):
        for mine, theirs in zip(plan.rows(f), other.rows(f)):
            assert np.array_equal(KEYS[mine], KEYS[:300][shuffled][theirs])


def test_each_example_is_predicted_by_a_model_that_never_saw_it(digits):
    """Give every example a unique random label: a model that saw an example could recall it;
    held-out predictions can't, so they must be near chance on such labels."""
    X, _ = digits
    X = X[:400].reshape(400, -1)
    rng = np.random.default_rng(0)
    y = rng.permutation(np.arange(400) % 4)
    cv = cross_val_pred_probs(X, y, num_classes=4, modality="tabular", backbone="mlp", epochs=30, seed=0,
                              options={"dropout": 0.0, "loss": "ce"})
    held_out_acc = (cv.pred_probs.argmax(axis=1) == y).mean()
    assert held_out_acc < 0.4  # chance is 0.25; training accuracy of this MLP on 320 rows is near 1


def test_same_seed_same_pred_probs(digits):
    X, y = digits
    kw = dict(num_classes=10, modality="image", backbone="cnn", epochs=1, folds=3,
              options={"width": 8})
    a = cross_val_pred_probs(X[:300, None], y[:300], seed=5, **kw)
    b = cross_val_pred_probs(X[:300, None], y[:300], seed=5, **kw)
    assert np.array_equal(a.pred_probs, b.pred_probs)
    assert a.backbone == "cnn" and a.device == "cpu" and len(a.fold_seconds) == 3


def test_progress_reports_every_fold_and_epoch(digits):
    X, y = digits
    seen = []
    cross_val_pred_probs(X[:300].reshape(300, -1), y[:300], num_classes=10, modality="tabular", backbone="mlp",
                         epochs=2, folds=3, progress=seen.append)
    assert [(p.fold, p.epoch) for p in seen] == [(f, e) for f in (1, 2, 3) for e in (1, 2)]
    assert seen[-1].fraction == pytest.approx(1.0)
    assert all(a.fraction < b.fraction for a, b in zip(seen, seen[1:]))


def test_cancel_stops_training(digits):
    X, y = digits
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(AuditCancelled):
        cross_val_pred_probs(X[:300].reshape(300, -1), y[:300], num_classes=10, modality="tabular",
                             backbone="mlp", epochs=5, folds=3, should_stop=stop)


def test_excluded_examples_are_still_predicted(digits):
    X, y = digits
    exclude = np.zeros(300, bool)
    exclude[::3] = True
    cv = cross_val_pred_probs(X[:300].reshape(300, -1), y[:300], num_classes=10, modality="tabular",
                              backbone="logreg", folds=3, exclude_from_training=exclude)
    assert np.allclose(cv.pred_probs.sum(axis=1), 1.0)


def test_bad_device_is_refused_whatever_the_backbone():
    X = np.zeros((20, 2), np.float32)
    y = np.repeat([0, 1], 10)
    with pytest.raises(OptionError) as info:
        cross_val_pred_probs(X, y, num_classes=2, modality="tabular", backbone="logreg", folds=2, device="tpu")
    assert info.value.field == "device"


def test_bad_folds():
    X = np.zeros((20, 2), np.float32)
    y = np.repeat([0, 1], [17, 3])
    with pytest.raises(OptionError) as info:
        cross_val_pred_probs(X, y, num_classes=2, modality="tabular", backbone="logreg", folds=5)
    assert info.value.field == "folds"
