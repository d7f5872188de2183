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
   only the rows that can be among them (see :func:`_prune_by_noise_rate`).
   cleanlab picks ``np.argsort(-margin)[:m]``; whenever values tie at the cut the
   same ``np.argsort`` runs on the same array, so the chosen set is cleanlab's.

Every step uses the same dtype and the same operations as cleanlab, so the issue
mask, quality scores, suggested labels, ranks, confident joint, noise matrices and
issue estimate are identical to :func:`labelaudit.audit.ranking.rank_label_issues`'s
cleanlab path (``tests/audit/test_ranking_large.py`` checks this).
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Values of ``pred_probs`` read per chunk (rows = CHUNK_CELLS // k): 4 MB of float32, few enough chunks that
#: numpy's per-call overhead stays small (measured with bench/scale.py: 1 << 18 was 10-20% slower).
CHUNK_CELLS = 1 << 20
#: Most threads the passes over the chunks use.
MAX_THREADS = 8
#: Above this share of a class's rows as candidates, all of the class's margins are computed instead.
CANDIDATE_SHARE = 0.5
#: Rows with the largest gaps whose margins are computed exactly, per row to prune (plus 64); 0: none.
SAMPLE_PER_PRUNED = 4

_EPS = 1e-6  # cleanlab.internal.constants.FLOATING_POINT_COMPARISON
_THRESHOLD_FLOOR = 2 * _EPS  # CONFIDENT_THRESHOLDS_LOWER_BOUND
_TINY = 1e-100  # TINY_VALUE


def rank_label_issues_chunked(labels: np.ndarray, pred_probs: np.ndarray, *, rank_method: str, filter_by: str,
                              chunk_cells: int = CHUNK_CELLS, threads: int | None = None):
    """:func:`labelaudit.audit.ranking.rank_label_issues` computed in chunks; same arguments and result.

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
        return _finish(labels, pred_probs, rank_method, filter_by, counts, raw_cj, self_conf, suggested, close,
                       scores, filter_scores, runner_up, best_others, off_diagonal, perm, bounds, rows, pool)
    finally:
        if pool is not None:
            pool.shutdown()


def _finish(labels, pred_probs, rank_method, filter_by, counts, raw_cj, self_conf, suggested, close, scores,
            filter_scores, runner_up, best_others, off_diagonal, perm, bounds, rows, pool):
    """Steps 3 to 5 and the Ranking."""
    from labelaudit.audit.ranking import Ranking

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
    if filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        from cleanlab.filter import _keep_at_least_n_per_class

        prune = _keep_at_least_n_per_class(prune_count_matrix=confident_joint.T, n=1, frac_noise=1.0)
        if filter_by in ("prune_by_class", "both"):
            by_class_issues = _prune_by_class(self_conf, perm, bounds, prune)
        if filter_by in ("prune_by_noise_rate", "both"):
            by_noise_issues = _prune_by_noise_rate(pred_probs, self_conf, runner_up, best_others, perm, bounds,
                                                   prune, rows, pool)
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

    # float32 scores sort as float32: the same order as their float64 copies, faster
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


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (containers, taskset)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def stable_argsort(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` (int64), faster.

    float32 values (the scores of float32 pred_probs) sort as one ``uint64`` key each: the
    value's bits made order-preserving in the high half, the index in the low half, so one
    unstable sort gives the stable order (numpy's stable sort of floats is a merge sort, about
    4x slower). Other values: an unstable sort, then ties put in index order; with NaNs,
    numpy's stable sort.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.isnan(values).any():  # NaNs compare unequal: numpy's own stable sort
        return np.argsort(values, kind="stable").astype(np.int64, copy=False)
    if values.dtype == np.float32 and values.ndim == 1 and values.size < 2 ** 32:
        return _key_argsort(values)
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


def _key_argsort(values: np.ndarray) -> np.ndarray:
    """Stable argsort of NaN-free float32 values through ``(order-preserving bits << 32) | index`` keys."""
    bits = (values + np.float32(0)).view(np.uint32)  # + 0 makes -0.0 into 0.0, which compare equal
    negative = bits >= np.uint32(0x80000000)
    # IEEE floats order as sign-magnitude: flip every bit of negatives, only the sign bit of the others
    ordered = np.where(negative, ~bits, bits | np.uint32(0x80000000))
    key = ordered.astype(np.uint64)
    key <<= np.uint64(32)
    key |= np.arange(values.size, dtype=np.uint64)
    key.sort()
    key &= np.uint64(0xFFFFFFFF)
    return key.astype(np.int64)


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


def _prune_by_noise_rate(pred_probs, self_conf, runner_up, best_others, perm, bounds, prune, rows,
                         pool=None) -> np.ndarray:
    """cleanlab's ``_prune_by_count``: in each given class ``c``, for each other class ``j``, the
    ``prune[j, c]`` rows with the largest margin ``p_j - p_c``.

    Only candidate rows are read: a row's margin for any ``j`` is at most its ``gap`` (best other
    class minus the given one), and equals it where ``j`` is that best other class. The margins of
    the rows with the largest gaps (the sample) are computed exactly; when their ``m``-th largest
    is above every gap outside the sample, the ``m`` largest margins of the class are the sample's.
    Otherwise the ``m``-th largest of any exact margins bounds the cut from below, so rows with a
    smaller gap cannot be chosen. When values tie at the cut, or too many rows are candidates,
    every margin of the class is computed and the choice is cleanlab's own ``np.argsort``.
    Classes are independent: they run on ``pool`` when given.
    """
    n, k = pred_probs.shape
    flat = np.asarray(pred_probs).reshape(-1) if pred_probs.flags.c_contiguous else None
    mask = np.zeros(n, dtype=bool)
    gaps = (best_others - self_conf)[perm]  # each row's largest margin (its runner-up's, exactly), by class

    def one_class(c: int) -> None:
        lo, hi = bounds[c], bounds[c + 1]
        idx = perm[lo:hi]
        size = idx.size
        if size <= 1:
            _few(c)
            return
        targets = np.flatnonzero(prune[:, c] > 0)
        targets = targets[targets != c]
        if not targets.size:
            return
        counts = prune[targets, c]
        class_gap = gaps[lo:hi]
        class_runner_up = None
        sample_size = SAMPLE_PER_PRUNED * int(counts.max()) + 64
        top = (np.argpartition(class_gap, size - sample_size)[size - sample_size:]
               if SAMPLE_PER_PRUNED and size > sample_size else None)
        if top is not None:
            top_rows = idx[top]
            top_block = np.asarray(pred_probs[top_rows])  # the sampled rows, read once for every target class
            top_own, top_min = self_conf[top_rows], class_gap[top].min()
        class_mask = np.zeros(size, dtype=bool)
        for j, m in zip(targets.tolist(), counts.tolist()):
            if m >= size:
                class_mask[:] = True
                continue
            floor = -np.inf
            if top is not None:
                sample = top_block[:, j] - top_own  # p_j - p_c, as cleanlab computes it
                floor = np.partition(sample, sample.size - m)[sample.size - m]
                if floor > top_min:  # rows outside the sample have margins <= their gaps <= top_min < floor
                    above = sample >= floor
                    if np.count_nonzero(above) == m:  # no tie at the cut: the set is the same for any sort
                        class_mask[top[above]] = True
                        continue
            if class_runner_up is None:
                class_runner_up = runner_up[idx]
            exact = class_gap[class_runner_up == j]  # where j is the runner-up
            if exact.size >= m:
                floor = max(floor, np.partition(exact, exact.size - m)[exact.size - m])
            candidates = np.flatnonzero(class_gap >= floor)
            chosen = None
            if flat is not None and m <= candidates.size <= size * CANDIDATE_SHARE:
                at = idx[candidates]
                margins = flat.take(at * k + j) - self_conf[at]
                cut = np.partition(margins, margins.size - m)[margins.size - m]
                above = margins >= cut
                if np.count_nonzero(above) == m:
                    chosen = candidates[above]
            if chosen is None:
                class_mask |= _smallest(-_margins(pred_probs, idx, j, c, rows), m)  # cleanlab: argsort(-margin)[:m]
            else:
                class_mask[chosen] = True
        mask[idx[class_mask]] = True

    for _ in (pool.map if pool is not None else map)(one_class, range(k)):
        pass
    return mask


def _margins(pred_probs, idx, j, c, rows) -> np.ndarray:
    """``p_j - p_c`` for the rows ``idx`` (read in blocks of whole rows)."""
    out = np.empty(idx.size, dtype=pred_probs.dtype)
    for s in range(0, idx.size, rows):
        block = np.asarray(pred_probs[idx[s:s + rows]])
        np.subtract(block[:, j], block[:, c], out=out[s:s + block.shape[0]])
    return out


def _few(c: int) -> None:
    warnings.warn(f"May not flag all label issues in class: {c}, it has too few examples "
                  "(see `min_examples_per_class` argument)")
