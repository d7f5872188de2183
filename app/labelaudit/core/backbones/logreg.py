"""Logistic regression (scikit-learn): the fast, sound baseline for feature tables."""

from __future__ import annotations

import numpy as np

from labelaudit.core.backbones.base import FitContext


class LogRegBackbone:
    """Standardised features into multinomial logistic regression."""

    name = "logreg"
    modalities = ("tabular", "image")
    uses_torch = False
    option_names = frozenset({"C", "max_iter"})

    def default_epochs(self, n_train: int) -> int:
        return 0

    def fit_predict(self, X_train: np.ndarray, y_train: np.ndarray, X_eval: np.ndarray,
                    ctx: FitContext) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X_train = X_train.reshape(len(X_train), -1).astype(np.float32, copy=False)
        X_eval = X_eval.reshape(len(X_eval), -1).astype(np.float32, copy=False)
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=float(ctx.options.get("C", 0.1)), max_iter=int(ctx.options.get("max_iter", 300)),
                               random_state=ctx.seed),
        )
        model.fit(X_train, y_train)
        probs = np.zeros((len(X_eval), ctx.num_classes), dtype=np.float64)
        probs[:, model.classes_] = model.predict_proba(X_eval)
        if ctx.on_epoch:
            ctx.on_epoch(1, 1)
        return probs
