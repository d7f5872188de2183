"""The host's CPU budget: leases split the cores, dead processes' leases are ignored, the cap holds."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np

from labelaudit.core.cpubudget import CpuBudget, available_cores
from labelaudit.core.crossval import cross_val_pred_probs
from labelaudit.core.executors import LocalExecutor

HOLD = """
import sys, time
from labelaudit.core.cpubudget import CpuBudget
with CpuBudget(sys.argv[1], cores=8).lease() as lease:
    print(lease.threads(), flush=True)
    time.sleep(120)
"""


def test_a_lone_job_gets_every_core(tmp_path):
    budget = CpuBudget(tmp_path)
    with budget.lease() as lease:
        assert lease.threads() == available_cores() == budget.total
    assert budget.live_leases() == []  # the lease file went with the job


def test_leases_split_the_cores_oldest_first_and_a_finished_job_gives_its_share_back(tmp_path):
    budget = CpuBudget(tmp_path, cores=8)
    with budget.lease() as a:
        assert a.threads() == 8
        with budget.lease() as b:
            assert (a.threads(), b.threads()) == (4, 4)
            with budget.lease() as c:
                assert (a.threads(), b.threads(), c.threads()) == (3, 3, 2)
            assert (a.threads(), b.threads()) == (4, 4)
        assert a.threads() == 8


def test_more_jobs_than_cores_get_one_thread_each(tmp_path):
    budget = CpuBudget(tmp_path, cores=2)
    with budget.lease() as a, budget.lease() as b, budget.lease() as c:
        assert [x.threads() for x in (a, b, c)] == [1, 1, 1]


def test_the_cap_holds_alone_and_shared(tmp_path):
    assert CpuBudget(tmp_path, threads=99, cores=4).total == 4  # never more than the cores
    budget = CpuBudget(tmp_path, threads=3, cores=8)
    with budget.lease() as a:
        assert a.threads() == 3
        with budget.lease() as b:
            assert (a.threads(), b.threads()) == (2, 1)


def test_an_unshared_budget_gives_every_job_all_of_it(tmp_path):
    budget = CpuBudget(None, cores=4)
    with budget.lease() as a, budget.lease() as b:
        assert (a.threads(), b.threads()) == (4, 4)
    assert not list(tmp_path.iterdir())


def test_another_process_lease_counts_until_it_dies(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "8"  # alone when it started
        budget = CpuBudget(tmp_path, cores=8)
        with budget.lease() as mine:
            assert mine.threads() == 4  # the other process holds the older lease
            os.kill(proc.pid, signal.SIGKILL)  # dies without removing its lease file
            proc.wait(timeout=30)
            assert len(list(budget.directory.glob("*.lease"))) == 2
            assert mine.threads() == 8
            assert [p.name for p in budget.directory.glob("*.lease")] == [mine.path.name]  # cleaned on the way
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_lease_of_a_reused_pid_is_ignored(tmp_path):
    budget = CpuBudget(tmp_path, cores=8)
    budget.directory.mkdir(parents=True)
    # this process's pid, but another start time: the process that wrote it is gone
    (budget.directory / "00000000000000000001-x.lease").write_text(json.dumps({"pid": os.getpid(), "start": 1}))
    with budget.lease() as mine:
        assert mine.threads() == 8


def test_threads_of_one_process_share_the_budget_in_their_folds(tmp_path, digits):
    X, y = digits
    X, y = X[:300].reshape(300, -1), y[:300]
    budget = CpuBudget(tmp_path, cores=4)
    got = {}

    def audit():
        got["cv"] = cross_val_pred_probs(X, y, num_classes=10, modality="image", backbone="logreg", folds=3,
                                         executor=LocalExecutor(budget))

    with budget.lease() as other:  # another worker thread's job, running all along
        t = threading.Thread(target=audit)
        t.start()
        t.join(timeout=120)
        assert other.threads() == 4  # gets it all again now the audit's job is over
    assert got["cv"].fold_threads == [2, 2, 2]
    alone = cross_val_pred_probs(X, y, num_classes=10, modality="image", backbone="logreg", folds=3,
                                 executor=LocalExecutor(budget))
    assert alone.fold_threads == [4, 4, 4]
    np.testing.assert_array_equal(alone.pred_probs, got["cv"].pred_probs)  # small tables train single-threaded


def test_jobs_beyond_the_budget_wait_their_turn_oldest_first(tmp_path):
    budget = CpuBudget(tmp_path, cores=2)
    with contextlib.ExitStack() as older:
        first, second = older.enter_context(budget.lease()), older.enter_context(budget.lease())
        with budget.lease() as third:
            assert not budget.must_wait(first.path) and not budget.must_wait(second.path)
            assert budget.must_wait(third.path)
            assert third.wait_turn(should_stop=lambda: True) < 1  # a stop request ends the wait
            waited = []
            t = threading.Thread(target=lambda: waited.append(third.wait_turn(poll_seconds=0.01)))
            t.start()
            t.join(0.3)
            assert t.is_alive()  # still waiting while two older jobs hold both threads
            older.close()  # they finish
            t.join(5)
            assert not t.is_alive() and waited[0] >= 0.3
            assert third.threads() == 2


def test_a_cpu_job_beyond_the_budget_trains_after_an_older_one_finishes(tmp_path, digits):
    X, y = digits
    X, y = X[:300].reshape(300, -1), y[:300]
    budget = CpuBudget(tmp_path, cores=1)
    order = []

    def audit():
        cv = cross_val_pred_probs(X, y, num_classes=10, modality="image", backbone="logreg", folds=2,
                                  executor=LocalExecutor(budget))
        order.append(("audit", cv.fold_threads))

    with budget.lease():  # an older job holds the budget's one thread
        t = threading.Thread(target=audit)
        t.start()
        t.join(timeout=1.0)
        assert t.is_alive() and not order  # the audit waits for it
        order.append(("older job done", None))
    t.join(timeout=120)
    assert order == [("older job done", None), ("audit", [1, 1])]


def test_a_torch_fold_gives_threads_back_when_another_job_starts(tmp_path, digits, monkeypatch):
    import torch

    from labelaudit.core.backbones import training

    monkeypatch.setattr(training, "RETUNE_SECONDS", 0.0)  # re-read the share after every step
    X, y = digits
    X, y = X[:300, None], y[:300]
    budget = CpuBudget(tmp_path, cores=2)
    seen, other = [], contextlib.ExitStack()

    def progress(p):
        if p.stage == "training":
            seen.append(torch.get_num_threads())
            if len(seen) == 2:  # after the first fold's first epoch: another job takes its lease
                other.enter_context(budget.lease())

    threads = torch.get_num_threads()
    try:
        with other:
            cv = cross_val_pred_probs(X, y, num_classes=10, modality="image", backbone="cnn", folds=2, epochs=3,
                                      executor=LocalExecutor(budget), progress=progress)
    finally:
        torch.set_num_threads(threads)
    assert cv.fold_threads == [2, 1]  # the second fold starts with the share of two jobs
    assert seen[1] == 2 and seen[2] == 1  # and the first gave its second thread back within its own training
    assert all(t == 1 for t in seen[2:])
