"""Confident-learning rankings with cleanlab: which labels look wrong, and how many.

Input: given ``labels`` and out-of-sample ``pred_probs``. Output: per example an
issue flag, a label-quality score, the suggested label and the rank (0 = least
likely correct); per audit the estimated noise matrix and joint, per-class
figures and cleanlab's overall label health score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelaudit.errors import OptionError

RANK_METHODS: tuple[str, ...] = ("normalized_margin", "self_confidence", "confidence_weighted_entropy")
FILTER_METHODS: tuple[str, ...] = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
#: Measured choice: on published pred_probs with human-verified errors (MNIST,
#: CIFAR-10, IMDB, 20news), normalized_margin ranked them best or tied on every set.
DEFAULT_RANK_METHOD = "normalized_margin"
DEFAULT_FILTER_BY = "prune_by_noise_rate"
#: From this many pred_probs values (n x k) on, ranking runs in chunks (:mod:`labelaudit.audit.ranking_large`):
#: the same results as cleanlab's whole-array calls, without their copies of pred_probs.
CHUNKED_RANKING_CELLS = 10_000_000


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

    def class_table(self, class_names: list[str]) -> list[dict]:
        """One row per class: size, flagged issues, issue rate, estimated noise rate, top confusion."""
        k = len(class_names)
        n = float(self.class_sizes.sum())
        rows = []
        for c in range(k):
            size = int(self.class_sizes[c])
            # joint[c, j]: given c, truly j; the largest off-diagonal j is what class c's bad labels really are
            off = self.joint[c].copy()
            off[c] = -1.0
            confused = int(np.argmax(off)) if k > 1 else c
            est_noise = float(self.joint[c].sum() - self.joint[c, c]) * n / size if size else 0.0
            rows.append({
                "class_id": c,
                "class_name": class_names[c],
                "size": size,
                "num_issues": int(self.class_issues[c]),
                "issue_rate": float(self.class_issues[c] / size) if size else 0.0,
                "estimated_noise_rate": min(max(est_noise, 0.0), 1.0),
                "top_confused_with": class_names[confused] if off[confused] > 0 else None,
            })
        return rows


def rank_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    rank_method: str = DEFAULT_RANK_METHOD,
    filter_by: str = DEFAULT_FILTER_BY,
    n_jobs: int | None = 1,
    chunked: bool | None = None,
) -> Ranking:
    """Find label issues and score every example.

    Parameters
    ----------
    labels : np.ndarray
        Given class ids, shape ``(n,)``.
    pred_probs : np.ndarray
        Out-of-sample predicted probabilities, shape ``(n, k)``.
    rank_method : {"normalized_margin", "self_confidence", "confidence_weighted_entropy"}
        cleanlab's label-quality score.
    filter_by : str
        cleanlab's issue filter (``prune_by_noise_rate`` by default).
    n_jobs : int, optional
        Processes for cleanlab's filter; 1 keeps it in-process.
    chunked : bool, optional
        Compute in chunks of rows (bounded memory; ``pred_probs`` may be a read-only
        memory map). By default, from :data:`CHUNKED_RANKING_CELLS` values on. The
        results are identical either way.

    Returns
    -------
    Ranking
    """
    from cleanlab.count import compute_confident_joint, estimate_joint, estimate_latent, num_label_issues
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    if rank_method not in RANK_METHODS:
        raise OptionError(f"unknown rank_method {rank_method!r}; expected one of: {', '.join(RANK_METHODS)}",
                          field="rank_method")
    if filter_by not in FILTER_METHODS:
        raise OptionError(f"unknown filter_by {filter_by!r}; expected one of: {', '.join(FILTER_METHODS)}",
                          field="filter_by")
    labels = np.asarray(labels, dtype=np.int64)
    pred_probs = np.asarray(pred_probs)
    if pred_probs.ndim != 2 or pred_probs.shape[0] != labels.shape[0]:
        raise OptionError("pred_probs must be (n, k) with one row per label", field="pred_probs")
    k = pred_probs.shape[1]
    if chunked is None:
        chunked = labels.size * k >= CHUNKED_RANKING_CELLS
    if chunked:
        from labelaudit.audit.ranking_large import rank_label_issues_chunked

        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise OptionError(f"labels must lie in 0..{k - 1} (one per pred_probs column)", field="labels")

        return rank_label_issues_chunked(labels, pred_probs, rank_method=rank_method, filter_by=filter_by)

    confident_joint = compute_confident_joint(labels, pred_probs)
    is_issue = find_label_issues(labels, pred_probs, filter_by=filter_by, confident_joint=confident_joint,
                                 n_jobs=n_jobs)
    scores = get_label_quality_scores(labels, pred_probs, method=rank_method).astype(np.float64)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty_like(order)
    ranks[order] = np.arange(order.size)
    _, noise_matrix, inverse_noise_matrix = estimate_latent(confident_joint, labels)
    joint = estimate_joint(labels, pred_probs, confident_joint=confident_joint)
    estimated = int(num_label_issues(labels, pred_probs))  # as cleanlab's overall_label_health_score
    n = labels.size
    return Ranking(
        is_issue=np.asarray(is_issue, dtype=bool),
        quality_scores=scores,
        suggested_labels=pred_probs.argmax(axis=1).astype(np.int64),
        ranks=ranks.astype(np.int64),
        order=order.astype(np.int64),
        class_sizes=np.bincount(labels, minlength=k),
        class_issues=np.bincount(labels[is_issue], minlength=k),
        noise_matrix=np.asarray(noise_matrix, dtype=np.float64),
        inverse_noise_matrix=np.asarray(inverse_noise_matrix, dtype=np.float64),
        joint=np.asarray(joint, dtype=np.float64),
        confident_joint=np.asarray(confident_joint, dtype=np.int64),
        health_score=float(1.0 - estimated / n) if n else 1.0,
        estimated_num_issues=estimated,
        rank_method=rank_method,
        filter_by=filter_by,
    )
