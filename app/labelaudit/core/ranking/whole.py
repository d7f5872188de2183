"""The whole-array path: cleanlab's own calls on ``pred_probs`` held in memory."""

from __future__ import annotations

import numpy as np

from labelaudit.core.ranking.calibration import fit_temperature, posterior_issues
from labelaudit.core.ranking.types import Ranking, build_ranking
from labelaudit.vocab import FilterBy

CALIBRATED_POSTERIOR = FilterBy.CALIBRATED_POSTERIOR.value


def rank_whole(labels: np.ndarray, pred_probs: np.ndarray, *, rank_method: str, filter_by: str,
               n_jobs: int | None = 1) -> Ranking:
    """:func:`labelaudit.core.ranking.rank_label_issues` through cleanlab's whole-array functions.

    ``labels`` are int64 class ids and ``pred_probs`` an ``(n, k)`` array; ``n_jobs``
    processes run cleanlab's filter (1 keeps it in-process).
    """
    from cleanlab.count import compute_confident_joint, estimate_joint, estimate_latent, num_label_issues
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    confident_joint = compute_confident_joint(labels, pred_probs)
    posterior = filter_by == CALIBRATED_POSTERIOR
    is_issue = find_label_issues(labels, pred_probs, filter_by="prune_by_noise_rate" if posterior else filter_by,
                                 confident_joint=confident_joint, n_jobs=n_jobs)
    if posterior:  # confident learning's rows and those the calibrated probabilities doubt
        from cleanlab.count import _reduce_issues

        temperature = fit_temperature(labels, pred_probs)
        is_issue |= posterior_issues(pred_probs, labels, temperature) & ~_reduce_issues(pred_probs, labels)
    scores = get_label_quality_scores(labels, pred_probs, method=rank_method).astype(np.float64)
    _, noise_matrix, inverse_noise_matrix = estimate_latent(confident_joint, labels)
    joint = estimate_joint(labels, pred_probs, confident_joint=confident_joint)
    estimated = int(num_label_issues(labels, pred_probs))  # as cleanlab's overall_label_health_score
    return build_ranking(labels, num_classes=pred_probs.shape[1], is_issue=is_issue, quality_scores=scores,
                         suggested_labels=pred_probs.argmax(axis=1), confident_joint=confident_joint,
                         noise_matrix=noise_matrix, inverse_noise_matrix=inverse_noise_matrix, joint=joint,
                         estimated_num_issues=estimated, rank_method=rank_method, filter_by=filter_by)
