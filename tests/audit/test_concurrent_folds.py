"""Folds trained together (one vmapped stack, :mod:`labelaudit.core.backbones.stacked`) give what the folds
trained one after another give: the same batches, augmentations and dropout masks bit for bit, the same
probabilities up to floating-point rounding; unequal folds, progress, cancellation and the option."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import labelaudit.core.backbones.stacked as stacked
import labelaudit.core.backbones.training as training
from labelaudit.core.backbones import get_backbone
from labelaudit.core.backbones.base import FitContext, FoldRows
from labelaudit.core.cpubudget import CpuBudget
from labelaudit.core.crossval import cross_val_pred_probs
from labelaudit.core.executors import LocalExecutor
from labelaudit.core.folds import FoldSpec
from labelaudit.core.table_features import TableFeatures
from labelaudit.errors import AuditCancelled, OptionError

# Training amplifies rounding (Adam divides tiny gradients by their own size). The stack trains images in the
# default memory layout; against the sequential loop in that layout too the probabilities agree to ~1e-7, and
# against its channels_last default to ~1e-2, which is how far the sequential loop itself moves when only its
# layout changes (measured: 6.1e-3 both ways on the batch-size test below). A wrong seed, batch order,
# augmentation or dropout mask moves them by far more (checked against another seed).
TOLERANCE = 1e-5
LAYOUT_TOLERANCE = 3e-2
# The MLP's linear layers run as batched matrix products under vmap, which round unlike addmm: ~1.5e-4.
MLP_TOLERANCE = 1e-3


@pytest.fixture
def same_layout(monkeypatch):
    """The sequential loop in the stack's memory layout (not channels_last), so that they round alike."""
    monkeypatch.setattr(training, "CHANNELS_LAST", False)


def _images(n=360, side=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    X = rng.random((n, 1, side, side)).astype(np.float32)
    X[np.arange(n), 0, y * 2, y * 2 + 1] += 2.0  # a learnable mark per class
    return X, y


def _table(n=420, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 12)).astype(np.float32)
    X[:, 0] += y
    return X, y


def _cv(X, y, backbone, concurrent, *, seed=1, folds=3, epochs=2, options=None, fold_ids=None, progress=None,
        should_stop=None, modality=None):
    keys = np.array([f"k{i}" for i in range(len(y))], dtype=object)
    return cross_val_pred_probs(
        X, y, num_classes=int(y.max()) + 1, modality=modality or ("image" if X.ndim == 4 else "tabular"),
        backbone=backbone, folds=folds, epochs=epochs, seed=seed, device="cpu", options=options, keys=keys,
        fold_ids=fold_ids, progress=progress, should_stop=should_stop,
        executor=LocalExecutor(CpuBudget(threads=1), concurrent_folds=concurrent))


@pytest.fixture
def recorded(monkeypatch):
    """Every augmented batch, with the generator that drew its shifts, in both paths."""
    log: dict[str, list] = {"augment": []}
    augment = training._augment

    def spy_augment(xb, config, gen):
        out = augment(xb, config, gen)
        log["augment"].append((gen, out.clone()))  # the generator itself: kept alive, its id stays its own
        return out

    monkeypatch.setattr(training, "_augment", spy_augment)
    monkeypatch.setattr(stacked, "_augment", spy_augment)
    return log


def _per_generator(entries):
    """Recorded tensors grouped by the generator that drew them, in first-use order."""
    groups: dict[int, list] = {}
    for gen, tensor in entries:
        groups.setdefault(id(gen), []).append(tensor)
    return list(groups.values())


def test_cnn_folds_together_see_the_same_batches_and_give_the_same_probabilities(recorded, same_layout):
    X, y = _images()
    seq = _cv(X, y, "cnn", "off")
    seq_batches = _per_generator(recorded["augment"])
    recorded["augment"].clear()
    together = _cv(X, y, "cnn", "on")
    stack_batches = _per_generator(recorded["augment"])
    assert len(seq_batches) == len(stack_batches) == 3
    for a, b in zip(seq_batches, stack_batches):  # each fold: the same batches, shifted the same way, in order
        assert len(a) == len(b) > 10
        assert all(torch.equal(u, v) for u, v in zip(a, b))
    diff = np.abs(together.pred_probs - seq.pred_probs).max()
    assert diff < TOLERANCE
    other_seed = _cv(X, y, "cnn", "off", seed=2)
    assert np.abs(other_seed.pred_probs - seq.pred_probs).max() > 20 * max(diff, 1e-4)
    assert np.array_equal(together.fold_ids, seq.fold_ids)
    assert together.epochs == seq.epochs == 2
    assert np.allclose(together.pred_probs.sum(axis=1), 1.0)


