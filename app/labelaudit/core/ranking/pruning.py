"""The chunked path's issue filters ``prune_by_noise_rate`` and ``prune_by_class``: cleanlab's choice of rows,
reading only the rows that can be chosen (see :func:`prune_by_noise_rate`)."""

from __future__ import annotations

import warnings

import numpy as np

from labelaudit.core.constants import CANDIDATE_SHARE, SAMPLE_PER_PRUNED
from labelaudit.core.ranking.sorting import smallest_mask


def prune_by_class(self_conf, perm, bounds, prune) -> np.ndarray:
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
            mask[idx[smallest_mask(self_conf[idx], int(num))]] = True
    return mask


def prune_by_noise_rate(pred_probs, self_conf, runner_up, best_others, perm, bounds, prune, rows,
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
                class_mask |= smallest_mask(-_margins(pred_probs, idx, j, c, rows), m)  # cleanlab: argsort(-margin)[:m]
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
