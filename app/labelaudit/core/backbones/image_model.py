"""What the image backbones share: training settings, the option checks, and their model factory (local
pretrained weights and resizing: :mod:`labelaudit.core.backbones.pretrained`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from torch import nn

from labelaudit.core.backbones.base import FitContext, FoldRows
from labelaudit.core.backbones.pretrained import load_weights, resize_images
from labelaudit.core.backbones.training import TrainConfig, check_snapshots, epochs_for, train_and_predict
from labelaudit.errors import OptionError
from labelaudit.vocab import WeightsMode, values

TRAIN_OPTIONS = frozenset({"batch_size", "lr", "weight_decay", "label_smoothing", "augment_shift", "augment_rotate",
                           "augment_scale", "hflip", "tta", "snapshots",
                           "loss", "gce_q", "early_stopping", "image_size", "weights", "weights_mode", "stem_stride",
                           "width", "compile"})
WEIGHTS_MODES: tuple[str, ...] = values(WeightsMode)


class ImageBackbone(ABC):
    """Base of the image families: subclasses give ``name`` and ``build(...)``."""

    name = "image"
    modalities = ("image",)
    uses_torch = True
    option_names = TRAIN_OPTIONS | {"se_reduction", "width_mult"}
    #: optimiser steps the default epoch count aims at (3 to 15 epochs). Real label errors hide among hard
    #: examples, so the model must get those right, but long runs start to memorise heavy injected noise and
    #: cost time: on the MNIST test set (8,000 training images a fold) 500 steps (8 epochs) against 300 (5)
    #: lift AP on 1% instance noise by 1.10x and cost 1.5x the CPU, keeping the default within half the
    #: baseline's cross-validation time (docs/benchmarks/real_errors.md, quality.md).
    target_steps = 500

    @abstractmethod
    def build(self, in_channels: int, num_classes: int, side: int, opts: dict) -> nn.Module:
        """The untrained network for ``in_channels`` x ``side`` x ``side`` inputs and ``num_classes`` outputs."""

    def default_batch_size(self, n_train: int) -> int:
        """128, or smaller for small training sets so that an epoch still has about 20 steps.

        With a few hundred images a batch of 128 gives 3-5 steps an epoch, and the few
        epochs the schedule allows are too few steps to learn anything (measured: 800
        MNIST images, 3 folds, 3 epochs -> CV accuracy 13%, everything flagged).
        """
        return int(max(16, min(128, n_train // 20)))

    def default_epochs(self, n_train: int, batch_size: int | None = None) -> int:
        batch = batch_size or self.default_batch_size(n_train)
        return epochs_for(n_train, target_steps=self.target_steps, batch_size=batch, lo=3, hi=15)

    def check_options(self, opts: dict) -> None:
        """Reject option values that cannot work, before any training starts."""
        weights = opts.get("weights")
        if weights is not None and not Path(weights).is_file():
            raise OptionError(f"weights file not found: {weights}", field="weights")
        mode = opts.get("weights_mode", "finetune")
        if mode not in WEIGHTS_MODES:
            raise OptionError(f"weights_mode must be one of {', '.join(WEIGHTS_MODES)}", field="weights_mode")
        if mode == WeightsMode.EMBEDDINGS and not weights:
            raise OptionError("weights_mode embeddings needs pretrained weights (weights): a body with random "
                              "weights gives no useful embeddings", field="weights_mode")
        size = opts.get("image_size")
        if size is not None and not (isinstance(size, int) and 4 <= size <= 512):
            raise OptionError("image_size must be a whole number of pixels between 4 and 512", field="image_size")
        if opts.get("snapshots") is not None:
            check_snapshots(opts["snapshots"], early_stopping=bool(opts.get("early_stopping", False)))

    def fit_predict(self, X_train: np.ndarray, y_train: np.ndarray, X_eval: np.ndarray,
                    ctx: FitContext) -> np.ndarray:
        opts = ctx.options
        self.check_options(opts)
        if opts.get("weights_mode") == WeightsMode.EMBEDDINGS:  # run_audit embeds once before the folds instead
            from labelaudit.core.backbones.embeddings import embed_and_fit

            return embed_and_fit(self, X_train, y_train, X_eval, ctx)
        size = opts.get("image_size")
        if size is not None and tuple(X_train.shape[-2:]) != (size, size):
            X_train, X_eval = resize_images(X_train, size), resize_images(X_eval, size)
        side = min(X_train.shape[-2:])
        config = self.train_config(len(X_train), side, ctx)
        return train_and_predict(self._maker(X_train.shape[1], side, ctx), X_train, y_train, X_eval, ctx, config,
                                 image=True)

    def stackable(self, features, options: dict) -> bool:
        """Whether :meth:`fit_predict_folds` trains these folds together (not with pretrained weights or
        ``torch.compile``, which train one fold at a time)."""
        return isinstance(features, np.ndarray) and not options.get("weights") and not options.get("compile")

    def fit_predict_folds(self, features: np.ndarray, labels: np.ndarray, folds: list[FoldRows],
                          ctxs: list[FitContext]) -> list[np.ndarray]:
        """:meth:`fit_predict` for several folds of one dataset at once, trained together
        (:mod:`labelaudit.core.backbones.stacked`); the same probabilities up to rounding."""
        from labelaudit.core.backbones.stacked import train_and_predict_folds

        opts = ctxs[0].options
        self.check_options(opts)
        size = opts.get("image_size")
        if size is not None and tuple(features.shape[-2:]) != (size, size):
            features = resize_images(features, size)
        side = min(features.shape[-2:])
        configs = [self.train_config(len(part.train), side, ctx) for part, ctx in zip(folds, ctxs)]
        return train_and_predict_folds(self._maker(features.shape[1], side, ctxs[0]), features, labels, folds, ctxs,
                                       configs, image=True)

    def train_config(self, n_train: int, side: int, ctx: FitContext) -> TrainConfig:
        """The training settings of one fold of ``n_train`` images of ``side`` pixels."""
        opts = ctx.options
        batch_size = int(opts.get("batch_size") or self.default_batch_size(n_train))
        return TrainConfig(
            epochs=ctx.epochs or self.default_epochs(n_train, batch_size),
            batch_size=batch_size,
            lr=float(opts.get("lr", 3e-3)),
            weight_decay=float(opts.get("weight_decay", 5e-4)),
            label_smoothing=float(opts.get("label_smoothing", 0.1)),
            augment_shift=int(opts.get("augment_shift", 1 if side <= 12 else 2)),
            hflip=bool(opts.get("hflip", False)),
            augment_rotate=float(opts.get("augment_rotate", 0.0)),
            augment_scale=float(opts.get("augment_scale", 0.0)),
            tta=bool(opts.get("tta", True)),
            loss=str(opts.get("loss", "gce")),
            gce_q=float(opts.get("gce_q", 0.7)),
            early_stopping=bool(opts.get("early_stopping", False)),
            compile=bool(opts.get("compile", False)),
            snapshots=1 if opts.get("snapshots") is None else opts["snapshots"],
        )

    def _maker(self, channels: int, side: int, ctx: FitContext):
        opts = ctx.options

        def make() -> nn.Module:
            model = self.build(channels, ctx.num_classes, side, opts)
            if opts.get("weights"):
                model = load_weights(model, Path(opts["weights"]), mode=opts.get("weights_mode", "finetune"))
            return model

        return make
