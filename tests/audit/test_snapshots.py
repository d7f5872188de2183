"""Snapshot averaging of the held-out predictions (backbone option ``snapshots``): the models at the end of the
last few epochs each predict the held-out part and their probabilities are averaged."""

from __future__ import annotations

import numpy as np
import pytest

import labelaudit.core.backbones.training as training
from labelaudit.core.backbones import choose_backbone, get_backbone
from labelaudit.core.backbones.base import FitContext
from labelaudit.core.backbones.training import TrainConfig, snapshot_epoch
from labelaudit.core.cpubudget import CpuBudget
from labelaudit.core.crossval import cross_val_pred_probs
from labelaudit.core.executors import LocalExecutor
from labelaudit.errors import OptionError


def _images(n=160, side=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 1, side, side)).astype(np.float32)
    X[np.arange(n), 0, y * 2, y * 2 + 1] += 3.0  # a learnable mark per class
    return X, y


def _fit(options: dict, epochs: int = 2) -> np.ndarray:
    X, y = _images()
    return get_backbone("cnn").fit_predict(X[:120], y[:120], X[120:],
                                           FitContext(num_classes=3, epochs=epochs, options=options))


def test_one_snapshot_is_the_final_model_and_more_average_earlier_epochs():
    plain = _fit({})
    assert np.array_equal(_fit({"snapshots": 1}), plain)  # bit for bit what the option's absence gives
    two = _fit({"snapshots": 2})
    assert two.shape == plain.shape and (two >= 0).all()
    assert np.allclose(two.sum(axis=1), 1.0)
    assert np.abs(two - plain).max() > 1e-3  # the first epoch's model counts too


def test_which_epochs_are_snapshots():
    config = TrainConfig(epochs=5, snapshots=3)
    assert [e for e in range(1, 6) if snapshot_epoch(config, e)] == [3, 4]  # and the final model, after epoch 5
    assert not any(snapshot_epoch(TrainConfig(epochs=5), e) for e in range(1, 6))


def test_folds_trained_together_average_the_same_snapshots(monkeypatch):
    monkeypatch.setattr(training, "CHANNELS_LAST", False)  # the stack's layout, so that both round alike
    X, y = _images(240)
    keys = np.array([f"k{i}" for i in range(len(y))], dtype=object)

    def cv(concurrent: str, snapshots: int) -> np.ndarray:
        return cross_val_pred_probs(X, y, num_classes=3, modality="image", backbone="cnn", folds=3, epochs=3,
                                    seed=1, device="cpu", options={"snapshots": snapshots}, keys=keys,
                                    executor=LocalExecutor(CpuBudget(threads=1), concurrent_folds=concurrent)
                                    ).pred_probs

    seq, together = cv("off", 3), cv("on", 3)
    assert np.abs(together - seq).max() < 1e-5
    assert np.allclose(together.sum(axis=1), 1.0)
    assert np.abs(cv("on", 1) - together).max() > 1e-3


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3"])
def test_snapshots_that_are_not_a_whole_number_of_epochs_are_refused(value):
    with pytest.raises(OptionError) as info:
        _fit({"snapshots": value})
    assert info.value.field == "snapshots" and "snapshots" in info.value.message
    with pytest.raises(OptionError):  # and when the audit is requested
        choose_backbone("cnn", "image", (1, 8, 8), {"snapshots": value})


def test_more_snapshots_than_epochs_average_every_epoch_and_early_stopping_refuses_them():
    # the epochs of `auto` are unknown when the audit is requested: more snapshots than epochs average them all
    np.testing.assert_array_equal(_fit({"snapshots": 5}, epochs=2), _fit({"snapshots": 2}, epochs=2))
    with pytest.raises(OptionError) as info:
        choose_backbone("cnn", "image", (1, 8, 8), {"snapshots": 2, "early_stopping": True})
    assert "early_stopping" in info.value.message
    with pytest.raises(OptionError) as info:
        choose_backbone("logreg", "image", (1, 8, 8), {"snapshots": 2})  # an image option of the torch nets
    assert info.value.field == "backbone_options"
