"""What :func:`labelaudit.core` returns: the issues as a DataFrame keyed like the input, and the figures."""

from __future__ import annotations

import html
import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from labelaudit.core.pipeline import AuditResult as DomainResult

#: The columns of :attr:`AuditResult.issues`, in order; the REST client's ``RemoteAudit.issues`` has the same.
ISSUE_COLUMNS = ("rank", "given_label", "suggested_label", "quality_score", "is_issue")


class AuditResult:
    """A finished audit of a dataset in this process.

    Attributes
    ----------
    result : labelaudit.core.pipeline.AuditResult
        The domain's result (dataset, options, probabilities, ranking, timings).
    index : array-like or None
        Row ``i``'s key in :attr:`issues` (the input DataFrame's index, the ``id`` column); ``None``: the
        example id where there is one, else the row number.
    """

    def __init__(self, result: DomainResult, *, index: Any = None):
        self.result = result
        self.index = index

    @cached_property
    def issues(self):
        """One row per example, lowest quality first, indexed like the input: ``rank``, ``given_label``,
        ``suggested_label`` (class names), ``quality_score`` (0-1, low is suspicious), ``is_issue``,
        ``neighbour_score`` when the audit asked for ``neighbours`` and ``true_label`` when true labels are known."""
        import pandas as pd

        r, ds = self.result.ranking, self.result.dataset
        names = np.asarray(ds.class_names, dtype=object)
        order = r.order
        columns = {
            "rank": np.arange(len(order)),
            "given_label": names[ds.labels[order]],
            "suggested_label": names[r.suggested_labels[order]],
            "quality_score": np.asarray(r.quality_scores, dtype=np.float64)[order],
            "is_issue": np.asarray(r.is_issue, dtype=bool)[order],
        }
        near = self.result.neighbour_scores
        if near is not None:
            columns["neighbour_score"] = near[order]
        if ds.true_labels is not None:
            columns["true_label"] = names[ds.true_labels[order]]
        return pd.DataFrame(columns, index=self._keys(order))

    @cached_property
    def summary(self) -> dict:
        """Headline figures: ``num_issues``, ``issue_rate``, ``estimated_num_issues``, ``health_score``,
        ``cv_accuracy``, the backbone and folds used, the noise matrix and the per-class table."""
        return self.result.summary()

    @property
    def classes(self):
        """The per-class table (size, issues, issue rate, estimated noise rate, top confused-with class),
        indexed by class name."""
        import pandas as pd

        table = pd.DataFrame(self.summary["classes"])
        return table.set_index("class_name")

    @property
    def noise_matrix(self):
        """cleanlab's estimated ``P(given label = row | true label = column)``, rows and columns by class name."""
        import pandas as pd

        names = list(self.result.dataset.class_names)
        return pd.DataFrame(self.result.ranking.noise_matrix, index=pd.Index(names, name="given"),
                            columns=pd.Index(names, name="true"))

    @property
    def pred_probs(self) -> np.ndarray:
        """The out-of-sample predicted probabilities ``(n, k)``, in the input's row order."""
        return self.result.pred_probs

    @property
    def evaluation(self) -> dict | None:
        """Precision, recall, F1 and average precision against known true labels; ``None`` without them."""
        return self.result.evaluation

    def to_json(self, path: str | Path | None = None, *, top: int | None = None) -> str:
        """The whole result (dataset facts, options, summary, evaluation, timings, rows) as JSON; written to
        ``path`` too when one is given. ``top`` keeps only the lowest-quality rows."""
        text = json.dumps(self.result.to_dict(top), indent=2)
        if path is not None:
            Path(path).write_text(text)
        return text

    def __repr__(self) -> str:
        s = self.summary
        return (f"<AuditResult {s['num_examples']:,} examples, {s['num_classes']} classes: "
                f"{s['num_issues']:,} label issues ({s['issue_rate']:.1%}), health {s['health_score']:.3f}>")

    def _repr_html_(self) -> str:
        s = self.summary
        head = (f"<p><b>{s['num_issues']:,}</b> label issues in {s['num_examples']:,} examples "
                f"({s['issue_rate']:.1%}); health score {s['health_score']:.3f}; "
                f"cross-validated accuracy {s['cv_accuracy']:.3f}"
                + (f"; {html.escape(str(s['backbone']))}, {s['folds']} folds" if s.get("backbone") else "")
                + "</p>")
        worst = self.issues.head(10).to_html(float_format=lambda v: f"{v:.4f}", border=0)
        return f"<div>{head}<p>Lowest quality first:</p>{worst}</div>"

    def _keys(self, order: np.ndarray):
        import pandas as pd

        if self.index is not None:
            index = self.index if isinstance(self.index, pd.Index) else pd.Index(self.index)
            return index[order]
        ids = self.result.dataset.example_ids
        return pd.Index(ids[order] if ids is not None else order)
