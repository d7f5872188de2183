"""Request and response models of the /v1 API."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from labelaudit.core.constants import (
    DEFAULT_BACKBONE,
    DEFAULT_DEVICE,
    DEFAULT_FILTER_BY,
    DEFAULT_FOLDS,
    DEFAULT_NOISE_RATE,
    DEFAULT_RANK_METHOD,
    DEFAULT_SEED,
    MAX_ENSEMBLE,
    MAX_EPOCHS,
    MAX_FOLDS,
    MAX_NEIGHBOURS,
    MAX_SEED,
)
from labelaudit.vocab import AuditStatus, BackboneName, Device, FilterBy, Modality, NoiseKind, RankMethod

T = TypeVar("T")
#: text that reaches the database as a parameter: PostgreSQL refuses NUL characters
NO_NUL = r"^[^\x00]*$"
#: example indexes are stored in 32-bit integer columns; a larger one would overflow the database driver
MAX_INDEX = 2**31 - 1
#: one GPU by number, beside the :class:`~labelaudit.vocab.Device` names
CudaDevice = Annotated[str, Field(pattern=r"^cuda:\d{1,3}$")]


class Page(BaseModel, Generic[T]):
    """One page of a cursor-paged list; pass ``next_cursor`` back as ``cursor`` for the next (null at the end)."""

    items: list[T]
    next_cursor: Optional[str] = None


class ProblemField(BaseModel):
    field: Optional[str] = None
    message: str
    code: Optional[str] = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemField] = []
    request_id: Optional[str] = Field(None, description="The request's X-Request-ID, to find it in the server log.")


class ColumnOut(BaseModel):
    """One column of an uploaded table: its role, type and what was seen in it."""

    name: str
    role: Literal["feature", "id", "ignored", "label", "true_label"]
    type: str = Field(description="a feature's type (numeric, boolean, categorical, text, datetime); else what "
                                  "the values look like")
    missing_share: float = Field(ge=0, le=1)
    distinct: int = Field(description="distinct values seen, missing not counted")
    reason: str


class MissingLabelsOut(BaseModel):
    """Rows left out of the dataset for want of a label (None, NaN, empty or blank text)."""

    count: int
    rows: list[int] = Field(description="their positions in the uploaded table (the first 1,000)")
    ids: Optional[list[str]] = Field(None, description="their id column's values, when there is one")


class DatasetOut(BaseModel):
    """A stored dataset."""

    id: str
    name: str
    parent_id: Optional[str] = None
    rows: int
    classes: int
    class_names: list[str]
    modality: Modality
    feature_shape: Optional[list[int]] = None
    format: Optional[str] = None
    sha256: str
    has_true_labels: bool
    noise: Optional[dict[str, Any]] = None
    review: Optional[dict[str, Any]] = Field(None, description=(
        "a corrected dataset's lineage: the audit whose decisions made it (audit_id, dataset_id) and the decisions "
        "applied (decisions_applied, relabelled, excluded, kept, unsure)"))
    columns: Optional[list[ColumnOut]] = Field(None, description="a table's schema: every column's role and type")
    id_column: Optional[str] = Field(None, description="the column whose values key the examples")
    missing_labels: Optional[MissingLabelsOut] = None
    created_at: datetime


class NoiseIn(BaseModel):
    """Label noise to inject into a copy of a dataset (see ``labelaudit.core.noise``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": [
        {"kind": "pairwise", "rate": 0.2, "seed": 1},
        {"kind": "matrix", "rate": 0.1, "seed": 0, "noise_matrix": [[0.9, 0.2], [0.1, 0.8]]}]})
    kind: NoiseKind = NoiseKind.PAIRWISE
    rate: float = Field(DEFAULT_NOISE_RATE, ge=0.0, le=1.0)
    seed: int = Field(DEFAULT_SEED, ge=0, le=MAX_SEED)
    noise_matrix: Optional[list[list[float]]] = Field(
        None, description="For kind=matrix: k x k, column-stochastic P(given=i | true=j).")
    name: Optional[str] = Field(None, max_length=255, pattern=NO_NUL)

    @field_validator("noise_matrix")
    @classmethod
    def _rectangular(cls, matrix: Optional[list[list[float]]]) -> Optional[list[list[float]]]:
        if matrix is not None and len({len(row) for row in matrix}) > 1:
            raise ValueError("every row of noise_matrix must have the same length")
        return matrix


