"""Noise injection on a whole dataset: the label-level kinds, and instance-dependent noise with its model."""

from __future__ import annotations

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.noise import NoisyLabels, inject_noise

#: The quick model that judges which examples are ambiguous for ``instance`` noise: cross-validated logistic
#: regression (every table, text and image dataset takes it; seconds on a CPU), on this many folds at most.
INSTANCE_MODEL = "logreg"
INSTANCE_FOLDS = 3


def dataset_noise(ds: Dataset, *, kind: str, rate: float, seed: int,
                  noise_matrix: np.ndarray | None = None) -> NoisyLabels:
    """Flip ``ds``'s labels as :func:`~labelaudit.core.noise.inject_noise` does; for ``instance`` noise, first
    train the quick model on the current labels (a pred_probs dataset's own probabilities serve as the model)."""
    probabilities = instance_probabilities(ds, seed=seed) if kind == "instance" else None
    return inject_noise(ds.labels, kind=kind, rate=rate, seed=seed, noise_matrix=noise_matrix,
                        num_classes=ds.num_classes, probabilities=probabilities)


def instance_probabilities(ds: Dataset, *, seed: int) -> np.ndarray:
    """Out-of-sample probabilities of :data:`INSTANCE_MODEL` trained on ``ds``'s labels (seeded)."""
    if ds.modality == "pred_probs":
        return np.asarray(ds.pred_probs, dtype=np.float64)
    from labelaudit.core.pipeline import AuditOptions, run_audit

    folds = max(2, min(INSTANCE_FOLDS, int(ds.class_counts().min())))
    clean = ds.with_labels(ds.labels)  # the labels as they are are the model's truth
    return np.asarray(run_audit(clean, AuditOptions(backbone=INSTANCE_MODEL, folds=folds, seed=seed,
                                                    device="cpu")).pred_probs, dtype=np.float64)
