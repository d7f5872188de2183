"""A table's columns as a model matrix (scikit-learn), fitted on a fold's training rows only.

Numbers, booleans and dates: median-imputed, with a missing indicator, standardised. Categories: one-hot
(missing is its own category; categories unseen in training are all zeros). Free text: TF-IDF of words
(1-2 grams) and characters (2-5 grams within words), sublinear term frequency, from the hashed counts
:func:`~labelaudit.core.table_features.hashed_counts` computed once per audit. Plain arrays are
standardised only.
"""

from __future__ import annotations

import numpy as np

from labelaudit.core.constants import TEXT_MIN_DF
from labelaudit.core.table_features import TableFeatures, hashed_counts


def encode_table(X_train, X_eval, *, dense: bool = False):
    """``(train_matrix, eval_matrix)`` fitted on ``X_train``: sparse when text is present and ``dense`` is False."""
    from scipy import sparse
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if not isinstance(X_train, TableFeatures):
        scaler = StandardScaler()
        a = np.asarray(X_train, dtype=np.float32).reshape(len(X_train), -1)
        b = np.asarray(X_eval, dtype=np.float32).reshape(len(X_eval), -1)
        return scaler.fit_transform(a), scaler.transform(b)
    train_parts, eval_parts = [], []
    cat = X_train.categorical
    num = ~cat
    if num.any():
        a, b = X_train.values[:, num], X_eval.values[:, num]
        imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        scaler = StandardScaler()
        train_parts.append(scaler.fit_transform(imputer.fit_transform(a)))
        eval_parts.append(scaler.transform(imputer.transform(b)))
    if cat.any():
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=True, dtype=np.float32)
        train_parts.append(onehot.fit_transform(np.nan_to_num(X_train.values[:, cat], nan=-1.0)))
        eval_parts.append(onehot.transform(np.nan_to_num(X_eval.values[:, cat], nan=-1.0)))
    if X_train.texts is not None:
        counts = (X_train.text_counts, X_eval.text_counts)
        if counts[0] is None or counts[1] is None:
            counts = (hashed_counts(X_train.texts), hashed_counts(X_eval.texts))
        a, b = text_tfidf(*counts)
        train_parts.append(a)
        eval_parts.append(b)
    if not train_parts:  # nothing to learn from: a constant column
        return np.zeros((len(X_train), 1), np.float32), np.zeros((len(X_eval), 1), np.float32)
    if not any(sparse.issparse(p) for p in train_parts):
        return np.hstack(train_parts).astype(np.float32), np.hstack(eval_parts).astype(np.float32)
    train = sparse.hstack([sparse.csr_matrix(p) for p in train_parts], format="csr", dtype=np.float32)
    held = sparse.hstack([sparse.csr_matrix(p) for p in eval_parts], format="csr", dtype=np.float32)
    if dense:
        return train.toarray(), held.toarray()
    return train, held


def text_tfidf(train_counts, eval_counts):
    """TF-IDF (sublinear term frequency, l2 rows) of hashed counts, fitted on the training rows: the terms
    in at least :data:`~labelaudit.core.constants.TEXT_MIN_DF` training texts are kept."""
    from sklearn.feature_extraction.text import TfidfTransformer

    seen = np.asarray((train_counts > 0).sum(axis=0)).ravel()
    keep = np.flatnonzero(seen >= TEXT_MIN_DF)
    if keep.size == 0:
        keep = np.flatnonzero(seen > 0)
    tfidf = TfidfTransformer(sublinear_tf=True)
    return tfidf.fit_transform(train_counts[:, keep]), tfidf.transform(eval_counts[:, keep])
