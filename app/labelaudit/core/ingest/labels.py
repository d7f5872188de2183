"""Labels as contiguous class ids: the one encoder every reader uses, and what a label may be."""

from __future__ import annotations

from collections import Counter

import numpy as np

from labelaudit.errors import IngestError

#: largest float that still is an exact integer id (beyond it, float labels alias each other)
_MAX_FLOAT_ID = 2.0**53


def encode_labels(labels, true_labels=None, *, class_names=None, field: str = "y", true_field: str = "true_labels",
                  strict: bool = True) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Map given labels (and optional known true labels) to contiguous class ids.

    Labels are class names (text) or class ids (integers; integral floats and
    booleans count as ids). The classes are the sorted distinct values of the
    labels and true labels together, unless ``class_names`` names them.

    Parameters
    ----------
    labels : array-like or pyarrow column, shape (n,)
        The given labels. A pyarrow column (a table's) must have no missing
        values and hold text or numbers.
    true_labels : array-like or pyarrow column, shape (n,), optional
        Known true labels, in the same terms.
    class_names : array-like of str, optional
        With id labels: the name of each id; the ids are kept as they are and must
        lie in ``0..len(class_names) - 1``. Ignored for labels given as text.
    field, true_field : str
        The fields errors about the labels and the true labels name.
    strict : bool
        How true labels must match the labels. Strict (arrays): labels given as
        text take true labels that name one of their classes, and labels given as
        ids take integer true labels. Not strict (a table's two columns): any mix
        is read, names and numbers together compared as text.

    Returns
    -------
    labels : np.ndarray
        int64 class ids, shape (n,).
    true_labels : np.ndarray or None
        int64 class ids of the true labels.
    class_names : list[str]
        The name of each class id.

    Raises
    ------
    IngestError
        Labels of the wrong shape or kind, missing, fractional or out of range,
        and true labels that do not match them.
    """
    y = _as_array(labels, field, "label")
    if y.ndim != 1:
        raise IngestError(f"labels must be 1-D, got shape {y.shape}", field=field, code="invalid_shape")
    if true_labels is not None and _shape(true_labels) != y.shape:
        raise IngestError(f"{true_field} has shape {_shape(true_labels)} but {field} has {y.shape}", field=true_field,
                          code="length_mismatch")
    values = label_values(y, field)
    true = None
    if true_labels is not None:
        true = label_values(_as_array(true_labels, true_field, "true label"), true_field)
    if strict and values.dtype.kind in "US":  # text labels, object arrays of str included
        classes, ids = np.unique(values, return_inverse=True)
        names = [str(c) for c in classes]
        return ids.astype(np.int64), _ids_of_names(true, names, true_field), names
    if true is not None:
        if strict and true.dtype.kind not in "iu":
            raise IngestError(f"{true_field} must be integer class ids when {field} is", field=true_field,
                              code="invalid_labels")
        if true.dtype.kind != values.dtype.kind:
            values, true = values.astype(str), true.astype(str)
    if class_names is not None:
        names = class_name_list(class_names)
        k = len(names)
        for arr, where in ((values, field), (true, true_field)):
            if arr is not None and arr.size and (arr.min() < 0 or arr.max() >= k):
                raise IngestError(f"{where} has ids outside 0..{k - 1} (class_names lists {k} classes)", field=where,
                                  code="label_out_of_range")
        return values, true, names
    pool = values if true is None else np.concatenate([values, true])
    classes, inverse = np.unique(pool, return_inverse=True)
    ids = inverse[: len(values)].astype(np.int64)
    true_ids = None if true is None else inverse[len(values):].astype(np.int64)
    if true_ids is not None and true_ids.size:
        unseen = np.setdiff1d(np.unique(true_ids), ids)
        if unseen.size:  # a class only true labels name: the true labels' fault, not the labels'
            shown = ", ".join(repr(str(classes[i])) for i in unseen[:5]) + (" ..." if unseen.size > 5 else "")
            raise IngestError(f"{true_field} holds {unseen.size} value(s) that no row's {field} has: {shown}",
                              field=true_field, code="unknown_class")
    return ids, true_ids, [str(c) for c in classes.tolist()]


def label_values(values: np.ndarray, field: str) -> np.ndarray:
    """Labels as int64 ids or as text; errors name ``field``.

    Integers and booleans become int64, integral floats too (up to 2**53); text
    (str, ASCII bytes, objects that are all str) becomes str. Anything else, and
    NaN, infinity, fractions or integers beyond int64, is an error.
    """
    if values.dtype.kind in "iub":
        if values.dtype.kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
            raise IngestError("labels are integers beyond the int64 range", field=field, code="invalid_labels")
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)):
            raise IngestError("labels contain NaN or infinity", field=field, code="non_finite")
        if not np.all(values == np.round(values)):
            raise IngestError("labels are fractional numbers; give class ids or names", field=field,
                              code="invalid_labels")
        largest = np.abs(values.astype(np.float64)).max() if values.size else 0.0
        if largest > _MAX_FLOAT_ID:
            raise IngestError(f"labels as large as {largest:.3g} are not class ids", field=field,
                              code="invalid_labels")
        return values.astype(np.int64)
    if values.dtype.kind == "U":
        return values.astype(str)
    if values.dtype.kind == "S":
        try:
            return values.astype(str)
        except UnicodeDecodeError as exc:
            raise IngestError("labels are bytes that are not ASCII text", field=field, code="invalid_labels") from exc
    if values.dtype.kind == "O" and all(isinstance(v, str) for v in values.tolist()):
        return values.astype(str)
    raise IngestError(f"labels must be class names (text) or class ids (integers), not {values.dtype}", field=field,
                      code="invalid_labels")


def class_name_list(class_names) -> list[str]:
    """A ``class_names`` array as a list of distinct strings."""
    arr = np.asarray(class_names)
    if arr.ndim != 1:
        raise IngestError(f"class_names must be 1-D, got shape {arr.shape}", field="class_names",
                          code="invalid_shape")
    if arr.dtype.kind not in "USiub":
        raise IngestError(f"class_names must be text, not {arr.dtype}", field="class_names", code="invalid_labels")
    try:
        names = [str(c) for c in arr.astype(str).tolist()]
    except UnicodeDecodeError as exc:
        raise IngestError("class_names are bytes that are not ASCII text", field="class_names",
                          code="invalid_labels") from exc
    if len(set(names)) != len(names):
        dupe = next(n for n, count in Counter(names).items() if count > 1)
        raise IngestError(f"class_names lists {dupe!r} more than once", field="class_names",
                          code="duplicate_class_names")
    return names


def _ids_of_names(true: np.ndarray | None, names: list[str], field: str) -> np.ndarray | None:
    """The class ids of true labels given by name (numbers compared as text)."""
    if true is None:
        return None
    lookup = {c: i for i, c in enumerate(names)}
    try:
        return np.array([lookup[str(v)] for v in true], dtype=np.int64)
    except KeyError as exc:
        raise IngestError(f"true label {exc.args[0]!r} is not a class", field=field,
                          code="label_out_of_range") from exc


def _is_column(labels) -> bool:
    """Whether ``labels`` is a pyarrow column (an ``Array`` or ``ChunkedArray``), which may hold nulls."""
    return hasattr(labels, "null_count")


def _shape(labels) -> tuple[int, ...]:
    return (len(labels),) if _is_column(labels) else np.shape(labels)


def _as_array(labels, field: str, noun: str) -> np.ndarray:
    """``labels`` as a numpy array; a pyarrow column must have no nulls and hold text or numbers."""
    if not _is_column(labels):
        return np.asarray(labels)
    if labels.null_count:
        raise IngestError(f"{labels.null_count} rows have no {noun}", field=field, code="missing_values")
    check_label_column_type(labels.type, field)
    return labels.to_numpy(zero_copy_only=False)


def check_label_column_type(t, field: str) -> None:
    """Labels are class names (text) or class ids (numbers); nested, binary and temporal columns are not."""
    import pyarrow as pa

    value = t.value_type if pa.types.is_dictionary(t) else t
    is_text = pa.types.is_string(value) or pa.types.is_large_string(value) or (
        hasattr(pa.types, "is_string_view") and pa.types.is_string_view(value))
    if not (is_text or pa.types.is_integer(value) or pa.types.is_floating(value) or pa.types.is_boolean(value)
            or pa.types.is_null(value)):
        raise IngestError(f"the label column is of type {t}; labels must be class names (text) or class ids "
                          "(integers)", field=field, code="invalid_labels")
