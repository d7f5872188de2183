"""An audit's options, and the one place where the domain's options and inputs are checked.

The public entry points call these checks once, first thing: :func:`check_options`
(:func:`~labelaudit.core.pipeline.run_audit`, and the API before it queues an
audit, through :func:`check_options_for`), :func:`check_cross_val_options`
(:func:`~labelaudit.core.crossval.cross_val_pred_probs`) and
:func:`check_ranking_options` with :func:`check_ranking_arrays`
(:func:`~labelaudit.core.ranking.rank_label_issues`). What they call then trusts
its inputs, as cleanlab's private helpers do.

The names an option may take come from the closed vocabularies in
:mod:`labelaudit.vocab`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from labelaudit.core.backbones import Backbone, choose_backbone
from labelaudit.core.constants import (
    DEFAULT_BACKBONE,
    DEFAULT_DEVICE,
    DEFAULT_FILTER_BY,
    DEFAULT_FOLDS,
    DEFAULT_RANK_METHOD,
    DEFAULT_SEED,
    MAX_ENSEMBLE,
    MAX_NEIGHBOURS,
)
from labelaudit.core.dataset import Dataset
from labelaudit.errors import OptionError
from labelaudit.vocab import Device, FilterBy, RankMethod, WeightsMode, values

RANK_METHODS: tuple[str, ...] = values(RankMethod)
FILTER_METHODS: tuple[str, ...] = values(FilterBy)
DEVICES: tuple[str, ...] = values(Device)


@dataclass(frozen=True)
class AuditOptions:
    """How to audit: the backbone, cross-validation, seed, device and ranking choices."""

    backbone: str = DEFAULT_BACKBONE
    folds: int = DEFAULT_FOLDS
    epochs: int | None = None
    seed: int = DEFAULT_SEED
    device: str = DEFAULT_DEVICE
    rank_method: str = DEFAULT_RANK_METHOD
    filter_by: str = DEFAULT_FILTER_BY
    backbone_options: dict = field(default_factory=dict)
    #: models per fold, averaged; ``None``: the backbone's default for the data's size (:func:`ensemble_size`)
    ensemble: int | None = None
    #: ``k`` of the neighbourhood score (:attr:`~labelaudit.core.pipeline.AuditResult.neighbour_scores`): how each
    #: example's label agrees with its ``k`` nearest training examples in the fold model's embedding; 0: none
    neighbours: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def check_options(dataset: Dataset, options: AuditOptions) -> Backbone | None:
    """Reject options that cannot work for this dataset, before any training starts.

    Then the dataset's arrays: features or pred_probs with one row per label.

    Returns
    -------
    Backbone or None
        The backbone ``options.backbone`` names for this dataset (``auto`` resolved);
        ``None`` for a pred_probs dataset, which trains nothing.
    """
    shape = tuple(dataset.features.shape[1:]) if dataset.features is not None else ()
    model = check_options_for(dataset.modality, dataset.class_counts(), shape, options,
                              has_text=dataset.texts is not None)
    if dataset.modality == "pred_probs":
        check_ranking_arrays(np.asarray(dataset.labels), np.asarray(dataset.pred_probs))
    else:
        check_features(dataset.features, dataset.labels)
    return model


def check_options_for(modality: str, class_counts: np.ndarray, feature_shape: tuple,
                      options: AuditOptions, *, has_text: bool = False) -> Backbone | None:
    """:func:`check_options` from what a stored dataset's record and labels tell, without loading its features
    (``has_text``: the table has free-text columns)."""
    check_ranking_options(options.rank_method, options.filter_by)
    check_device(options.device)
    if modality == "pred_probs":
        check_neighbours(options.neighbours, None, {})
        return None
    check_folds(options.folds, int(np.asarray(class_counts).min()))
    check_epochs(options.epochs)
    check_ensemble(options.ensemble)
    model = choose_backbone(options.backbone, modality, tuple(feature_shape), options.backbone_options,
                            has_text=has_text)
    check_neighbours(options.neighbours, model, options.backbone_options)
    return model


def check_cross_val_options(features: np.ndarray, labels: np.ndarray, *, num_classes: int, modality: str,
                            backbone: str | Backbone, folds: int, epochs: int | None, device: str,
                            options: dict | None, members: int | None = 1) -> Backbone:
    """The checks of :func:`~labelaudit.core.crossval.cross_val_pred_probs`; returns the backbone to train.

    ``labels`` are int64 class ids. A backbone object is used as it is.
    """
    check_features(features, labels)
    check_folds(folds, int(np.bincount(labels, minlength=num_classes).min()), allow_two=True)
    check_epochs(epochs)
    check_ensemble(members)
    has_text = getattr(features, "texts", None) is not None
    model = choose_backbone(backbone, modality, tuple(features.shape[1:]), options, has_text=has_text) \
        if isinstance(backbone, str) else backbone
    check_device(device)
    return model


def check_features(features: np.ndarray, labels: np.ndarray) -> None:
    """``features`` has one row per label."""
    if features.shape[0] != labels.shape[0]:
        raise OptionError("features and labels differ in length", field="features")


def check_ranking_options(rank_method: str, filter_by: str) -> None:
    """``rank_method`` and ``filter_by`` are among cleanlab's (:class:`~labelaudit.vocab.RankMethod`,
    :class:`~labelaudit.vocab.FilterBy`)."""
    if rank_method not in RANK_METHODS:
        raise OptionError(f"unknown rank_method {rank_method!r}; expected one of: {', '.join(RANK_METHODS)}",
                          field="rank_method")
    if filter_by not in FILTER_METHODS:
        raise OptionError(f"unknown filter_by {filter_by!r}; expected one of: {', '.join(FILTER_METHODS)}",
                          field="filter_by")


def check_ranking_arrays(labels: np.ndarray, pred_probs: np.ndarray) -> None:
    """``pred_probs`` is ``(n, k)`` with one row per label."""
    if pred_probs.ndim != 2 or pred_probs.shape[0] != labels.shape[0]:
        raise OptionError("pred_probs must be (n, k) with one row per label", field="pred_probs")


def check_label_range(labels: np.ndarray, num_classes: int) -> None:
    """Every label is a class id in ``0..num_classes-1``."""
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise OptionError(f"labels must lie in 0..{num_classes - 1} (one per pred_probs column)", field="labels")


def check_device(device: str) -> None:
    """``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; whether that device exists is the executor's to say."""
    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise OptionError(f"unknown device {device!r}; expected {', '.join(DEVICES[:-1])} or {DEVICES[-1]}",
                          field="device")


