"""Datasets the benchmarks share: the reference MNIST test set, scikit-learn digits, synthetic pred_probs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelaudit.audit.dataset import Dataset
from labelaudit.audit.ingest import from_arrays, load_dataset

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


def synthetic_pred_probs(n: int, k: int = 10, noise: float = 0.03, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Confident pred_probs (float32) and labels with ``noise`` of them moved to the next class."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += 4
    P = np.exp(logits)
    P /= P.sum(axis=1, keepdims=True)
    y = true.copy()
    flip = rng.random(n) < noise
    y[flip] = (y[flip] + 1) % k
    return P.astype(np.float32), y


def synthetic_pred_probs_file(path, n: int, k: int = 10, noise: float = 0.03, seed: int = 0,
                              chunk_rows: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """:func:`synthetic_pred_probs` written chunk by chunk into a float32 ``.npy`` at ``path`` (bounded memory).

    Returns the array opened read-only as a memory map, and the labels. Chunk ``i`` draws from
    ``default_rng([seed, i])``, so the values differ from :func:`synthetic_pred_probs`'s.
    """
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, k))
    labels = np.empty(n, dtype=np.int64)
    for i, s in enumerate(range(0, n, chunk_rows)):
        rows = min(chunk_rows, n - s)
        rng = np.random.default_rng([seed, i])
        true = rng.integers(0, k, rows)
        logits = rng.normal(0, 1, (rows, k)).astype(np.float32)
        logits[np.arange(rows), true] += 4
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        out[s:s + rows] = logits
        flip = rng.random(rows) < noise
        true[flip] = (true[flip] + 1) % k
        labels[s:s + rows] = true
    out.flush()
    del out
    return np.load(path, mmap_mode="r"), labels
