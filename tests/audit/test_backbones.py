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
