"""Confident learning on large ``pred_probs`` in bounded memory: the same results as cleanlab, in chunks.

cleanlab's ``find_label_issues`` and ``get_label_quality_scores`` make several
whole-array copies of ``pred_probs`` (a row-gathered copy per class for the
pruning, a copy for the "prediction close to the given label" test, ``np.delete``
for the normalized margin, a boolean ``n x k`` mask for the confident joint), so
a 1.2 GB array needs several GB. Here ``pred_probs`` (typically a read-only
memory map) is read in row chunks of about :data:`CHUNK_CELLS` values and only
``n``-long vectors are kept:

1. self-confidence ``p[i, y_i]``  ->  per-class thresholds (cleanlab's mean of the
   self-confidences of each given class, computed on the same values in the same
   order, so bit-identical);
2. one pass over the chunks: the argmax (suggested label), the largest
   probability of another class, the confident-joint counts (a ``k x k`` sum),
   cleanlab's off-diagonal examples, the quality score (row-local), and the
   "prediction close to the given label" mask;
3. calibration and the noise matrices on the ``k x k`` counts (cleanlab's own
   helpers for rounding and clipping);
4. ``prune_by_noise_rate`` / ``prune_by_class``: per given class, only the
   margins that are pruned are computed, over that class's rows gathered in
   blocks, and the ``m`` largest are picked with ``np.partition``. cleanlab picks
   ``np.argsort(-margin)[:m]``; whenever values tie at the cut the same
   ``np.argsort`` runs on the same array, so the chosen set is cleanlab's.

Every step uses the same dtype and the same operations as cleanlab, so the issue
mask, quality scores, suggested labels, ranks, confident joint, noise matrices and
issue estimate are identical to :func:`app.audit.ranking.rank_label_issues`'s
cleanlab path (``tests/audit/test_ranking_large.py`` checks this).
"""

from __future__ import annotations

import warnings

import numpy as np

#: Values of ``pred_probs`` read per chunk (rows = CHUNK_CELLS // k): a few MB, so a chunk stays in cache.
CHUNK_CELLS = 1 << 18
#: Largest block of one class's pruning margins held at once (bytes).
MARGIN_BUDGET = 64 << 20

_EPS = 1e-6  # cleanlab.internal.constants.FLOATING_POINT_COMPARISON
_THRESHOLD_FLOOR = 2 * _EPS  # CONFIDENT_THRESHOLDS_LOWER_BOUND
_TINY = 1e-100  # TINY_VALUE


