"""Stable keys that identify examples across versions of a dataset."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.order import positional_keys


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read ``chunk`` bytes at a time: the identity of a dataset file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def content_keys(features: np.ndarray, texts: np.ndarray | None = None) -> np.ndarray:
    """``sha:<16 hex>``: a hash of each example's feature row or image bytes, and its text columns when it has
    any (see :func:`example_keys`)."""
    if hasattr(features, "values") and hasattr(features, "texts"):  # a table's TableFeatures
        features, texts = features.values, features.texts
    n = len(features)
    rows = np.ascontiguousarray(np.asarray(features).reshape(n, -1))
    if texts is None:
        return np.array([f"sha:{hashlib.blake2b(r.tobytes(), digest_size=8).hexdigest()}" for r in rows],
                        dtype=object)
    keys = []
    for r, t in zip(rows, texts):
        h = hashlib.blake2b(r.tobytes(), digest_size=8)
        for cell in t.tolist():
            h.update(b"\x00" + cell.encode("utf-8", "surrogatepass"))
        keys.append(f"sha:{h.hexdigest()}")
    return np.array(keys, dtype=object)


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
        return positional_keys(ds.num_examples)
    return content_keys(ds.features, ds.texts)


def has_stable_keys(ds: Dataset) -> bool:
    """Whether ``ds``'s keys name its examples rather than their positions (an id column, or content)."""
    return ds.example_ids is not None or ds.features is not None
