"""Fold assignment and training order from each example's stable key, never from its row position.

The same rows in any order give the same folds, the same training order inside
each fold and the same ranking, so an audit's flagged set and scores do not
depend on how the file was sorted. Each example's fold is a function of its key
and the seed alone, so appending rows keeps every old row's fold (the models
still change: they train on the new rows too).

A key's hash ``H(seed, key)`` is a uniform 64-bit number. Its fold is the bucket
it falls in (``H * folds / 2**64``): a stratified split in expectation. A class
so small that its buckets leave one fold's training part without it (possible
only with a handful of examples) is dealt round-robin in hash order instead, so
every fold trains on every class it can.
"""

from __future__ import annotations

import hashlib

import numpy as np


def positional_keys(n: int) -> np.ndarray:
    """``row:<i>`` keys: what an example is called when it has neither an id nor content of its own."""
    return np.array([f"row:{i}" for i in range(n)], dtype=object)


def key_hashes(keys: np.ndarray, seed: int) -> np.ndarray:
    """``H(seed, key)`` of every key as ``uint64``: uniform, seeded, independent of position."""
    prefix = f"{int(seed)}\x1f".encode()
    out = np.empty(len(keys), dtype=np.uint64)
    for i, key in enumerate(keys.tolist() if isinstance(keys, np.ndarray) else keys):
        out[i] = int.from_bytes(hashlib.blake2b(prefix + str(key).encode(), digest_size=8).digest(), "little")
    return out


def canonical_order(keys: np.ndarray, labels: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """The examples sorted by (hash, key, label): a permutation that is the same for the same rows in any order.

    Rows that tie on all three are the same example with the same label, so their
    relative order changes nothing.
    """
    key_rank = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)[1]
    return np.lexsort((np.asarray(labels, dtype=np.int64), key_rank, hashes))


def key_folds(hashes: np.ndarray, labels: np.ndarray, folds: int) -> np.ndarray:
    """Fold id (``0..folds-1``) of every example from its key hash, stratified by label (see the module notes)."""
    labels = np.asarray(labels, dtype=np.int64)
    # the top 32 bits of the hash, scaled: floor(h * folds / 2**64) without overflow
    fold_ids = ((hashes >> np.uint64(32)).astype(np.int64) * folds) >> 32
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if members.size >= 2 and np.unique(fold_ids[members]).size == 1:
            dealt = members[np.argsort(hashes[members], kind="stable")]
            fold_ids[dealt] = np.arange(dealt.size) % folds
    return fold_ids