def rank_label_issues_chunked(labels: np.ndarray, pred_probs: np.ndarray, *, rank_method: str, filter_by: str,
                              chunk_cells: int = CHUNK_CELLS):
    """:func:`app.audit.ranking.rank_label_issues` computed in chunks; same arguments and result.

    ``labels`` must be int64 class ids in ``0..k-1`` and ``pred_probs`` an ``(n, k)``
    float array (a read-only memory map is fine: it is never written nor copied whole).
    """
    from app.audit.ranking import Ranking

    n, k = pred_probs.shape
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    dtype = pred_probs.dtype
    counts = np.bincount(labels, minlength=k)
    rows = max(1, chunk_cells // k)

    # 1. a pass per chunk: self-confidence, best other class, argmax, scores, "close to the given label"
    self_conf = np.empty(n, dtype=dtype)
    suggested = np.empty(n, dtype=np.int64)
    close = np.empty(n, dtype=bool)
    scores = np.empty(n, dtype=dtype if rank_method != "confidence_weighted_entropy" else np.float64)
    low = filter_by in ("low_normalized_margin", "low_self_confidence")
    filter_scores = np.empty(n, dtype=dtype) if low else None
    scratch = np.empty((rows, k), dtype=dtype)
    eps = dtype.type(_EPS)
    for s in range(0, n, rows):
        e = min(n, s + rows)
        chunk = np.asarray(pred_probs[s:e])
        y = labels[s:e]
        r = np.arange(e - s)
        sc = chunk[r, y]
        self_conf[s:e] = sc
        others = scratch[:e - s]
        np.copyto(others, chunk)
        others[r, y] = -np.inf
        second = others.argmax(axis=1)  # the first other class with the largest probability
        best_other = others[r, second]
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
            from cleanlab.rank import get_confidence_weighted_entropy_for_each_label

            scores[s:e] = get_confidence_weighted_entropy_for_each_label(y, chunk)
        if low:
            filter_scores[s:e] = margin if filter_by == "low_normalized_margin" else sc
    del scratch

    # cleanlab's per-class thresholds: np.mean(pred_probs[:, c][labels == c]), the same values in the same order
    perm = np.argsort(labels.astype(np.int16 if k < 2 ** 15 else np.int32), kind="stable")  # radix sort
    bounds = np.concatenate([[0], np.cumsum(counts)])
    by_class = self_conf[perm]
    thresholds = [np.mean(by_class[bounds[c]:bounds[c + 1]]) if counts[c] else 2 for c in range(k)]
    del by_class
    thresholds = np.asarray(np.clip(thresholds, a_min=_THRESHOLD_FLOOR, a_max=None))
    cut = thresholds - 1e-6

    # 2. a second pass: the confident joint and cleanlab's off-diagonal examples
    off_diagonal = np.empty(n, dtype=bool)
    raw_cj = np.zeros(k * k, dtype=np.int64)
    confident_buf = np.empty((rows, k), dtype=bool)
    for s in range(0, n, rows):
        e = min(n, s + rows)
        chunk = np.asarray(pred_probs[s:e])
        y = labels[s:e]
        r = np.arange(e - s)
        confident = np.greater_equal(chunk, cut, out=confident_buf[:e - s])
        first = confident.argmax(axis=1)  # the first confident class (0 when none)
        at_least_one = confident[r, first]
        confident[r, first] = False
        more_than_one = confident[r, confident.argmax(axis=1)]
        guess = np.where(more_than_one, suggested[s:e], first)
        np.not_equal(guess, y, out=off_diagonal[s:e])
        off_diagonal[s:e] &= at_least_one
        raw_cj += np.bincount(y[at_least_one] * k + guess[at_least_one], minlength=k * k)
    del confident_buf

    # 3. the k x k figures, as cleanlab computes them
    raw_cj = raw_cj.reshape(k, k)
    np.fill_diagonal(raw_cj, raw_cj.diagonal().clip(min=1))
    confident_joint = _calibrate(raw_cj, counts)
    noise_matrix, inverse_noise_matrix = _estimate_latent(confident_joint, counts)
    joint = _calibrate(confident_joint, counts)
    joint = joint / np.clip(float(np.sum(joint)), a_min=_TINY, a_max=None)
    estimated = int(np.count_nonzero(off_diagonal & ~close))  # num_label_issues(estimation_method="off_diagonal")

    # 4. the issue filter
    if filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        from cleanlab.filter import _keep_at_least_n_per_class

        prune = _keep_at_least_n_per_class(prune_count_matrix=confident_joint.T, n=1, frac_noise=1.0)
        if filter_by in ("prune_by_class", "both"):
            by_class_issues = _prune_by_class(self_conf, perm, bounds, prune)
        if filter_by in ("prune_by_noise_rate", "both"):
            by_noise_issues = _prune_by_noise_rate(pred_probs, self_conf, perm, bounds, prune, rows)
        is_issue = (by_class_issues if filter_by == "prune_by_class" else
                    by_noise_issues if filter_by == "prune_by_noise_rate" else by_class_issues & by_noise_issues)
    elif filter_by == "confident_learning":
        is_issue = off_diagonal
    elif filter_by == "predicted_neq_given":
        is_issue = suggested != labels
    else:  # low_normalized_margin, low_self_confidence: the `estimated` lowest scores
        is_issue = _smallest(filter_scores, estimated)
    if not low:
        is_issue[close] = False
    del off_diagonal, close, perm, filter_scores

    # float32 scores sort as float32 (the same order as their float64 copies, faster)
    order = stable_argsort(scores)
    ranks = np.empty_like(order)
    ranks[order] = np.arange(n)
    return Ranking(
        is_issue=is_issue,
        quality_scores=scores.astype(np.float64),
        suggested_labels=suggested,
        ranks=ranks,
        order=order,
        class_sizes=counts,
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


def stable_argsort(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` (int64), faster: an unstable sort, then ties put in index order."""
    order = np.argsort(values).astype(np.int64, copy=False)
    ordered = values[order]
    tied = ordered[1:] == ordered[:-1]
    if tied.any():  # a run of equal values at positions [start, end) is put in index order
        edges = np.diff(np.concatenate([[0], tied.view(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) + 1
        lengths = ends - starts
        pos = np.repeat(starts, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
        group = np.repeat(np.arange(starts.size), lengths)
        within = np.lexsort((order[pos], group))
        order[pos] = order[pos][within]
    return order


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


def _smallest(values: np.ndarray, m: int) -> np.ndarray:
    """Mask of ``np.argsort(values)[:m]``: partition in O(n); argsort only when values tie at the cut."""
    size = values.shape[0]
    mask = np.zeros(size, dtype=bool)
    if m <= 0:
        return mask
    if m >= size:
        mask[:] = True
        return mask
    cut = np.partition(values, m - 1)[m - 1]
    np.less_equal(values, cut, out=mask)
    if np.count_nonzero(mask) != m:  # ties at the cut: which of them argsort keeps depends on its algorithm
        mask[:] = False
        mask[np.argsort(values)[:m]] = True
    return mask


def _prune_by_class(self_conf, perm, bounds, prune) -> np.ndarray:
    """cleanlab's ``_prune_by_class``: in each given class, the ``n_k - prune[k, k]`` lowest self-confidences."""
    n = self_conf.shape[0]
    mask = np.zeros(n, dtype=bool)
    for c in range(prune.shape[0]):
        idx = perm[bounds[c]:bounds[c + 1]]
        if idx.size <= 1:
            _few(c)
            continue
        num = idx.size - prune[c, c]
        if num >= 1:
            mask[idx[_smallest(self_conf[idx], int(num))]] = True
    return mask


def _prune_by_noise_rate(pred_probs, self_conf, perm, bounds, prune, rows) -> np.ndarray:
    """cleanlab's ``_prune_by_count``: in each given class ``c``, for each other class ``j``, the
    ``prune[j, c]`` rows with the largest margin ``p_j - p_c``.

    Only the margins that are pruned are computed: per class, a few columns are gathered
    row by row (all of a row's columns together: one page per row), many by blocks of whole
    rows; at most :data:`MARGIN_BUDGET` bytes of margins at a time.
    """
    n, k = pred_probs.shape
    itemsize = pred_probs.dtype.itemsize
    flat = np.asarray(pred_probs).reshape(-1) if pred_probs.flags.c_contiguous else None
    mask = np.zeros(n, dtype=bool)
    for c in range(k):
        idx = perm[bounds[c]:bounds[c + 1]]
        size = idx.size
        if size <= 1:
            _few(c)
            continue
        targets = [j for j in range(k) if j != c and prune[j, c] > 0]
        if not targets:
            continue
        own = self_conf[idx][:, None]  # p_c of class c's rows
        class_mask = np.zeros(size, dtype=bool)
        by_columns = flat is not None and 4 * len(targets) < k
        step = max(1, MARGIN_BUDGET // (size * (itemsize + 8 if by_columns else itemsize)))
        for g in range(0, len(targets), step):
            cols = np.asarray(targets[g:g + step])
            if by_columns:
                margins = flat.take(idx[:, None] * k + cols[None, :]) - own  # (size, len(cols)): p_j - p_c
            else:
                margins = np.empty((size, cols.size), dtype=pred_probs.dtype)
                for s in range(0, size, rows):
                    block = np.asarray(pred_probs[idx[s:s + rows]])
                    np.subtract(block[:, cols], own[s:s + rows], out=margins[s:s + rows])
            for t, j in enumerate(cols.tolist()):
                class_mask |= _smallest(-margins[:, t], int(prune[j, c]))  # cleanlab: np.argsort(-margin)[:m]
        mask[idx] = class_mask
    return mask


def _few(c: int) -> None:
    warnings.warn(f"May not flag all label issues in class: {c}, it has too few examples "
                  "(see `min_examples_per_class` argument)")
