"""What every backbone implements: fit on one fold's training part, predict the held-out part."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

import numpy as np

from labelaudit.core.progress import StopCheck


@dataclass
class FitContext:
    """Everything a backbone needs besides the arrays.

    ``on_epoch(epoch, epochs)`` is called after each training epoch; ``should_stop``
    is polled between epochs so a cancelled audit stops promptly. ``threads`` is the
    fold's share of the host's CPU budget (0: no limit). ``neighbours``: when above 0, a torch backbone also
    puts each held-out example's class distribution among its that many nearest training examples in the
    model's embedding into ``extras["neighbour_probs"]`` (:mod:`labelaudit.core.backbones.neighbours`).
    ``retune``, when set, is called between optimiser steps every
    :data:`~labelaudit.core.constants.RETUNE_SECONDS`: it re-reads the job's share of the CPU budget and applies
    it, so a fold that started alone gives threads back when another job starts.
    """

    num_classes: int
    seed: int = 0
    device: str = "cpu"
    epochs: Optional[int] = None
    on_epoch: Optional[Callable[[int, int], None]] = None
    should_stop: Optional[StopCheck] = None
    options: dict = field(default_factory=dict)
    threads: int = 0
    neighbours: int = 0
    extras: dict = field(default_factory=dict)
    retune: Optional[Callable[[], None]] = None


@dataclass(frozen=True)
class FoldRows:
    """One fold's rows of the whole dataset: ``train`` (its training part, in training order) and ``held_out``."""

    train: np.ndarray
    held_out: np.ndarray


class Backbone(Protocol):
    """A model family that produces out-of-sample probabilities for one fold."""

    name: str
    modalities: tuple[str, ...]
    uses_torch: bool
    option_names: frozenset[str]

    def fit_predict(self, X_train: np.ndarray, y_train: np.ndarray, X_eval: np.ndarray,
                    ctx: FitContext) -> np.ndarray:
        """Train on ``(X_train, y_train)``; return ``(len(X_eval), k)`` probabilities."""
        ...

    def default_epochs(self, n_train: int) -> int:
        """Epochs used when the caller gives none (0 for non-iterative models)."""
        ...

    # Optional, for backbones that can train several folds together (the small torch ones):
    #   stackable(features, options) -> bool
    #   fit_predict_folds(features, labels, folds: list[FoldRows], ctxs: list[FitContext]) -> list[np.ndarray]
    # the second gives what fit_predict gives each fold, up to floating-point rounding.
