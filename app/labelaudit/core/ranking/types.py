"""The result of a ranking, :class:`Ranking`, and :func:`build_ranking`, the one way both paths make it."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from labelaudit.core.aggregates import class_table
from labelaudit.core.ranking.sorting import stable_argsort
from labelaudit.vocab import FilterBy


@dataclass(frozen=True)
class Ranking:
    """Confident-learning results for one set of labels and pred_probs.

    Per example (length ``n``): ``is_issue``, ``quality_scores`` (higher is more
    likely correct), ``suggested_labels`` (most likely class), ``ranks`` (0 for
    the lowest quality) and ``order`` (indices from lowest quality to highest).
    Per class (length ``k``): ``class_sizes``, ``class_issues``. Matrices
    (``k x k``): ``noise_matrix`` = P(given = i | true = j), ``inverse_noise_matrix``
    = P(true = i | given = j), ``joint`` = P(given = i, true = j),
    ``confident_joint`` (counts).
    """

    is_issue: np.ndarray
    quality_scores: np.ndarray
    suggested_labels: np.ndarray
    ranks: np.ndarray
    order: np.ndarray
    class_sizes: np.ndarray
    class_issues: np.ndarray
    noise_matrix: np.ndarray
    inverse_noise_matrix: np.ndarray
    joint: np.ndarray
    confident_joint: np.ndarray
    health_score: float
    estimated_num_issues: int
    rank_method: str
    filter_by: str

    @property
    def num_issues(self) -> int:
        return int(self.is_issue.sum())

    @property
    def issue_rate(self) -> float:
        return float(self.is_issue.mean()) if self.is_issue.size else 0.0

    def in_positions(self, perm: np.ndarray) -> Ranking:
        """This ranking, computed on rows taken in the order ``perm``, with its per-example arrays put back at the
        rows' own positions (``perm[j]`` is the position of row ``j``)."""
        def back(values: np.ndarray) -> np.ndarray:
            out = np.empty_like(values)
            out[perm] = values
            return out

        return replace(self, is_issue=back(self.is_issue), quality_scores=back(self.quality_scores),
                       suggested_labels=back(self.suggested_labels), ranks=back(self.ranks),
                       order=np.asarray(perm)[self.order])

    def class_table(self, class_names: list[str]) -> list[dict]:
        """One row per class: size, flagged issues, issue rate, estimated noise rate, top confusion
        (:func:`labelaudit.core.aggregates.class_table` from the estimated joint)."""
        return class_table(list(class_names), self.class_sizes, self.class_issues, joint=self.joint)


def build_ranking(
    labels: np.ndarray,
    *,
    num_classes: int,
    is_issue: np.ndarray,
    quality_scores: np.ndarray,
    suggested_labels: np.ndarray,
    confident_joint: np.ndarray,
    noise_matrix: np.ndarray,
    inverse_noise_matrix: np.ndarray,
    joint: np.ndarray,
    estimated_num_issues: int,
    rank_method: str,
    filter_by: str,
    class_sizes: np.ndarray | None = None,
) -> Ranking:
    """A :class:`Ranking` from what a ranking path computed: the order, ranks, per-class counts and health follow.

    ``quality_scores`` are sorted in their own dtype (float32 scores in the order of their
    float64 copies, faster) and kept as float64; ``class_sizes`` are counted from
    ``labels`` when not given.
    """
    n = labels.size
    is_issue = np.asarray(is_issue, dtype=bool)
    if filter_by == FilterBy.CALIBRATED_POSTERIOR:
        # confident learning's count misses the rows only the calibrated test flags: never estimate fewer
        # label errors than the set holds (the health score and the issue set would disagree)
        estimated_num_issues = max(int(estimated_num_issues), int(is_issue.sum()))
    order = stable_argsort(quality_scores)
    ranks = np.empty_like(order)
    ranks[order] = np.arange(n)
    return Ranking(
        is_issue=is_issue,
        quality_scores=np.asarray(quality_scores, dtype=np.float64),
        suggested_labels=np.asarray(suggested_labels, dtype=np.int64),
        ranks=ranks,
        order=order,
        class_sizes=np.bincount(labels, minlength=num_classes) if class_sizes is None else class_sizes,
        class_issues=np.bincount(labels[is_issue], minlength=num_classes),
        noise_matrix=np.asarray(noise_matrix, dtype=np.float64),
        inverse_noise_matrix=np.asarray(inverse_noise_matrix, dtype=np.float64),
        joint=np.asarray(joint, dtype=np.float64),
        confident_joint=np.asarray(confident_joint, dtype=np.int64),
        health_score=float(1.0 - estimated_num_issues / n) if n else 1.0,
        estimated_num_issues=estimated_num_issues,
        rank_method=rank_method,
        filter_by=filter_by,
    )
