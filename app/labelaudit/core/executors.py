"""Who runs the folds of a cross-validation: this process, or a Ray cluster.

An executor takes the :class:`~labelaudit.core.folds.FoldSpec` of every fold and the
arrays, runs :func:`~labelaudit.core.folds.train_fold` for each, and returns the
:class:`~labelaudit.core.folds.FoldResult` list in fold order. It reports epochs
through ``on_epoch(fold, epoch, epochs)`` (called in the caller's thread) and
polls ``should_stop`` so a cancelled audit stops promptly.

* :class:`LocalExecutor` (the default): the folds one after another, in process, each
  with its share of the host's CPU budget (:mod:`labelaudit.core.cpubudget`): the
  executor holds a lease while the folds run and asks it for a thread count before
  each fold, so a job that starts or ends beside it changes its share at the next fold.
  With ``concurrent_folds`` the folds of a small torch backbone train together instead,
  one stacked model on one device (:func:`~labelaudit.core.folds.train_folds_together`),
  which fills a GPU that one small model leaves mostly idle.
* :class:`RayExecutor`: one Ray task per fold, all submitted at once. The arrays
  go into Ray's object store once; each task asks for ``cpus_per_fold`` CPUs and
  ``gpus_per_fold`` GPUs (fractions share a GPU); a task that raises or whose
  worker dies is retried up to ``max_retries`` times (option errors and
  cancellation are not); progress comes back through a small actor; on cancel the
  driver force-cancels the tasks.

Which one an audit uses is the caller's choice: the service layer picks it from the
settings (:mod:`labelaudit.services.executors`); the domain reads no settings.

A fold's result depends only on its spec and the arrays, and the spec carries the
fold's seed and thread count, so both executors give identical ``pred_probs`` for the
same seed and thread count (on CPU; see the README on GPUs). A torch fold's result
on CPU may change in its last bits with its thread count, which a shared budget makes
depend on what else runs on the host (see docs/architecture.md).

``ray`` is an optional dependency (``pip install 'labelaudit[ray]'``), imported
only when a :class:`RayExecutor` is used.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

from labelaudit.core.backbones.device import resolve_device
from labelaudit.core.cpubudget import CpuBudget
from labelaudit.core.constants import CONCURRENT_FOLDS_BACKBONES
from labelaudit.core.folds import (
    FoldPlan, FoldResult, FoldSpec, can_train_together, local_threads, train_fold, train_folds_together,
)
from labelaudit.core.progress import StopCheck, check_stop
from labelaudit.errors import AuditFailed, LabelAuditError, OptionError

if TYPE_CHECKING:
    from labelaudit.core.backbones import Backbone

FoldEpochCallback = Callable[[int, int, int], None]


class FoldFailed(AuditFailed):
    """A fold kept failing after its retries (a bug or a resource problem, not the caller's input)."""

    code = "fold_failed"

    def __init__(self, fold: int, folds: int, attempts: int, cause: BaseException):
        self.fold, self.folds, self.attempts, self.cause = fold, folds, attempts, cause
        super().__init__(f"fold {fold + 1}/{folds} failed after {attempts} attempt{'s' if attempts != 1 else ''}: "
                         f"{_describe(cause)}")


class Executor(Protocol):
    """Runs the folds of one cross-validation."""

    name: str

    def device_for(self, requested: str, model: Backbone) -> str:
        """The device the folds train on (``cpu``, ``cuda``...) for the requested one (a checked name)."""
        ...

    def threads(self) -> int:
        """Torch intra-op threads each fold trains with."""
        ...

    def run_folds(self, specs: Sequence[FoldSpec], features: np.ndarray, labels: np.ndarray, plan: FoldPlan, *,
                  on_epoch: FoldEpochCallback | None = None,
                  should_stop: StopCheck | None = None) -> list[FoldResult]:
        """Every fold's result, in the order of ``specs``."""
        ...


#: Values of ``concurrent_folds``.
CONCURRENT_FOLDS = ("auto", "on", "off")


class LocalExecutor:
    """The folds one after another in this process (the default), or all together on one device.

    Parameters
    ----------
    budget : CpuBudget, optional
        The host's CPU budget; each fold trains with this job's share of it (torch,
        OpenMP and BLAS threads). ``None``: an unshared budget of every core (a lone job).
    concurrent_folds : {"auto", "on", "off"}
        ``on``: train the folds together, as one stacked model (:func:`train_folds_together`),
        when the backbone can (the torch ``mlp`` and image backbones, without pretrained weights
        or ``torch.compile``); ``off``: one after another; ``auto`` (the default): together on a
        GPU for the backbones of :data:`~labelaudit.core.constants.CONCURRENT_FOLDS_BACKBONES`,
        else one after another. Either way the probabilities agree up to floating-point rounding.
    """

    name = "local"

    def __init__(self, budget: CpuBudget | None = None, concurrent_folds: str = "auto"):
        if concurrent_folds not in CONCURRENT_FOLDS:
            raise OptionError(f"concurrent_folds must be one of {', '.join(CONCURRENT_FOLDS)}",
                              field="concurrent_folds")
        self.budget = budget or CpuBudget()
        self.concurrent_folds = concurrent_folds

    def together(self, specs: Sequence[FoldSpec], features) -> bool:
        """Whether :meth:`run_folds` trains these folds together."""
        if self.concurrent_folds == "off" or not can_train_together(specs, features):
            return False
        if self.concurrent_folds == "on":
            return True
        return specs[0].device.startswith("cuda") and specs[0].model.name in CONCURRENT_FOLDS_BACKBONES

    def device_for(self, requested: str, model: Backbone) -> str:
        return resolve_device(requested) if model.uses_torch else "cpu"

    def threads(self) -> int:
        return self.budget.total

    def run_folds(self, specs, features, labels, plan, *, on_epoch=None, should_stop=None):
        results = []
        with self.budget.lease() as lease:
            if specs and specs[0].device == "cpu":  # a GPU job does not queue for the CPU's threads
                lease.wait_turn(should_stop)
            if self.together(specs, features):
                check_stop(should_stop)
                threads = lease.threads()
                specs = [dataclasses.replace(spec, threads=threads) for spec in specs]
                return train_folds_together(specs, features, labels, plan, on_epoch=on_epoch,
                                            should_stop=should_stop)
            for spec in specs:
                check_stop(should_stop)
                spec = dataclasses.replace(spec, threads=lease.threads())
                fold_epoch = None if on_epoch is None else (lambda e, t, _f=spec.fold: on_epoch(_f, e, t))
                results.append(train_fold(spec, features, labels, plan, on_epoch=fold_epoch,
                                          should_stop=should_stop, threads_now=lease.threads))
        return results


class RayExecutor:
    """One Ray task per fold on a Ray cluster (``RAY_ADDRESS``) or on a local one started on first use.

    Parameters
    ----------
    cpus_per_fold : float
        CPUs each fold's task requests.
    gpus_per_fold : float, optional
        GPUs each torch fold's task requests (fractions share a GPU); ``None``: 1
        when the cluster has GPUs, else 0. Folds of non-torch backbones request none.
    max_retries : int
        Retries of a fold whose task raised or whose worker died.
    torch_threads : int
        Torch threads per fold; 0: as many as :class:`LocalExecutor` would use in
        this process, which keeps ``pred_probs`` identical to a local run.
    poll_seconds : float
        How often the driver collects progress and polls ``should_stop``.
    address, num_cpus :
        Passed to :func:`ensure_ray` when Ray is not initialised yet.
    """

    name = "ray"

    def __init__(self, *, cpus_per_fold: float = 1.0, gpus_per_fold: float | None = None, max_retries: int = 2,
                 torch_threads: int = 0, poll_seconds: float = 0.1, address: str | None = None,
                 num_cpus: int | None = None):
        if cpus_per_fold <= 0:
            raise OptionError("ray cpus_per_fold must be positive", field="ray_cpus_per_fold")
        if gpus_per_fold is not None and gpus_per_fold < 0:
            raise OptionError("ray gpus_per_fold must not be negative", field="ray_gpus_per_fold")
        if max_retries < 0:
            raise OptionError("ray max_retries must not be negative", field="ray_max_retries")
        self.cpus_per_fold = cpus_per_fold
        self.gpus_per_fold = gpus_per_fold
        self.max_retries = max_retries
        self.torch_threads = torch_threads
        self.poll_seconds = poll_seconds
        self.address = address
        self.num_cpus = num_cpus
        #: ObjectRefs of the last run's fold tasks (for inspection: cancelled ones raise TaskCancelledError).
        self.last_refs: list = []

    def _gpus(self) -> float:
        if self.gpus_per_fold is not None:
            return float(self.gpus_per_fold)
        import ray

        ensure_ray(self.address, self.num_cpus)
        return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0

    def device_for(self, requested: str, model: Backbone) -> str:
        if not model.uses_torch or requested == "cpu":
            return "cpu"
        gpus = self._gpus()
        if requested == "auto":
            return "cuda" if gpus > 0 else "cpu"
        if gpus <= 0:  # "cuda" or "cuda:N"; Ray hands each task its own GPU, which the task sees as cuda:0
            raise OptionError("device 'cuda' was asked for but the Ray executor requests no GPUs "
                              "(the cluster has none, or LABELAUDIT_RAY_GPUS_PER_FOLD is 0)", field="device")
        return "cuda"

    def threads(self) -> int:
        return self.torch_threads or local_threads()

    def run_folds(self, specs, features, labels, plan, *, on_epoch=None, should_stop=None):
        import ray
        from ray.exceptions import RayError, RayTaskError

        check_stop(should_stop)
        ensure_ray(self.address, self.num_cpus)
        if not specs:
            return []
        gpus = self._gpus()
        remote = _remote_train_fold()
        # Shipped once: every task gets the same object-store copies (zero-copy reads on one node).
        features_ref, labels_ref, plan_ref = ray.put(features), ray.put(labels), ray.put(plan)
        channel = _progress_channel().remote()
        # More torch threads than a task's CPUs (kept so pred_probs equal a local run) need OpenMP threads that
        # sleep while they wait: set for the whole job by ensure_ray, else per task (a separate worker pool).
        passive = "OMP_WAIT_POLICY" in _job_env_vars()
        refs = []
        for spec in specs:
            num_gpus = gpus if spec.device.startswith("cuda") else 0
            extra = {}
            if spec.threads > self.cpus_per_fold and not passive:
                extra["runtime_env"] = {"env_vars": dict(FOLD_ENV)}
            refs.append(remote.options(
                num_cpus=self.cpus_per_fold, num_gpus=num_gpus, max_retries=self.max_retries,
                retry_exceptions=True, name=f"labelaudit-fold-{spec.fold + 1}-of-{spec.folds}", **extra,
            ).remote(spec, features_ref, labels_ref, plan_ref, channel))
        self.last_refs = list(refs)
        fold_of = {ref: spec for ref, spec in zip(refs, specs)}
        results: dict[int, FoldResult] = {}
        pending = list(refs)

        def relay() -> None:
            for fold, epoch, total in ray.get(channel.drain.remote()):
                if on_epoch is not None:
                    on_epoch(fold, epoch, total)

        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=len(pending), timeout=self.poll_seconds)
                relay()
                for ref in ready:
                    spec = fold_of[ref]
                    try:
                        out = ray.get(ref)
                    except RayTaskError as exc:
                        raise FoldFailed(spec.fold, spec.folds, self.max_retries + 1, _cause(exc)) from exc
                    except RayError as exc:  # the worker or node died more often than the retries allow
                        raise FoldFailed(spec.fold, spec.folds, self.max_retries + 1, exc) from exc
                    if isinstance(out, _NotRetried):
                        raise out.error
                    results[spec.fold] = out
                check_stop(should_stop)
            relay()
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            if pending:  # let the cancellations land before the caller moves on
                ray.wait(pending, num_returns=len(pending), timeout=5.0)
            raise
        finally:
            try:
                ray.kill(channel)
            except Exception:  # pragma: no cover - the cluster went away; nothing left to clean up
                pass
        return [results[spec.fold] for spec in specs]


