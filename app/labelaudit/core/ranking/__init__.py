"""Confident-learning rankings with cleanlab: which labels look wrong, and how many.

Input: given ``labels`` and out-of-sample ``pred_probs``. Output: per example an
issue flag, a label-quality score, the suggested label and the rank (0 = least
likely correct); per audit the estimated noise matrix and joint, per-class
figures and cleanlab's overall label health score.

Two paths give the same :class:`Ranking` bit for bit: cleanlab's own whole-array
calls (:mod:`~labelaudit.core.ranking.whole`) and, for large ``pred_probs``, the
same computation in chunks of rows (:mod:`~labelaudit.core.ranking.chunked`, its
issue filters in :mod:`~labelaudit.core.ranking.pruning`). :mod:`~labelaudit.core.ranking.types`
holds the result and :mod:`~labelaudit.core.ranking.sorting` the stable argsort both use.
"""

from __future__ import annotations

import numpy as np

from labelaudit.core.constants import CHUNKED_RANKING_CELLS, DEFAULT_FILTER_BY, DEFAULT_RANK_METHOD
from labelaudit.core.options import (
    FILTER_METHODS,
    RANK_METHODS,
    check_label_range,
    check_ranking_arrays,
    check_ranking_options,
)
from labelaudit.core.ranking.chunked import rank_label_issues_chunked
from labelaudit.core.ranking.sorting import smallest_mask, stable_argsort
from labelaudit.core.ranking.types import Ranking, build_ranking
from labelaudit.core.ranking.whole import rank_whole


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
    check_ranking_options(rank_method, filter_by)
    labels = np.asarray(labels, dtype=np.int64)
    pred_probs = np.asarray(pred_probs)
    check_ranking_arrays(labels, pred_probs)
    return compute_ranking(labels, pred_probs, rank_method=rank_method, filter_by=filter_by, n_jobs=n_jobs,
                           chunked=chunked)


def compute_ranking(labels: np.ndarray, pred_probs: np.ndarray, *, rank_method: str, filter_by: str,
                    n_jobs: int | None = 1, chunked: bool | None = None) -> Ranking:
    """:func:`rank_label_issues` on checked options (by it, or by :func:`~labelaudit.core.options.check_options`)
    and an ``(n, k)`` ``pred_probs``: picks the whole-array or the chunked path."""
    labels = np.asarray(labels, dtype=np.int64)
    pred_probs = np.asarray(pred_probs)
    k = pred_probs.shape[1]
    if chunked is None:
        chunked = labels.size * k >= CHUNKED_RANKING_CELLS
    if chunked:
        check_label_range(labels, k)  # cleanlab checks the labels on its own path; the chunked one relies on this
        return rank_label_issues_chunked(labels, pred_probs, rank_method=rank_method, filter_by=filter_by)
    return rank_whole(labels, pred_probs, rank_method=rank_method, filter_by=filter_by, n_jobs=n_jobs)


__all__ = ["CHUNKED_RANKING_CELLS", "DEFAULT_FILTER_BY", "DEFAULT_RANK_METHOD", "FILTER_METHODS", "RANK_METHODS",
           "Ranking", "build_ranking", "compute_ranking", "rank_label_issues", "rank_label_issues_chunked",
           "rank_whole", "smallest_mask", "stable_argsort"]
