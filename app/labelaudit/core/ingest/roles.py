"""Column roles of a table: which columns are features (and of what type), the example id, or ignored.

Every column gets one role, inferred from its values and its name, unless the caller names it:

- ``feature`` of type ``numeric``, ``boolean``, ``categorical``, ``text`` or ``datetime``;
- ``id``: unique per row (an integer sequence, uuids, codes, or a name such as ``id``,
  ``rownames`` or ``Unnamed: 0`` that ``to_csv()`` writes); never a feature, it becomes the
  examples' stable key when no id column is named;
- ``ignored``: constant, all missing, or left out by the caller (``drop_columns``, ``features``);
- ``label`` and ``true_label``: the given and the known true labels.

:func:`infer_roles` decides and reports every column problem at once
(:class:`~labelaudit.errors.ColumnProblems`), each with its fix.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from labelaudit.core.constants import MIN_ID_ROWS, MOSTLY_NUMERIC, TEXT_MIN_DISTINCT, TEXT_MIN_MEAN_CHARS, TEXT_MIN_MEDIAN_WORDS
from labelaudit.core.ingest.messages import preview
from labelaudit.errors import ColumnProblems

FEATURE_TYPES = ("numeric", "boolean", "categorical", "text", "datetime")
ROLES = ("feature", "id", "ignored", "label", "true_label")

#: names of index and key columns (``Unnamed: 0`` is pandas' unnamed index read back by pandas, a blank name
#: the same read by pyarrow)
_ID_NAMES = re.compile(r"^(|unnamed: ?\d+|rownames|row_?names|index|idx|id|uuid|guid|key|.*[_ .-]id)$",
                       re.IGNORECASE)
#: camelCase key names (PassengerId, userID), case-sensitive: "paid" and "valid" are not ids
_CAMEL_ID = re.compile(r"^.*[a-z0-9]I[dD]$")
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass(frozen=True)
class ColumnInfo:
    """One column's role and what was seen in it.

    ``type`` is the feature type for a feature (else what the values look like);
    ``missing_share`` the share of rows with no value; ``distinct`` the distinct
    values seen (missing not counted); ``reason`` why it has its role.
    """

    name: str
    role: str
    type: str
    missing_share: float
    distinct: int
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RoleOverrides:
    """What the caller says about the columns; every name must be a column of the table."""

    features: Sequence[str] | None = None
    drop_columns: Sequence[str] = ()
    categorical: Sequence[str] = ()
    text: Sequence[str] = ()

    def named(self) -> dict[str, list[str]]:
        """Every override that names columns, by its option name."""
        return {k: list(v) for k, v in (("features", self.features or ()), ("drop_columns", self.drop_columns),
                                        ("categorical", self.categorical), ("text", self.text)) if v}


#: Columns a corrected dataset carries (the label before the review, the decision applied): never features.
ORIGINAL_LABEL_COLUMN = "original_label"
DECISION_COLUMN = "review_decision"
REVIEW_COLUMNS = (ORIGINAL_LABEL_COLUMN, DECISION_COLUMN)

def infer_roles(frame, *, label_column: str, id_column: str | None = None, true_label_column: str | None = None,
                overrides: RoleOverrides = RoleOverrides()) -> list[ColumnInfo]:
    """The role of every column of the pandas DataFrame ``frame``, in column order.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, labels included.
    label_column, id_column, true_label_column : str
        The label column; the caller's id column; the known true labels' column (each when present).
    overrides : RoleOverrides
        Columns the caller names as features (all others then ignored), drops, or types as categorical or text.

    Returns
    -------
    list[ColumnInfo]

    Raises
    ------
    ColumnProblems
        Every column problem at once: overrides naming no column or one column twice, a label or id
        column named as a feature, columns that hold nested values, and no feature left.
    """
    names = [str(c) for c in frame.columns]
    problems = _override_problems(names, label_column, id_column, overrides)
    if problems:
        raise ColumnProblems(problems)
    chosen = None if overrides.features is None else \
        set(overrides.features) | set(overrides.categorical) | set(overrides.text)
    infos: list[ColumnInfo] = []
    have_id = id_column is not None
    for name in names:
        s = frame[name]
        missing = float(s.isna().mean()) if len(s) else 0.0
        nested = _is_nested(s)
        distinct = -1 if nested else int(s.nunique(dropna=True))
        if name == label_column:
            infos.append(ColumnInfo(name, "label", _kind_of_values(s), missing, distinct, "the label column"))
            continue
        if name == true_label_column:
            infos.append(ColumnInfo(name, "true_label", _kind_of_values(s), missing, distinct, "known true labels"))
            continue
        if name == id_column:
            infos.append(ColumnInfo(name, "id", _kind_of_values(s), missing, distinct, "named as the id column"))
            continue
        if name in overrides.drop_columns:
            infos.append(ColumnInfo(name, "ignored", _kind_of_values(s), missing, distinct, "dropped by the caller"))
            continue
        if name in REVIEW_COLUMNS:
            infos.append(ColumnInfo(name, "ignored", _kind_of_values(s), missing, distinct,
                                    "written by a review (the label before it, the decision applied)"))
            continue
        if chosen is not None and name not in chosen:
            infos.append(ColumnInfo(name, "ignored", _kind_of_values(s), missing, distinct,
                                    "not among the named features"))
            continue
        if nested:
            problems.append({"code": "nested_column", "field": name,
                             "message": f"column {name!r} holds lists or structures, which cannot be features; "
                                        f"leave it out with --drop-columns {name}"})
            continue
        if name in overrides.categorical:
            infos.append(ColumnInfo(name, "feature", "categorical", missing, distinct, "named categorical"))
            continue
        if name in overrides.text:
            infos.append(ColumnInfo(name, "feature", "text", missing, distinct, "named text"))
            continue
        info = _infer_one(name, s, missing, distinct, explicit=chosen is not None, have_id=have_id)
        if isinstance(info, dict):
            problems.append(info)
            continue
        infos.append(info)
        have_id = have_id or info.role == "id"
    if not problems and not any(i.role == "feature" for i in infos):
        ignored = [f"{i.name} ({i.reason})" for i in infos if i.role in ("ignored", "id")]
        problems.append({"code": "missing_features", "field": "features",
                         "message": "the table has no feature columns besides the label"
                                    + (f"; left out: {preview(ignored)}; name features with --features"
                                       if ignored else "")})
    if problems:
        raise ColumnProblems(problems)
    return infos


def _override_problems(names: list[str], label_column: str, id_column: str | None,
                       overrides: RoleOverrides) -> list[dict]:
    """Overrides naming no column, one column in two overrides, or the label/id column as a feature."""
    problems = []
    seen: dict[str, str] = {}
    for option, columns in overrides.named().items():
        flag = "--" + option.replace("_", "-")
        for col in columns:
            if col not in names:
                problems.append({"code": "missing_column", "field": option,
                                 "message": f"{flag} names {col!r}, which is not a column; columns are: "
                                            f"{preview(names)}"})
            elif col in (label_column, id_column):
                what = "label" if col == label_column else "id"
                problems.append({"code": "invalid_override", "field": option,
                                 "message": f"{flag} names {col!r}, the {what} column, which is never a feature"})
            elif col in seen and {seen[col], option} != {"features", "categorical"} \
                    and {seen[col], option} != {"features", "text"}:
                problems.append({"code": "conflicting_override", "field": option,
                                 "message": f"column {col!r} is named by both --{seen[col].replace('_', '-')} and "
                                            f"{flag}; name it once"})
            else:
                seen.setdefault(col, option)
    return problems


def _infer_one(name: str, s, missing: float, distinct: int, *, explicit: bool, have_id: bool) -> ColumnInfo | dict:
    """The inferred role of a column no override names (``explicit``: it is among the named features), or the
    problem that keeps it from having one (numbers with a few stray words)."""
    import pandas as pd

    kind = _kind_of_values(s)
    n = len(s)
    if distinct == 0:
        return ColumnInfo(name, "ignored", kind, missing, distinct, "all values missing")
    if distinct == 1:
        return ColumnInfo(name, "ignored", kind, missing, distinct, "constant")
    if not explicit:
        why = _id_reason(name, s, kind, distinct, n)
        if why:
            return ColumnInfo(name, "id", kind, missing, distinct, why + ("" if not have_id else
                                                                          "; another id column is the key"))
    if kind == "boolean" or (kind == "numeric" and distinct == 2 and set(s.dropna().unique()) <= {0, 1}):
        return ColumnInfo(name, "feature", "boolean", missing, distinct, "two values")
    if kind == "numeric":
        return ColumnInfo(name, "feature", "numeric", missing, distinct, "numbers")
    if kind == "datetime":
        return ColumnInfo(name, "feature", "datetime", missing, distinct, "dates and times")
    values = s.dropna().astype(str)
    numbers = pd.to_numeric(values.str.strip(), errors="coerce")
    parsed = float(numbers.notna().mean()) if len(values) else 0.0
    if parsed == 1.0:
        return ColumnInfo(name, "feature", "numeric", missing, distinct, "numbers written as text")
    if parsed >= MOSTLY_NUMERIC:
        stray = values[numbers.isna()]
        return {"code": "non_numeric_feature", "field": name,
                "message": f"column {name!r} holds numbers but {len(stray):,} values that are not (e.g. "
                           f"{stray.iloc[0]!r} at row {int(stray.index[0])}): fix or blank them (blank is "
                           f"missing), or name the column with --categorical or --drop-columns"}
    sample = values.iloc[:200]
    if len(sample) and sample.map(lambda v: bool(_DATE.match(v.strip()))).all():
        parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        if parsed.notna().all():
            return ColumnInfo(name, "feature", "datetime", missing, distinct, "dates written as text")
    words = values.str.split().str.len()
    varied = distinct >= TEXT_MIN_DISTINCT or distinct > 0.5 * len(values)
    if len(values) and varied and (words.median() >= TEXT_MIN_MEDIAN_WORDS
                                   or values.str.len().mean() >= TEXT_MIN_MEAN_CHARS):
        return ColumnInfo(name, "feature", "text", missing, distinct, "free text")
    return ColumnInfo(name, "feature", "categorical", missing, distinct, "text values of few words")


def _id_reason(name: str, s, kind: str, distinct: int, n: int) -> str | None:
    """Why a column is an identifier, or ``None``: unique per row and (an id-like name, an integer
    sequence, uuids, or single-word codes)."""
    import pandas as pd

    if distinct != n or s.isna().any():
        return None
    id_name = bool(_ID_NAMES.match(name.strip()) or _CAMEL_ID.match(name.strip()))
    if n < MIN_ID_ROWS and not id_name:  # too few rows to tell an id by its values
        return None
    if id_name:
        return "unique per row, with an index or id name"
    values = s.to_numpy()
    if kind == "numeric" and np.issubdtype(values.dtype, np.number):
        if np.issubdtype(values.dtype, np.integer):  # ids are integers; floats that happen to be whole are not
            ordered = np.sort(values.astype(np.float64))
            if n > 1 and np.all(np.diff(ordered) == 1):
                return "an integer sequence, unique per row"
        return None
    if kind == "text":
        text = s.astype(str)
        if pd.to_numeric(text.str.strip(), errors="coerce").notna().mean() >= MOSTLY_NUMERIC:
            return None  # numbers written as text: a numeric column, whatever the share of stray words
        if text.map(lambda v: bool(_UUID.match(v.strip()))).all():
            return "uuids, unique per row"
        if not text.str.contains(r"\s").any():
            return "single-word codes, unique per row"
    return None


def _kind_of_values(s) -> str:
    """What a column's values are: ``numeric``, ``boolean``, ``datetime``, ``text`` or ``nested``."""
    import pandas as pd

    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if _is_nested(s):
        return "nested"
    non_null = s.dropna()
    if len(non_null) and non_null.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        return "boolean"
    return "text"


def is_text_dtype(dtype) -> bool:
    """Whether a pandas column of this dtype may hold text (object, or one of pandas' string dtypes)."""
    import pandas as pd

    return dtype == object or isinstance(dtype, pd.StringDtype)


def _is_nested(s) -> bool:
    """Whether a column holds lists, arrays, dicts or bytes (Parquet nested types)."""
    if s.dtype != object:
        return False
    head = s.dropna().iloc[:50]
    return bool(len(head)) and head.map(lambda v: isinstance(v, (list, tuple, dict, np.ndarray, bytes))).any()