def check_folds(folds: int, smallest_class: int, *, allow_two: bool = False) -> None:
    """``folds`` lies in ``2..smallest_class`` (the size of the smallest class).

    ``allow_two`` also lets 2 folds through when a class has fewer than 2 examples,
    as :func:`~labelaudit.core.crossval.cross_val_pred_probs` always has (its check
    of every fold's training part then refuses what cannot train); an audit does not.
    """
    upper = max(2, smallest_class) if allow_two else smallest_class
    if not 2 <= folds <= upper:
        raise OptionError(f"folds must be between 2 and the smallest class size ({smallest_class}), got {folds}",
                          field="folds")


def check_ensemble(members: int | None) -> None:
    """``members`` (models per fold) lies in ``1..MAX_ENSEMBLE`` when given."""
    if members is not None and not (isinstance(members, int) and 1 <= members <= MAX_ENSEMBLE):
        raise OptionError(f"ensemble must be a whole number of models per fold between 1 and {MAX_ENSEMBLE}",
                          field="ensemble")


def check_neighbours(k: int, model: Backbone | None, backbone_options: dict) -> None:
    """``k`` (neighbours of the neighbourhood score) lies in ``0..MAX_NEIGHBOURS``, and when it is not 0 the
    backbone trains a torch model that embeds the examples (``model`` ``None``: your own pred_probs, no model)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_NEIGHBOURS:
        raise OptionError(f"neighbours must be a whole number between 0 (no neighbourhood score) and "
                          f"{MAX_NEIGHBOURS}", field="neighbours")
    if not k:
        return
    if model is None:
        raise OptionError("neighbours needs a model's embedding: an audit of your own pred_probs trains none",
                          field="neighbours")
    if not model.uses_torch or backbone_options.get("weights_mode") == WeightsMode.EMBEDDINGS:
        raise OptionError(f"neighbours needs a torch backbone that is trained in each fold (cnn, resnet, mlp, ...); "
                          f"this audit's backbone is {model.name!r}"
                          + (" with weights_mode embeddings" if model.uses_torch else ""), field="neighbours")


def ensemble_size(options: AuditOptions, model: Backbone | None, n_train: int) -> int:
    """Models per fold: ``options.ensemble``, else the backbone's default for ``n_train`` training examples
    (``default_members``; 1 for backbones without one)."""
    if options.ensemble is not None:
        return options.ensemble
    default = getattr(model, "default_members", None)
    return int(default(n_train)) if callable(default) else 1


def check_epochs(epochs: int | None) -> None:
    """``epochs`` is at least 1 when given."""
    if epochs is not None and epochs < 1:
        raise OptionError("epochs must be at least 1", field="epochs")
