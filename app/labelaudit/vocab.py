"""The closed vocabularies shared by the CLI, the API schemas and the domain.

Each is a :class:`~enum.StrEnum`, so a member compares equal to its string value
(``Modality.IMAGE == "image"``), serialises as that string in JSON and shows as
an ``enum`` in OpenAPI and as choices in ``--help``. Values never change: they
are stored in the database and written in reports.
"""

from __future__ import annotations

from enum import StrEnum


class Modality(StrEnum):
    """What a dataset holds."""

    TABULAR = "tabular"
    IMAGE = "image"
    PRED_PROBS = "pred_probs"


class AuditStatus(StrEnum):
    """An audit's place in the queue: ``queued -> running -> done | failed | cancelled``."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Audits that still hold a worker or wait for one.
ACTIVE_STATUSES: tuple[AuditStatus, ...] = (AuditStatus.QUEUED, AuditStatus.RUNNING)


class InputFormat(StrEnum):
    """File formats a dataset is read from."""

    CSV = "csv"
    PARQUET = "parquet"
    NPZ = "npz"
    IDX = "idx"
    PRED_PROBS = "pred-probs"
    IMAGE_ZIP = "image-zip"


class NoiseKind(StrEnum):
    """Label noise: a fixed pairing of classes, uniform over the others, a given matrix, or instance-dependent
    (the ambiguous examples, to the classes they resemble)."""

    PAIRWISE = "pairwise"
    SYMMETRIC = "symmetric"
    MATRIX = "matrix"
    INSTANCE = "instance"


class Device(StrEnum):
    """Where models train (``cuda:N`` names one GPU and is accepted beside these)."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class BackboneName(StrEnum):
    """Models trained in each fold; ``auto`` picks by modality and image size."""

    AUTO = "auto"
    GBT = "gbt"
    TEXT = "text"
    LOGREG = "logreg"
    MLP = "mlp"
    CNN = "cnn"
    RESNET = "resnet"
    SE_RESNET = "se_resnet"
    MBCONV = "mbconv"


class RankMethod(StrEnum):
    """cleanlab's label-quality scores (``get_label_quality_scores(method=...)``)."""

    NORMALIZED_MARGIN = "normalized_margin"
    SELF_CONFIDENCE = "self_confidence"
    CONFIDENCE_WEIGHTED_ENTROPY = "confidence_weighted_entropy"


class FilterBy(StrEnum):
    """cleanlab's issue filters (``find_label_issues(filter_by=...)``) and ``calibrated_posterior``
    (:mod:`labelaudit.core.ranking.calibration`)."""

    PRUNE_BY_NOISE_RATE = "prune_by_noise_rate"
    PRUNE_BY_CLASS = "prune_by_class"
    BOTH = "both"
    CONFIDENT_LEARNING = "confident_learning"
    PREDICTED_NEQ_GIVEN = "predicted_neq_given"
    LOW_NORMALIZED_MARGIN = "low_normalized_margin"
    LOW_SELF_CONFIDENCE = "low_self_confidence"
    CALIBRATED_POSTERIOR = "calibrated_posterior"


class WeightsMode(StrEnum):
    """How local pretrained weights are used: train everything, only the head on a frozen body, or the frozen
    body's embeddings computed once with a logistic-regression head per fold."""

    FINETUNE = "finetune"
    LINEAR_PROBE = "linear_probe"
    EMBEDDINGS = "embeddings"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The string values of ``enum``, in declaration order."""
    return tuple(m.value for m in enum)


class ReviewDecision(StrEnum):
    """A reviewer's decision on one example (see ``labelaudit.core.review``)."""

    RELABEL = "relabel"
    KEEP = "keep"
    EXCLUDE = "exclude"
    UNSURE = "unsure"
