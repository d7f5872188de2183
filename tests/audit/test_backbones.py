"""Backbones: forward/backward on tiny inputs, the registry, device selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelaudit.core.backbones import choose_backbone, get_backbone
from labelaudit.core.backbones.base import FitContext
from labelaudit.core.backbones.cnn import build_cnn
from labelaudit.core.backbones.device import resolve_device
from labelaudit.core.backbones.mlp import build_mlp
from labelaudit.core.options import check_device
from labelaudit.errors import OptionError


@pytest.mark.parametrize("model, x", [
    (lambda: build_mlp(6, 3), torch.randn(8, 6)),
    (lambda: build_cnn(1, 3, width=8), torch.randn(8, 1, 12, 12)),
    (lambda: build_cnn(3, 3, width=8, stem_stride=2), torch.randn(8, 3, 28, 28)),
])
def test_forward_backward_changes_parameters(model, x):
    torch.manual_seed(0)
    net = model()
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    logits = net(x)
    assert logits.shape == (8, 3)
    loss = torch.nn.functional.cross_entropy(logits, torch.arange(8) % 3)
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, net.parameters()))


@pytest.mark.parametrize("name", ["logreg", "mlp", "cnn"])
def test_fit_predict_returns_probabilities(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 1, 8, 8)).astype(np.float32)
    y = np.arange(60) % 3
    X[np.arange(60), 0, y, y] += 3.0  # a learnable signal
    backbone = get_backbone(name)
    probs = backbone.fit_predict(X[:45], y[:45], X[45:], FitContext(num_classes=3, epochs=2))
    assert probs.shape == (15, 3)
    assert np.allclose(probs.sum(axis=1), 1.0) and (probs >= 0).all()


def test_auto_picks_by_modality_and_rejects_mismatches():
    assert choose_backbone("auto", "image", (1, 8, 8)).name == "cnn"
    assert choose_backbone("auto", "tabular", (5,)).name == "gbt"
    assert choose_backbone("auto", "tabular", (5,), has_text=True).name == "text"
    with pytest.raises(OptionError) as info:  # trees and the MLP read no text
        choose_backbone("gbt", "tabular", (5,), has_text=True)
    assert info.value.field == "backbone" and "text" in info.value.message
    with pytest.raises(OptionError) as info:
        choose_backbone("cnn", "tabular", (5,))
    assert info.value.field == "backbone"
    with pytest.raises(OptionError):
        get_backbone("vit-huge")


def test_device_selection():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    for name in ("auto", "cpu", "cuda", "cuda:1"):
        check_device(name)
    with pytest.raises(OptionError) as info:  # names are checked once, at the entry points; resolve_device trusts
        check_device("tpu")
    assert (info.value.field, info.value.message) == ("device", "unknown device 'tpu'; expected auto, cpu or cuda")
    if not torch.cuda.is_available():
        with pytest.raises(OptionError) as info:
            resolve_device("cuda")
        assert "no CUDA" in info.value.message


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cnn_trains_on_cuda_with_mixed_precision():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, size=(256, 1, 28, 28)).astype(np.uint8)
    y = np.arange(256) % 4
    probs = get_backbone("cnn").fit_predict(X[:200], y[:200], X[200:],
                                            FitContext(num_classes=4, epochs=2, device="cuda"))
    assert probs.shape == (56, 4) and np.isfinite(probs).all()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_folds_train_together_on_cuda(name, monkeypatch):
    """The stacked path (vmap over the folds, autocast, a grad scaler per fold on fp16 GPUs) against one fold
    after another on the GPU: the same accuracy, probabilities close (rounding amplified by training in
    reduced precision; the mlp's dropout masks come from another kernel than F.dropout's fused one)."""
    import labelaudit.core.backbones.stacked as stacked
    from labelaudit.core.crossval import cross_val_pred_probs
    from labelaudit.core.executors import LocalExecutor

    rng = np.random.default_rng(0)
    n = 900
    y = np.arange(n) % 3
    X = rng.random((n, 1, 16, 16)).astype(np.float32)
    X[np.arange(n), 0, y * 4, y * 4 + 2] += 3.0
    keys = np.array([f"k{i}" for i in range(n)], dtype=object)
    stacks = []
    train_stack = stacked._train_stack
    monkeypatch.setattr(stacked, "_train_stack", lambda *a, **k: stacks.append(len(a[3])) or train_stack(*a, **k))
    runs = {}
    for mode in ("off", "auto"):
        runs[mode] = cross_val_pred_probs(X, y, num_classes=3, modality="image", backbone=name, folds=3,
                                          epochs=3 if name == "cnn" else 20, seed=0, device="cuda", keys=keys,
                                          executor=LocalExecutor(concurrent_folds=mode))
    assert stacks and sum(stacks) == 3  # auto stacks the small backbones on a GPU
    seq, together = runs["off"].pred_probs, runs["auto"].pred_probs
    assert np.isfinite(together).all() and np.allclose(together.sum(axis=1), 1.0, atol=1e-4)
    acc = [(p.argmax(1) == y).mean() for p in (seq, together)]
    assert min(acc) > 0.9 and abs(acc[0] - acc[1]) < 0.03
    assert np.abs(seq - together).max() < (0.1 if name == "cnn" else 0.5)


@pytest.mark.parametrize("n_train", [8, 16, 32, 45, 64])
def test_tiny_training_runs_never_break_the_schedule(n_train):
    """Every small step count trains (OneCycleLR alone divides by zero at 4 steps in all)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n_train + 6, 1, 8, 8)).astype(np.float32)
    y = np.arange(n_train + 6) % 2
    for epochs in (1, 2, 3):
        probs = get_backbone("cnn").fit_predict(X[:n_train], y[:n_train], X[n_train:],
                                                FitContext(num_classes=2, epochs=epochs))
        assert probs.shape == (6, 2) and np.isfinite(probs).all()
