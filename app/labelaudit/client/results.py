"""What :meth:`labelaudit.Client.audit` returns: the audit, its summary, and its rows as a DataFrame."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

#: The columns of :attr:`RemoteAudit.issues`, in order (class names where the labels were names).
ISSUE_COLUMNS = ("rank", "given_label", "suggested_label", "quality_score", "is_issue")


@dataclass(frozen=True)
class RemoteAudit:
    """A finished audit on a service.

    ``audit`` is the audit's record (status, options, timings, summary, evaluation),
    ``dataset`` the uploaded dataset's, ``rows`` every example's row in rank order, and
    ``index`` the uploaded DataFrame's index (rows are keyed by it in :attr:`issues`).
    """

    audit: dict
    dataset: dict
    rows: list[dict]
    index: Any = field(default=None, repr=False)
    #: the uploaded DataFrame's label column: which of its rows the server left out for want of a label
    label_values: Any = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.audit["id"]

    @property
    def summary(self) -> dict:
        """``num_issues``, ``issue_rate``, ``health_score``, ``noise_matrix``, ``classes``, ..."""
        return self.audit.get("summary") or {}

    @property
    def evaluation(self) -> dict | None:
        """Precision, recall, F1 and AP against known true labels (``None`` without them)."""
        return self.audit.get("evaluation")

    @property
    def issues(self):
        """One row per example, lowest quality first, indexed like the uploaded data (its DataFrame index, else
        the example id, else the row number): ``rank``, ``given_label``, ``suggested_label``, ``quality_score``,
        ``is_issue`` (labels as class names), and ``neighbour_score`` when the audit asked for ``neighbours``."""
        import pandas as pd

        index = [self._key(r) for r in self.rows]
        frame = pd.DataFrame({
            "rank": [r["rank"] for r in self.rows],
            "given_label": [r.get("given_class", r["given_label"]) for r in self.rows],
            "suggested_label": [r.get("suggested_class", r["suggested_label"]) for r in self.rows],
            "quality_score": [r["quality_score"] for r in self.rows],
            "is_issue": [bool(r["is_issue"]) for r in self.rows],
        }, index=pd.Index(index, name=getattr(self.index, "name", None)))
        if any(r.get("neighbour_score") is not None for r in self.rows):
            frame["neighbour_score"] = [r.get("neighbour_score") for r in self.rows]
        return frame

    def _key(self, row: dict):
        if self.index is not None:
            return self.index[self._kept[row["index"]]]
        return row["example_id"] if row.get("example_id") is not None else row["index"]

    @cached_property
    def _kept(self):
        """Positions in the uploaded DataFrame of the dataset's rows (rows without a label were left out)."""
        import numpy as np

        total = len(self.index)
        missing = self.dataset.get("missing_labels") or {}
        listed = missing.get("rows") or []
        if missing.get("count", 0) == len(listed):
            return np.delete(np.arange(total), np.asarray(listed, dtype=np.int64))
        # more rows without a label than the record lists: the same rule here (None, NaN, blank text)
        values = self.label_values
        blank = values.isna().to_numpy() | values.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy()
        if int(blank.sum()) != missing.get("count"):
            raise ValueError("cannot tell which rows the server left out for want of a label")
        return np.flatnonzero(~blank)
