"""Score an audit against known true labels (after injected noise)."""

from __future__ import annotations

import numpy as np


def evaluate_audit(
    labels: np.ndarray,
    true_labels: np.ndarray,
    is_issue: np.ndarray,
    quality_scores: np.ndarray,
    suggested_labels: np.ndarray | None = None,
) -> dict:
    """How well the audit found the labels that really are wrong.

    Parameters
    ----------
    labels, true_labels : np.ndarray
        Given and true class ids; an example is a real error where they differ.
    is_issue : np.ndarray
        The audit's boolean issue flags.
    quality_scores : np.ndarray
        The audit's label-quality scores (low = likely wrong).
    suggested_labels : np.ndarray, optional
        The audit's suggested labels, scored as accuracy against the true labels.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` of the flagged set; ``average_precision``
        and ``auroc`` of the ranking; counts; ``suggested_label_accuracy``.
        AP and AUROC are ``None`` when there are no real errors (or only errors).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    errors = np.asarray(labels) != np.asarray(true_labels)
    flagged = np.asarray(is_issue, dtype=bool)
    tp = int((errors & flagged).sum())
    fp = int((~errors & flagged).sum())
    fn = int((errors & ~flagged).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both_present = 0 < errors.sum() < errors.size
    badness = -np.asarray(quality_scores, dtype=np.float64)
    out = {
        "num_true_errors": int(errors.sum()),
        "num_flagged": int(flagged.sum()),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "average_precision": float(average_precision_score(errors, badness)) if both_present else None,
        "auroc": float(roc_auc_score(errors, badness)) if both_present else None,
        "true_noise_rate": float(errors.mean()) if errors.size else 0.0,
    }
    if suggested_labels is not None:
        out["suggested_label_accuracy"] = float((np.asarray(suggested_labels) == np.asarray(true_labels)).mean())
    return out
