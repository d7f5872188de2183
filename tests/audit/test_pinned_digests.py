"""A small audit's output, pinned bit for bit: refactors of the domain must not change a single bit.

The digests were first computed before the domain was restructured (folds, executors, the ranking package,
one option check) and held through it; they were recomputed once, deliberately, when fold assignment and
training order moved from row positions to example keys (audits that do not depend on row order), and
pin the output from then on. The logistic-regression digests depend on numpy and
scikit-learn only; the MLP digest also on torch's kernels, so it holds on the CPU build of torch 2.13.0
used here (one torch thread per fold) and is skipped under another torch version.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from labelaudit.core.dataset import Dataset
from labelaudit.core.executors import LocalExecutor
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.core.ranking import rank_label_issues

RANKING_ARRAYS = ("is_issue", "quality_scores", "suggested_labels", "ranks", "order", "class_sizes", "class_issues",
                  "noise_matrix", "inverse_noise_matrix", "joint", "confident_joint")

LOGREG_PRED_PROBS = "3063b7cc7e6ac366451505e2d734b990c77fcd5a453abaa941aba95eadb8e033"
LOGREG_RANKING = "79b4b5f76b653beab0a5735f94a8a03076822eb777ddbc534dbc1c6e2ac26853"
MLP_TORCH_VERSION = "2.13.0+cpu"
MLP_PRED_PROBS = "fdf5ae8e1baaabfa6a36f939d70411c9987b3c7290ee539a7faeee5f9d714580"
MLP_RANKING = "a0b4cfe765a5077f0d905a0f260b8c202f63437f9e1b29e13357448a9bfa28c8"


class OneThreadExecutor(LocalExecutor):
    """The local executor with one torch thread per fold: CPU results depend on the thread count."""

    def threads(self) -> int:
        return 1


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def test_logreg_audit_of_digits_is_pinned():
    # no executor: the in-process one
    result = run_audit(_digits_table(), AuditOptions(backbone="logreg", folds=3, seed=0, device="cpu"))
    assert result.pred_probs.dtype == np.float64 and result.pred_probs.shape == (1797, 10)
    assert sha256(result.pred_probs.tobytes()) == LOGREG_PRED_PROBS
    assert ranking_digest(result.ranking) == LOGREG_RANKING
    # the chunked path gives the same ranking, bit for bit
    chunked = rank_label_issues(result.dataset.labels, result.pred_probs, chunked=True)
    assert ranking_digest(chunked) == LOGREG_RANKING


def test_mlp_audit_of_digits_is_pinned():
    torch = pytest.importorskip("torch")
    if torch.__version__ != MLP_TORCH_VERSION:
        pytest.skip(f"the MLP digest holds on torch {MLP_TORCH_VERSION}, this is {torch.__version__}")
    threads = torch.get_num_threads()
    try:
        result = run_audit(_digits_table(600), AuditOptions(backbone="mlp", folds=3, epochs=3, seed=0, device="cpu"),
                           executor=OneThreadExecutor())
    finally:
        torch.set_num_threads(threads)
    assert sha256(result.pred_probs.tobytes()) == MLP_PRED_PROBS
    assert ranking_digest(result.ranking) == MLP_RANKING
