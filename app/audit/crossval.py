"""Out-of-sample predicted probabilities by stratified K-fold cross-validation.

Every example is predicted by a model that never saw it: the data are split into
``folds`` stratified parts, and for each part a fresh model is trained on the
others. Fold assignment, weight init and data order all derive from ``seed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from app.audit.backbones import FitContext, choose_backbone
from app.audit.progress import Progress, ProgressCallback, StopCheck, check_stop, report
from app.errors import OptionError


@dataclass(frozen=True)
class CrossValResult:
    """Held-out probabilities and how they were made."""

    pred_probs: np.ndarray
    fold_ids: np.ndarray
    backbone: str
    device: str
    epochs: int
    fold_seconds: list[float] = field(default_factory=list)
    fold_accuracy: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return float(sum(self.fold_seconds))


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold id (``0..folds-1``) of every example, stratified by label and seeded."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    fold_ids = np.empty(labels.shape[0], dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for f, (_, held_out) in enumerate(splitter.split(np.zeros(labels.shape[0]), labels)):
        fold_ids[held_out] = f
    return fold_ids


def cross_val_pred_probs(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    modality: str,
    backbone: str = "auto",
    folds: int = 5,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    options: dict | None = None,
    exclude_from_training: np.ndarray | None = None,
    fold_ids: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> CrossValResult:
    """Train one model per fold and collect held-out probabilities.

    Parameters
    ----------
    features : np.ndarray
        ``(n, d)`` features or ``(n, c, h, w)`` images.
    labels : np.ndarray
        Given class ids ``(n,)``.
    num_classes : int
    modality : {"tabular", "image"}
    backbone : str
        A registered backbone name or ``auto`` (picked by modality).
    folds : int
        Number of stratified folds (at least 2; at most the smallest class size).
    epochs : int, optional
        Training epochs; the backbone's size-dependent default when omitted.
    seed : int
    device : {"auto", "cpu", "cuda"}
    options : dict, optional
        Backbone hyper-parameters (``lr``, ``width``, ``label_smoothing``, ...).
    exclude_from_training : np.ndarray, optional
        Boolean mask of examples left out of every training set (they are still
        predicted in their own fold); used by the second, pruned pass.
    fold_ids : np.ndarray, optional
        A fixed fold assignment (reuse the first pass's).
    progress : callable, optional
        Receives a :class:`Progress` after every epoch (``fraction`` 0..1 over all folds).
    should_stop : callable, optional
        Polled between epochs; returning True cancels with :class:`AuditCancelled`.
    """
    from app.audit.backbones.device import resolve_device

    labels = np.asarray(labels, dtype=np.int64)
    n = labels.shape[0]
    if features.shape[0] != n:
        raise OptionError("features and labels differ in length", field="features")
    min_count = int(np.bincount(labels, minlength=num_classes).min())
    if not 2 <= folds <= max(2, min_count):
        raise OptionError(f"folds must be between 2 and the smallest class size ({min_count}), got {folds}",
                          field="folds")
    if epochs is not None and epochs < 1:
        raise OptionError("epochs must be at least 1", field="epochs")
    model = choose_backbone(backbone, modality, tuple(features.shape[1:]), options)
    dev = resolve_device(device) if model.uses_torch else "cpu"
    if model.uses_torch:
        _set_threads()
    if fold_ids is None:
        fold_ids = stratified_folds(labels, folds, seed)
    pred_probs = np.zeros((n, num_classes), dtype=np.float64)
    n_train_typical = int(n * (folds - 1) / folds)
    run_epochs = epochs or model.default_epochs(n_train_typical) or 1
    fold_seconds: list[float] = []
    fold_accuracy: list[float] = []
    keep = np.ones(n, dtype=bool) if exclude_from_training is None else ~np.asarray(exclude_from_training, bool)

    for f in range(folds):
        check_stop(should_stop)
        held_out = fold_ids == f
        train = ~held_out & keep
        train_labels = labels[train]
        if np.unique(train_labels).size < 2:
            raise OptionError("a fold's training part holds fewer than two classes", field="folds")

        def on_epoch(epoch: int, total: int, _f: int = f) -> None:
            report(progress, Progress(stage="training", fraction=(_f + epoch / total) / folds, fold=_f + 1,
                                      folds=folds, epoch=epoch, epochs=total,
                                      message=f"fold {_f + 1}/{folds}, epoch {epoch}/{total}"))

        ctx = FitContext(num_classes=num_classes, seed=seed * 1000 + f, device=dev, epochs=run_epochs,
                         on_epoch=on_epoch, should_stop=should_stop, options=dict(options or {}))
        start = time.perf_counter()
        probs = model.fit_predict(features[train], train_labels, features[held_out], ctx)
        fold_seconds.append(time.perf_counter() - start)
        pred_probs[held_out] = probs
        fold_accuracy.append(float((probs.argmax(axis=1) == labels[held_out]).mean()))

    return CrossValResult(
        pred_probs=pred_probs,
        fold_ids=fold_ids,
        backbone=model.name,
        device=dev,
        epochs=run_epochs if model.uses_torch else 0,
        fold_seconds=fold_seconds,
        fold_accuracy=fold_accuracy,
    )


def _set_threads() -> None:
    import os

    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
