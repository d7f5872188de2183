"""Reference models the benchmarks compare against, run in the same process as ours."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn


class BaselineCNN(ClassifierMixin, BaseEstimator):
    """The reference: conv(32)-pool-conv(64)-pool-fc(128)-fc, Adam, 10 epochs, batch 64, plain cross-entropy."""

    def __init__(self, epochs: int = 10, lr: float = 1e-3, batch_size: int = 64, seed: int = 0, device: str = "cpu"):
        self.epochs, self.lr, self.batch_size, self.seed, self.device = epochs, lr, batch_size, seed, device

    def _net(self, channels: int, side: int, k: int) -> nn.Module:
        flat = 64 * (side // 4) ** 2
        return nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, k))

    def _x(self, X) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(X, dtype=np.float32)).to(self.device)
        return (x - self.mean_) / self.std_

    def fit(self, X, y):
        torch.manual_seed(self.seed)
        X = np.asarray(X, dtype=np.float32)
        self.classes_ = np.unique(y)
        self.mean_, self.std_ = float(X.mean()), float(X.std()) or 1.0
        self.net_ = self._net(X.shape[1], X.shape[2], len(self.classes_)).to(self.device)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        x, t = self._x(X), torch.as_tensor(np.searchsorted(self.classes_, y)).to(self.device)
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), self.batch_size):
                idx = perm[i:i + self.batch_size]
                loss = nn.functional.cross_entropy(self.net_(x[idx]), t[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return self

    @torch.no_grad()
    def predict_proba(self, X):
        self.net_.eval()
        x = self._x(X)
        return torch.cat([torch.softmax(self.net_(x[i:i + 1024]), 1) for i in range(0, len(x), 1024)]).cpu().numpy()

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def cleanlab_baseline(X: np.ndarray, labels: np.ndarray, true: np.ndarray, *, seed: int, device: str = "cpu") -> dict:
    """cleanlab's estimate_cv_predicted_probabilities (5 folds) with the baseline CNN, then cleanlab's defaults."""
    import time

    from cleanlab.count import estimate_cv_predicted_probabilities
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from labelaudit.core.evaluate import evaluate_audit

    X = X.astype(np.float32)
    t = time.perf_counter()
    P = estimate_cv_predicted_probabilities(X, labels, clf=BaselineCNN(seed=seed, device=device), cv_n_folds=5,
                                            seed=seed)
    seconds = time.perf_counter() - t
    issues = find_label_issues(labels, P)
    scores = get_label_quality_scores(labels, P)
    return {**evaluate_audit(labels, true, issues, scores), "seconds": seconds, "images_per_second":
            10 * len(X) * 4 / seconds, "quality_scores": scores}
