"""Ensembles: several models per fold, their held-out probabilities averaged, progress per model, agreement."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from labelaudit.core.crossval import cross_val_pred_probs, ensemble_seed
from labelaudit.core.dataset import Dataset
from labelaudit.core.options import AuditOptions
from labelaudit.core.pipeline import run_audit
from labelaudit.errors import OptionError


@pytest.fixture(scope="module")
def digits_small():
    X, y = load_digits(return_X_y=True)
    return X[:400].astype(np.float32), y[:400].astype(np.int64)


def test_an_ensemble_averages_its_members_and_its_first_member_is_the_single_model(digits_small):
    X, y = digits_small
    kw = dict(num_classes=10, modality="tabular", backbone="mlp", folds=2, epochs=2, seed=3, device="cpu")
    single = cross_val_pred_probs(X, y, **kw)
    seen = []
    both = cross_val_pred_probs(X, y, members=2, progress=seen.append, **kw)
    assert both.members == 2 and len(both.member_accuracy) == 2 and len(both.fold_seconds) == 4
    assert np.allclose(both.pred_probs.sum(axis=1), 1.0)
    # member 0 trains from the same seeds as the single model: the average is the single model's probabilities
    # pulled towards a second, different model
    second = 2 * both.pred_probs - single.pred_probs
    assert np.allclose(second.sum(axis=1), 1.0, atol=1e-6) and second.min() > -1e-6
    assert not np.allclose(second, single.pred_probs, atol=1e-3)
    assert 0.0 < both.member_agreement <= 1.0
    votes = [single.pred_probs.argmax(1), second.argmax(1)]
    assert both.member_accuracy[0] == pytest.approx(float((votes[0] == y).mean()))
    assert both.member_agreement == pytest.approx(float((votes[0] == votes[1]).mean()))
    # progress: every report names its model; the fraction rises to 1 across both models
    assert {p.member for p in seen} == {1, 2} and all(p.members == 2 for p in seen)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert max(p.fraction for p in seen if p.member == 1) == pytest.approx(0.5)
    assert seen[-1].message.startswith("model 2/2, fold")


def test_member_seeds_are_distinct_and_the_first_member_keeps_the_single_models_seed():
    seeds = {ensemble_seed(s, f, m) for s in range(3) for f in range(50) for m in range(9)}
    assert len(seeds) == 3 * 50 * 9
    assert ensemble_seed(7, 4, 0) == 7 * 1000 + 4


@pytest.mark.parametrize("bad", [0, 10, -1, 2.5])
def test_an_impossible_ensemble_size_is_refused_naming_the_field(digits_small, bad):
    X, y = digits_small
    with pytest.raises(OptionError) as err:
        cross_val_pred_probs(X, y, num_classes=10, modality="tabular", backbone="logreg", folds=2, members=bad)
    assert err.value.field == "ensemble"
    ds = Dataset(labels=y, class_names=[str(c) for c in range(10)], modality="tabular", features=X)
    with pytest.raises(OptionError) as err:
        run_audit(ds, AuditOptions(backbone="logreg", folds=2, ensemble=bad))
    assert err.value.field == "ensemble"


def test_an_audit_reports_its_ensemble_in_the_summary(digits_small):
    X, y = digits_small
    ds = Dataset(labels=y, class_names=[str(c) for c in range(10)], modality="tabular", features=X)
    one = run_audit(ds, AuditOptions(backbone="mlp", folds=2, epochs=1, device="cpu"))
    assert one.summary()["ensemble"] == {"members": 1, "agreement": None,
                                         "member_cv_accuracy": [pytest.approx(one.summary()["cv_accuracy"])]}
    two = run_audit(ds, AuditOptions(backbone="mlp", folds=2, epochs=1, device="cpu", ensemble=2))
    summary = two.summary()["ensemble"]
    assert summary["members"] == 2 and 0 < summary["agreement"] <= 1 and len(summary["member_cv_accuracy"]) == 2
    assert two.options.to_dict()["ensemble"] == 2
