"""The database queue on SQLite and PostgreSQL: distinct claims, ownership, stale requeue."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from labelaudit.store import queries, queue
from labelaudit.store.models import AuditRecord, utcnow
from labelaudit.store.transactions import tenant_lock
from labelaudit.services.datasets import save_dataset
from labelaudit.core.ingest import from_pred_probs
from tests.service_fixtures import synthetic_pred_probs


def _dataset(app) -> str:
    P, y = synthetic_pred_probs(50)
    rec = save_dataset(app.state.db, app.state.artifacts, from_pred_probs(P, y), name="p")
    return rec.id


def test_concurrent_workers_claim_distinct_jobs(app):
    db = app.state.db
    ds = _dataset(app)
    ids = {queue.enqueue(db, dataset_id=ds, options={}).id for _ in range(12)}
    claimed: dict[str, list[str]] = {"w1": [], "w2": [], "w3": []}
    barrier = threading.Barrier(3)

    def work(name):
        barrier.wait()
        while (job := queue.claim(db, name)) is not None:
            claimed[name].append(job.id)

    threads = [threading.Thread(target=work, args=(n,)) for n in claimed]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    flat = [i for v in claimed.values() for i in v]
    assert sorted(flat) == sorted(ids)  # every job claimed exactly once
    with db.sessions() as s:
        assert s.scalar(select(func.max(AuditRecord.attempts))) == 1


def test_job_quota_counts_a_concurrent_enqueue_that_held_the_lock(app):
    """Another process's enqueue holds the lock while it adds an active audit: ours waits, then counts it."""
    from sqlalchemy import text

    from labelaudit.errors import TooManyJobs

    db = app.state.db
    ds = _dataset(app)
    outcome: list = []
    with db.engine.connect() as other:
        if db.is_postgres:
            other.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:t, 0))"),
                              {"t": "labelaudit:" + tenant_lock("team")})
        else:
            other.exec_driver_sql("BEGIN IMMEDIATE")

        def ours():
            try:
                outcome.append(queue.enqueue(db, dataset_id=ds, options={}, tenant="team", max_active=1))
            except TooManyJobs as exc:
                outcome.append(exc)

        thread = threading.Thread(target=ours)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive() and not outcome  # waiting for the lock, not counting a stale snapshot
        other.execute(AuditRecord.__table__.insert().values(
            id="au_other", dataset_id=ds, tenant="team", status="queued", options={}, cancel_requested=False,
            attempts=0, created_at=utcnow(), progress={}))
        other.commit()
        thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], TooManyJobs), outcome
    assert outcome[0].code == "too_many_jobs"
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.tenant == "team")) == 1


def _summary() -> dict:
    """A one-example summary of the stored shape (labelaudit.store.documents.AuditSummary)."""
    return {"num_examples": 1, "num_classes": 1, "class_names": ["a"], "modality": "pred_probs", "num_issues": 0,
            "issue_rate": 0.0, "estimated_num_issues": 0, "health_score": 1.0, "cv_accuracy": 1.0,
            "backbone": None, "device": None, "epochs": None, "folds": None, "rank_method": "normalized_margin",
            "filter_by": "prune_by_noise_rate", "noise_matrix": [[1.0]], "joint": [[1.0]],
            "classes": [{"class_id": 0, "class_name": "a", "size": 1, "num_issues": 0, "issue_rate": 0.0,
                         "estimated_noise_rate": 0.0, "top_confused_with": None}]}


def test_finish_by_a_worker_that_lost_the_job_writes_nothing(app):
    db = app.state.db
    job = queue.enqueue(db, dataset_id=_dataset(app), options={})
    assert queue.claim(db, "w1").id == job.id
    with db.sessions.begin() as s:  # w1 goes silent: its heartbeat is old
        s.execute(update(AuditRecord).values(heartbeat_at=utcnow() - timedelta(seconds=120)))
    assert queue.requeue_stale(db, stale_after=60, max_attempts=3) == [job.id]
    assert queue.claim(db, "w2").id == job.id
    rows = [{"rank": 0, "index": 0, "given_label": 0, "suggested_label": 0, "quality_score": 0.5,
             "is_issue": False, "true_label": None, "example_id": None}]
    summary = _summary()
    assert not queue.finish(db, job.id, "w1", rows=rows, summary=summary, evaluation=None, timings={},
                            pred_probs_artifact=None)
    assert queue.heartbeat(db, job.id, "w1") == (False, False)
    with db.sessions() as s:
        assert queries.count_rows(s, audit_id=job.id) == 0
        rec = s.get(AuditRecord, job.id)
        assert rec.status == "running" and rec.worker_id == "w2" and rec.attempts == 2
    assert queue.finish(db, job.id, "w2", rows=rows, summary=summary, evaluation=None, timings={},
                        pred_probs_artifact=None)


def test_stale_job_fails_after_max_attempts(app):
    db = app.state.db
    job = queue.enqueue(db, dataset_id=_dataset(app), options={})
    for attempt in range(2):
        assert queue.claim(db, f"w{attempt}").id == job.id
        with db.sessions.begin() as s:
            s.execute(update(AuditRecord).values(heartbeat_at=utcnow() - timedelta(seconds=120)))
        queue.requeue_stale(db, stale_after=60, max_attempts=2)
    with db.sessions() as s:
        rec = s.get(AuditRecord, job.id)
        assert rec.status == "failed" and rec.error["code"] == "worker_lost"
