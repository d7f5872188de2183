"""Logistic regression (scikit-learn): the fast, sound baseline for feature tables."""

from __future__ import annotations

import numpy as np

from labelaudit.core.backbones.base import FitContext
from labelaudit.core.backbones.encoding import encode_table
from labelaudit.core.backbones.threads import fold_threads


class LogRegBackbone:
    """Standardised features (a table's columns encoded: one-hot, imputed with indicators, TF-IDF) into
    multinomial logistic regression."""

    name = "logreg"
    modalities = ("tabular", "image")
    uses_torch = False
    takes_text = True
    option_names = frozenset({"C", "max_iter", "char_ngrams"})
    #: defaults of ``C`` and ``max_iter`` (options override them)
    default_c = 0.1
    default_max_iter = 300

    def default_epochs(self, n_train: int) -> int:
        return 0

    def fit_predict(self, X_train: np.ndarray, y_train: np.ndarray, X_eval: np.ndarray,
                    ctx: FitContext) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        A, B = encode_table(X_train, X_eval)  # standardised; a table's columns one-hot, imputed, TF-IDF
        model = LogisticRegression(C=float(ctx.options.get("C", self.default_c)),
                                   max_iter=int(ctx.options.get("max_iter", self.default_max_iter)),
                                   random_state=ctx.seed)
        with fold_threads(len(X_train), ctx.threads):
            model.fit(A, y_train)
        probs = np.zeros((B.shape[0], ctx.num_classes), dtype=np.float64)
        probs[:, model.classes_] = model.predict_proba(B)
        if ctx.on_epoch:
            ctx.on_epoch(1, 1)
        return probs
