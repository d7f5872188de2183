"""Free text (and the table's other columns): TF-IDF of words (and characters, on request) into a linear model.

Fast, offline and strong on short texts (reviews, tickets, intents); the other columns join as one-hot
categories and standardised numbers (:mod:`labelaudit.core.backbones.encoding`).
"""

from __future__ import annotations

import numpy as np

from labelaudit.core.backbones.base import FitContext
from labelaudit.core.backbones.encoding import encode_table
from labelaudit.core.backbones.threads import fold_threads


class TextBackbone:
    """TF-IDF (word 1-2 grams; character 3-5 grams with ``char_ngrams``) and the other columns into multinomial
    logistic regression."""

    name = "text"
    modalities = ("tabular",)
    uses_torch = False
    takes_text = True
    option_names = frozenset({"C", "max_iter", "char_ngrams"})

    def default_epochs(self, n_train: int) -> int:
        return 0

    def fit_predict(self, X_train, y_train: np.ndarray, X_eval, ctx: FitContext) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        A, B = encode_table(X_train, X_eval)
        model = LogisticRegression(C=float(ctx.options.get("C", 1.0)), max_iter=int(ctx.options.get("max_iter", 1000)),
                                   random_state=ctx.seed)
        with fold_threads(len(X_train), ctx.threads):
            model.fit(A, y_train)
        probs = np.zeros((B.shape[0], ctx.num_classes), dtype=np.float64)
        probs[:, model.classes_] = model.predict_proba(B)
        if ctx.on_epoch:
            ctx.on_epoch(1, 1)
        return probs
