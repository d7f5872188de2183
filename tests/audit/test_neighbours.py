"""The neighbourhood signal: label agreement with the nearest training examples in a fold model's embedding."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from labelaudit.core.backbones.neighbours import classifier_layer, embed, neighbour_probs
from labelaudit.core.crossval import cross_val_pred_probs


def test_a_point_among_another_class_gets_that_class_from_its_neighbours():
    rng = np.random.default_rng(0)
    a = rng.normal([5, 0], 0.3, size=(50, 2))
    b = rng.normal([0, 5], 0.3, size=(50, 2))
    train = torch.tensor(np.vstack([a, b]), dtype=torch.float32)
    train = train / train.norm(dim=1, keepdim=True)
    labels = torch.tensor([0] * 50 + [1] * 50)
    probe = torch.tensor([[5.0, 0.1], [0.1, 5.0]])
    probe = probe / probe.norm(dim=1, keepdim=True)
    p = neighbour_probs(train, labels, probe, num_classes=3, k=10)
    assert p.shape == (2, 3) and np.allclose(p.sum(axis=1), 1.0)
    assert p[0].argmax() == 0 and p[1].argmax() == 1 and p[0, 0] > 0.8
    assert p[0, 2] > 0  # smoothing: no class is impossible
    assert neighbour_probs(train, labels, probe, num_classes=3, k=1000).shape == (2, 3)  # k above n: all of them
    # a similarity budget below one training set's row still answers, a row at a time, the same
    assert np.allclose(neighbour_probs(train, labels, probe, num_classes=3, k=10, max_similarities=50), p)


def test_embeddings_are_the_classifier_layers_input_normalised():
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    assert classifier_layer(model) is model[2]
    x = torch.randn(10, 4)
    emb = embed(model, x, batch_size=3)
    expected = torch.relu(model[0](x))
    expected = expected / expected.norm(dim=1, keepdim=True).clamp_min(1e-12)
    assert emb.shape == (10, 6) and torch.allclose(emb, expected, atol=1e-6)


def test_cross_validation_returns_neighbour_probabilities_for_torch_backbones_only():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300].astype(np.float32), y[:300].astype(np.int64)
    kw = dict(num_classes=10, modality="tabular", folds=2, seed=0, device="cpu")
    cv = cross_val_pred_probs(X, y, backbone="mlp", epochs=3, neighbours=5, **kw)
    assert cv.neighbour_probs.shape == (300, 10) and np.allclose(cv.neighbour_probs.sum(axis=1), 1.0)
    # neighbours in a trained embedding mostly share the example's label
    assert (cv.neighbour_probs.argmax(axis=1) == y).mean() > 0.7
    plain = cross_val_pred_probs(X, y, backbone="mlp", epochs=3, **kw)
    assert plain.neighbour_probs is None and np.array_equal(plain.pred_probs, cv.pred_probs)
    assert cross_val_pred_probs(X, y, backbone="logreg", neighbours=5, **kw).neighbour_probs is None


def test_an_audit_exposes_the_neighbour_score_per_example_and_a_mislabelled_point_gets_a_low_one():
    import pytest

    from labelaudit.core.ingest import from_arrays
    from labelaudit.core.pipeline import AuditOptions, check_options_for, run_audit
    from labelaudit.errors import OptionError

    X, y = load_digits(return_X_y=True)
    X, y = X[:400].astype(np.float32), y[:400].astype(np.int64)
    noisy = y.copy()
    flipped = np.flatnonzero(y == 0)[:4]
    noisy[flipped] = 6  # clear zeros labelled six: their neighbours say zero
    result = run_audit(from_arrays(X, noisy), AuditOptions(backbone="mlp", folds=2, epochs=4, neighbours=8))
    scores = result.neighbour_scores
    assert scores.shape == (400,) and ((scores > 0) & (scores < 1)).all()
    assert scores[flipped].max() < np.median(scores)
    summary = result.summary()["neighbours"]
    assert summary["k"] == 8 and 0 < summary["disagreement_rate"] < 0.5
    assert summary["flagged_disagreeing"] <= int(result.ranking.is_issue.sum())
    row = next(result.rows())
    assert row["neighbour_score"] == pytest.approx(scores[row["index"]])
    assert "neighbour_score" not in next(run_audit(from_arrays(X, noisy), AuditOptions(backbone="logreg")).rows())

    counts = np.bincount(noisy)
    for k in (-1, 101, True, 2.5):
        with pytest.raises(OptionError) as err:
            check_options_for("tabular", counts, (64,), AuditOptions(backbone="mlp", neighbours=k))
        assert err.value.field == "neighbours"
    for backbone in ("logreg", "gbt"):
        with pytest.raises(OptionError, match="torch backbone"):
            check_options_for("tabular", counts, (64,), AuditOptions(backbone=backbone, neighbours=5))
    with pytest.raises(OptionError, match="pred_probs"):
        check_options_for("pred_probs", counts, (10,), AuditOptions(neighbours=5))
