"""A small audit's output, pinned bit for bit: refactors of the domain must not change a single bit.

The digests were computed on the code before the domain was restructured (folds, executors, the ranking
package, one option check) and must hold after it. The logistic-regression digests depend on numpy and
scikit-learn only; the MLP digest also on torch's kernels, so it holds on the CPU build of torch 2.13.0
used here (one torch thread per fold) and is skipped under another torch version.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from labelaudit.audit.dataset import Dataset
from labelaudit.audit.executors import LocalExecutor
from labelaudit.audit.pipeline import AuditOptions, run_audit
from labelaudit.audit.ranking import rank_label_issues

RANKING_ARRAYS = ("is_issue", "quality_scores", "suggested_labels", "ranks", "order", "class_sizes", "class_issues",
                  "noise_matrix", "inverse_noise_matrix", "joint", "confident_joint")

LOGREG_PRED_PROBS = "eab401f798980bb8dd5b5394fa441d74d037a4dbc3ae1d33a98f3f87efa809c3"
LOGREG_RANKING = "255ae029dcf6ae782cea0817eb20468aef2266c8549acd287d3f6ffeae753692"
MLP_TORCH_VERSION = "2.13.0+cpu"
MLP_PRED_PROBS = "9b3e145978ff0903d7654f9926280aa379af5982ab88bb1ef529d49e68eed2bb"
MLP_RANKING = "56802a2cdbae2c616a38e23452a15e8a2151a8fdbeb458c40e29d10da3769ace"


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
