"""Gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``): the default for tables.

Categories are split natively (no one-hot), missing values go down the learned side of each split, and
nothing needs scaling; fast on CPU and the strongest general-purpose baseline for tables.
"""

from __future__ import annotations

import numpy as np

from labelaudit.audit.backbones.base import FitContext
from labelaudit.audit.constants import GBT_SINGLE_THREAD_ROWS
from labelaudit.audit.table_features import TableFeatures


class GBTBackbone:
    """``HistGradientBoostingClassifier`` on a table's typed columns (categories native, NaN native)."""

    name = "gbt"
    modalities = ("tabular",)
    uses_torch = False
    takes_text = False
    option_names = frozenset({"max_iter", "lr", "max_leaf_nodes", "l2_regularization"})

    def default_epochs(self, n_train: int) -> int:
        return 0

    def fit_predict(self, X_train, y_train: np.ndarray, X_eval, ctx: FitContext) -> np.ndarray:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        categorical = None
        if isinstance(X_train, TableFeatures):
            categorical = X_train.categorical if X_train.categorical.any() else None
            X_train, X_eval = X_train.values, X_eval.values
        X_train = np.asarray(X_train, dtype=np.float32).reshape(len(X_train), -1)
        X_eval = np.asarray(X_eval, dtype=np.float32).reshape(len(X_eval), -1)
        opts = ctx.options
        model = HistGradientBoostingClassifier(
            max_iter=int(opts.get("max_iter", 200)), learning_rate=float(opts.get("lr", 0.05)),
            max_leaf_nodes=int(opts.get("max_leaf_nodes", 15)),
            l2_regularization=float(opts.get("l2_regularization", 1.0)), categorical_features=categorical,
            early_stopping=False, random_state=ctx.seed)
        # OpenMP threads on small tables cost more than they bring (and far more on a busy machine)
        threads = 1 if len(X_train) < GBT_SINGLE_THREAD_ROWS else None
        with threadpool_limits(limits=threads, user_api="openmp"):
            model.fit(X_train, y_train)
            probs = np.zeros((len(X_eval), ctx.num_classes), dtype=np.float64)
            probs[:, model.classes_] = model.predict_proba(X_eval)
        if ctx.on_epoch:
            ctx.on_epoch(1, 1)
        return probs