class AuditIn(BaseModel):
    """An audit request; validated against the dataset before it is queued."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": [
        {"dataset_id": "ds_0123456789abcdef", "backbone": "auto", "seed": 0},
        {"dataset_id": "ds_0123456789abcdef", "backbone": "logreg", "folds": 3, "seed": 7,
         "rank_method": "self_confidence"}]})
    dataset_id: str = Field(pattern=NO_NUL)
    reference_dataset_id: Optional[str] = Field(
        None, pattern=NO_NUL, description="Another of your datasets, of trusted labels and the same kind (e.g. the "
        "training set when auditing a test set): its rows join every fold's training part and are never ranked. "
        "It cannot be deleted while this audit is queued or running.")
    backbone: BackboneName = BackboneName(DEFAULT_BACKBONE)
    folds: int = Field(DEFAULT_FOLDS, ge=2, le=MAX_FOLDS)
    epochs: Optional[int] = Field(None, ge=1, le=MAX_EPOCHS)
    ensemble: Optional[int] = Field(None, ge=1, le=MAX_ENSEMBLE, description=(
        "Models trained per fold, their probabilities averaged (more find real label errors better, at that many "
        "times the training time); default: the backbone's choice for the data's size."))
    neighbours: int = Field(0, ge=0, le=MAX_NEIGHBOURS, description=(
        "k of a neighbourhood score per example: the weighted share of its k nearest training examples, in the "
        "fold model's embedding, that carry its label (low: its neighbours say another class). Needs a torch "
        "backbone trained in each fold; 0: none."))
    seed: int = Field(DEFAULT_SEED, ge=0, le=MAX_SEED)
    device: Device | CudaDevice = Device(DEFAULT_DEVICE)
    rank_method: RankMethod = RankMethod(DEFAULT_RANK_METHOD)
    filter_by: FilterBy = FilterBy(DEFAULT_FILTER_BY)
    backbone_options: dict[str, Any] = {}

    @field_validator("backbone_options")
    @classmethod
    def _finite(cls, options: dict[str, Any]) -> dict[str, Any]:
        """JSON numbers only: NaN and Infinity (which Python's JSON parser lets through) are refused here,
        before they reach a database JSON column or a model."""
        bad = non_finite_path(options)
        if bad is not None:
            raise ValueError(f"backbone_options.{bad} is not a finite number (NaN and Infinity are not JSON numbers)")
        return options


def non_finite_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first NaN or infinite float inside ``value`` (dicts and lists), or ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "value"
    if isinstance(value, dict):
        items = ((str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = non_finite_path(item, f"{path}.{key}" if path else key)
        if found is not None:
            return found
    return None


class ProgressOut(BaseModel):
    stage: Optional[str] = None
    fraction: float = 0.0
    fold: Optional[int] = None
    folds: Optional[int] = None
    epoch: Optional[int] = None
    epochs: Optional[int] = None
    member: Optional[int] = None
    members: Optional[int] = None
    message: Optional[str] = None


class AuditOut(BaseModel):
    """An audit: its job state, progress and, when done, its summary."""

    id: str
    dataset_id: str
    status: AuditStatus
    options: dict[str, Any]
    progress: ProgressOut
    timings: Optional[dict[str, Any]] = None
    summary: Optional[dict[str, Any]] = None
    evaluation: Optional[dict[str, Any]] = None
    headline: Optional[dict[str, Any]] = Field(
        None, description="When done: num_examples, num_issues, issue_rate, health_score, cv_accuracy, backbone, "
                          "duration_seconds, average_precision (when true labels are known).")
    error: Optional[dict[str, Any]] = None
    attempts: int = 0
    cancel_requested: bool = False
    created_at: datetime
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None


class IssueRow(BaseModel):
    """One example in rank order (0 = least likely correctly labelled)."""

    rank: int
    index: int
    given_label: int
    suggested_label: int
    quality_score: float
    is_issue: bool
    true_label: Optional[int] = None
    example_id: Optional[str] = None
    given_class: Optional[str] = None
    suggested_class: Optional[str] = None
    neighbour_score: Optional[float] = Field(None, description="share of the example's nearest training examples "
                                             "that carry its label (audits with neighbours > 0), else null")
