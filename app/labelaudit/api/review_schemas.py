"""Request and response models of the review API (/v1/audits/{id}/decisions, /history, /apply)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from labelaudit.api.schemas import MAX_INDEX, NO_NUL
from labelaudit.vocab import ReviewDecision

#: Examples one request may decide on (a list of items; a filter has no limit).
MAX_ITEMS = 200_000
Text = Field(None, max_length=2000, pattern=NO_NUL)


class DecisionItemIn(BaseModel):
    """One example (by its ``key`` from the listing, or its dataset ``index``) and what to decide on it."""

    model_config = ConfigDict(extra="forbid")

    key: Optional[str] = Field(None, max_length=2000, pattern=NO_NUL)
    index: Optional[int] = Field(None, ge=0, le=MAX_INDEX)
    decision: Optional[ReviewDecision] = Field(None, description="required on PUT, ignored on DELETE")
    label: Optional[str] = Field(None, max_length=255, pattern=NO_NUL, description=(
        "relabel only: the class name to relabel to; omitted, the audit's suggested class"))
    note: Optional[str] = Text
    version: Optional[int] = Field(None, ge=0, description=(
        "the version last seen (0: no decision yet); a different current version is 409 stale_version"))


class FilterIn(BaseModel):
    """The issue browser's filters (class by id or name), plus the review state."""

    model_config = ConfigDict(extra="forbid")

    given_label: Optional[str] = Field(None, max_length=255, pattern=NO_NUL)
    suggested_label: Optional[str] = Field(None, max_length=255, pattern=NO_NUL)
    is_issue: Optional[bool] = None
    min_score: Optional[float] = Field(None, ge=0.0, le=1.0)
    max_score: Optional[float] = Field(None, ge=0.0, le=1.0)
    state: Literal["all", "decided", "undecided"] = "all"


class DecisionsIn(BaseModel):
    """Decide on a list of examples (``items``), or on every example a ``filter`` matches (one decision for all)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"items": [{"index": 12, "decision": "relabel", "label": "cat"}, {"key": "id:a17", "decision": "keep",
                                                                         "note": "checked the photo", "version": 1}]},
        {"filter": {"is_issue": True, "given_label": "dog", "state": "undecided"}, "decision": "relabel"}]})

    items: Optional[list[DecisionItemIn]] = Field(None, max_length=MAX_ITEMS)
    filter: Optional[FilterIn] = None
    decision: Optional[ReviewDecision] = Field(None, description="with a filter: the decision for every match")
    label: Optional[str] = Field(None, max_length=255, pattern=NO_NUL)
    note: Optional[str] = Text


class DecisionOut(BaseModel):
    """One example of the audit with its current decision (``decision`` null: undecided)."""

    key: str
    index: int
    rank: int
    given_label: int
    suggested_label: int
    given_class: str
    suggested_class: str
    quality_score: float
    is_issue: bool
    decision: Optional[ReviewDecision] = None
    label: Optional[str] = None
    note: Optional[str] = None
    decided_by: Optional[str] = None
    decided_at: Optional[str] = None
    version: int = 0


class DecisionsWritten(BaseModel):
    """What a PUT or DELETE changed; ``items`` (the examples' new state) is null past 1,000 examples."""

    changed: int
    unchanged: int
    items: Optional[list[DecisionOut]] = None


class ReviewProgress(BaseModel):
    """The review's figures over the audit's examples; ``agreement``: of the keep and relabel decisions, the share
    whose resulting label is the audit's suggested class."""

    num_examples: int
    num_issues: int
    reviewed: int
    reviewed_issues: int
    relabelled: int
    kept: int
    excluded: int
    unsure: int
    agreement: Optional[float] = None


class DecisionsPage(BaseModel):
    """The audit's examples with their decisions in rank order, keyset-paged, and the progress."""

    items: list[DecisionOut]
    next_cursor: Optional[str] = None
    total: int
    progress: ReviewProgress


class HistoryEvent(BaseModel):
    version: int
    decision: Optional[ReviewDecision] = None
    label: Optional[str] = None
    note: Optional[str] = None
    decided_by: str
    decided_at: str
    audit_id: Optional[str] = None


class HistoryOut(BaseModel):
    """Every change of one example's decision, oldest first (``decision`` null: undone)."""

    key: str
    index: int
    events: list[HistoryEvent]


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Optional[str] = Field(None, max_length=255, pattern=NO_NUL)
