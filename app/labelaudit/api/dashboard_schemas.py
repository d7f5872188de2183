"""Models of the dashboard queries: the issue browser's filters, and the responses (class table, matrices,
histogram, issue pages, examples, compare)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from labelaudit.api.schemas import IssueRow, Page


class ClassRow(BaseModel):
    """One class of an audit: size, flagged issues, and what its bad labels most often really are."""

    class_id: int
    class_name: str
    size: int
    num_issues: int
    issue_rate: float
    num_suggested: int
    estimated_noise_rate: Optional[float] = None
    top_confused_with_id: Optional[int] = None
    top_confused_with: Optional[str] = None


class ClassTable(BaseModel):
    audit_id: str
    classes: list[ClassRow]


class NoiseMatrixOut(BaseModel):
    """Matrices over classes (rows and columns in ``class_names`` order).

    ``noise_matrix[i][j]`` = P(given = i | true = j); ``joint[i][j]`` = P(given = i, true = j);
    ``confident_joint`` its counts (null for audits stored before it was kept);
    ``given_vs_suggested[i][j]`` = examples given i and suggested j, ``issues_given_vs_suggested`` the flagged ones.
    """

    audit_id: str
    class_names: list[str]
    noise_matrix: list[list[float]]
    joint: list[list[float]]
    confident_joint: Optional[list[list[int]]] = None
    given_vs_suggested: list[list[int]]
    issues_given_vs_suggested: list[list[int]]


class HistogramOut(BaseModel):
    """Counts of quality scores in equal bins over [0, 1] (``edges`` has ``bins + 1`` entries)."""

    audit_id: str
    bins: int
    edges: list[float]
    counts: list[int]
    issue_counts: list[int]


class IssuePage(Page[IssueRow]):
    """A page of ranked rows; ``total`` counts all rows matching the filters when known cheaply, else null."""

    total: Optional[int] = None


CLASS_FILTER = "a class id (0..k-1) or a class name"


class IssueFilters(BaseModel):
    """The query parameters of ``GET /v1/audits/{id}/issues`` (read by :func:`labelaudit.api.query_models.query_model`)."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(100, ge=1, le=1000)
    cursor: Optional[str] = Field(None, pattern=r"^\d{0,9}$", description="next_cursor of the last page")
    given_label: Optional[str] = Field(None, max_length=255, description=CLASS_FILTER)
    suggested_label: Optional[str] = Field(None, max_length=255, description=CLASS_FILTER)
    only_issues: bool = False
    is_issue: Optional[bool] = Field(None, description="true: flagged only; false: unflagged only")
    min_score: Optional[float] = Field(None, ge=0.0, le=1.0)
    max_score: Optional[float] = Field(None, ge=0.0, le=1.0)
    sort: Literal["rank", "-rank", "score", "-score"] = Field(
        "rank", description="rank = score ascending (least likely correct first); -rank / -score the reverse")


class ProbabilityOut(BaseModel):
    class_id: int
    class_name: str
    probability: float


class ExampleOut(BaseModel):
    """One example of an audit: its labels, score, class probabilities and its features or image."""

    audit_id: str
    dataset_id: str
    index: int
    rank: int
    given_label: int
    given_class: str
    suggested_label: int
    suggested_class: str
    quality_score: float
    is_issue: bool
    true_label: Optional[int] = None
    true_class: Optional[str] = None
    example_id: Optional[str] = None
    neighbour_score: Optional[float] = None
    modality: Literal["tabular", "image", "pred_probs"]
    pred_probs: list[float]
    top_classes: list[ProbabilityOut]
    image_url: Optional[str] = None
    image_shape: Optional[list[int]] = None
    features: Optional[list[Optional[float]]] = Field(None, description="the stored feature values (category "
                                                                      "codes, days); null when missing")
    feature_names: Optional[list[str]] = None
    fields: Optional[dict[str, Any]] = Field(None, description="a table's example as its columns read: numbers, "
                                                               "category names, dates (ISO), text; null when "
                                                               "missing")


class CompareSide(BaseModel):
    id: str
    dataset_id: str
    num_issues: Optional[int] = None
    issue_rate: Optional[float] = None
    num_examples: Optional[int] = None


class CompareClass(BaseModel):
    class_id: int
    class_name: str
    base_size: int
    other_size: int
    base_issues: int
    other_issues: int
    base_issue_rate: float
    other_issue_rate: float
    issue_rate_change: float


class CompareRow(BaseModel):
    index: int
    rank: int
    given_label: int
    suggested_label: int
    quality_score: float


class ComparedIssue(BaseModel):
    """One example flagged in one audit and not the other, with its row in each (null where absent)."""

    key: str
    base: Optional[CompareRow] = None
    other: Optional[CompareRow] = None


class CompareOut(BaseModel):
    """``other`` against ``base``: issue-rate change overall and per class, issues new and gone.

    ``matched_by`` says how examples were matched: ``example_id``, ``index`` (one noise
    lineage, rows in the same order) or ``content`` (hashes of features or pixels).
    """

    base: CompareSide
    other: CompareSide
    matched_by: Literal["example_id", "index", "content"]
    class_names: list[str]
    issue_rate_change: float
    classes: list[CompareClass]
    num_new: int
    num_gone: int
    num_kept: int
    num_unmatched_base: int
    num_unmatched_other: int
    new_issues: list[ComparedIssue]
    #: pass as ``new_cursor`` for the next page of new issues (null: no more)
    new_next_cursor: Optional[str] = None
    gone_issues: list[ComparedIssue]
    #: pass as ``gone_cursor`` for the next page of gone issues (null: no more)
    gone_next_cursor: Optional[str] = None
