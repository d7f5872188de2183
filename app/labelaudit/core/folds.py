"""One fold's training: a :class:`FoldSpec` and the arrays in, a :class:`FoldResult` out.

:func:`train_fold` is a pure function of its spec and the arrays, so every executor
(:mod:`labelaudit.core.executors`) that runs it gives the same held-out probabilities.
A leaf of the domain: it imports only the backbones, progress, the CPU budget's core count and
errors, threadpoolctl, and torch (to set the fold's thread count) only when a torch backbone trains.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from labelaudit.core.backbones import Backbone, FitContext
from labelaudit.core.backbones.base import FoldRows
from labelaudit.core.cpubudget import available_cores
from labelaudit.core.progress import StopCheck


@dataclass(frozen=True)
class FoldSpec:
    """Everything that decides one fold's held-out probabilities, besides the arrays.

    ``seed`` is the fold's own seed (``seed * 1000 + fold`` of the audit) and
    ``threads`` the fold's thread count: torch's intra-op threads and the OpenMP and
    BLAS pools (CPU results of torch depend on it; 0 leaves the process's settings
    alone). Small enough to ship to another process.
    """

    fold: int  # 0-based
    folds: int
    model: Backbone
    num_classes: int
    seed: int
    device: str
    epochs: int
    options: dict = field(default_factory=dict)
    threads: int = 0
    neighbours: int = 0  # k of the neighbourhood signal (torch backbones; 0: none)


@dataclass(frozen=True)
class FoldPlan:
    """Which examples each fold holds out and trains on, and in what order.

    ``fold_ids``: every example's fold; ``order``: the examples in their canonical
    order (:func:`labelaudit.core.order.canonical_order`), in which every fold's
    training and held-out rows are taken, so a fold's model does not depend on the
    rows' positions; ``keep``: examples that may be trained on (all when ``None``).
    """

    fold_ids: np.ndarray
    order: np.ndarray
    keep: np.ndarray | None = None

    def rows(self, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, held_out)``: row indices of fold ``fold``'s training and held-out parts, canonical order."""
        in_fold = self.fold_ids[self.order] == fold
        trainable = ~in_fold if self.keep is None else ~in_fold & self.keep[self.order]
        return self.order[trainable], self.order[in_fold]


@dataclass(frozen=True)
class FoldResult:
    """One fold's held-out probabilities (rows of :meth:`FoldPlan.rows`' ``held_out``, in that order)."""

    fold: int
    held_out_probs: np.ndarray
    seconds: float
    accuracy: float
    threads: int = 0
    #: held-out rows' class distribution among their nearest training examples in the model's embedding
    neighbour_probs: np.ndarray | None = None


EpochCallback = Callable[[int, int], None]
FoldEpochCallback = Callable[[int, int, int], None]


def train_fold(
    spec: FoldSpec,
    features: np.ndarray,
    labels: np.ndarray,
    plan: FoldPlan,
    *,
    on_epoch: EpochCallback | None = None,
    should_stop: StopCheck | None = None,
    threads_now: Callable[[], int] | None = None,
) -> FoldResult:
    """Train a fresh model on every fold but ``spec.fold`` and predict ``spec.fold``.

    Parameters
    ----------
    spec : FoldSpec
    features, labels : np.ndarray
        The whole dataset (validated by the caller's entry point).
    plan : FoldPlan
        Every example's fold, the canonical order and the trainable examples.
    on_epoch : callable, optional
        ``on_epoch(epoch, epochs)`` after every training epoch.
    should_stop : callable, optional
        Polled between epochs; True raises :class:`~labelaudit.errors.AuditCancelled`.
    threads_now : callable, optional
        The job's share of the CPU budget now; a torch fold on the CPU asks it between steps
        (:data:`~labelaudit.core.constants.RETUNE_SECONDS`) and follows it, so that a fold that
        started alone does not oversubscribe the cores once another job starts.
    """
    train, held_out = plan.rows(spec.fold)
    retune = None
    if spec.model.uses_torch and spec.threads:
        import torch

        if torch.get_num_threads() != spec.threads:
            torch.set_num_threads(spec.threads)
        if threads_now is not None and spec.device == "cpu":
            def retune() -> None:
                threads = threads_now()
                if torch.get_num_threads() != threads:
                    torch.set_num_threads(threads)
    ctx = FitContext(num_classes=spec.num_classes, seed=spec.seed, device=spec.device, epochs=spec.epochs,
                     on_epoch=on_epoch, should_stop=should_stop, options=dict(spec.options), threads=spec.threads,
                     neighbours=spec.neighbours if spec.model.uses_torch else 0, retune=retune)
    start = time.perf_counter()
    with _native_pools(spec.threads):
        probs = spec.model.fit_predict(features[train], labels[train], features[held_out], ctx)
    seconds = time.perf_counter() - start
    accuracy = float((probs.argmax(axis=1) == labels[held_out]).mean())
    return FoldResult(fold=spec.fold, held_out_probs=probs, seconds=seconds, accuracy=accuracy, threads=spec.threads,
                      neighbour_probs=ctx.extras.get("neighbour_probs"))


def can_train_together(specs: Sequence[FoldSpec], features) -> bool:
    """Whether these folds' backbone can train them together (:func:`train_folds_together`)."""
    if len(specs) < 2 or specs[0].neighbours:  # the stacked path embeds nothing
        return False
    model = specs[0].model
    return hasattr(model, "fit_predict_folds") and bool(model.stackable(features, specs[0].options))


def train_folds_together(
    specs: Sequence[FoldSpec],
    features: np.ndarray,
    labels: np.ndarray,
    plan: FoldPlan,
    *,
    on_epoch: FoldEpochCallback | None = None,
    should_stop: StopCheck | None = None,
) -> list[FoldResult]:
    """What :func:`train_fold` gives for each spec, the folds trained together on one device
    (:mod:`labelaudit.core.backbones.stacked`): the same probabilities up to floating-point rounding.

    The specs share model, options, device, epochs and thread count (those of the first are used);
    ``on_epoch(fold, epoch, epochs)`` comes after every epoch of every fold. Each fold's ``seconds``
    is its share of the wall time (the wall time split evenly), so their sum stays the training time.
    """
    first = specs[0]
    if first.threads:
        import torch

        if torch.get_num_threads() != first.threads:
            torch.set_num_threads(first.threads)
    parts = [FoldRows(*plan.rows(spec.fold)) for spec in specs]
    ctxs = [FitContext(num_classes=spec.num_classes, seed=spec.seed, device=spec.device, epochs=spec.epochs,
                       on_epoch=None if on_epoch is None else (lambda e, t, _f=spec.fold: on_epoch(_f, e, t)),
                       should_stop=should_stop, options=dict(spec.options), threads=first.threads) for spec in specs]
    start = time.perf_counter()
    with _native_pools(first.threads):
        probs = first.model.fit_predict_folds(features, labels, parts, ctxs)
    seconds = (time.perf_counter() - start) / len(specs)
    return [FoldResult(fold=spec.fold, held_out_probs=p, seconds=seconds,
                       accuracy=float((p.argmax(axis=1) == labels[part.held_out]).mean()), threads=first.threads)
            for spec, part, p in zip(specs, parts, probs)]


def _native_pools(threads: int):
    """A context limiting the OpenMP and BLAS pools loaded in this process to ``threads`` (none for 0)."""
    if not threads:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def local_threads() -> int:
    """Threads a lone job of the in-process executor trains with: every core this process may use."""
    return available_cores()
