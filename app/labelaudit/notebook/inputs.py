"""What :func:`labelaudit.core` accepts, turned into one validated dataset and the index to key rows by."""

from __future__ import annotations

import io
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest import RoleOverrides, from_arrays, from_pred_probs, load_dataset, validate_dataset
from labelaudit.errors import IngestError


@dataclass(frozen=True)
class AuditInput:
    """A dataset ready to audit and how its rows are named: ``index[i]`` is row ``i``'s key in results
    (a DataFrame's index, the ``id`` column, the labels' Series index), or ``None`` for row numbers."""

    dataset: Dataset
    index: Any = None
    name: str | None = None


def audit_input(data, *, label: str, id: str | None, labels, pred_probs, class_names, format: str | None,
                folds: int, roles: RoleOverrides | None = None) -> AuditInput:
    """Turn ``data`` (a DataFrame, a path, ``(X, y)``, or ``pred_probs`` with ``labels``) into an :class:`AuditInput`.

    Raises
    ------
    IngestError
        The data cannot be audited (the error names the field and the reason).
    TypeError
        ``data`` is of a kind this function does not read.
    """
    if pred_probs is not None:
        if data is not None:
            raise TypeError("give either data or pred_probs= with labels=, not both")
        if labels is None:
            raise IngestError("pred_probs needs the given labels: pass labels=", field="labels", code="missing_labels")
        ds = from_pred_probs(np.asarray(pred_probs), _values(labels), class_names=class_names)
        return AuditInput(validate_dataset(ds, folds=folds), index=getattr(labels, "index", None))
    if _is_frame(data):
        return _frame_input(data, label=label, id=id, folds=folds, roles=roles)
    if isinstance(data, (str, PathLike)):
        ds = load_dataset(data, format=format, label_column=label, id_column=id, folds=folds, roles=roles)
        return AuditInput(ds, index=_kept(ds, None), name=str(data))
    if isinstance(data, tuple) and len(data) == 2:
        X, y = data
        ds = from_arrays(_values(X), _values(y), class_names=class_names)
        return AuditInput(validate_dataset(ds, folds=folds), index=getattr(y, "index", getattr(X, "index", None)))
    if data is not None and labels is not None:
        ds = from_arrays(_values(data), _values(labels), class_names=class_names)
        return AuditInput(validate_dataset(ds, folds=folds), index=getattr(labels, "index", None))
    raise TypeError("data must be a pandas DataFrame, a path, an (X, y) pair, or X with labels=; "
                    f"or pass pred_probs= with labels= (got {type(data).__name__})")


def reference_input(data, dataset: Dataset, *, label: str, id: str | None, class_names, format: str | None) -> Dataset:
    """``reference=`` of :func:`labelaudit.audit` as a dataset for the audited ``dataset``: a table read with its
    feature columns (:func:`labelaudit.core.reference.reference_roles`), ``id`` used when the table has it; a
    problem reading it names the field ``reference``."""
    from labelaudit.core.reference import reference_roles
    from labelaudit.errors import LabelAuditError

    if _is_frame(data) and id is not None and id not in data.columns:
        id = None
    try:
        return audit_input(data, label=label, id=id, labels=None, pred_probs=None, class_names=class_names,
                           format=format, folds=1, roles=reference_roles(dataset)).dataset
    except LabelAuditError as exc:
        exc.message, exc.field = f"reference: {exc.message}", "reference"
        raise
    except TypeError as exc:
        raise TypeError(f"reference: {exc}") from None


def _frame_input(df, *, label: str, id: str | None, folds: int, roles: RoleOverrides | None) -> AuditInput:
    """A DataFrame goes through the Parquet reader: the same column checks and encodings as a file upload."""
    if label not in df.columns:
        raise IngestError(f"no label column {label!r}; {_label_candidates(df)}", field="label",
                          code="missing_label_column")
    if id is not None and id not in df.columns:
        raise IngestError(f"no id column {id!r}", field="id", code="missing_id_column")
    frame = df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (ValueError, TypeError) as exc:  # pyarrow's ArrowInvalid/ArrowTypeError derive from these
        raise IngestError(f"the DataFrame cannot be read as a table: {str(exc).splitlines()[0]}", field="data",
                          code="unreadable_table") from exc
    ds = load_dataset(buffer.getvalue(), format="parquet", label_column=label, id_column=id, folds=folds,
                      roles=roles)
    index = pd_index(df[id].to_numpy() if id is not None else df.index)
    return AuditInput(ds, index=_kept(ds, index))


def pd_index(values):
    import pandas as pd

    return values if isinstance(values, pd.Index) else pd.Index(values)


def _kept(ds: Dataset, index):
    """The input's keys of the dataset's rows: rows without a label were left out of the dataset."""
    kept = ds.meta.get("kept_rows")
    if kept is None:
        return index
    if index is None:  # a file: its row numbers
        import pandas as pd

        return pd.Index(np.asarray(kept))
    return index[np.asarray(kept)]


def _label_candidates(df) -> str:
    """Which columns could be the labels (few distinct values, not floats), for the error message."""
    likely = [str(c) for c in df.columns
              if df[c].dtype.kind not in "fc" and 1 < df[c].nunique(dropna=True) <= max(2, len(df) // 2)]
    if likely:
        return f"columns that look like labels: {', '.join(likely[:8])} (pass label=...)"
    return f"the columns are {', '.join(map(str, df.columns[:12]))}"


def _is_frame(data) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def _values(a):
    """A pandas object's values (categories as their values), anything else as it is."""
    if hasattr(a, "to_numpy"):
        return a.to_numpy()
    return a
