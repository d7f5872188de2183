"""Reference data: a trusted labelled dataset that joins every fold's training part and is never ranked.

Auditing a small set (a test set, a new batch) with a larger trusted one beside it (the training set it came
with) gives every fold's model far more to learn from than the audited rows alone, so its mistakes on
hard-but-correct examples fall behind the label errors in the ranking. The reference rows are never held
out, never predicted and never ranked: only the audited dataset's rows are.

:func:`align_reference` checks that a reference fits the audited dataset (same modality; for images the
same shape and pixel type; for tables the audited table's columns with the same types, columns only the
reference has being left out and those its reading left out as blank (constant or empty in it) taken as
missing values; every class of it known to the dataset; neither side a pred_probs dataset) and
returns it in the dataset's terms: its class names mapped onto the dataset's class ids, a table's columns in
the dataset's order and its category codes recoded to the dataset's. Every problem is an
:class:`~labelaudit.errors.OptionError` naming ``field`` (``reference``, or ``reference_dataset_id`` over the
API).

:func:`with_reference` appends the reference's rows to a fold plan's arrays: they get fold ``-1`` (in no
fold's held-out part, so in every fold's training part) and keys of their own (``ref:<key>``); the audited
rows keep the folds they would have without a reference, and the training order stays the canonical order of
all keys, so neither side's row order changes a result.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.folds import FoldPlan
from labelaudit.core.keys import example_keys
from labelaudit.core.order import canonical_order, key_hashes
from labelaudit.core.table_features import TableFeatures
from labelaudit.errors import OptionError

#: the fold id of a reference row: held out by no fold, so trained on by all
REFERENCE_FOLD = -1
#: the prefix that keeps a reference row's key apart from the audited rows' keys
REFERENCE_KEY_PREFIX = "ref:"


def align_reference(dataset: Dataset, reference: Dataset, *, field: str = "reference") -> Dataset:
    """``reference`` in ``dataset``'s terms, checked to fit it.

    Parameters
    ----------
    dataset : Dataset
        The audited dataset.
    reference : Dataset
        The trusted dataset whose rows join every fold's training part.
    field : str
        The field errors name (``reference`` in the Python API and the CLI, ``reference_dataset_id`` over HTTP).

    Returns
    -------
    Dataset
        The reference with labels as ``dataset``'s class ids and ``dataset``'s class names; for tables its
        feature and text columns in ``dataset``'s order and its category codes recoded to ``dataset``'s (a
        category the dataset has not seen becomes its "other" category when it has one, else missing). Its
        known true labels, if any, are dropped: a reference is trusted as it is.

    Raises
    ------
    OptionError
        When either side is a pred_probs dataset, the modalities, feature shapes, columns or column types
        differ, or the reference has a class the dataset does not.
    """
    for ds, which in ((dataset, "the audited dataset"), (reference, "the reference")):
        if ds.modality == "pred_probs":
            raise OptionError(f"{which} is a pred_probs dataset; reference data need features or images on both "
                              "sides (models are trained on them)", field=field, code="reference_pred_probs")
    if reference.modality != dataset.modality:
        raise OptionError(f"the reference is {reference.modality} data but the audited dataset is "
                          f"{dataset.modality}", field=field, code="reference_mismatch")
    labels = _mapped_labels(dataset, reference, field)
    if dataset.modality == "tabular":
        reference = _aligned_table(dataset, reference, field)
    else:
        _check_images(dataset, reference, field)
    return replace(reference, labels=labels, class_names=list(dataset.class_names), true_labels=None)


def reference_roles(dataset: Dataset):
    """How to read a reference table for ``dataset``: its feature columns, categories and text columns named
    (a :class:`~labelaudit.core.ingest.RoleOverrides`), so that the reference's columns are read as the audited
    table's were (inferring them afresh could, say, leave out a column that is constant in one file);
    ``None`` for images and arrays."""
    if dataset.modality != "tabular" or dataset.feature_names is None:
        return None
    from labelaudit.core.ingest import RoleOverrides

    types = dataset.feature_types or ["numeric"] * len(dataset.feature_names)
    return RoleOverrides(features=tuple(dataset.feature_names) + tuple(dataset.text_names or ()),
                         categorical=tuple(c for c, t in zip(dataset.feature_names, types) if t == "categorical"),
                         text=tuple(dataset.text_names or ()))


def reference_keys(reference: Dataset) -> np.ndarray:
    """The reference rows' keys: their own keys (:func:`~labelaudit.core.keys.example_keys`) as ``ref:<key>``,
    never equal to an audited row's key."""
    return np.array([REFERENCE_KEY_PREFIX + k for k in example_keys(reference).tolist()], dtype=object)