def test_against_the_channels_last_default_the_difference_is_the_layouts():
    X, y = _images()
    seq = _cv(X, y, "cnn", "off")
    together = _cv(X, y, "cnn", "on")
    assert np.abs(together.pred_probs - seq.pred_probs).max() < LAYOUT_TOLERANCE
    assert (together.pred_probs.argmax(1) == seq.pred_probs.argmax(1)).mean() > 0.98


def test_mlp_folds_together_draw_each_folds_dropout_masks(monkeypatch):
    X, y = _table()
    seq = _cv(X, y, "mlp", "off", epochs=3)
    together = _cv(X, y, "mlp", "on", epochs=3)
    diff = np.abs(together.pred_probs - seq.pred_probs).max()
    assert diff < MLP_TOLERANCE
    # the same stack with other dropout masks (each fold's mask stream reseeded) is not rounding
    draw = stacked._dropout_masks

    def other_masks(stack, active, drops):
        for f in stack:
            if not getattr(f, "reseeded", False):
                f.drop_gen.manual_seed(12345)
                f.reseeded = True
        return draw(stack, active, drops)

    monkeypatch.setattr(stacked, "_dropout_masks", other_masks)
    other = _cv(X, y, "mlp", "on", epochs=3)
    assert np.abs(other.pred_probs - seq.pred_probs).max() > 20 * max(diff, 1e-4)


def test_dropout_masks_are_those_f_dropout_draws_on_the_cpu():
    x = torch.randn(16, 32)
    torch.manual_seed(3)
    expected = torch.nn.functional.dropout(x, 0.5, training=True)
    torch.manual_seed(3)
    gen = torch.Generator().manual_seed(0)
    gen.set_state(torch.get_rng_state())
    mask = torch.empty(16, 32).bernoulli_(0.5, generator=gen).div_(0.5)
    assert torch.equal(expected, x * mask)


def test_folds_of_different_sizes_take_their_own_steps():
    """Training parts of 320, 240 and 400 rows: 2, 1 and 3 steps of 128 rows an epoch, in one stack; a fold
    riding along after its last step is neither updated nor has its BatchNorm statistics moved."""
    X, y = _table(480)
    fold_ids = np.repeat([0, 1, 2], [160, 240, 80])[np.random.default_rng(0).permutation(480)]
    seq = _cv(X, y, "mlp", "off", fold_ids=fold_ids, epochs=4)
    together = _cv(X, y, "mlp", "on", fold_ids=fold_ids, epochs=4)
    assert np.abs(together.pred_probs - seq.pred_probs).max() < MLP_TOLERANCE


def test_image_folds_with_other_batch_sizes_train_in_separate_stacks(monkeypatch, same_layout):
    X, y = _images(600)
    # training parts of 480, 400 and 320 images: default batches of 24, 20 and 16 -> three groups of one
    fold_ids = np.repeat([0, 1, 2], [120, 200, 280])[np.random.default_rng(1).permutation(600)]
    stacks = []
    train_stack = stacked._train_stack
    monkeypatch.setattr(stacked, "_train_stack", lambda *a, **k: stacks.append(len(a[3])) or train_stack(*a, **k))
    seq = _cv(X, y, "cnn", "off", fold_ids=fold_ids, epochs=1)
    together = _cv(X, y, "cnn", "on", fold_ids=fold_ids, epochs=1)
    assert stacks == []  # each fold alone: the sequential code itself
    assert np.abs(together.pred_probs - seq.pred_probs).max() < 1e-6
    # with one batch size for all, the three train as one stack
    same = _cv(X, y, "cnn", "on", fold_ids=fold_ids, epochs=1, options={"batch_size": 16})
    ref = _cv(X, y, "cnn", "off", fold_ids=fold_ids, epochs=1, options={"batch_size": 16})
    assert stacks == [3]
    # On AVX-512 CPUs (an Intel Xeon here) the stack's grouped convolutions round unlike the plain ones and
    # training amplifies it on one of these folds: 5.6e-3 against 2e-7 on AMD EPYC (the riding-along rule is
    # pinned tighter by the MLP test above). Another seed moves the probabilities by 0.2-0.4.
    assert np.abs(same.pred_probs - ref.pred_probs).max() < LAYOUT_TOLERANCE
    other = _cv(X, y, "cnn", "off", fold_ids=fold_ids, epochs=1, options={"batch_size": 16}, seed=2)
    assert np.abs(other.pred_probs - ref.pred_probs).max() > 3 * LAYOUT_TOLERANCE


