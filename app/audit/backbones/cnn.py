"""A small, fast convolutional net for small images (torch)."""

from __future__ import annotations

import numpy as np
from torch import nn

from app.audit.backbones.base import FitContext
from app.audit.backbones.training import TrainConfig, epochs_for, train_and_predict


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def build_cnn(in_channels: int, num_classes: int, width: int = 32, stem_stride: int = 1) -> nn.Module:
    """Three conv stages (``width``, ``2*width``, ``4*width`` channels), strided, global pooling, linear head.

    Strided convolutions instead of pooling keep the cost near a 2-conv net while
    the receptive field covers a 28x28 digit.
    """
    w = width
    return nn.Sequential(
        *_conv(in_channels, w, stride=stem_stride),
        *_conv(w, 2 * w, stride=2),
        *_conv(2 * w, 2 * w),
        *_conv(2 * w, 4 * w, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * w, num_classes),
    )


class CNNBackbone:
    """The small conv net: shift augmentation, a noise-robust loss (GCE), test-time augmentation.

    Images of 20 pixels or more start with a strided stem (28x28 -> 14x14), which
    cut MNIST cross-validation time by a third at the same detection AP.
    """

    name = "cnn"
    modalities = ("image",)
    uses_torch = True
    option_names = frozenset({"batch_size", "lr", "weight_decay", "label_smoothing", "augment_shift", "hflip", "tta",
                              "loss", "gce_q", "width", "stem_stride"})

    def default_epochs(self, n_train: int) -> int:
        return epochs_for(n_train, target_steps=300, batch_size=128, lo=3, hi=15)

    def fit_predict(self, X_train: np.ndarray, y_train: np.ndarray, X_eval: np.ndarray,
                    ctx: FitContext) -> np.ndarray:
        opts = ctx.options
        side = min(X_train.shape[-2:])
        config = TrainConfig(
            epochs=ctx.epochs or self.default_epochs(len(X_train)),
            batch_size=int(opts.get("batch_size", 128)),
            lr=float(opts.get("lr", 3e-3)),
            weight_decay=float(opts.get("weight_decay", 5e-4)),
            label_smoothing=float(opts.get("label_smoothing", 0.1)),
            augment_shift=int(opts.get("augment_shift", 1 if side <= 12 else 2)),
            hflip=bool(opts.get("hflip", False)),
            tta=bool(opts.get("tta", True)),
            loss=str(opts.get("loss", "gce")),
            gce_q=float(opts.get("gce_q", 0.7)),
        )
        c = X_train.shape[1]
        return train_and_predict(
            lambda: build_cnn(c, ctx.num_classes, width=int(opts.get("width", 32)),
                              stem_stride=int(opts.get("stem_stride", 2 if side >= 20 else 1))),
            X_train, y_train, X_eval, ctx, config, image=True,
        )
