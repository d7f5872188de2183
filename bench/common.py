"""Helpers every benchmark (and the service tests) share: a free port, percentiles, synthetic pred_probs."""

from __future__ import annotations

import socket

import numpy as np


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(xs: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``xs`` by the nearest rank; NaN when ``xs`` is empty."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


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
