"""Free text (and the table's other columns): TF-IDF of words (and characters, on request) into a linear model.

Fast, offline and strong on short texts (reviews, tickets, intents); the other columns join as one-hot
categories and standardised numbers (:mod:`labelaudit.core.backbones.encoding`). It is the logistic
regression backbone with the regularisation measured best on text (docs/benchmarks/text.md).
"""

from __future__ import annotations

from labelaudit.core.backbones.logreg import LogRegBackbone


class TextBackbone(LogRegBackbone):
    """TF-IDF (word 1-2 grams; character 3-5 grams with ``char_ngrams``) and the other columns into multinomial
    logistic regression."""

    name = "text"
    modalities = ("tabular",)
    default_c = 1.0
    default_max_iter = 1000
