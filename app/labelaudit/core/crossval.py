"""Out-of-sample predicted probabilities by stratified K-fold cross-validation.

Every example is predicted by a model that never saw it: the data are split into
``folds`` stratified parts, and for each part a fresh model is trained on the
others. Fold assignment and data order derive from each example's stable key and
``seed`` (never from row positions: :mod:`labelaudit.core.order`), weight init
from ``seed``.

One fold's training is the pure function :func:`~labelaudit.core.folds.train_fold`
(a :class:`~labelaudit.core.folds.FoldSpec` and the arrays in, a
:class:`~labelaudit.core.folds.FoldResult` out); an executor from
:mod:`labelaudit.core.executors` runs the folds: one after another in this process
(the default), or as Ray tasks on a cluster. A fold's result depends only on its
spec and the arrays, so every executor gives the same ``pred_probs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labelaudit.core.backbones import Backbone
from labelaudit.core.executors import Executor, LocalExecutor
from labelaudit.core.folds import FoldPlan, FoldSpec
from labelaudit.core.keys import content_keys
from labelaudit.core.options import check_cross_val_options
from labelaudit.core.order import canonical_order, key_folds, key_hashes
from labelaudit.core.progress import Progress, ProgressCallback, StopCheck, report
from labelaudit.core.reference import with_reference
from labelaudit.errors import OptionError


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
    fold_threads: list[int] = field(default_factory=list)  # each fold's thread count (0: not limited)
    members: int = 1  # models per fold whose probabilities are averaged (an ensemble)
    member_accuracy: list[float] = field(default_factory=list)  # each member's CV accuracy (given labels)
    member_agreement: float | None = None  # share of examples every member predicts the same class for
    #: every example's class distribution among its nearest training examples in its fold model's embedding,
    #: averaged over the members (torch backbones asked for ``neighbours``; else ``None``)
    neighbour_probs: np.ndarray | None = None

    @property
    def seconds(self) -> float:
        return float(sum(self.fold_seconds))


def fold_plan(labels: np.ndarray, keys: np.ndarray, *, folds: int, seed: int, fold_ids: np.ndarray | None = None,
              exclude_from_training: np.ndarray | None = None) -> FoldPlan:
    """Folds and training order from the examples' keys and the seed (:mod:`labelaudit.core.order`)."""
    hashes = key_hashes(keys, seed)
    if fold_ids is None:
        fold_ids = key_folds(hashes, labels, folds)
    keep = None if exclude_from_training is None else ~np.asarray(exclude_from_training, bool)
    return FoldPlan(fold_ids=np.asarray(fold_ids, dtype=np.int64), order=canonical_order(keys, labels, hashes),
                    keep=keep)


def cross_val_pred_probs(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    modality: str,
    backbone: str | Backbone = "auto",
    folds: int = 5,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    options: dict | None = None,
    exclude_from_training: np.ndarray | None = None,
    fold_ids: np.ndarray | None = None,
    keys: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    executor: Executor | None = None,
    members: int = 1,
    neighbours: int = 0,
    reference: tuple | None = None,
) -> CrossValResult:
    """Train one model per fold (``members`` models, averaged) and collect held-out probabilities.

    Parameters
    ----------
    features : np.ndarray
        ``(n, d)`` features or ``(n, c, h, w)`` images.
    labels : np.ndarray
        Given class ids ``(n,)``.
    num_classes : int
    modality : {"tabular", "image"}
    backbone : str or Backbone
        A registered backbone name or ``auto`` (picked by modality); or a backbone
        object, used as it is.
    folds : int
        Number of stratified folds (at least 2; at most the smallest class size).
    epochs : int, optional
        Training epochs; the backbone's size-dependent default when omitted.
    seed : int
    device : {"auto", "cpu", "cuda", "cuda:N"}
    options : dict, optional
        Backbone hyper-parameters (``lr``, ``width``, ``label_smoothing``, ...).
    exclude_from_training : np.ndarray, optional
        Boolean mask of examples left out of every training set (they are still
        predicted in their own fold); used by the second, pruned pass.
    fold_ids : np.ndarray, optional
        A fixed fold assignment (reuse the first pass's).
    keys : np.ndarray, optional
        A stable key per example (an id, or a hash of its content: :mod:`labelaudit.core.keys`);
        folds and training order derive from them and ``seed``, so the same rows in any order
        give the same probabilities. Content hashes of ``features`` when omitted.
    progress : callable, optional
        Receives a :class:`Progress` after every epoch (``fraction`` 0..1 over all folds).
    should_stop : callable, optional
        Polled between epochs; returning True cancels with :class:`AuditCancelled`.
    executor : Executor, optional
        Runs the folds (:mod:`labelaudit.core.executors`); the in-process
        :class:`~labelaudit.core.executors.LocalExecutor` when omitted.
    members : int
        Models trained per fold, each from its own seed, on the same folds; their held-out
        probabilities are averaged (an ensemble: :func:`ensemble_seed`).
    neighbours : int
        When above 0 (torch backbones), also each example's class distribution among its that many nearest
        training examples in its fold model's embedding (``neighbour_probs`` of the result).
    reference : tuple, optional
        ``(features, labels, keys)`` of trusted rows with the same columns or image shape, labels as class ids
        of ``labels`` and keys unlike the audited rows' (:func:`labelaudit.core.reference.reference_keys`):
        they join every fold's training part and are never predicted.
    """
    labels = np.asarray(labels, dtype=np.int64)
    model = check_cross_val_options(features, labels, num_classes=num_classes, modality=modality, backbone=backbone,
                                    folds=folds, epochs=epochs, device=device, options=options, members=members)
    return cross_validate(features, labels, model=model, num_classes=num_classes, folds=folds, epochs=epochs,
                          seed=seed, device=device, options=options, exclude_from_training=exclude_from_training,
                          fold_ids=fold_ids, keys=keys, progress=progress, should_stop=should_stop,
                          executor=executor, members=members, neighbours=neighbours, reference=reference)


