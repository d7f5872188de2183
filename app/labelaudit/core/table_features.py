"""A table's features as the backbones take them: typed columns with missing values, and free text.

:class:`TableFeatures` rides through cross-validation like an array (``len``, ``shape``, row selection with
an index array), so folds, executors and Ray tasks handle it as they handle ``(n, d)`` features; the
backbones that take tables encode it (:mod:`labelaudit.core.backbones.encoding`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelaudit.core.constants import TEXT_CHAR_NGRAMS, TEXT_HASH_FEATURES, TEXT_MIN_DF
from labelaudit.core.dataset import Dataset


@dataclass(frozen=True)
class TableFeatures:
    """Rows of a table's features.

    Attributes
    ----------
    values : np.ndarray
        float32 ``(n, d)``: numbers, booleans (0/1), category codes and dates (days); NaN: missing.
    types : tuple of str
        Each ``values`` column's type: ``numeric``, ``boolean``, ``categorical`` or ``datetime``.
    texts : np.ndarray, optional
        str ``(n, t)``: the free-text columns ("" when missing).
    text_counts : scipy.sparse.csr_matrix, optional
        The texts' hashed word and character n-gram counts (:func:`hashed_counts`), computed once per audit:
        hashing learns nothing from the rows, so each fold fits its TF-IDF weights on its own training rows.
    """

    values: np.ndarray
    types: tuple[str, ...]
    texts: np.ndarray | None = None
    text_counts: object | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, d + t)``: rows, and columns of values and text."""
        return (len(self), self.values.shape[1] + (0 if self.texts is None else self.texts.shape[1]))

    @property
    def ndim(self) -> int:
        return 2

    def __getitem__(self, rows) -> "TableFeatures":
        """The rows ``rows`` (an index array or mask) as a new :class:`TableFeatures`."""
        return TableFeatures(values=self.values[rows], types=self.types,
                             texts=None if self.texts is None else self.texts[rows],
                             text_counts=None if self.text_counts is None else self.text_counts[rows])

    @property
    def categorical(self) -> np.ndarray:
        """Boolean mask of the categorical ``values`` columns."""
        return np.array([t == "categorical" for t in self.types], dtype=bool)

    @property
    def has_missing(self) -> bool:
        return bool(np.isnan(self.values).any())


def model_input(ds: Dataset, *, char_ngrams: bool = False):
    """What the backbones train on: ``ds.features`` for arrays, images and tables of complete numbers; a
    :class:`TableFeatures` for a table with categories, dates, missing values or text (``char_ngrams``: hash
    character n-grams of the text too)."""
    if ds.modality != "tabular" or (ds.feature_types is None and ds.texts is None):
        return ds.features
    plain = ds.texts is None and all(t in ("numeric", "boolean") for t in ds.feature_types or ())
    if plain and not np.isnan(ds.features).any():  # numbers only, none missing: the array as it is
        return ds.features
    types = tuple(ds.feature_types or ("numeric",) * ds.features.shape[1])
    counts = None if ds.texts is None else hashed_counts(ds.texts, char_ngrams=char_ngrams)
    return TableFeatures(values=ds.features, types=types, texts=ds.texts, text_counts=counts)


def hashed_counts(texts: np.ndarray, *, char_ngrams: bool = False):
    """Word (1-2 gram) counts of every text column, and with ``char_ngrams`` character
    (:data:`~labelaudit.core.constants.TEXT_CHAR_NGRAMS`, within words) counts, each hashed into
    :data:`~labelaudit.core.constants.TEXT_HASH_FEATURES` columns: a sparse matrix with the columns of terms
    in at least two texts. No label is looked at."""
    from scipy import sparse
    from sklearn.feature_extraction.text import HashingVectorizer

    parts = []
    for j in range(texts.shape[1]):
        for analyzer, ngrams in (("word", (1, 2)), *((("char_wb", TEXT_CHAR_NGRAMS),) if char_ngrams else ())):
            hasher = HashingVectorizer(analyzer=analyzer, ngram_range=ngrams, n_features=TEXT_HASH_FEATURES,
                                       alternate_sign=False, norm=None, dtype=np.float32)
            parts.append(hasher.transform(texts[:, j]))
    counts = sparse.hstack(parts, format="csr", dtype=np.float32)
    # only the terms of at least two texts can be a fold's model column: the rest are dropped once, here
    seen = np.asarray((counts > 0).sum(axis=0)).ravel()
    return counts[:, np.flatnonzero(seen >= TEXT_MIN_DF)]


def decode_rows(meta: dict, values: np.ndarray, texts: np.ndarray | None) -> dict[str, list]:
    """Rows of a table's stored features read back as its columns, in the table's column order.

    ``meta`` is the dataset's (``feature_names``, ``feature_types``, ``text_names``, ``categories``,
    ``schema``); ``values`` the rows' stored features ``(m, d)``; ``texts`` their texts ``(m, t)``. Numbers
    stay numbers, booleans become bools, category codes their names, dates ISO text; missing is ``None``.
    """
    from datetime import datetime, timedelta

    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    names, types = meta.get("feature_names") or [], meta.get("feature_types") or []
    categories = meta.get("categories") or {}
    epoch = datetime(1970, 1, 1)
    out: dict[str, list] = {}
    for j, (name, kind) in enumerate(zip(names, types)):
        cats = categories.get(name) or []

        def read(v, kind=kind, cats=cats):
            if v != v:  # NaN: missing
                return None
            if kind == "categorical":
                return cats[int(v)] if int(v) < len(cats) else str(int(v))
            if kind == "boolean":
                return bool(v)
            if kind == "datetime":
                return (epoch + timedelta(days=v)).isoformat()
            return v

        out[name] = [read(v) for v in values[:, j].tolist()]
    if texts is not None:
        texts = np.asarray(texts).reshape(len(values), -1)
        for j, name in enumerate(meta.get("text_names") or []):
            out[name] = [t or None for t in texts[:, j].tolist()]
    order = [c["name"] for c in meta.get("schema") or [] if c["name"] in out]
    return {name: out[name] for name in order or list(out)}
