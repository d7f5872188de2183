"""The checks every dataset passes once it is read: finite features, and the dataset-level rules and limits."""

from __future__ import annotations

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.messages import column_field
from labelaudit.errors import IngestError


def validate_dataset(ds: Dataset, *, folds: int = 5, limits: IngestLimits = IngestLimits()) -> Dataset:
    """Check the dataset-level rules every audit needs; return it unchanged.

    Parameters
    ----------
    ds : Dataset
        A dataset as a reader gives it.
    folds : int
        Cross-validation folds the dataset must support: every class needs at
        least this many examples.
    limits : IngestLimits
        ``min_rows``, ``max_rows``, ``max_classes`` and ``max_values_per_example``
        apply here.

    Returns
    -------
    Dataset
        ``ds`` itself.

    Raises
    ------
    IngestError
        The first rule broken, in this order: at least ``min_rows`` rows (at most
        ``max_rows``), at least two classes, every class given at least ``folds``
        times, true labels (when present) of the same length and range, no NUL
        characters in class or feature names (never part of a real name; a sign
        of a misread encoding such as UTF-16), at most ``max_classes`` classes and
        ``max_values_per_example`` features per row (pixels x channels per image).
    """
    n = ds.num_examples
    if n < limits.min_rows:
        raise IngestError(f"{n} rows; an audit needs at least {limits.min_rows}", field="rows", code="too_few_rows")
    if limits.max_rows is not None and n > limits.max_rows:
        raise IngestError(f"{n} rows; the limit is {limits.max_rows}", field="rows", code="too_many_rows")
    if ds.num_classes < 2:
        raise IngestError("only one class; an audit needs at least two", field="labels", code="single_class")
    counts = ds.class_counts()
    small = np.flatnonzero(counts < folds)
    if small.size:
        c = int(small[0])
        raise IngestError(
            f"class {ds.class_names[c]!r} has {int(counts[c])} examples, fewer than the {folds} "
            f"cross-validation folds ({small.size} such class{'es' if small.size > 1 else ''})",
            field="labels",
            code="class_too_small",
        )
    if ds.true_labels is not None:
        if ds.true_labels.shape != ds.labels.shape:
            raise IngestError("true labels and labels differ in length", field="true_labels", code="length_mismatch")
        if ds.true_labels.dtype.kind not in "iu":
            raise IngestError("true labels must be integer class ids", field="true_labels", code="invalid_labels")
        if ds.true_labels.min() < 0 or ds.true_labels.max() >= ds.num_classes:
            raise IngestError("true labels out of the class range", field="true_labels", code="label_out_of_range")
    for what, names, field in (("class", ds.class_names, "labels"), ("feature", ds.feature_names or [], "file")):
        bad = next((n for n in names if "\x00" in n), None)
        if bad is not None:
            raise IngestError(f"{what} name {bad!r} holds a NUL character", field=field, code="invalid_text")
    _check_size_limits(ds, limits)
    return ds


def _check_size_limits(ds: Dataset, limits: IngestLimits) -> None:
    """Refuse more classes, or more values per example, than ``limits`` allow."""
    if limits.max_classes is not None and ds.num_classes > limits.max_classes:
        raise IngestError(f"{ds.num_classes} classes; the limit is {limits.max_classes}", field="labels",
                          code="too_many_classes")
    if limits.max_values_per_example is not None and ds.features is not None and len(ds.features):
        per_example = int(np.prod(ds.features.shape[1:]))
        if per_example > limits.max_values_per_example:
            what = "pixels x channels per image" if ds.modality == "image" else "features per row"
            raise IngestError(f"{per_example} {what}; the limit is {limits.max_values_per_example}",
                              field="file", code="example_too_large")


def check_finite(features: np.ndarray, names: list[str] | None) -> None:
    """Refuse NaN or infinity in ``features``, naming the first column (by ``names``, else position) and row."""
    ok = np.isfinite(features)
    if ok.all():
        return
    if features.ndim == 2:
        col = int(np.flatnonzero(~ok.all(axis=0))[0])
        row = int(np.flatnonzero(~ok[:, col])[0])
        field = column_field(names, names[col]) if names else "X"
        where = f"column {names[col]!r}" if names else f"column {col}"
        raise IngestError(f"{where} has NaN or infinity, or a number beyond float32's range (first at row {row})",
                          field=field, code="non_finite")
    raise IngestError("features contain NaN or infinity", field="X", code="non_finite")
