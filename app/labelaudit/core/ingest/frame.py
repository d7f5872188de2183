"""``from_dataframe``: a pandas DataFrame (or a table read from CSV/Parquet) in, a validated-ready dataset out.

Every column gets a role (:mod:`.roles`); features are encoded for the backbones: numbers and booleans as
float32 with NaN for missing values, categories as integer codes (most frequent first, NaN missing), dates as
days since 1970, free text kept as text. Rows without a label are left out and listed in ``meta``.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from labelaudit.core.constants import MAX_CATEGORIES
from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.label_column import check_label_shape, missing_label_mask
from labelaudit.core.ingest.labels import encode_labels
from labelaudit.core.ingest.messages import preview
from labelaudit.core.ingest.roles import ColumnInfo, RoleOverrides, infer_roles, is_text_dtype
from labelaudit.errors import ColumnProblems, IngestError

#: the column of known true labels (as ``labelaudit inject-noise`` writes it)
TRUE_LABEL_COLUMN = "true_label"
#: the category that stands for every category beyond the most frequent ones
OTHER_CATEGORY = "(other)"
#: missing-label rows listed by position in ``meta["missing_labels"]`` (the count is always exact)
MAX_LISTED_MISSING = 1000


def from_dataframe(
    df,
    label_column: str,
    *,
    id_column: str | None = None,
    features: Sequence[str] | None = None,
    drop_columns: Sequence[str] = (),
    categorical: Sequence[str] = (),
    text: Sequence[str] = (),
    true_label_column: str | None = TRUE_LABEL_COLUMN,
) -> Dataset:
    """Build a tabular dataset from a pandas DataFrame with a label column.

    Parameters
    ----------
    df : pandas.DataFrame
        The table, one row per example.
    label_column : str
        The column of given labels: class names or integer ids. Missing labels (None, NaN, empty or
        whitespace-only text) leave their rows out of the audit; they are counted and listed in
        ``meta["missing_labels"]``, never a class.
    id_column : str, optional
        A column of stable keys per example. When omitted, the first column inferred to be an
        identifier (unique per row: an integer sequence, uuids, ``id``, ``rownames``, ``Unnamed: 0``)
        gives the keys.
    features : list of str, optional
        The feature columns; every other column is ignored. Inferred when omitted.
    drop_columns : list of str
        Columns left out.
    categorical, text : list of str
        Columns to treat as categories or as free text, whatever their values look like.
    true_label_column : str, optional
        A column of known true labels, when the table has it (``true_label``).

    Returns
    -------
    Dataset
        A ``tabular`` dataset: ``features`` float32 ``(n, d)`` (NaN: missing), ``feature_types`` per
        column, ``texts`` ``(n, t)`` for text features, ``schema`` (role, type, missing share, distinct
        count of every column), ``example_ids`` from the id column.

    Raises
    ------
    IngestError
        No label column, labels that are not single-label classes (a regression target, multi-label cells,
        one class); :class:`~labelaudit.errors.ColumnProblems` with every column problem at once.
    """
    import pandas as pd

    names = [str(c) for c in df.columns]
    dupes = [n for n, count in Counter(names).items() if count > 1]
    if dupes:
        raise ColumnProblems([{"code": "duplicate_column", "field": d,
                               "message": f"column {d!r} appears {names.count(d)} times; column names must be "
                                          "unique"} for d in dupes])
    df = _blanks_as_missing(df.set_axis(names, axis=1))
    if label_column not in names:
        raise IngestError(f"no label column {label_column!r}; columns are: {preview(names)}; name it with "
                          "--label-column", field="label_column", code="missing_label_column")
    if id_column is not None and id_column not in names:
        raise IngestError(f"no id column {id_column!r}; columns are: {preview(names)}", field="id_column",
                          code="missing_column")
    if len(df) == 0:
        raise IngestError("the table has no rows", field="file", code="empty_file")
    true_col = true_label_column if true_label_column in names else None
    missing = missing_label_mask(df[label_column])
    kept = df.loc[~missing] if missing.any() else df
    if len(kept) == 0:
        raise IngestError(f"no row has a label in column {label_column!r}", field=label_column,
                          code="missing_values")
    labels_col = kept[label_column]
    if is_text_dtype(labels_col.dtype):
        labels_col = labels_col.map(lambda v: v.strip() if isinstance(v, str) else v)
    check_label_shape(labels_col, field=label_column)
    roles = infer_roles(df, label_column=label_column, id_column=id_column, true_label_column=true_col,
                        overrides=RoleOverrides(features=features, drop_columns=tuple(drop_columns),
                                                categorical=tuple(categorical), text=tuple(text)))
    raw_true = None
    if true_col is not None:
        raw_true = kept[true_col].to_numpy()
        if pd.isna(kept[true_col]).any():
            raise IngestError(f"{int(pd.isna(kept[true_col]).sum())} labelled rows have no true label",
                              field=true_col, code="missing_values")
    labels, true_labels, class_names = encode_labels(_label_array(labels_col), raw_true, field=label_column,
                                                     true_field=TRUE_LABEL_COLUMN, strict=False)
    feature_cols = [r for r in roles if r.role == "feature"]
    categories: dict[str, list[str]] = {}
    encoded, problems = _encode_features(kept, [r for r in feature_cols if r.type != "text"], categories)
    if problems:
        raise ColumnProblems(problems)
    text_cols = [r.name for r in feature_cols if r.type == "text"]
    texts = None
    if text_cols:
        texts = np.column_stack([kept[c].map(lambda v: "" if _is_missing(v) else str(v)).to_numpy(dtype=str)
                                 for c in text_cols])
    key_col = id_column or next((r.name for r in roles if r.role == "id"), None)
    example_ids = None if key_col is None else kept[key_col].astype(str).to_numpy().astype(str)
    missing_rows = np.flatnonzero(missing)
    meta = {"label_column": label_column, "schema": [r.to_dict() for r in roles], "id_column": key_col,
            "categories": categories,
            "missing_labels": _missing_summary(df, missing_rows, key_col)}
    if missing_rows.size:
        meta["kept_rows"] = np.flatnonzero(~missing)
    numeric_names = [r.name for r in feature_cols if r.type != "text"]
    return Dataset(
        labels=labels,
        class_names=class_names,
        modality="tabular",
        features=encoded,
        true_labels=true_labels,
        feature_names=numeric_names,
        feature_types=[r.type for r in feature_cols if r.type != "text"],
        texts=texts,
        text_names=text_cols or None,
        example_ids=example_ids,
        meta=meta,
    )


def _label_array(labels) -> np.ndarray:
    """Present labels as numbers or text (``encode_labels`` takes either; a mix is compared as text)."""
    values = labels.to_numpy()
    if values.dtype.kind in "OUT" and not all(isinstance(v, str) for v in values.tolist()):
        if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               for v in values.tolist()):
            return values.astype(np.float64)
        return np.array([str(v) for v in values.tolist()])
    return values


def _encode_features(df, columns: list[ColumnInfo], categories: dict) -> tuple[np.ndarray, list[dict]]:
    """The non-text feature columns as one float32 matrix, and every column problem found; each categorical
    column's category names (in code order) go to ``categories``."""
    out = np.empty((len(df), len(columns)), dtype=np.float32)
    problems = []
    for j, info in enumerate(columns):
        try:
            out[:, j] = _encode_column(df[info.name], info.type, categories.setdefault(info.name, [])
                                       if info.type == "categorical" else [])
        except (TypeError, ValueError) as exc:
            problems.append({"code": "invalid_feature", "field": info.name,
                             "message": f"column {info.name!r} cannot be read as {info.type} ({exc}); name its "
                                        f"type with --categorical or --text, or leave it out with --drop-columns"})
            continue
        bad = np.isinf(out[:, j])
        if bad.any():
            problems.append({"code": "non_finite", "field": info.name,
                             "message": f"column {info.name!r} holds infinity or a number beyond float32's range "
                                        f"(first at row {int(np.flatnonzero(bad)[0])}); fix the values or leave "
                                        f"it out with --drop-columns"})
    return out, problems


