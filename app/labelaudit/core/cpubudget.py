"""A host's CPU budget: overlapping training jobs share the cores instead of oversubscribing them.

Every job that trains (one audit's cross-validation) takes a :class:`Lease` from a
:class:`CpuBudget` and asks it, before each fold (and a torch fold on the CPU every 0.5 s between its
optimiser steps), how many threads it may use. The
budget (every core this process may use, or fewer when capped) is split evenly between
the live leases; the oldest leases get the remainder; a lone job gets all of it, and
no job gets fewer than one thread. When more jobs train on the CPU than the budget has
threads, the newest ones wait for their turn (:meth:`Lease.wait_turn`) instead of
time-sharing the cores with one thread each, which cost 10-20% of the throughput with
4 jobs on 2 cores (``bench/concurrency.py``); leases are served oldest first.

Leases are files under ``<directory>/<hostname>/`` (one per job), so the processes
sharing a data directory (several ``labelaudit worker`` processes, CLI audits, a CI
runner's parallel jobs) and the threads of one process (``LABELAUDIT_WORKERS``) count
each other alike. A lease file names its process (pid and start time), so the lease of
a process that died without removing it (killed, out of memory) is ignored, and
removed by the next job that sees it. A budget without a directory does not
coordinate: every lease gets the whole budget (today's behaviour of one job per host).

The domain reads no settings: the service layer builds the budget
(``labelaudit.services.executors``) and hands it to the executor.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

_SUFFIX = ".lease"


def available_cores() -> int:
    """Every core this process may use (its CPU affinity, else the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot; 0 when unknown), ``None`` when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # pragma: no cover - no /proc: ask the kernel whether the pid lives
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def _is_live(path: Path) -> bool:
    """Whether the process that wrote lease ``path`` still runs (a pid taken by a newer process does not count)."""
    try:
        owner = json.loads(path.read_text())
        pid, start = int(owner["pid"]), int(owner.get("start", 0))
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):  # half-written by a live writer: counted until it is whole
        return True
    ticks = start_ticks(pid)
    if ticks is None:
        return False
    return not (start and ticks and ticks != start)


class CpuBudget:
    """Threads for the training jobs of one host, split between the jobs that hold a lease.

    Parameters
    ----------
    directory : Path, optional
        Where the leases live (``<data_dir>/cpu-budget`` in the service); ``None``:
        no coordination, every job gets the whole budget.
    threads : int
        The host's budget: threads all jobs together may use; 0: every core this
        process may use. Capped at ``cores``.
    cores : int, optional
        The cores to budget; :func:`available_cores` when omitted.
    """

    def __init__(self, directory: Path | None = None, *, threads: int = 0, cores: int | None = None):
        if threads < 0:
            raise ValueError("threads must not be negative")
        cores = cores or available_cores()
        self.cores = cores
        self.total = min(threads, cores) if threads else cores
        self.directory = None if directory is None else Path(directory) / socket.gethostname()

    @property
    def shared(self) -> bool:
        """Whether jobs sharing this budget's directory split it."""
        return self.directory is not None

    def live_leases(self) -> list[Path]:
        """The leases of running jobs, oldest first; leases of dead processes are removed on the way."""
        if self.directory is None:
            return []
        try:
            paths = sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))
        except FileNotFoundError:
            return []
        live = []
        for path in paths:
            if _is_live(path):
                live.append(path)
            else:
                path.unlink(missing_ok=True)
        return live

    def share(self, lease: Path | None) -> int:
        """Threads the job holding ``lease`` may use now (the whole budget for ``None`` or an unshared budget)."""
        if lease is None or self.directory is None:
            return self.total
        live = self.live_leases()
        if lease not in live:  # removed under us (e.g. by a cleaner): count ourselves anyway
            live = sorted([*live, lease])
        base, extra = divmod(self.total, len(live))
        return max(1, base + (1 if live.index(lease) < extra else 0))

    def must_wait(self, lease: Path | None) -> bool:
        """Whether the job holding ``lease`` should wait: older live leases hold every thread of the budget."""
        if lease is None or self.directory is None:
            return False
        live = self.live_leases()
        return lease in live and live.index(lease) >= self.total

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        """Hold a share of the budget while the block runs (the lease file is removed after it)."""
        path = None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            pid = os.getpid()
            name = f"{time.time_ns():020d}-{pid}-{threading.get_ident()}-{os.urandom(3).hex()}{_SUFFIX}"
            path = self.directory / name
            tmp = path.with_name(name + ".tmp")
            tmp.write_text(json.dumps({"pid": pid, "start": start_ticks(pid) or 0, "host": socket.gethostname()}))
            os.replace(tmp, path)  # whole or absent, never half-written
        try:
            yield Lease(self, path)
        finally:
            if path is not None:
                path.unlink(missing_ok=True)

    def snapshot(self) -> dict:
        """The budget for status pages and logs: ``threads`` in all, whether ``shared``, ``running`` jobs."""
        return {"threads": self.total, "cores": self.cores, "shared": self.shared,
                "running": len(self.live_leases())}


class Lease:
    """One job's hold on a :class:`CpuBudget`; :meth:`threads` is its share now (asked before each fold and, by a
    torch fold on the CPU, between its steps)."""

    def __init__(self, budget: CpuBudget, path: Path | None):
        self.budget, self.path = budget, path

    def threads(self) -> int:
        """Threads this job may use now: the budget split between the live leases (at least one)."""
        if self.path is not None:
            try:
                os.utime(self.path)  # a heartbeat, for anyone looking at the folder
            except FileNotFoundError:
                pass
        return self.budget.share(self.path)

    def wait_turn(self, should_stop: Callable[[], bool] | None = None, poll_seconds: float = 0.05) -> float:
        """Wait while older jobs hold every thread of the budget; returns the seconds waited. ``should_stop``
        is asked while waiting: when it says so, the wait ends early (the caller then stops)."""
        start = time.monotonic()
        while self.budget.must_wait(self.path):
            if should_stop is not None and should_stop():
                break
            time.sleep(poll_seconds)
        return time.monotonic() - start
