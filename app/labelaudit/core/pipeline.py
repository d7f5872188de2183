"""``run_audit``: the one place where the audit steps are chained.

dataset -> (cross-validated pred_probs, unless the dataset brings its own)
        -> confident-learning ranking -> evaluation (when true labels are known)

The worker and the CLI both call :func:`run_audit`, so a check on a laptop and a
job on a GPU server run the same code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from labelaudit.core.constants import TRAIN_PROGRESS_SHARE
from labelaudit.core.crossval import CrossValResult, cross_validate
from labelaudit.core.dataset import Dataset
from labelaudit.core.evaluate import evaluate_audit
from labelaudit.core.executors import Executor, LocalExecutor
from labelaudit.core.keys import example_keys, has_stable_keys
from labelaudit.core.mapped import is_mapped
from labelaudit.core.options import AuditOptions, check_options, check_options_for, ensemble_size
from labelaudit.core.order import canonical_order, key_hashes
from labelaudit.core.progress import Progress, ProgressCallback, StopCheck, check_stop, report
from labelaudit.core.ranking import CHUNKED_RANKING_CELLS, Ranking, compute_ranking
from labelaudit.core.reference import align_reference, reference_keys
from labelaudit.core.table_features import model_input
from labelaudit.vocab import WeightsMode

__all__ = ["AuditOptions", "AuditResult", "check_options", "check_options_for", "run_audit"]



@dataclass(frozen=True)
class AuditResult:
    """Everything an audit produced.

    ``pred_probs`` are the out-of-sample probabilities (the caller's own for a
    pred_probs dataset); ``ranking`` the confident-learning results; ``evaluation``
    the scores against known true labels, or ``None``.
    """

    dataset: Dataset
    options: AuditOptions
    pred_probs: np.ndarray
    ranking: Ranking
    evaluation: dict | None
    crossval: CrossValResult | None
    timings: dict
    reference_examples: int | None = None  # rows of the reference data every fold also trained on

    @property
    def backbone(self) -> str | None:
        return self.crossval.backbone if self.crossval else None

    @property
    def neighbour_scores(self) -> np.ndarray | None:
        """Per example (``options.neighbours`` > 0), the similarity-weighted share of its ``k`` nearest training
        examples in the fold model's embedding that carry its given label (smoothed; 0-1, low: its
        neighbourhood says another class); ``None`` when the audit computed no neighbourhood score."""
        near = self.crossval.neighbour_probs if self.crossval else None
        if near is None:
            return None
        return near[np.arange(len(self.dataset.labels)), self.dataset.labels]

    def summary(self) -> dict:
        """Headline figures: issue count and rate, health, noise matrix, per-class table."""
        r, ds = self.ranking, self.dataset
        cv = self.crossval
        return {
            "num_examples": ds.num_examples,
            "num_classes": ds.num_classes,
            "class_names": list(ds.class_names),
            "modality": ds.modality,
            "missing_labels": missing_labels(ds),
            "reference_examples": self.reference_examples,
            "num_issues": r.num_issues,
            "issue_rate": r.issue_rate,
            "estimated_num_issues": r.estimated_num_issues,
            "health_score": r.health_score,
            "cv_accuracy": float((r.suggested_labels == ds.labels).mean()),  # the argmax of pred_probs
            "backbone": cv.backbone if cv else None,
            "device": cv.device if cv else None,
            "epochs": cv.epochs if cv else None,
            "folds": self.options.folds if cv else None,
            "ensemble": ensemble_summary(cv),
            "neighbours": self.neighbour_summary(),
            "rank_method": r.rank_method,
            "filter_by": r.filter_by,
            "noise_matrix": r.noise_matrix.tolist(),
            "joint": r.joint.tolist(),
            "classes": r.class_table(ds.class_names),
        }

    def neighbour_summary(self) -> dict | None:
        """``k``, ``disagreement_rate`` (share of examples whose neighbours' weighted vote is another class than
        their given label) and ``flagged_disagreeing`` (issue-set rows among those); ``None`` without the score."""
        near = self.crossval.neighbour_probs if self.crossval else None
        if near is None:
            return None
        disagree = near.argmax(axis=1) != self.dataset.labels
        return {"k": self.options.neighbours, "disagreement_rate": float(disagree.mean()),
                "flagged_disagreeing": int((disagree & self.ranking.is_issue).sum())}

    def rows(self, top: int | None = None) -> Iterator[dict]:
        """Per-example rows in rank order (lowest quality first); ``top`` limits how many."""
        r, ds = self.ranking, self.dataset
        names = ds.class_names
        near = self.neighbour_scores
        order = r.order if top is None else r.order[:top]
        for rank, i in enumerate(order.tolist()):
            row = {
                "rank": rank,
                "index": i,
                "given_label": int(ds.labels[i]),
                "suggested_label": int(r.suggested_labels[i]),
                "quality_score": float(r.quality_scores[i]),
                "is_issue": bool(r.is_issue[i]),
                "given_class": names[ds.labels[i]],
                "suggested_class": names[r.suggested_labels[i]],
            }
            if near is not None:
                row["neighbour_score"] = float(near[i])
            if ds.true_labels is not None:
                row["true_label"] = int(ds.true_labels[i])
            if ds.example_ids is not None:
                row["example_id"] = str(ds.example_ids[i])
            yield row

    def to_dict(self, top: int | None = None) -> dict:
        """The whole result as JSON-ready data with stable keys."""
        return {
            "dataset": self.dataset.describe(),
            "options": self.options.to_dict(),
            "summary": self.summary(),
            "evaluation": self.evaluation,
            "timings": self.timings,
            "issues": list(self.rows(top)),
        }


def ensemble_summary(cv: CrossValResult | None) -> dict | None:
    """Models per fold and how they agree: ``members``, ``agreement`` (share of examples every model predicts the
    same class for; ``None`` for one model) and each model's ``member_cv_accuracy``; ``None`` without training."""
    if cv is None:
        return None
    return {"members": cv.members, "agreement": cv.member_agreement,
            "member_cv_accuracy": [round(a, 6) for a in cv.member_accuracy]}


