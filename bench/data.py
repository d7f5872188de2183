"""Datasets the benchmarks share: the reference MNIST test set and scikit-learn digits
(synthetic pred_probs are in :mod:`bench.common`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest import from_arrays, load_dataset

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "datasets" / "mnist-test" / "t10k-images-idx3-ubyte.gz"


def load(name: str) -> Dataset:
    """``digits`` (1,797 8x8 images) or ``mnist`` (the 10,000 MNIST test images from ../shared)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return from_arrays(d.images.astype(np.float32), d.target)
    if not MNIST.exists():
        raise SystemExit(f"MNIST test set not found at {MNIST}")
    return load_dataset(MNIST)
