"""A table's features as the backbones take them: typed columns with missing values, and free text.

:class:`TableFeatures` rides through cross-validation like an array (``len``, ``shape``, row selection with
an index array), so folds, executors and Ray tasks handle it as they handle ``(n, d)`` features; the
backbones that take tables encode it (:mod:`labelaudit.audit.backbones.encoding`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelaudit.audit.dataset import Dataset


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
    """

    values: np.ndarray
    types: tuple[str, ...]
    texts: np.ndarray | None = None

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
                             texts=None if self.texts is None else self.texts[rows])

    @property
    def categorical(self) -> np.ndarray:
        """Boolean mask of the categorical ``values`` columns."""
        return np.array([t == "categorical" for t in self.types], dtype=bool)

    @property
    def has_missing(self) -> bool:
        return bool(np.isnan(self.values).any())


def model_input(ds: Dataset):
    """What the backbones train on: ``ds.features`` for arrays, images and tables of complete numbers; a
    :class:`TableFeatures` for a table with categories, dates, missing values or text."""
    if ds.modality != "tabular" or (ds.feature_types is None and ds.texts is None):
        return ds.features
    plain = ds.texts is None and all(t in ("numeric", "boolean") for t in ds.feature_types or ())
    if plain and not np.isnan(ds.features).any():  # numbers only, none missing: the array as it is
        return ds.features
    types = tuple(ds.feature_types or ("numeric",) * ds.features.shape[1])
    return TableFeatures(values=ds.features, types=types, texts=ds.texts)
