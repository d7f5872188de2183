"""The in-memory dataset every audit step works on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

Modality = Literal["tabular", "image", "pred_probs"]


@dataclass(frozen=True)
class Dataset:
    """A labelled dataset, validated and ready to audit.

    Attributes
    ----------
    labels : np.ndarray
        Given labels as contiguous class ids ``0..k-1`` (int64, shape ``(n,)``).
    class_names : list[str]
        Name of each class id.
    modality : {"tabular", "image", "pred_probs"}
        ``tabular``: ``features`` is float32 ``(n, d)``. ``image``: ``features`` is
        uint8 or float32 ``(n, c, h, w)``. ``pred_probs``: ``pred_probs`` is the
        caller's own out-of-sample ``(n, k)`` probabilities and no model is trained.
    features : np.ndarray, optional
    pred_probs : np.ndarray, optional
    true_labels : np.ndarray, optional
        Known true labels (from injected noise), used to score the audit.
    feature_names : list[str], optional
    feature_types : list[str], optional
        A table's type of each ``features`` column (``numeric``, ``boolean``, ``categorical``: integer codes,
        ``datetime``: days since 1970); NaN marks a missing value. ``None``: all numeric, none missing.
    texts : np.ndarray, optional
        A table's free-text features, str ``(n, t)`` ("" when missing), named by ``text_names``.
    text_names : list[str], optional
    example_ids : np.ndarray, optional
        A caller-named stable key per example (e.g. an ``id`` column).
    extra_columns : dict[str, np.ndarray], optional
        More per-example string columns carried through storage and written back to
        files (a corrected dataset's original label and review decision).
    meta : dict
        What the reader saw: for tables ``schema`` (every column's role, type, missing share and distinct
        count), ``id_column`` and ``missing_labels`` (count and rows left out for want of a label).
    """

    labels: np.ndarray
    class_names: list[str]
    modality: Modality
    features: np.ndarray | None = None
    pred_probs: np.ndarray | None = None
    true_labels: np.ndarray | None = None
    feature_names: list[str] | None = None
    feature_types: list[str] | None = None
    texts: np.ndarray | None = None
    text_names: list[str] | None = None
    example_ids: np.ndarray | None = None
    extra_columns: dict | None = None
    meta: dict = field(default_factory=dict)

    @property
    def num_examples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self) -> np.ndarray:
        """Number of examples given each label (length ``num_classes``)."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def with_labels(self, labels: np.ndarray, true_labels: np.ndarray | None = None) -> "Dataset":
        """A copy with other given labels (and optionally known true labels)."""
        return replace(self, labels=np.asarray(labels, dtype=np.int64), true_labels=true_labels)

    def describe(self) -> dict:
        """Headline facts: rows, classes, class names, modality, feature shape."""
        shape = None if self.features is None else list(self.features.shape[1:])
        if self.modality == "pred_probs" and self.pred_probs is not None:
            shape = [int(self.pred_probs.shape[1])]
        return {
            "rows": self.num_examples,
            "classes": self.num_classes,
            "class_names": list(self.class_names),
            "modality": self.modality,
            "feature_shape": shape,
            "has_true_labels": self.true_labels is not None,
            "text_columns": list(self.text_names or []),
            "missing_labels": int((self.meta.get("missing_labels") or {}).get("count", 0)),
        }
