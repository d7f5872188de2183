"""Sorting for rankings: numpy's stable argsort, faster, and the mask of the ``m`` smallest values."""

from __future__ import annotations

import numpy as np


def stable_argsort(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` (int64), faster.

    float32 values (the scores of float32 pred_probs) sort as one ``uint64`` key each: the
    value's bits made order-preserving in the high half, the index in the low half, so one
    unstable sort gives the stable order (numpy's stable sort of floats is a merge sort, about
    4x slower). Other values: an unstable sort, then ties put in index order; with NaNs,
    numpy's stable sort.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.isnan(values).any():  # NaNs compare unequal: numpy's own stable sort
        return np.argsort(values, kind="stable").astype(np.int64, copy=False)
    if values.dtype == np.float32 and values.ndim == 1 and values.size < 2 ** 32:
        return _key_argsort(values)
    order = np.argsort(values).astype(np.int64, copy=False)
    ordered = values[order]
    tied = ordered[1:] == ordered[:-1]
    if tied.any():  # a run of equal values at positions [start, end) is put in index order
        edges = np.diff(np.concatenate([[0], tied.view(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) + 1
        lengths = ends - starts
        pos = np.repeat(starts, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
        group = np.repeat(np.arange(starts.size), lengths)
        within = np.lexsort((order[pos], group))
        order[pos] = order[pos][within]
    return order


def _key_argsort(values: np.ndarray) -> np.ndarray:
    """Stable argsort of NaN-free float32 values through ``(order-preserving bits << 32) | index`` keys."""
    bits = (values + np.float32(0)).view(np.uint32)  # + 0 makes -0.0 into 0.0, which compare equal
    negative = bits >= np.uint32(0x80000000)
    # IEEE floats order as sign-magnitude: flip every bit of negatives, only the sign bit of the others
    ordered = np.where(negative, ~bits, bits | np.uint32(0x80000000))
    key = ordered.astype(np.uint64)
    key <<= np.uint64(32)
    key |= np.arange(values.size, dtype=np.uint64)
    key.sort()
    key &= np.uint64(0xFFFFFFFF)
    return key.astype(np.int64)



def smallest_mask(values: np.ndarray, m: int) -> np.ndarray:
    """Mask of ``np.argsort(values)[:m]``: partition in O(n); argsort only when values tie at the cut."""
    size = values.shape[0]
    mask = np.zeros(size, dtype=bool)
    if m <= 0:
        return mask
    if m >= size:
        mask[:] = True
        return mask
    cut = np.partition(values, m - 1)[m - 1]
    np.less_equal(values, cut, out=mask)
    if np.count_nonzero(mask) != m:  # ties at the cut: which of them argsort keeps depends on its algorithm
        mask[:] = False
        mask[np.argsort(values)[:m]] = True
    return mask