def _job_env_vars() -> dict:
    """Environment variables of the current Ray job's runtime environment."""
    import ray

    try:
        return dict((ray.get_runtime_context().runtime_env or {}).get("env_vars") or {})
    except Exception:  # pragma: no cover - e.g. an older Ray Client without it
        return {}


class _NotRetried:
    """A fold's deliberate error (bad option, cancellation), returned instead of raised so Ray does not retry it."""

    def __init__(self, error: LabelAuditError):
        self.error = error


def _run_fold_task(spec: FoldSpec, features, labels, plan: FoldPlan, channel):
    """The body of a fold's Ray task."""
    import ray

    def on_epoch(epoch: int, total: int) -> None:
        # Waited for, so every report lands before the task's result (and the channel stays in step).
        ray.get(channel.report.remote(spec.fold, epoch, total))

    try:
        return train_fold(spec, features, labels, plan, on_epoch=on_epoch)
    except LabelAuditError as exc:
        return _NotRetried(exc)


_REMOTE = {}
_REMOTE_LOCK = threading.Lock()


def _remote_train_fold():
    """``_run_fold_task`` as a Ray remote function (made once, when Ray is first used)."""
    with _REMOTE_LOCK:
        if "task" not in _REMOTE:
            import ray

            _REMOTE["task"] = ray.remote(_run_fold_task)
        return _REMOTE["task"]


