"""Controlled label-permutation noise: the audit's experiment with a known answer.

For a noise rate ``r``, exactly ``round(r * count(c))`` examples of each class
``c``, chosen uniformly at random, are given another class:

- ``pairwise``: every flipped example of class ``c`` gets ``perm(c)`` for one
  seeded derangement ``perm`` (with two classes, they swap);
- ``symmetric``: flipped examples spread evenly over the other classes;
- ``matrix``: a caller's column-stochastic noise matrix ``P(given = i | true = j)``
  sets, per true class, how many flip and where they go;
- ``instance`` (instance-dependent): the flipped examples of each class are its most
  ambiguous ones by a model's out-of-sample ``probabilities`` (lowest probability of their
  own class), and each goes to the other class that model finds most likely: annotators
  err on hard examples, towards the classes they resemble
  (:mod:`labelaudit.core.dataset_noise` supplies the model).

Counts per destination are apportioned exactly (largest remainder, seeded
tie-breaks), so the realised noise matrix is as close to the asked one as whole
examples allow. The same labels and seed always give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from labelaudit.errors import OptionError

NoiseKind = Literal["pairwise", "symmetric", "matrix", "instance"]
NOISE_KINDS: tuple[str, ...] = ("pairwise", "symmetric", "matrix", "instance")


@dataclass(frozen=True)
class NoisyLabels:
    """The result of noise injection.

    Attributes
    ----------
    labels : np.ndarray
        The noisy (given) labels.
    true_labels : np.ndarray
        The labels before injection.
    noise_matrix : np.ndarray
        The realised ``k x k`` matrix ``P(given = i | true = j)`` (columns sum to 1).
    flipped : np.ndarray
        Boolean mask of the examples whose label changed.
    """

    labels: np.ndarray
    true_labels: np.ndarray
    noise_matrix: np.ndarray
    flipped: np.ndarray
    kind: str
    rate: float
    seed: int

    @property
    def num_flipped(self) -> int:
        return int(self.flipped.sum())


def inject_noise(
    labels: np.ndarray,
    *,
    kind: NoiseKind = "pairwise",
    rate: float = 0.2,
    seed: int = 0,
    noise_matrix: np.ndarray | None = None,
    num_classes: int | None = None,
    probabilities: np.ndarray | None = None,
) -> NoisyLabels:
    """Flip a controlled share of labels to other classes.

    Parameters
    ----------
    labels : np.ndarray
        Class ids ``0..k-1``, shape ``(n,)``.
    kind : {"pairwise", "symmetric", "matrix"}
    rate : float
        Share of each class to flip, in ``[0, 1]`` (ignored for ``matrix``, whose
        diagonal sets it per class).
    seed : int
        Seeds the derangement, the choice of examples and tie-breaks.
    noise_matrix : np.ndarray, optional
        For ``kind="matrix"``: ``k x k``, non-negative, columns summing to 1.
    num_classes : int, optional
        ``k``; defaults to ``labels.max() + 1``.
    probabilities : np.ndarray, optional
        For ``kind="instance"``: ``(n, k)`` out-of-sample probabilities of a model trained on
        ``labels``; they pick which examples flip and where to.

    Returns
    -------
    NoisyLabels
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise OptionError("labels must be a 1-D array of class ids", field="labels")
    y = y.astype(np.int64)
    k = int(num_classes if num_classes is not None else (y.max() + 1 if y.size else 0))
    if k < 2:
        raise OptionError("noise needs at least two classes", field="labels")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise OptionError(f"labels must lie in 0..{k - 1}", field="labels")
    if kind not in NOISE_KINDS:
        raise OptionError(f"unknown noise kind {kind!r}; expected one of: {', '.join(NOISE_KINDS)}", field="kind")
    rng = np.random.default_rng(seed)

    if kind == "instance":
        if not (isinstance(rate, (int, float)) and 0.0 <= float(rate) <= 1.0):
            raise OptionError(f"rate must be between 0 and 1, got {rate!r}", field="rate")
        noisy = _instance_flips(y, _check_probabilities(probabilities, y.size, k), float(rate), k, rng)
        return NoisyLabels(labels=noisy, true_labels=y, noise_matrix=realised_noise_matrix(noisy, y, k),
                           flipped=noisy != y, kind=kind, rate=float(rate), seed=int(seed))
    if kind == "matrix":
        target = _check_noise_matrix(noise_matrix, k)
    else:
        if not (isinstance(rate, (int, float)) and 0.0 <= float(rate) <= 1.0):
            raise OptionError(f"rate must be between 0 and 1, got {rate!r}", field="rate")
        if noise_matrix is not None:
            raise OptionError("noise_matrix is only used with kind='matrix'", field="noise_matrix")
        target = _kind_matrix(kind, float(rate), k, rng)

    noisy = y.copy()
    for c in range(k):
        members = np.flatnonzero(y == c)
        if members.size == 0:
            continue
        n_flip = int(round((1.0 - target[c, c]) * members.size)) if kind == "matrix" else int(round(rate * members.size))
        if n_flip == 0:
            continue
        chosen = rng.choice(members, size=n_flip, replace=False)
        off = target[:, c].copy()
        off[c] = 0.0
        counts = _apportion(off / off.sum(), n_flip, rng)
        destinations = np.repeat(np.arange(k), counts)
        rng.shuffle(destinations)
        noisy[chosen] = destinations

    return NoisyLabels(
        labels=noisy,
        true_labels=y,
        noise_matrix=realised_noise_matrix(noisy, y, k),
        flipped=noisy != y,
        kind=kind,
        rate=float(rate) if kind != "matrix" else float((noisy != y).mean()) if y.size else 0.0,
        seed=int(seed),
    )