def ensemble_seed(seed: int, fold: int, member: int) -> int:
    """The training seed of one member's model of one fold: ``seed * 1000 + fold`` for the first member (as
    without an ensemble), shifted by 100 for each further one (folds are at most 50, members at most 9)."""
    return seed * 1000 + fold + 100 * member


def cross_validate(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    model: Backbone,
    num_classes: int,
    folds: int,
    epochs: int | None,
    seed: int,
    device: str,
    options: dict | None = None,
    exclude_from_training: np.ndarray | None = None,
    fold_ids: np.ndarray | None = None,
    keys: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    executor: Executor | None = None,
    members: int = 1,
    neighbours: int = 0,
    reference: tuple | None = None,
) -> CrossValResult:
    """:func:`cross_val_pred_probs` on checked options (by it, or by
    :func:`~labelaudit.core.options.check_options`) and a resolved backbone ``model``.

    ``reference``: ``(features, labels, keys)`` of trusted rows (:mod:`labelaudit.core.reference`) that join
    every fold's training part and are never predicted; ``pred_probs`` has the audited rows only."""
    executor = executor or LocalExecutor()
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.shape[0]
    dev = executor.device_for(device, model)
    keys = content_keys(features) if keys is None else keys
    plan = fold_plan(labels, keys, folds=folds, seed=seed, fold_ids=fold_ids,
                     exclude_from_training=exclude_from_training)
    if reference is not None:
        features, labels, plan = with_reference(features, labels, keys, plan, *reference, seed=seed)
    fold_ids, keep = plan.fold_ids, plan.keep
    for f in range(folds):
        train = fold_ids != f if keep is None else (fold_ids != f) & keep
        if np.unique(labels[train]).size < 2:
            raise OptionError("a fold's training part holds fewer than two classes", field="folds")
    n_train_typical = int(n * (folds - 1) / folds) + (labels.shape[0] - n)  # with the reference rows
    run_epochs = epochs or model.default_epochs(n_train_typical) or 1
    threads = executor.threads() if model.uses_torch else 0
    members = max(1, int(members))

    done = [0.0] * folds  # share of the current member's epochs finished, per fold
    member_probs: list[np.ndarray] = []
    member_neighbours: list[np.ndarray] = []
    all_results = []
    for member in range(members):
        specs = [FoldSpec(fold=f, folds=folds, model=model, num_classes=num_classes,
                          seed=ensemble_seed(seed, f, member), device=dev, epochs=run_epochs,
                          options=dict(options or {}), threads=threads, neighbours=neighbours)
                 for f in range(folds)]
        done[:] = [0.0] * folds

        def on_epoch(fold: int, epoch: int, total: int, _member: int = member) -> None:
            done[fold] = max(done[fold], epoch / total)
            where = f"fold {fold + 1}/{folds}, epoch {epoch}/{total}"
            if members > 1:
                where = f"model {_member + 1}/{members}, {where}"
            report(progress, Progress(stage="training", fraction=(_member + sum(done) / folds) / members,
                                      fold=fold + 1, folds=folds, epoch=epoch, epochs=total,
                                      member=_member + 1 if members > 1 else None,
                                      members=members if members > 1 else None, message=where))

        results = executor.run_folds(specs, features, labels, plan, on_epoch=on_epoch, should_stop=should_stop)
        probs = np.zeros((n, num_classes), dtype=np.float64)
        for spec, result in zip(specs, results):
            probs[plan.rows(spec.fold)[1]] = result.held_out_probs
        member_probs.append(probs)
        if all(r.neighbour_probs is not None for r in results):
            near = np.zeros((n, num_classes), dtype=np.float64)
            for spec, result in zip(specs, results):
                near[plan.rows(spec.fold)[1]] = result.neighbour_probs
            member_neighbours.append(near)
        all_results.extend(results)

    pred_probs = member_probs[0] if members == 1 else np.mean(member_probs, axis=0)
    votes = np.stack([p.argmax(axis=1) for p in member_probs])
    return CrossValResult(
        pred_probs=pred_probs,
        fold_ids=fold_ids[:n],
        backbone=model.name,
        device=dev,
        epochs=run_epochs if model.uses_torch else 0,
        fold_seconds=[r.seconds for r in all_results],
        fold_accuracy=[r.accuracy for r in all_results],
        fold_threads=[r.threads for r in all_results],
        members=members,
        member_accuracy=[float((v == labels[:n]).mean()) for v in votes],
        member_agreement=float((votes == votes[0]).all(axis=0).mean()) if members > 1 else None,
        neighbour_probs=np.mean(member_neighbours, axis=0) if len(member_neighbours) == members else None,
    )
