"""Stable keys that identify examples across versions of a dataset."""

from __future__ import annotations

import hashlib

import numpy as np

from labelaudit.audit.dataset import Dataset


def example_keys(ds: Dataset) -> np.ndarray:
    """One string key per example, stable across row order and relabelling.

    The caller's id column when there is one (``id:<value>``); else a hash of the
    example's content — its feature row or image bytes (``sha:<16 hex>``), so
    the same example keeps its key when its label changes or rows move. A
    pred_probs dataset has no content of its own, so its keys are row indices
    (``row:<i>``).
    """
    if ds.example_ids is not None:
        return np.array([f"id:{v}" for v in ds.example_ids.tolist()], dtype=object)
    if ds.features is None:
        return np.array([f"row:{i}" for i in range(ds.num_examples)], dtype=object)
    rows = np.ascontiguousarray(ds.features.reshape(ds.num_examples, -1))
    return np.array([f"sha:{hashlib.blake2b(r.tobytes(), digest_size=8).hexdigest()}" for r in rows], dtype=object)