def realised_noise_matrix(labels: np.ndarray, true_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``P(given = i | true = j)`` measured from two label arrays (empty columns are identity)."""
    joint = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(joint, (labels, true_labels), 1.0)
    totals = joint.sum(axis=0)
    out = np.eye(num_classes)
    nz = totals > 0
    out[:, nz] = joint[:, nz] / totals[nz]
    return out


def derangement(k: int, rng: np.random.Generator) -> np.ndarray:
    """A seeded permutation of ``0..k-1`` with no fixed point (``k >= 2``)."""
    while True:  # expected ~e tries; a uniform derangement by rejection
        perm = rng.permutation(k)
        if not np.any(perm == np.arange(k)):
            return perm


def _kind_matrix(kind: str, rate: float, k: int, rng: np.random.Generator) -> np.ndarray:
    m = np.eye(k) * (1.0 - rate)
    if kind == "pairwise":
        perm = derangement(k, rng)
        m[perm, np.arange(k)] += rate
    else:
        m += (1.0 - np.eye(k)) * (rate / (k - 1))
    return m


def _check_noise_matrix(noise_matrix, k: int) -> np.ndarray:
    if noise_matrix is None:
        raise OptionError("kind='matrix' needs a noise_matrix", field="noise_matrix")
    m = np.asarray(noise_matrix, dtype=np.float64)
    if m.shape != (k, k):
        raise OptionError(f"noise_matrix must be {k} x {k} (one row and column per class), got {m.shape}",
                          field="noise_matrix")
    if not np.all(np.isfinite(m)) or (m < 0).any():
        raise OptionError("noise_matrix entries must be finite and non-negative", field="noise_matrix")
    sums = m.sum(axis=0)
    if not np.allclose(sums, 1.0, atol=1e-6):
        j = int(np.flatnonzero(~np.isclose(sums, 1.0, atol=1e-6))[0])
        raise OptionError(f"noise_matrix column {j} sums to {sums[j]:.6g}; columns are P(given | true) and must sum to 1",
                          field="noise_matrix")
    return m


def _instance_flips(y: np.ndarray, probabilities: np.ndarray, rate: float, k: int,
                    rng: np.random.Generator) -> np.ndarray:
    """``round(rate * count(c))`` of each class's examples, the least likely of their own class first (seeded
    tie-breaks), each given the other class the model finds most likely."""
    noisy = y.copy()
    for c in range(k):
        members = np.flatnonzero(y == c)
        n_flip = int(round(rate * members.size))
        if n_flip == 0:
            continue
        order = np.lexsort((rng.random(members.size), probabilities[members, c]))
        chosen = members[order[:n_flip]]
        other = probabilities[chosen].astype(np.float64, copy=True)
        other[:, c] = -np.inf
        noisy[chosen] = other.argmax(axis=1)
    return noisy


def _check_probabilities(probabilities, n: int, k: int) -> np.ndarray:
    if probabilities is None:
        raise OptionError("kind='instance' needs a model's probabilities (labelaudit.core.dataset_noise trains one)",
                          field="kind")
    P = np.asarray(probabilities)
    if P.shape != (n, k) or not np.all(np.isfinite(P)):
        raise OptionError(f"instance noise needs finite ({n}, {k}) probabilities, got shape {P.shape}",
                          field="probabilities")
    return P


def _apportion(weights: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``total`` into whole counts proportional to ``weights`` (largest remainder)."""
    exact = weights * total
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    if short:
        remainder = exact - counts
        # random tie-breaks among equal remainders, so symmetric noise favours no class
        order = np.lexsort((rng.random(weights.size), -remainder))
        eligible = [i for i in order if weights[i] > 0]
        for i in eligible[:short]:
            counts[i] += 1
    return counts
