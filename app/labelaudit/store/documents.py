"""The JSON documents stored with a finished audit, typed: summary, headline, dashboard aggregates.

The worker builds them as plain dicts (:meth:`AuditResult.summary`,
:func:`~labelaudit.core.aggregates.headline`, :func:`~labelaudit.core.aggregates.audit_aggregates`);
:func:`check_documents` validates them against these models where they cross into
the store (:func:`labelaudit.store.queue.finish`), so a document with a missing,
extra or mistyped field fails the audit loudly instead of being stored and read
back wrong by every dashboard afterwards.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from labelaudit.errors import AuditFailed
from labelaudit.vocab import Modality


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassRow(_Document):
    """One class of the summary's class table."""

    class_id: int
    class_name: str
    size: int
    num_issues: int
    issue_rate: float
    estimated_noise_rate: Optional[float]
    top_confused_with: Optional[str]


class AuditSummary(_Document):
    """``audits.summary``: the headline figures, the noise matrix and the class table."""

    num_examples: int
    num_classes: int
    class_names: list[str]
    modality: Modality
    num_issues: int
    issue_rate: float
    estimated_num_issues: int
    health_score: Optional[float]
    cv_accuracy: float
    backbone: Optional[str]
    device: Optional[str]
    epochs: Optional[int]
    folds: Optional[int]
    #: models per fold and their agreement (absent from audits stored before ensembles)
    ensemble: Optional[dict] = None
    #: ``k``, ``disagreement_rate``, ``flagged_disagreeing`` of the neighbourhood score (null without one)
    neighbours: Optional[dict] = None
    rank_method: str
    filter_by: str
    noise_matrix: list[list[Optional[float]]]
    joint: list[list[Optional[float]]]
    classes: list[ClassRow]
    #: rows of a table left out for want of a label (absent from audits stored before it was counted)
    missing_labels: Optional[dict] = None
    #: rows of the reference data every fold also trained on (none: no reference; absent from older audits)
    reference_examples: Optional[int] = None


class Headline(_Document):
    """``audits.headline``: the few figures a list of audits shows."""

    num_examples: Optional[int]
    num_classes: Optional[int]
    num_issues: Optional[int]
    issue_rate: Optional[float]
    health_score: Optional[float]
    cv_accuracy: Optional[float]
    backbone: Optional[str]
    modality: Optional[Modality]
    duration_seconds: Optional[float]
    average_precision: Optional[float]


class AggregateClassRow(ClassRow):
    """One class of the dashboard's class table (the summary's row plus suggestion counts)."""

    num_suggested: int
    top_confused_with_id: Optional[int]


class Histogram(_Document):
    """Quality scores in ``bins`` equal bins over ``range``: all rows and flagged ones."""

    bins: int
    range: list[float]
    counts: list[int]
    issue_counts: list[int]


class Aggregates(_Document):
    """``audits.aggregates``: what dashboards ask for over and over, computed once."""

    classes: list[AggregateClassRow]
    histogram: Histogram
    #: ``[given, suggested, rows, flagged rows]`` for every non-empty cell
    confusion: list[list[int]]
    confident_joint: Optional[list[list[int]]]


def check_documents(*, summary: dict, headline: dict | None, aggregates: dict | None) -> None:
    """Raise :class:`~labelaudit.errors.AuditFailed` when a document does not have its model's shape."""
    for name, model, doc in (("summary", AuditSummary, summary), ("headline", Headline, headline),
                             ("aggregates", Aggregates, aggregates)):
        if doc is None:
            continue
        try:
            model.model_validate(doc)
        except ValidationError as exc:
            raise AuditFailed(f"the audit's {name} does not have its stored shape: {exc}", field=name,
                              code="invalid_document") from exc
