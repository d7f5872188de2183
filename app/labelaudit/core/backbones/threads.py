"""How many threads scikit-learn's native code (OpenMP, BLAS) may use for one fold's model."""

from __future__ import annotations

from contextlib import nullcontext

from labelaudit.core.constants import SINGLE_THREAD_ROWS


def fold_threads(n_train: int, threads: int = 0):
    """A context limiting OpenMP and BLAS to one thread for a fold of fewer than
    :data:`~labelaudit.core.constants.SINGLE_THREAD_ROWS` training rows, else to the fold's
    share of the CPU budget ``threads`` (no limit for 0)."""
    limit = 1 if n_train < SINGLE_THREAD_ROWS else threads
    if not limit:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=limit)
