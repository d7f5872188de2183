"""Which executor runs an audit's folds, and with what CPU budget: the choice the settings make.

``LABELAUDIT_EXECUTOR`` names the executor (``LABELAUDIT_CONCURRENT_FOLDS``: whether the local one
trains the folds together); ``LABELAUDIT_CPU_THREADS`` and
``LABELAUDIT_CPU_BUDGET`` the host's CPU budget that local jobs share through
``<data_dir>/cpu-budget/``. The domain (:mod:`labelaudit.core.executors`,
:mod:`labelaudit.core.cpubudget`) reads no settings; the worker, the CLI and the CI
gate get their executor here.
"""

from __future__ import annotations

import getpass
import importlib.util
import tempfile
from pathlib import Path

from labelaudit.core.cpubudget import CpuBudget
from labelaudit.core.executors import Executor, LocalExecutor, RayExecutor
from labelaudit.config import Settings, get_settings
from labelaudit.errors import MissingExtra

#: The folder under ``data_dir`` where the leases of the CPU budget live.
CPU_BUDGET_DIR = "cpu-budget"


def cpu_budget_from_settings(settings: Settings | None = None) -> CpuBudget:
    """The host's CPU budget: ``cpu_threads`` threads (0: every core), shared through ``data_dir/cpu-budget``
    unless ``cpu_budget`` is off."""
    if settings is None:
        settings = get_settings()
    return CpuBudget(cpu_budget_dir(settings) if settings.cpu_budget == "shared" else None,
                     threads=settings.cpu_threads)


def cpu_budget_dir(settings: Settings) -> Path:
    """Where the budget's leases live: ``cpu_budget_dir``; else ``data_dir/cpu-budget`` when ``data_dir`` exists
    (a service's, or a CLI run beside one, which then shares with it); else this user's folder in the system's
    temporary directory, so a CLI run never creates a data folder where it runs."""
    if settings.cpu_budget_dir is not None:
        return settings.cpu_budget_dir
    if settings.data_dir.is_dir():
        return settings.data_dir / CPU_BUDGET_DIR
    return Path(tempfile.gettempdir()) / f"labelaudit-{getpass.getuser()}" / CPU_BUDGET_DIR


def executor_from_settings(settings: Settings | None = None) -> Executor:
    """The executor ``settings.executor`` names (``local`` or ``ray``); the process's settings when omitted."""
    if settings is None:
        settings = get_settings()
    if settings.executor == "ray":
        if importlib.util.find_spec("ray") is None:
            raise MissingExtra("LABELAUDIT_EXECUTOR=ray needs Ray: pip install 'labelaudit[ray]'", field="executor")
        return ray_executor_from_settings(settings)
    return LocalExecutor(budget=cpu_budget_from_settings(settings), concurrent_folds=settings.concurrent_folds)


def ray_executor_from_settings(settings: Settings) -> RayExecutor:
    """A :class:`~labelaudit.core.executors.RayExecutor` with the ``ray_*`` settings."""
    return RayExecutor(cpus_per_fold=settings.ray_cpus_per_fold, gpus_per_fold=settings.ray_gpus_per_fold,
                       max_retries=settings.ray_max_retries, torch_threads=settings.ray_torch_threads,
                       address=settings.ray_address, num_cpus=settings.ray_num_cpus)


def cpu_status(settings: Settings) -> dict:
    """The worker concurrency and the CPU budget, for ``/v1/usage`` and the logs."""
    budget = cpu_budget_from_settings(settings)
    return {"executor": settings.executor, "workers": settings.workers, "cpu_budget": settings.cpu_budget,
            **budget.snapshot()}
