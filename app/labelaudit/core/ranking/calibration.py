"""The ``calibrated_posterior`` issue filter: confident learning's ``prune_by_noise_rate`` rows and those whose
given label the calibrated model gives at most a :data:`~labelaudit.core.constants.POSTERIOR_ISSUE_LEVEL` chance.

Confident learning flags a row only when another class's probability reaches that class's mean
self-confidence (0.97-0.99 for models trained on a few thousand images), which the out-of-sample
probabilities of real label errors rarely do: on the MNIST test set's real errors it flags 0-3 rows. This
filter instead asks the probabilities, once calibrated, how likely the given label is:

1. one temperature ``T`` is fitted to the held-out likelihood of the given labels (the probabilities are
   out-of-sample, so this is temperature scaling on held-out predictions; with few label errors the given
   labels stand for the true ones), on at most :data:`~labelaudit.core.constants.TEMPERATURE_ROWS` rows
   taken at an even stride, so both ranking paths fit the same ``T`` from the same rows;
2. a row is an issue when ``softmax(log p / T)`` gives its given label at most the level (0.1: a flagged
   row's label is wrong with probability at least 0.9 if the calibration holds) and its given label is not
   (nearly) the predicted class, as in cleanlab's filters.

The union keeps confident learning's rows: under heavy noise (pairwise 20%) the temperature fitted to the
noisy labels softens the probabilities and the test alone finds fewer rows (recall 0.46 against cleanlab's
0.6+ on digits). Both steps are row-local once ``T`` is known, so the chunked path computes them chunk by
chunk with the same function (:func:`given_posterior`) and gets the same mask.
"""

from __future__ import annotations

import numpy as np

from labelaudit.core.constants import POSTERIOR_ISSUE_LEVEL, TEMPERATURE_ROWS

_LOG_FLOOR = 1e-30  # probabilities below are treated as this (log 0 would make the likelihood infinite)
_LOG_T_BOUNDS = (-3.0, 3.0)  # T in [0.05, 20]


def temperature_rows(n: int, max_rows: int = TEMPERATURE_ROWS) -> np.ndarray:
    """The rows the temperature is fitted on: all of them, or ``max_rows`` at an even stride."""
    if n <= max_rows:
        return np.arange(n)
    return np.linspace(0, n - 1, max_rows).astype(np.int64)


def fit_temperature(labels: np.ndarray, pred_probs: np.ndarray, *, max_rows: int = TEMPERATURE_ROWS) -> float:
    """The temperature ``T`` that minimises the negative log-likelihood of ``labels`` under
    ``softmax(log(pred_probs) / T)`` (on :func:`temperature_rows`; ``pred_probs`` may be a memory map)."""
    from scipy.optimize import minimize_scalar

    rows = temperature_rows(labels.size, max_rows)
    if not rows.size:
        return 1.0
    logp = np.log(np.clip(np.asarray(pred_probs[rows], dtype=np.float64), _LOG_FLOOR, None))
    y = np.asarray(labels)[rows]
    r = np.arange(rows.size)

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[r, y]))

    res = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def scaled(pred_probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(pred_probs) / T)`` for every row (float64)."""
    z = np.log(np.clip(np.asarray(pred_probs, dtype=np.float64), _LOG_FLOOR, None)) / temperature
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def given_posterior(block: np.ndarray, labels: np.ndarray, temperature: float) -> np.ndarray:
    """The calibrated probability of each row's given label (row-local: the same for any split into blocks)."""
    return scaled(block, temperature)[np.arange(labels.size), labels]


def posterior_issues(block: np.ndarray, labels: np.ndarray, temperature: float,
                     level: float = POSTERIOR_ISSUE_LEVEL) -> np.ndarray:
    """Rows of ``block`` whose calibrated given-label probability is at most ``level`` (before cleanlab's
    "not when the given label is the predicted class" rule, which each path applies)."""
    return given_posterior(block, labels, temperature) <= level