def _encode_column(s, kind: str, names: list[str]) -> np.ndarray:
    """One feature column as float values (NaN: missing); a categorical column's names go to ``names``."""
    import pandas as pd

    if kind == "categorical":
        text = s.map(lambda v: None if _is_missing(v) else str(v))
        counts = text.value_counts(dropna=True)
        # most frequent first, ties by name: the same table always gets the same codes
        order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        keep = [k for k, _ in order[: MAX_CATEGORIES - 1]] if len(order) > MAX_CATEGORIES else [k for k, _ in order]
        code = {k: i for i, k in enumerate(keep)}
        other = float(len(keep))
        names.extend(keep + ([OTHER_CATEGORY] if len(order) > len(keep) else []))
        return text.map(lambda v: np.nan if _is_missing(v) else float(code.get(v, other))).to_numpy(dtype=np.float64)
    if kind == "datetime":
        when = s if pd.api.types.is_datetime64_any_dtype(s.dtype) else \
            pd.to_datetime(s, errors="raise", utc=True, format="mixed")
        if getattr(when.dt, "tz", None) is not None:
            when = when.dt.tz_convert("UTC").dt.tz_localize(None)
        days = (when - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        return days.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "boolean" and s.dtype == object:
        return s.map(lambda v: np.nan if _is_missing(v) else float(bool(v))).to_numpy(dtype=np.float64)
    if is_text_dtype(s.dtype):
        s = s.map(lambda v: v.strip() if isinstance(v, str) else v)
    with np.errstate(over="ignore"):
        return pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan).astype(np.float32)


def _blanks_as_missing(df):
    """``df`` with empty and whitespace-only text cells as missing values (the table itself is not changed)."""
    changed = {}
    for name in df.columns:
        s = df[name]
        if is_text_dtype(s.dtype):
            blank = s.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
            if blank.any():
                changed[name] = s.mask(blank)
    return df.assign(**changed) if changed else df


def _is_missing(v) -> bool:
    import pandas as pd

    return v is None or (not isinstance(v, (str, bytes)) and bool(pd.isna(v)))


def _missing_summary(df, rows: np.ndarray, key_col: str | None) -> dict:
    """How many rows had no label, and which (positions, and ids when there is an id column)."""
    listed = rows[:MAX_LISTED_MISSING]
    summary = {"count": int(rows.size), "rows": [int(i) for i in listed]}
    if key_col is not None:
        summary["ids"] = [str(v) for v in df[key_col].to_numpy()[listed].tolist()]
    return summary
