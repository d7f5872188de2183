"""Figures a dashboard asks for over and over, computed once from an audit's per-example arrays.

Numpy in, JSON-ready dicts out: the class table, a fine score histogram (which
coarser histograms are summed from), and the sparse given x suggested counts
(with how many of each cell are flagged issues). The worker stores them when an
audit finishes, so no dashboard question scans all rows.
"""

from __future__ import annotations

import numpy as np

from labelaudit.core.constants import HISTOGRAM_BINS


def audit_aggregates(
    labels: np.ndarray,
    suggested_labels: np.ndarray,
    quality_scores: np.ndarray,
    is_issue: np.ndarray,
    class_names: list[str],
    *,
    joint: np.ndarray | None = None,
    estimated_noise_rates: list[float] | None = None,
    confident_joint: np.ndarray | None = None,
) -> dict:
    """The stored aggregates of one audit.

    Parameters
    ----------
    labels, suggested_labels : np.ndarray
        Given and suggested class ids, shape ``(n,)``.
    quality_scores : np.ndarray
        Label-quality scores in [0, 1] (values outside are clipped into the end bins).
    is_issue : np.ndarray
        Boolean issue flags.
    class_names : list[str]
    joint : np.ndarray, optional
        cleanlab's estimated joint P(given = i, true = j); picks each class's top
        confused-with class. Without it, the most frequent other suggested label
        among the class's flagged issues is used.
    estimated_noise_rates : list[float], optional
        Per-class estimated noise rates to carry into the class table.
    confident_joint : np.ndarray, optional
        cleanlab's confident joint (counts), stored for the heatmap.

    Returns
    -------
    dict
        ``classes`` (one row per class), ``histogram`` (``bins``, ``counts``,
        ``issue_counts``), ``confusion`` (``[given, suggested, count, issues]`` for
        every non-empty cell) and ``confident_joint`` (or ``None``).
    """
    labels = np.asarray(labels, dtype=np.int64)
    suggested = np.asarray(suggested_labels, dtype=np.int64)
    scores = np.asarray(quality_scores, dtype=np.float64)
    flags = np.asarray(is_issue, dtype=bool)
    k = len(class_names)

    bin_of = np.clip(np.floor(scores * HISTOGRAM_BINS), 0, HISTOGRAM_BINS - 1).astype(np.int64)
    histogram = {"bins": HISTOGRAM_BINS, "range": [0.0, 1.0],
                 "counts": np.bincount(bin_of, minlength=HISTOGRAM_BINS).tolist(),
                 "issue_counts": np.bincount(bin_of[flags], minlength=HISTOGRAM_BINS).tolist()}

    cell = labels * k + suggested
    cell_all = np.bincount(cell, minlength=k * k).reshape(k, k)
    cell_issues = np.bincount(cell[flags], minlength=k * k).reshape(k, k)
    given_ids, sugg_ids = np.nonzero(cell_all)
    confusion = [[int(g), int(s), int(cell_all[g, s]), int(cell_issues[g, s])] for g, s in zip(given_ids, sugg_ids)]

    classes = class_table(class_names, cell_all.sum(axis=1), cell_issues.sum(axis=1), joint=joint,
                          issue_cells=cell_issues, suggested_counts=cell_all.sum(axis=0),
                          estimated_noise_rates=estimated_noise_rates)
    return {"classes": classes, "histogram": histogram, "confusion": confusion,
            "confident_joint": None if confident_joint is None else np.asarray(confident_joint).astype(int).tolist()}


def class_table(class_names: list[str], sizes: np.ndarray, issues: np.ndarray, *, joint: np.ndarray | None = None,
                issue_cells: np.ndarray | None = None, suggested_counts: np.ndarray | None = None,
                estimated_noise_rates: list[float] | None = None) -> list[dict]:
    """The per-class table of an audit: one row per class, the one definition the summary and the dashboard share.

    Parameters
    ----------
    class_names : list[str]
    sizes, issues : np.ndarray
        Examples given each class, and how many of them are flagged.
    joint : np.ndarray, optional
        cleanlab's estimated joint P(given = i, true = j). When given, it decides each
        class's estimated noise rate (the off-diagonal mass of its row, as a share of the
        class) and its top confused-with class (what the class's bad labels really are).
    issue_cells : np.ndarray, optional
        Flagged counts per (given, suggested) cell: the top confused-with class when no
        ``joint`` is known (the most frequent other suggestion among the class's issues).
    suggested_counts : np.ndarray, optional
        How often each class is suggested; adds ``num_suggested`` and ``top_confused_with_id``.
    estimated_noise_rates : list[float], optional
        The noise rates to report when no ``joint`` is known.

    Returns
    -------
    list[dict]
        ``class_id``, ``class_name``, ``size``, ``num_issues``, ``issue_rate``,
        ``estimated_noise_rate``, ``top_confused_with`` (and, with ``suggested_counts``,
        ``num_suggested`` and ``top_confused_with_id``).
    """
    k = len(class_names)
    total = float(np.sum(sizes))
    rows = []
    for c in range(k):
        size = int(sizes[c])
        if joint is not None:
            off = np.asarray(joint[c], dtype=np.float64).copy()
            noise = float(off.sum() - off[c]) * total / size if size else 0.0
            noise = min(max(noise, 0.0), 1.0)
        else:
            off = np.asarray(issue_cells[c], dtype=np.float64).copy() if issue_cells is not None else np.zeros(k)
            noise = None if estimated_noise_rates is None else float(estimated_noise_rates[c])
        off[c] = -1.0
        top = int(np.argmax(off)) if k > 1 and off.max() > 0 else None
        row = {"class_id": c, "class_name": class_names[c], "size": size, "num_issues": int(issues[c]),
               "issue_rate": float(issues[c] / size) if size else 0.0}
        if suggested_counts is not None:
            row["num_suggested"] = int(suggested_counts[c])
        row["estimated_noise_rate"] = noise
        if suggested_counts is not None:
            row["top_confused_with_id"] = top
        row["top_confused_with"] = None if top is None else class_names[top]
        rows.append(row)
    return rows


def rebin(histogram: dict, bins: int) -> dict:
    """A coarser histogram summed from the stored one; ``bins`` must divide its bin count."""
    fine = histogram["bins"]
    if bins < 1 or fine % bins:
        raise ValueError(f"bins must divide {fine}")
    step = fine // bins
    counts = np.asarray(histogram["counts"]).reshape(bins, step).sum(axis=1)
    issue_counts = np.asarray(histogram["issue_counts"]).reshape(bins, step).sum(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    return {"bins": bins, "edges": [round(float(e), 6) for e in edges], "counts": counts.tolist(),
            "issue_counts": issue_counts.tolist()}


def headline(summary: dict | None, timings: dict | None, evaluation: dict | None) -> dict:
    """The few figures an audits list shows: size, issues, health, backbone, duration, AP when known."""
    summary, timings = summary or {}, timings or {}
    return {
        "num_examples": summary.get("num_examples"),
        "num_classes": summary.get("num_classes"),
        "num_issues": summary.get("num_issues"),
        "issue_rate": summary.get("issue_rate"),
        "health_score": summary.get("health_score"),
        "cv_accuracy": summary.get("cv_accuracy"),
        "backbone": summary.get("backbone"),
        "modality": summary.get("modality"),
        "duration_seconds": timings.get("worker_seconds", timings.get("total_seconds")),
        "average_precision": (evaluation or {}).get("average_precision"),
    }