def test_two_folds_and_early_stopping(same_layout):
    X, y = _images(300)
    options = {"early_stopping": True, "augment_shift": 0}
    seq = _cv(X, y, "cnn", "off", folds=2, epochs=4, options=options)
    together = _cv(X, y, "cnn", "on", folds=2, epochs=4, options=options)
    assert np.abs(together.pred_probs - seq.pred_probs).max() < TOLERANCE


def test_progress_reports_every_epoch_of_every_fold_and_cancel_stops_between_epochs():
    X, y = _table()
    seen = []
    _cv(X, y, "mlp", "on", epochs=3, progress=lambda p: seen.append((p.fold, p.epoch, round(p.fraction, 4))))
    assert sorted((f, e) for f, e, _ in seen) == [(f, e) for f in (1, 2, 3) for e in (1, 2, 3)]
    assert seen[:3] == [(1, 1, round(1 / 9, 4)), (2, 1, round(2 / 9, 4)), (3, 1, round(3 / 9, 4))]
    assert seen[-1][2] == 1.0

    epochs_done = []

    def stop():
        return len(epochs_done) >= 3  # after the first epoch of each of the three folds

    with pytest.raises(AuditCancelled):
        _cv(X, y, "mlp", "on", epochs=5, progress=lambda p: epochs_done.append(p.epoch), should_stop=stop)
    assert epochs_done == [1, 1, 1]


def test_bf16_autocast_composes_with_vmap(monkeypatch, same_layout):
    """What CUDA runs (autocast around the vmapped step), on the CPU's bfloat16."""
    for module in (training, stacked):
        monkeypatch.setattr(module, "_amp_dtype", lambda device: torch.bfloat16)
    X, y = _images(240)
    folds = [FoldRows(np.flatnonzero(np.arange(240) % 2 != f), np.flatnonzero(np.arange(240) % 2 == f))
             for f in range(2)]
    ctxs = [FitContext(num_classes=4, seed=f, epochs=2, options={"batch_size": 32}) for f in range(2)]
    cnn = get_backbone("cnn")
    together = cnn.fit_predict_folds(X, y, folds, ctxs)
    alone = [cnn.fit_predict(X[p.train], y[p.train], X[p.held_out], c) for p, c in zip(folds, ctxs)]
    for a, b in zip(together, alone):
        assert a.shape == b.shape and np.isfinite(a).all()
        assert np.abs(a - b).max() < 0.1  # bfloat16 keeps 8 bits of mantissa


def _spec(model, device="cpu", options=None):
    return [FoldSpec(fold=f, folds=3, model=model, num_classes=3, seed=f, device=device, epochs=1,
                     options=options or {}) for f in range(3)]


def test_the_option_and_what_auto_means():
    with pytest.raises(OptionError) as info:
        LocalExecutor(concurrent_folds="sometimes")
    assert info.value.field == "concurrent_folds"
    X = np.zeros((30, 1, 8, 8), np.float32)
    cnn, mlp, gbt = get_backbone("cnn"), get_backbone("mlp"), get_backbone("gbt")
    auto, on, off = LocalExecutor(), LocalExecutor(concurrent_folds="on"), LocalExecutor(concurrent_folds="off")
    assert auto.together(_spec(cnn, "cuda"), X) and auto.together(_spec(mlp, "cuda:1"), X)
    assert not auto.together(_spec(cnn, "cpu"), X)
    assert not auto.together(_spec(get_backbone("resnet"), "cuda"), X)
    assert on.together(_spec(get_backbone("resnet"), "cpu"), X)
    assert not off.together(_spec(cnn, "cuda"), X)
    assert not on.together(_spec(gbt), X)  # not a torch backbone
    assert not on.together(_spec(cnn)[:1], X)  # one fold
    assert not on.together(_spec(cnn, options={"compile": True}), X)
    table = TableFeatures.__new__(TableFeatures)
    assert not on.together(_spec(mlp), table)  # typed columns are encoded per fold


def test_the_setting_reaches_the_local_executor(monkeypatch):
    from labelaudit.config import get_settings
    from labelaudit.services.executors import executor_from_settings

    monkeypatch.delenv("LABELAUDIT_EXECUTOR", raising=False)
    monkeypatch.delenv("LABELAUDIT_CONCURRENT_FOLDS", raising=False)
    assert executor_from_settings(get_settings()).concurrent_folds == "auto"
    monkeypatch.setenv("LABELAUDIT_CONCURRENT_FOLDS", "on")
    assert executor_from_settings(get_settings()).concurrent_folds == "on"
    assert executor_from_settings(get_settings(concurrent_folds="off")).concurrent_folds == "off"
