"""Confident learning on large ``pred_probs`` in bounded memory: the same results as cleanlab, in chunks.

cleanlab's ``find_label_issues`` and ``get_label_quality_scores`` make several
whole-array copies of ``pred_probs`` (a row-gathered copy per class for the
pruning, a copy for the "prediction close to the given label" test, ``np.delete``
for the normalized margin, a boolean ``n x k`` mask for the confident joint), so
a 1.2 GB array needs several GB. Here ``pred_probs`` (typically a read-only
memory map) is read in row chunks of about :data:`CHUNK_CELLS` values, on a few
threads, and only ``n``-long vectors are kept:

1. a first pass: the self-confidence ``p[i, y_i]``, the best other class and its
   probability, from which the argmax (suggested label), the normalized margin
   and cleanlab's "prediction close to the given label" test follow exactly;
   the quality score (row-local);
2. the per-class thresholds: cleanlab's mean of the self-confidences of each
   given class, over the same values in the same order, so bit-identical;
3. a second pass: the confident-joint counts (a ``k x k`` sum) and cleanlab's
   off-diagonal examples; a row whose best other class is below every threshold
   needs one comparison instead of ``k``;
4. calibration and the noise matrices on the ``k x k`` counts (cleanlab's own
   helpers for rounding and clipping);
5. ``prune_by_noise_rate`` / ``prune_by_class``: per given class and pruned
   class pair, the ``m`` largest margins are picked with ``np.partition``, reading
   only the rows that can be among them (see
   :func:`~labelaudit.core.ranking.pruning.prune_by_noise_rate`).
   cleanlab picks ``np.argsort(-margin)[:m]``; whenever values tie at the cut the
   same ``np.argsort`` runs on the same array, so the chosen set is cleanlab's.
   ``calibrated_posterior``: ``prune_by_noise_rate``'s rows and those of a row-local test that runs in the
   first pass, with a temperature fitted first, on the same rows as the whole-array path
   (:func:`~labelaudit.core.ranking.calibration.fit_temperature`).

Every step uses the same dtype and the same operations as cleanlab, so the issue
mask, quality scores, suggested labels, ranks, confident joint, noise matrices and
issue estimate are identical to the whole-array cleanlab path
(:mod:`labelaudit.core.ranking.whole`; ``tests/audit/test_ranking_large.py`` checks this).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from labelaudit.core.constants import CHUNK_CELLS, MAX_THREADS
from labelaudit.core.ranking.calibration import fit_temperature, posterior_issues
from labelaudit.core.ranking.pruning import prune_by_class, prune_by_noise_rate
from labelaudit.core.ranking.sorting import smallest_mask
from labelaudit.core.ranking.types import Ranking, build_ranking
from labelaudit.vocab import FilterBy

_EPS = 1e-6  # cleanlab.internal.constants.FLOATING_POINT_COMPARISON
_THRESHOLD_FLOOR = 2 * _EPS  # CONFIDENT_THRESHOLDS_LOWER_BOUND
_TINY = 1e-100  # TINY_VALUE


def rank_label_issues_chunked(labels: np.ndarray, pred_probs: np.ndarray, *, rank_method: str, filter_by: str,
                              chunk_cells: int = CHUNK_CELLS, threads: int | None = None) -> Ranking:
    """:func:`labelaudit.core.ranking.rank_label_issues` computed in chunks; same arguments and result.

    ``labels`` must be int64 class ids in ``0..k-1`` and ``pred_probs`` an ``(n, k)``
    float array (a read-only memory map is fine: it is never written nor copied whole).
    The two passes over the chunks run on ``threads`` threads (default: the CPUs, at
    most :data:`MAX_THREADS`); the results do not depend on it.
    """
    n, k = pred_probs.shape
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    dtype = pred_probs.dtype
    counts = np.bincount(labels, minlength=k)
    rows = max(1, chunk_cells // k)
    starts = range(0, n, rows)
    threads = max(1, min(threads or _cpus(), MAX_THREADS, len(starts) or 1))
    local = threading.local()

    def buffer(name: str, buf_dtype) -> np.ndarray:
        if getattr(local, name, None) is None:
            setattr(local, name, np.empty((rows, k), dtype=buf_dtype))
        return getattr(local, name)

    # 1. a pass per chunk: self-confidence, best other class, argmax, scores, "close to the given label"
    self_conf = np.empty(n, dtype=dtype)
    suggested = np.empty(n, dtype=np.int64)
    close = np.empty(n, dtype=bool)
    scores = np.empty(n, dtype=dtype if rank_method != "confidence_weighted_entropy" else np.float64)
    low = filter_by in ("low_normalized_margin", "low_self_confidence")
    filter_scores = np.empty(n, dtype=dtype) if low else None
    posterior = filter_by == FilterBy.CALIBRATED_POSTERIOR
    temperature = fit_temperature(labels, pred_probs) if posterior else None
    posterior_mask = np.empty(n, dtype=bool) if posterior else None
    runner_up = np.empty(n, dtype=np.int16 if k < 2 ** 15 else np.int32)  # the best class other than the given one
    best_others = np.empty(n, dtype=dtype)  # its probability
    eps = dtype.type(_EPS)
    if rank_method == "confidence_weighted_entropy":
        from cleanlab.rank import get_confidence_weighted_entropy_for_each_label

    def first_pass(s: int) -> None:
        e = min(n, s + rows)
        chunk = np.asarray(pred_probs[s:e])
        y = labels[s:e]
        r = np.arange(e - s)
        sc = chunk[r, y]
        self_conf[s:e] = sc
        others = buffer("others", dtype)[:e - s]
        np.copyto(others, chunk)
        others[r, y] = -np.inf
        second = others.argmax(axis=1)  # the first other class with the largest probability
        best_other = others[r, second]
        runner_up[s:e] = second
        best_others[s:e] = best_other
        # argmax of the row: the given label when above the best other class, else that class; on a tie the lower index
        suggested[s:e] = np.where(sc > best_other, y, np.where(sc < best_other, second, np.minimum(y, second)))
        # cleanlab's _reduce_issues: argmax of the row with 1e-6 added to the given label's probability is the label
        bumped = sc + eps
        close[s:e] = (bumped > best_other) | ((bumped == best_other) & (y < second))
        margin = (sc - best_other + 1) / 2 if rank_method == "normalized_margin" or low else None
        if rank_method == "normalized_margin":
            scores[s:e] = margin
        elif rank_method == "self_confidence":
            scores[s:e] = sc
        else:
            scores[s:e] = get_confidence_weighted_entropy_for_each_label(y, chunk)
        if low:
            filter_scores[s:e] = margin if filter_by == "low_normalized_margin" else sc
        if posterior:
            posterior_mask[s:e] = posterior_issues(chunk, y, temperature)

    # 2. a second pass (it needs the thresholds): the confident joint and cleanlab's off-diagonal examples
    off_diagonal = np.empty(n, dtype=bool)

    def second_pass(s: int) -> np.ndarray:
        e = min(n, s + rows)
        y = labels[s:e]
        # Rows whose best other class is below every threshold can be confident of their given label only:
        # one comparison instead of k. The others are compared in full, as cleanlab does.
        full = np.flatnonzero(best_others[s:e] >= lowest_cut)
        if full.size > (e - s) // 2:
            full = np.arange(e - s)
            block = np.asarray(pred_probs[s:e])
        else:
            block = np.asarray(pred_probs[s + full]) if full.size else None
        at_least_one = self_conf[s:e] >= cut[y]
        guess = y.copy()
        if full.size:
            r = np.arange(full.size)
            confident = np.greater_equal(block, cut, out=buffer("confident", bool)[:full.size])
            first = confident.argmax(axis=1)  # the first confident class (0 when none)
            at_least_one[full] = confident[r, first]
            confident[r, first] = False
            more_than_one = confident[r, confident.argmax(axis=1)]
            guess[full] = np.where(more_than_one, suggested[s + full], first)
        np.not_equal(guess, y, out=off_diagonal[s:e])
        off_diagonal[s:e] &= at_least_one
        return np.bincount(y[at_least_one] * k + guess[at_least_one], minlength=k * k)

    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    run = pool.map if pool is not None else map
    try:
        for _ in run(first_pass, starts):
            pass
        # cleanlab's per-class thresholds: np.mean(pred_probs[:, c][labels == c]), the same values in the same order
        perm = np.argsort(labels.astype(np.int16 if k < 2 ** 15 else np.int32), kind="stable")  # radix sort
        bounds = np.concatenate([[0], np.cumsum(counts)])
        by_class = self_conf[perm]
        thresholds = [np.mean(by_class[bounds[c]:bounds[c + 1]]) if counts[c] else 2 for c in range(k)]
        del by_class
        thresholds = np.asarray(np.clip(thresholds, a_min=_THRESHOLD_FLOOR, a_max=None))
        cut = thresholds - 1e-6
        lowest_cut = cut.min()
        raw_cj = np.zeros(k * k, dtype=np.int64)
        for part in run(second_pass, starts):
            raw_cj += part
        if posterior:
            filter_scores = posterior_mask
        return _finish(labels, pred_probs, rank_method, filter_by, counts, raw_cj, self_conf, suggested, close,
                       scores, filter_scores, runner_up, best_others, off_diagonal, perm, bounds, rows, pool)
    finally:
        if pool is not None:
            pool.shutdown()


def _finish(labels, pred_probs, rank_method, filter_by, counts, raw_cj, self_conf, suggested, close, scores,
            filter_scores, runner_up, best_others, off_diagonal, perm, bounds, rows, pool):
    """Steps 3 to 5 and the Ranking."""
    n, k = pred_probs.shape
    low = filter_by in ("low_normalized_margin", "low_self_confidence")

    # 3. the k x k figures, as cleanlab computes them
    raw_cj = raw_cj.reshape(k, k)
    np.fill_diagonal(raw_cj, raw_cj.diagonal().clip(min=1))
    confident_joint = _calibrate(raw_cj, counts)
    noise_matrix, inverse_noise_matrix = _estimate_latent(confident_joint, counts)
    joint = _calibrate(confident_joint, counts)
    joint = joint / np.clip(float(np.sum(joint)), a_min=_TINY, a_max=None)
    estimated = int(np.count_nonzero(off_diagonal & ~close))  # num_label_issues(estimation_method="off_diagonal")

    # 4. the issue filter
    posterior = filter_by == FilterBy.CALIBRATED_POSTERIOR
    if filter_by in ("prune_by_noise_rate", "prune_by_class", "both") or posterior:
        from cleanlab.filter import _keep_at_least_n_per_class

        prune = _keep_at_least_n_per_class(prune_count_matrix=confident_joint.T, n=1, frac_noise=1.0)
        if filter_by in ("prune_by_class", "both"):
            by_class_issues = prune_by_class(self_conf, perm, bounds, prune)
        if filter_by in ("prune_by_noise_rate", "both") or posterior:
            by_noise_issues = prune_by_noise_rate(pred_probs, self_conf, runner_up, best_others, perm, bounds,
                                                  prune, rows, pool)
        is_issue = (by_class_issues if filter_by == "prune_by_class" else
                    by_noise_issues if filter_by == "prune_by_noise_rate" else
                    by_noise_issues | filter_scores if posterior else  # filter_scores: the first pass's posterior test
                    by_class_issues & by_noise_issues)
    elif filter_by == "confident_learning":
        is_issue = off_diagonal
    elif filter_by == "predicted_neq_given":
        is_issue = suggested != labels
    else:  # low_normalized_margin, low_self_confidence: the `estimated` lowest scores
        is_issue = smallest_mask(filter_scores, estimated)
    if not low:
        is_issue[close] = False

    return build_ranking(labels, num_classes=k, class_sizes=counts, is_issue=is_issue, quality_scores=scores,
                         suggested_labels=suggested, confident_joint=confident_joint, noise_matrix=noise_matrix,
                         inverse_noise_matrix=inverse_noise_matrix, joint=joint, estimated_num_issues=estimated,
                         rank_method=rank_method, filter_by=filter_by)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (containers, taskset)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _calibrate(confident_joint: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """cleanlab's ``calibrate_confident_joint`` with the label counts given (it recounts ``labels`` each call)."""
    from cleanlab.internal.util import round_preserving_row_totals

    calibrated = (confident_joint.T / np.clip(confident_joint.sum(axis=1), a_min=_TINY, a_max=None)
                  * label_counts).T
    calibrated = calibrated / np.clip(np.sum(calibrated), a_min=_TINY, a_max=None) * sum(label_counts)
    return round_preserving_row_totals(calibrated)


def _estimate_latent(confident_joint: np.ndarray, label_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's ``estimate_latent`` (py_method "cnt", no convergence): ``(noise_matrix, inverse_noise_matrix)``."""
    from cleanlab.internal.util import clip_noise_rates

    labels_class_counts = confident_joint.sum(axis=1).astype(float)
    true_labels_class_counts = confident_joint.sum(axis=0).astype(float)
    noise_matrix = confident_joint / np.clip(true_labels_class_counts, a_min=_TINY, a_max=None)
    inv_noise_matrix = confident_joint.T / np.clip(labels_class_counts, a_min=_TINY, a_max=None)
    return clip_noise_rates(noise_matrix), clip_noise_rates(inv_noise_matrix)