def _progress_channel():
    """The actor class that carries epoch reports from the fold tasks to the driver."""
    with _REMOTE_LOCK:
        if "channel" not in _REMOTE:
            import ray

            @ray.remote(num_cpus=0)
            class ProgressChannel:
                def __init__(self):
                    self.reports: list[tuple[int, int, int]] = []

                def report(self, fold: int, epoch: int, total: int) -> None:
                    self.reports.append((fold, epoch, total))

                def drain(self) -> list[tuple[int, int, int]]:
                    out, self.reports = self.reports, []
                    return out

            _REMOTE["channel"] = ProgressChannel
        return _REMOTE["channel"]


_INIT_LOCK = threading.Lock()

#: Environment of the fold tasks. Folds often train with more torch threads than their task's CPUs (to match a
#: local run bit for bit); OpenMP threads that spin while they wait then starve each other (measured: 3-fold MLP
#: runs on 2 busy cores took 11-15 s instead of about 1 s). Sleeping waits change no result, only the waiting.
FOLD_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def job_runtime_env() -> dict:
    """The runtime environment :func:`ensure_ray` starts its Ray job with (a user's OMP_WAIT_POLICY wins)."""
    return {"env_vars": {k: os.environ.get(k, v) for k, v in FOLD_ENV.items()}}


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to Ray once per process: the cluster at ``address`` (or ``RAY_ADDRESS``), else a local one.

    A process that already called ``ray.init`` keeps its connection. A local
    cluster uses ``num_cpus`` CPUs (all when ``None``) and no dashboard. The job's
    tasks run with :data:`FOLD_ENV`.
    """
    import ray

    with _INIT_LOCK:
        if ray.is_initialized():
            return
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            ray.init(address=address, runtime_env=job_runtime_env(), ignore_reinit_error=True, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=job_runtime_env(),
                     ignore_reinit_error=True, log_to_driver=False)


def _cause(exc: BaseException) -> BaseException:
    """The user exception inside a RayTaskError, when there is one."""
    inner = getattr(exc, "cause", None)
    return inner if isinstance(inner, BaseException) else exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".rstrip(": ")
