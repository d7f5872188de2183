"""A small audit's output, pinned: refactors of the domain must not change it.

Two layers, each pinned as tightly as the machine allows:

* **Cross-validation** (``run_audit``'s out-of-fold probabilities) is compared with golden arrays in
  ``tests/data/pinned/`` within a tolerance. Training is floating-point work whose last bits depend on the
  CPU's kernels and thread count (an Intel and an AMD EPYC CI machine gave different bytes for the same
  code; one against two torch threads moves the MLP's probabilities by ~1e-4), so a bitwise digest flips
  with the machine and tells a refactor nothing. A change of folds, training order, seeds or preprocessing
  moves them by far more than the tolerance.
* **Ranking** from those fixed golden probabilities is pure numpy and cleanlab counting: it is pinned bit
  for bit (every array of the ranking and its scalars), for the in-memory and the chunked path alike.

The golden arrays were written when fold assignment and training order moved from row positions to example
keys, and the logistic regression's again when it began to take scaled columns without the constant ones
(tables as they come); regenerate them deliberately with ``python tests/audit/test_pinned_digests.py --write``.
The MLP arrays hold on the CPU build of torch 2.13.0 (one torch thread per fold); another torch is skipped.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from labelaudit.core.dataset import Dataset
from labelaudit.core.executors import LocalExecutor
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.core.ranking import rank_label_issues

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "pinned"
RANKING_ARRAYS = ("is_issue", "quality_scores", "suggested_labels", "ranks", "order", "class_sizes", "class_issues",
                  "noise_matrix", "inverse_noise_matrix", "joint", "confident_joint")
#: the default filter (calibrated_posterior since 2026-12-07, its estimate of the issues never below the set's
#: size since a later change); the *_PRUNED digests are prune_by_noise_rate's
#: (the default before), pinned so that confident learning's path stays as it was
LOGREG_RANKING = "94f49727687c58b47836850b3f88b6f4e91f82550fe96b754416387616537046"
LOGREG_RANKING_PRUNED = "af6b566bedadab92fa8dba0dec254f78a12ac1ba570863c1de9519d00307e06a"
MLP_RANKING_PRUNED = "2c0bb5d77bc250a047711280d93f9074a2453a9dd2eec3ad51dd58570d643c26"
MLP_RANKING = "8eaf6acbabab13e65b8af4c40dbdc787b57cedd7c35b96b4e360b9dc00338fe5"
MLP_TORCH_VERSION = "2.13.0+cpu"
TOLERANCE = {"logreg": 1e-4, "mlp": 5e-3}


class OneThreadExecutor(LocalExecutor):
    """The local executor with one torch thread per fold: CPU results depend on the thread count."""

    def threads(self) -> int:
        return 1


def ranking_digest(ranking) -> str:
    """Every array of a Ranking (bytes, dtype and shape) and its scalars, in a fixed order."""
    h = hashlib.sha256()
    for name in RANKING_ARRAYS:
        a = np.ascontiguousarray(getattr(ranking, name))
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    h.update(repr((ranking.health_score, ranking.estimated_num_issues, ranking.rank_method,
                   ranking.filter_by)).encode())
    return h.hexdigest()


def _digits_table(rows: int | None = None) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.images.reshape(len(d.images), -1).astype(np.float32)
    y = d.target.astype(np.int64)
    if rows is not None:
        X, y = X[:rows], y[:rows]
    return Dataset(labels=y, class_names=[str(c) for c in range(10)], modality="tabular", features=X)


def _logreg_audit():
    # no executor: the in-process one
    return run_audit(_digits_table(), AuditOptions(backbone="logreg", folds=3, seed=0, device="cpu"))


def _mlp_audit():
    import torch

    threads = torch.get_num_threads()
    try:
        return run_audit(_digits_table(600), AuditOptions(backbone="mlp", folds=3, epochs=3, seed=0, device="cpu"),
                         executor=OneThreadExecutor())
    finally:
        torch.set_num_threads(threads)


def _assert_close_to_golden(pred_probs: np.ndarray, name: str) -> np.ndarray:
    golden = np.load(GOLDEN / f"{name}_pred_probs.npy")
    assert pred_probs.dtype == golden.dtype and pred_probs.shape == golden.shape
    worst = float(np.abs(pred_probs - golden).max())
    assert worst <= TOLERANCE[name], f"{name} probabilities moved by {worst:.2e} (tolerance {TOLERANCE[name]:.0e})"
    # the suggested label of all but a handful of borderline rows must agree as well
    assert (pred_probs.argmax(1) != golden.argmax(1)).sum() <= 3
    return golden


def test_logreg_cross_validation_matches_the_golden_probabilities():
    result = _logreg_audit()
    assert result.pred_probs.dtype == np.float64 and result.pred_probs.shape == (1797, 10)
    _assert_close_to_golden(result.pred_probs, "logreg")


def test_ranking_of_the_golden_logreg_probabilities_is_pinned_bit_for_bit():
    labels = _digits_table().labels
    golden = np.load(GOLDEN / "logreg_pred_probs.npy")
    assert ranking_digest(rank_label_issues(labels, golden)) == LOGREG_RANKING
    # the chunked path gives the same ranking, bit for bit
    assert ranking_digest(rank_label_issues(labels, golden, chunked=True)) == LOGREG_RANKING
    for chunked in (False, True):
        pruned = rank_label_issues(labels, golden, filter_by="prune_by_noise_rate", chunked=chunked)
        assert ranking_digest(pruned) == LOGREG_RANKING_PRUNED


def test_mlp_cross_validation_matches_the_golden_probabilities():
    torch = pytest.importorskip("torch")
    if torch.__version__ != MLP_TORCH_VERSION:
        pytest.skip(f"the MLP golden arrays hold on torch {MLP_TORCH_VERSION}, this is {torch.__version__}")
    result = _mlp_audit()
    _assert_close_to_golden(result.pred_probs, "mlp")


def test_ranking_of_the_golden_mlp_probabilities_is_pinned_bit_for_bit():
    golden = np.load(GOLDEN / "mlp_pred_probs.npy")
    assert ranking_digest(rank_label_issues(_digits_table(600).labels, golden)) == MLP_RANKING
    pruned = rank_label_issues(_digits_table(600).labels, golden, filter_by="prune_by_noise_rate")
    assert ranking_digest(pruned) == MLP_RANKING_PRUNED


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, audit in (("logreg", _logreg_audit), ("mlp", _mlp_audit)):
        result = audit()
        np.save(GOLDEN / f"{name}_pred_probs.npy", result.pred_probs)
        print(name.upper(), "ranking digest", ranking_digest(rank_label_issues(result.dataset.labels, result.pred_probs)))