def with_reference(features, labels: np.ndarray, keys: np.ndarray, plan: FoldPlan, reference_features,
                   reference_labels: np.ndarray, reference_keys: np.ndarray, *, seed: int):
    """The audited arrays with the reference's rows appended, and the fold plan that trains on them.

    Returns ``(features, labels, plan)``: the audited rows first (at their positions, with their folds), then
    the reference rows with fold :data:`REFERENCE_FOLD` and trainable; the plan's order is the canonical order
    of all keys (:func:`~labelaudit.core.order.canonical_order`), so each fold's training set and order depend
    on neither side's row order.
    """
    all_keys = np.concatenate([np.asarray(keys, dtype=object), np.asarray(reference_keys, dtype=object)])
    all_labels = np.concatenate([np.asarray(labels, dtype=np.int64), np.asarray(reference_labels, dtype=np.int64)])
    m = len(reference_labels)
    fold_ids = np.concatenate([plan.fold_ids, np.full(m, REFERENCE_FOLD, dtype=np.int64)])
    keep = None if plan.keep is None else np.concatenate([plan.keep, np.ones(m, dtype=bool)])
    order = canonical_order(all_keys, all_labels, key_hashes(all_keys, seed))
    return stack_rows(features, reference_features), all_labels, FoldPlan(fold_ids=fold_ids, order=order, keep=keep)


def stack_rows(a, b):
    """The rows of ``b`` after those of ``a``: arrays (of the same dtype) or :class:`TableFeatures`."""
    if isinstance(a, TableFeatures) or isinstance(b, TableFeatures):
        a, b = _as_table(a, b), _as_table(b, a)
        counts = None
        if a.text_counts is not None and b.text_counts is not None:
            from scipy import sparse

            counts = sparse.vstack([a.text_counts, b.text_counts], format="csr")
        return TableFeatures(values=np.concatenate([a.values, b.values]), types=a.types,
                             texts=None if a.texts is None else np.concatenate([a.texts, b.texts]),
                             text_counts=counts)
    return np.concatenate([np.asarray(a), np.asarray(b)])


def _as_table(x, like: TableFeatures) -> TableFeatures:
    """``x`` as :class:`TableFeatures` with ``like``'s column types (a plain array is a table of numbers)."""
    if isinstance(x, TableFeatures):
        return x
    return TableFeatures(values=np.asarray(x, dtype=np.float32), types=like.types)


def _mapped_labels(dataset: Dataset, reference: Dataset, field: str) -> np.ndarray:
    """The reference's labels as the dataset's class ids (matched by class name)."""
    ids = {name: i for i, name in enumerate(dataset.class_names)}
    used = set(np.unique(reference.labels).tolist())
    unknown = [name for c, name in enumerate(reference.class_names) if name not in ids and c in used]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise OptionError(f"the reference has {len(unknown)} class(es) the audited dataset does not: {shown} "
                          f"(its classes: {', '.join(repr(n) for n in dataset.class_names[:10])}"
                          f"{' ...' if dataset.num_classes > 10 else ''})", field=field, code="reference_classes")
    table = np.array([ids.get(name, -1) for name in reference.class_names], dtype=np.int64)
    return table[np.asarray(reference.labels, dtype=np.int64)]


def _check_images(dataset: Dataset, reference: Dataset, field: str) -> None:
    """Images of the same shape and storage type (``uint8`` pixels and floats are scaled differently)."""
    shape, ref_shape = tuple(dataset.features.shape[1:]), tuple(reference.features.shape[1:])
    if shape != ref_shape:
        raise OptionError(f"the reference's examples have shape {list(ref_shape)} but the audited dataset's "
                          f"{list(shape)}", field=field, code="reference_mismatch")
    if dataset.features.dtype != reference.features.dtype:
        raise OptionError(f"the reference's values are {reference.features.dtype} but the audited dataset's "
                          f"{dataset.features.dtype}", field=field, code="reference_mismatch")