def missing_labels(ds: Dataset) -> dict:
    """Rows of a table left out of the audit for want of a label: ``count``, ``rows`` (their positions in the
    table) and ``ids`` (their id column's values, when there is one)."""
    return dict(ds.meta.get("missing_labels") or {"count": 0, "rows": []})


def run_audit(
    dataset: Dataset,
    options: AuditOptions | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    executor: Executor | None = None,
    reference: Dataset | None = None,
) -> AuditResult:
    """Audit a dataset's labels.

    Parameters
    ----------
    dataset : Dataset
        A validated dataset (see :mod:`labelaudit.core.ingest`).
    options : AuditOptions, optional
    progress : callable, optional
        Receives :class:`~labelaudit.core.progress.Progress` reports (stage, fold,
        epoch, overall fraction).
    should_stop : callable, optional
        Polled between epochs and steps; True cancels with ``AuditCancelled``.
    executor : Executor, optional
        Runs the cross-validation folds (:mod:`labelaudit.core.executors`); the in-process
        :class:`~labelaudit.core.executors.LocalExecutor` when omitted (the service layer's
        ``labelaudit.services.executors.executor_from_settings`` picks one from the settings).
    reference : Dataset, optional
        Trusted labelled data of the same kind (:mod:`labelaudit.core.reference`): its rows join every fold's
        training part and are never ranked. Its class names must be among ``dataset``'s.

    Returns
    -------
    AuditResult
    """
    options = options or AuditOptions()
    model = check_options(dataset, options)  # the one check; what follows trusts the options
    if reference is not None:
        reference = align_reference(dataset, reference)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    crossval = None
    # folds, training order and the ranking's ties follow the examples' keys, not their positions
    keys = example_keys(dataset) if has_stable_keys(dataset) else None
    perm = None if keys is None else canonical_order(keys, dataset.labels, key_hashes(keys, options.seed))
    if dataset.modality == "pred_probs":
        pred_probs = dataset.pred_probs
        ranking_start = 0.0
    else:
        def scaled(p: Progress) -> None:
            report(progress, Progress(**{**p.to_dict(), "fraction": p.fraction * TRAIN_PROGRESS_SHARE}))

        report(progress, Progress(stage="training", fraction=0.0, folds=options.folds, message="starting"))
        t = time.perf_counter()
        char_ngrams = bool(options.backbone_options.get("char_ngrams"))
        executor = executor or LocalExecutor()
        features = model_input(dataset, char_ngrams=char_ngrams)
        ref_features = None if reference is None else model_input(reference, char_ngrams=char_ngrams)
        fold_options = options.backbone_options
        if fold_options.get("weights_mode") == WeightsMode.EMBEDDINGS:  # the frozen body runs once, not per fold
            from labelaudit.core.backbones.embeddings import embed_once

            t_embed = time.perf_counter()
            features, ref_features, model = embed_once(
                model, features, ref_features, num_classes=dataset.num_classes, options=fold_options,
                device=executor.device_for(options.device, model), threads=executor.threads())
            fold_options = {}
            timings["embedding_seconds"] = time.perf_counter() - t_embed
        crossval = cross_validate(
            features, dataset.labels, model=model, num_classes=dataset.num_classes, folds=options.folds,
            epochs=options.epochs, seed=options.seed, device=options.device, options=fold_options,
            keys=keys, progress=scaled, should_stop=should_stop, executor=executor,
            reference=None if reference is None else (ref_features, reference.labels, reference_keys(reference)),
            members=ensemble_size(options, model, int(dataset.num_examples * (options.folds - 1) / options.folds)),
            neighbours=options.neighbours,
        )
        timings["crossval_seconds"] = time.perf_counter() - t
        timings["fold_seconds"] = crossval.fold_seconds
        timings["fold_threads"] = crossval.fold_threads
        pred_probs = crossval.pred_probs
        ranking_start = TRAIN_PROGRESS_SHARE

    check_stop(should_stop)
    report(progress, Progress(stage="ranking", fraction=ranking_start, message="ranking label issues"))
    t = time.perf_counter()
    ranking = _rank(dataset.labels, pred_probs, perm, options)
    timings["ranking_seconds"] = time.perf_counter() - t

    evaluation = None
    if dataset.true_labels is not None:
        evaluation = evaluate_audit(dataset.labels, dataset.true_labels, ranking.is_issue, ranking.quality_scores,
                                    ranking.suggested_labels)
    timings["total_seconds"] = time.perf_counter() - started
    report(progress, Progress(stage="done", fraction=1.0, message="done"))
    return AuditResult(dataset=dataset, options=options, pred_probs=pred_probs, ranking=ranking,
                       evaluation=evaluation, crossval=crossval, timings=timings,
                       reference_examples=None if reference is None else reference.num_examples)


def _rank(labels: np.ndarray, pred_probs: np.ndarray, perm: np.ndarray | None, options: AuditOptions) -> Ranking:
    """The ranking, computed on the rows in their canonical order ``perm`` (so that cleanlab's sums and ties do not
    follow row positions) and put back at the rows' positions.

    Your own memory-mapped pred_probs of :data:`CHUNKED_RANKING_CELLS` values or more are ranked where they lie:
    reordering them would copy them into memory.
    """
    if perm is None or (is_mapped(pred_probs) and pred_probs.size >= CHUNKED_RANKING_CELLS):
        return compute_ranking(labels, pred_probs, rank_method=options.rank_method, filter_by=options.filter_by)
    return compute_ranking(labels[perm], np.asarray(pred_probs)[perm], rank_method=options.rank_method,
                           filter_by=options.filter_by).in_positions(perm)

