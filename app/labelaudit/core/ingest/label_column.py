"""A table's label column: which rows have no label, and whether the labels are single-label classes at all."""

from __future__ import annotations

import numpy as np

from labelaudit.core.constants import MAX_NUMERIC_CLASSES, MULTI_LABEL_DELIMITERS
from labelaudit.core.ingest.roles import is_text_dtype
from labelaudit.errors import IngestError


def missing_label_mask(labels) -> np.ndarray:
    """Rows of the pandas Series ``labels`` with no label: None, NaN, and empty or whitespace-only text."""
    missing = labels.isna().to_numpy()
    if is_text_dtype(labels.dtype):
        text = labels.map(lambda v: isinstance(v, str) and not v.strip())
        missing = missing | text.to_numpy(dtype=bool)
    return missing


def check_label_shape(labels, *, field: str) -> None:
    """Refuse labels that are not single-label classes, saying what was seen.

    ``labels`` is the pandas Series of the present labels. Refused: a continuous target (fractional numbers,
    or more than :data:`MAX_NUMERIC_CLASSES` distinct numbers in more than a fifth of the rows), cells that
    join several labels with a delimiter (multi-label), and a single class.
    """
    import pandas as pd

    n = len(labels)
    distinct = labels.nunique()
    if pd.api.types.is_numeric_dtype(labels.dtype) and not pd.api.types.is_bool_dtype(labels.dtype):
        values = labels.to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        fractional = bool(finite.size) and not np.all(finite == np.round(finite))
        if fractional or (distinct > MAX_NUMERIC_CLASSES and distinct > n / 5):
            raise IngestError(f"the label column looks like a regression target: {distinct:,} distinct numeric "
                              f"values{' with fractions' if fractional else ''} in {n:,} rows; an audit needs "
                              "class labels (names or integer ids)", field=field, code="continuous_labels")
    elif is_text_dtype(labels.dtype):
        text = labels.astype(str).str.strip()
        singles = set(text[~text.str.contains("|".join(map(_escape, MULTI_LABEL_DELIMITERS)))])
        for delimiter in MULTI_LABEL_DELIMITERS:
            joined = text[text.str.contains(_escape(delimiter))]
            if not len(joined):
                continue
            parts = joined.map(lambda v, d=delimiter: [p.strip() for p in v.split(d) if p.strip()])
            several = joined[parts.map(lambda ps: len(ps) > 1 and sum(p in singles for p in ps) >= 1)]
            if len(several):
                raise IngestError(f"the label column looks multi-label: {len(several):,} rows join several classes "
                                  f"with {delimiter!r} (e.g. {several.iloc[0]!r}); an audit takes one class per row: "
                                  "audit each label as its own yes/no column, or keep one label per row",
                                  field=field, code="multi_label")
    if distinct < 2:
        only = labels.iloc[0] if n else None
        only = only.item() if hasattr(only, "item") else only
        raise IngestError(f"only one class ({only!r}, {n:,} rows with a label); an audit needs at least two",
                          field=field, code="single_class")


def _escape(delimiter: str) -> str:
    return "\\" + delimiter if delimiter in "|.^$*+?()[]{}\\" else delimiter
