"""Local pretrained weights for the image backbones (nothing is downloaded), the linear probe's frozen body,
and image resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from labelaudit.core.backbones.neighbours import classifier_layer
from labelaudit.errors import OptionError


def head_of(model: nn.Module) -> nn.Module:
    """The classifier layer: ``model.head`` when it exists, else the last Linear layer."""
    try:
        return classifier_layer(model)
    except ValueError as exc:
        raise OptionError("this model has no linear classifier layer", field="weights") from exc


class FrozenBody(nn.Module):
    """Linear probe: the pretrained body stays in eval mode with frozen weights; only the head trains."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        head_params = {id(p) for p in head_of(model).parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in head_params)

    def forward(self, x):
        return self.model(x)

    def train(self, mode: bool = True):
        self.training = mode
        self.model.eval()
        head_of(self.model).train(mode)
        return self


def load_weights(model: nn.Module, path: Path, *, mode: str = "finetune") -> nn.Module:
    """Load a local state dict into ``model`` (the classifier head is skipped when its shape differs).

    Nothing is downloaded: ``path`` is a file the caller already has.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise OptionError(f"cannot read weights {path}: {exc}", field="weights") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    # scalar counters (num_batches_tracked) match any BatchNorm: they say nothing about fit
    body_keys = {k for k in own if not k.endswith(("head.weight", "head.bias", "num_batches_tracked"))}
    if not fitting or not (set(fitting) & body_keys):
        raise OptionError(f"weights {path} do not fit this backbone (no tensor names and shapes match)",
                          field="weights")
    model.load_state_dict(fitting, strict=False)
    return FrozenBody(model) if mode == "linear_probe" else model


def resize_images(X: np.ndarray, size: int) -> np.ndarray:
    """Resize (n, c, h, w) images to ``size`` x ``size`` (antialiased bilinear), in chunks."""
    import torch
    import torch.nn.functional as F

    out = np.empty((X.shape[0], X.shape[1], size, size), dtype=np.float32)
    for i in range(0, X.shape[0], 2048):
        chunk = torch.as_tensor(np.asarray(X[i:i + 2048], dtype=np.float32))
        out[i:i + 2048] = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True,
                                        align_corners=False).numpy()
    return out
