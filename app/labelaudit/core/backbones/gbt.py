"""Gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``): the default for tables.

Categories are split natively (no one-hot), missing values go down the learned side of each split, and
nothing needs scaling; fast on CPU. The trees are kept small (8 leaves, 40 rows a leaf) and their
probabilities are averaged with a logistic regression on the encoded columns (``linear_blend``): on noisy
labels trees alone fit the noise, and the blend ranked real errors better on every table measured
(bench/tables.py; docs/benchmarks/tables.md).
"""

from __future__ import annotations

import numpy as np

from labelaudit.core.backbones.base import FitContext
from labelaudit.core.backbones.threads import fold_threads
from labelaudit.core.constants import GBT_LINEAR_BLEND
from labelaudit.core.table_features import TableFeatures


class GBTBackbone:
    """``HistGradientBoostingClassifier`` on a table's typed columns (categories native, NaN native), blended
    with logistic regression."""

    name = "gbt"
    modalities = ("tabular",)
    uses_torch = False
    takes_text = False
    option_names = frozenset({"max_iter", "lr", "max_leaf_nodes", "min_samples_leaf", "l2_regularization",
                              "linear_blend"})

    def default_epochs(self, n_train: int) -> int:
        return 0

    def fit_predict(self, X_train, y_train: np.ndarray, X_eval, ctx: FitContext) -> np.ndarray:
        blend = float(ctx.options.get("linear_blend", GBT_LINEAR_BLEND))
        with fold_threads(len(X_train), ctx.threads):
            probs = (1.0 - blend) * self._trees(X_train, y_train, X_eval, ctx)
            if blend:
                from labelaudit.core.backbones.logreg import LogRegBackbone

                linear = FitContext(num_classes=ctx.num_classes, seed=ctx.seed, device=ctx.device, options={})
                probs += blend * LogRegBackbone().fit_predict(X_train, y_train, X_eval, linear)
        if ctx.on_epoch:
            ctx.on_epoch(1, 1)
        return probs

    def _trees(self, X_train, y_train: np.ndarray, X_eval, ctx: FitContext) -> np.ndarray:
        from sklearn.ensemble import HistGradientBoostingClassifier

        categorical = None
        if isinstance(X_train, TableFeatures):
            categorical = X_train.categorical if X_train.categorical.any() else None
            X_train, X_eval = X_train.values, X_eval.values
        X_train = np.asarray(X_train, dtype=np.float32).reshape(len(X_train), -1)
        X_eval = np.asarray(X_eval, dtype=np.float32).reshape(len(X_eval), -1)
        opts = ctx.options
        model = HistGradientBoostingClassifier(
            max_iter=int(opts.get("max_iter", 100)), learning_rate=float(opts.get("lr", 0.1)),
            max_leaf_nodes=int(opts.get("max_leaf_nodes", 8)),
            min_samples_leaf=int(opts.get("min_samples_leaf", min(40, max(5, len(X_train) // 20)))),
            l2_regularization=float(opts.get("l2_regularization", 1.0)), categorical_features=categorical,
            early_stopping=False, random_state=ctx.seed)
        model.fit(X_train, y_train)
        probs = np.zeros((len(X_eval), ctx.num_classes), dtype=np.float64)
        probs[:, model.classes_] = model.predict_proba(X_eval)
        return probs