#: column types whose values are the same numbers either way (a 0/1 column may be read as either)
NUMBERS = {"numeric", "boolean"}


def lacking_columns(names: list[str], reference_names: list[str], reference_schema: list | None) -> tuple[list, list]:
    """``(lacking, blank)``: the audited ``names`` the reference's columns lack that cannot be filled in, and
    those its reading left out for being blank in it (constant or all missing: see :data:`BLANK_REASONS`),
    which it takes as missing values (imputed per fold like any missing value)."""
    left_out = {c.get("name"): c.get("reason") for c in reference_schema or () if c.get("role") == "ignored"}
    absent = [c for c in names if c not in reference_names]
    blank = [c for c in absent if left_out.get(c) in BLANK_REASONS]
    return [c for c in absent if c not in blank], blank


#: why reading a table leaves out a column it has: one value for every row, or none
BLANK_REASONS = ("constant", "all values missing")


def _aligned_table(dataset: Dataset, reference: Dataset, field: str) -> Dataset:
    """The reference table with the dataset's columns in the dataset's order (its other columns left out: the
    models train on the audited dataset's columns; those it lacks for being blank in it filled as missing
    values) and its category codes as the dataset's."""
    names = list(dataset.feature_names or _positional(dataset))
    ref_names = list(reference.feature_names or _positional(reference))
    texts, ref_texts = list(dataset.text_names or []), list(reference.text_names or [])
    lacking, blank = lacking_columns(names + texts, ref_names + ref_texts, reference.meta.get("schema"))
    if lacking:
        raise OptionError(f"the reference lacks {len(lacking)} feature column(s) of the audited dataset: "
                          f"{', '.join(lacking[:10])}{' ...' if len(lacking) > 10 else ''}", field=field,
                          code="reference_mismatch")
    types = list(dataset.feature_types or ["numeric"] * len(names))
    ref_types = dict(zip(ref_names, reference.feature_types or ["numeric"] * len(ref_names)))
    differ = [f"{c} ({ref_types[c]}, not {t})" for c, t in zip(names, types)
              if c in ref_types and ref_types[c] != t and {ref_types[c], t} != NUMBERS]
    if differ:
        raise OptionError(f"the reference's columns have other types than the audited dataset's: "
                          f"{', '.join(differ[:10])}", field=field, code="reference_mismatch")
    ref_values = np.asarray(reference.features, dtype=np.float32)
    values = np.full((reference.num_examples, len(names)), np.nan, dtype=np.float32)
    for j, c in enumerate(names):
        if c in ref_types:
            values[:, j] = ref_values[:, ref_names.index(c)]
    categories = dataset.meta.get("categories") or {}
    ref_categories = reference.meta.get("categories") or {}
    for j, (c, t) in enumerate(zip(names, types)):
        if t == "categorical" and c in ref_types:
            values[:, j] = _recoded(values[:, j], ref_categories.get(c, []), categories.get(c, []))
    ref_text = None
    if texts:
        ref_text = np.full((reference.num_examples, len(texts)), "", dtype=object)
        for j, c in enumerate(texts):
            if c in ref_texts:
                ref_text[:, j] = reference.texts[:, ref_texts.index(c)]
        ref_text = ref_text.astype(str)
    return replace(reference, features=values, feature_names=names, feature_types=types, texts=ref_text,
                   text_names=texts or None, meta={**reference.meta, "categories": dict(categories)})


def _recoded(codes: np.ndarray, ref_names: list, names: list) -> np.ndarray:
    """A categorical column's codes (named by ``ref_names``) as codes of ``names``."""
    from labelaudit.core.ingest.frame import OTHER_CATEGORY

    code = {n: float(i) for i, n in enumerate(names)}
    fallback = code.get(OTHER_CATEGORY, np.nan)
    table = np.array([code.get(n, fallback) for n in ref_names] + [np.nan], dtype=np.float32)
    idx = np.where(np.isnan(codes), len(ref_names), codes).astype(np.int64)
    idx[(idx < 0) | (idx > len(ref_names))] = len(ref_names)
    return table[idx]


def _positional(ds: Dataset) -> list[str]:
    """Column names for an unnamed feature matrix: ``0``, ``1``, ..."""
    return [str(i) for i in range(ds.features.shape[1])]
