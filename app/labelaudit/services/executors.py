"""Which executor runs an audit's folds: the choice the settings make (``LABELAUDIT_EXECUTOR``).

The domain (:mod:`labelaudit.core.executors`) reads no settings; the worker, the CLI
and the CI gate get their executor here.
"""

from __future__ import annotations

import importlib.util

from labelaudit.core.executors import Executor, LocalExecutor, RayExecutor
from labelaudit.config import Settings, get_settings
from labelaudit.errors import MissingExtra


def executor_from_settings(settings: Settings | None = None) -> Executor:
    """The executor ``settings.executor`` names (``local`` or ``ray``); the process's settings when omitted."""
    if settings is None:
        settings = get_settings()
    if settings.executor == "ray":
        if importlib.util.find_spec("ray") is None:
            raise MissingExtra("LABELAUDIT_EXECUTOR=ray needs Ray: pip install 'labelaudit[ray]'", field="executor")
        return ray_executor_from_settings(settings)
    return LocalExecutor()


def ray_executor_from_settings(settings: Settings) -> RayExecutor:
    """A :class:`~labelaudit.core.executors.RayExecutor` with the ``ray_*`` settings."""
    return RayExecutor(cpus_per_fold=settings.ray_cpus_per_fold, gpus_per_fold=settings.ray_gpus_per_fold,
                       max_retries=settings.ray_max_retries, torch_threads=settings.ray_torch_threads,
                       address=settings.ray_address, num_cpus=settings.ray_num_cpus)
