"""A multilayer perceptron for feature tables (torch)."""

from __future__ import annotations

import numpy as np
from torch import nn

from labelaudit.core.backbones.base import FitContext, FoldRows
from labelaudit.core.backbones.encoding import encode_table
from labelaudit.core.table_features import TableFeatures
from labelaudit.core.backbones.training import TrainConfig, epochs_for, train_and_predict


def build_mlp(in_features: int, num_classes: int, hidden: int = 256, depth: int = 2, dropout: float = 0.5) -> nn.Module:
    """``depth`` hidden layers of ``hidden`` units (Linear, BatchNorm, ReLU, Dropout), then a linear head."""
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


class MLPBackbone:
    """MLP on standardised features (images are flattened), trained briefly with a noise-robust loss."""

    name = "mlp"
    modalities = ("tabular", "image")
    uses_torch = True
    takes_text = False
    option_names = frozenset({"batch_size", "lr", "weight_decay", "label_smoothing", "loss", "gce_q", "hidden",
                              "dropout"})

    def default_epochs(self, n_train: int) -> int:
        return epochs_for(n_train, target_steps=120, batch_size=128, lo=3, hi=30)

    def fit_predict(self, X_train: np.ndarray, y_train: np.ndarray, X_eval: np.ndarray,
                    ctx: FitContext) -> np.ndarray:
        if isinstance(X_train, TableFeatures):  # typed columns: one-hot, imputed with indicators
            X_train, X_eval = encode_table(X_train, X_eval, dense=True)
        X_train = X_train.reshape(len(X_train), -1)
        X_eval = X_eval.reshape(len(X_eval), -1)
        return train_and_predict(self._maker(X_train.shape[1], ctx), X_train, y_train, X_eval, ctx,
                                 self.train_config(len(X_train), ctx), image=False)

    def stackable(self, features, options: dict) -> bool:
        """Whether :meth:`fit_predict_folds` trains these folds together: plain arrays (typed table columns are
        encoded per fold, so the folds' inputs may differ in width)."""
        return isinstance(features, np.ndarray)

    def fit_predict_folds(self, features: np.ndarray, labels: np.ndarray, folds: list[FoldRows],
                          ctxs: list[FitContext]) -> list[np.ndarray]:
        """:meth:`fit_predict` for several folds of one dataset at once, trained together
        (:mod:`labelaudit.core.backbones.stacked`); the same probabilities up to rounding."""
        from labelaudit.core.backbones.stacked import train_and_predict_folds

        features = features.reshape(len(features), -1)
        configs = [self.train_config(len(part.train), ctx) for part, ctx in zip(folds, ctxs)]
        return train_and_predict_folds(self._maker(features.shape[1], ctxs[0]), features, labels, folds, ctxs,
                                       configs, image=False)

    def train_config(self, n_train: int, ctx: FitContext) -> TrainConfig:
        """The training settings of one fold of ``n_train`` rows."""
        opts = ctx.options
        return TrainConfig(
            epochs=ctx.epochs or self.default_epochs(n_train),
            batch_size=int(opts.get("batch_size", 128)),
            lr=float(opts.get("lr", 3e-3)),
            weight_decay=float(opts.get("weight_decay", 1e-3)),
            label_smoothing=float(opts.get("label_smoothing", 0.1)),
            loss=str(opts.get("loss", "gce")),
            gce_q=float(opts.get("gce_q", 0.7)),
        )

    @staticmethod
    def _maker(d: int, ctx: FitContext):
        opts = ctx.options
        return lambda: build_mlp(d, ctx.num_classes, hidden=int(opts.get("hidden", 256)),
                                 dropout=float(opts.get("dropout", 0.5)))
