"""The audit worker: claims queued audits, runs the pipeline, stores the results.

One job at a time per worker. While a job runs, a heartbeat thread stamps the
audit row every ``settings.heartbeat_seconds``, writes
the latest progress and reads the cancel flag; ``should_stop`` is just a check
of an in-memory event, so training is never slowed by the database. Results
commit in one transaction (:func:`labelaudit.store.queue.finish`). On start-up and while
idle the worker returns audits of dead workers (stale heartbeat) to the queue.

Run one with ``python -m labelaudit.jobs.worker`` or :func:`run_worker`.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
import traceback

import numpy as np

from labelaudit import logs
from labelaudit.core.aggregates import audit_aggregates, headline
from labelaudit.core.pipeline import AuditOptions, AuditResult, run_audit
from labelaudit.core.progress import Progress
from labelaudit.config import Settings, get_settings
from labelaudit.errors import AuditCancelled, AuditFailed, LabelAuditError, NotFound, is_storage_full
from labelaudit.core.reference import align_reference
from labelaudit.services.audits import REFERENCE_FIELD, reference_record, weights_path
from labelaudit.services.executors import cpu_status, executor_from_settings
from labelaudit.store import queries, queue
from labelaudit.store.artifacts import ArtifactStore, artifact_store, dataset_arrays
from labelaudit.store.db import Database, open_database
from labelaudit.store.models import CANCELLED, AuditRecord

log = logging.getLogger("labelaudit.worker")


def new_worker_id() -> str:
    """``host:pid:thread`` plus a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}:{os.urandom(2).hex()}"


def run_worker(settings: Settings, stop_event: threading.Event | None = None, *, db: Database | None = None,
               worker_id: str | None = None, max_jobs: int | None = None) -> int:
    """Claim and run audits until ``stop_event`` is set (or ``max_jobs`` ran); returns the number run.

    Blocking; used by ``labelaudit worker`` and by the API's embedded worker threads. Without a
    ``stop_event``, in the main thread, SIGTERM and SIGINT stop it after the current audit
    (which is handed back to the queue if training is interrupted).
    """
    if stop_event is None:
        stop_event = threading.Event()
        if threading.current_thread() is threading.main_thread():  # `labelaudit worker`: stop cleanly on SIGTERM
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop_event.set())
    own_db = db is None
    db = db or open_database(settings)
    artifacts = artifact_store(settings)
    worker_id = worker_id or new_worker_id()
    done = 0
    last_sweep = 0.0
    with logs.bound(worker_id=worker_id):
        cpu = cpu_status(settings)
        log.info("worker %s started (LABELAUDIT_WORKERS=%d; cpu budget %d of %d cores, %s, %d job(s) "
                 "running)", worker_id, cpu["workers"], cpu["threads"], cpu["cores"], cpu["cpu_budget"],
                 cpu["running"], extra={"event": "worker_started", "cpu": cpu})
        try:
            while not stop_event.is_set() and (max_jobs is None or done < max_jobs):
                if time.monotonic() - last_sweep > min(settings.stale_after_seconds / 2, 30):
                    requeued = queue.requeue_stale(db, stale_after=settings.stale_after_seconds,
                                                   max_attempts=settings.max_attempts)
                    if requeued:
                        log.warning("requeued stale audits: %s", ", ".join(requeued))
                    last_sweep = time.monotonic()
                job = queue.claim(db, worker_id)
                if job is None:
                    stop_event.wait(settings.worker_poll_seconds)
                    continue
                process(job, db=db, artifacts=artifacts, settings=settings, worker_id=worker_id,
                        shutdown=stop_event)
                done += 1
        finally:
            if own_db:
                db.dispose()
            log.info("worker %s stopped after %d audits", worker_id, done, extra={"event": "worker_stopped"})
    return done


def run_pending(settings: Settings, db: Database, *, worker_id: str | None = None) -> int:
    """Run queued audits in this thread until the queue is empty; returns how many ran."""
    artifacts = artifact_store(settings)
    worker_id = worker_id or new_worker_id()
    n = 0
    while (job := queue.claim(db, worker_id)) is not None:
        process(job, db=db, artifacts=artifacts, settings=settings, worker_id=worker_id)
        n += 1
    return n


class _Heartbeat(threading.Thread):
    """Stamps the job's heartbeat and progress; sets ``cancel`` when asked to stop or the job is lost."""

    def __init__(self, db: Database, audit_id: str, worker_id: str, interval: float):
        super().__init__(daemon=True, name=f"heartbeat-{audit_id}")
        self.db, self.audit_id, self.worker_id, self.interval = db, audit_id, worker_id, interval
        self.progress: dict | None = None
        self._written: dict | None = None
        self.cancel = threading.Event()
        self.lost = False
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        progress = self.progress
        try:
            owned, cancel = queue.heartbeat(self.db, self.audit_id, self.worker_id,
                                            progress if progress != self._written else None)
        except Exception:  # a database hiccup must not kill the job; the next beat retries
            log.exception("heartbeat failed for %s", self.audit_id,
                          extra={"audit_id": self.audit_id, "worker_id": self.worker_id})
            return
        self._written = progress
        if not owned:
            self.lost = True
            self.cancel.set()
        elif cancel:
            self.cancel.set()

    def stop(self) -> None:
        self._done.set()


def process(job: AuditRecord, *, db: Database, artifacts: ArtifactStore, settings: Settings, worker_id: str,
            shutdown: threading.Event | None = None) -> str:
    """Run one claimed audit to its end; returns the final status.

    Logs the job's events (``event``: claimed, stage, finished, failed, cancelled,
    released, lost) with ``audit_id`` and ``worker_id``.
    """
    with logs.bound(audit_id=job.id, worker_id=worker_id):
        started = time.perf_counter()
        _event("claimed", "audit %s claimed by %s (attempt %d)", job.id, worker_id, job.attempts,
               attempt=job.attempts)
        status = _run(job, db=db, artifacts=artifacts, settings=settings, worker_id=worker_id, shutdown=shutdown,
                      started=started)
        if status == "done":
            _event("finished", "audit %s finished in %.2fs", job.id, time.perf_counter() - started,
                   duration_ms=_ms(started))
        return status


def _event(event: str, message: str, *args, level: int = logging.INFO, **fields) -> None:
    log.log(level, message, *args, extra={"event": event, **fields})


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def _run(job: AuditRecord, *, db: Database, artifacts: ArtifactStore, settings: Settings, worker_id: str,
         shutdown: threading.Event | None, started: float) -> str:
    hb = _Heartbeat(db, job.id, worker_id, interval=settings.heartbeat_seconds)
    hb.start()
    stage = {"name": None}

    def on_progress(p: Progress) -> None:
        hb.progress = p.to_dict()  # written to the audit row by the heartbeat thread
        if p.stage != stage["name"] and p.stage != "done":
            enter(p.stage)

    def enter(name: str) -> None:
        stage["name"] = name
        _event("stage", "audit %s: %s", job.id, name, stage=name)

    def should_stop() -> bool:
        return hb.cancel.is_set() or (shutdown is not None and shutdown.is_set())

    timings: dict = {}
    try:
        enter("loading")
        with db.sessions() as s:
            rec = queries.get_dataset(s, dataset_id=job.dataset_id, tenant=None)
        t = time.perf_counter()
        ds = dataset_arrays(artifacts, rec)
        reference = _reference(job, ds, db=db, artifacts=artifacts)
        timings["load_seconds"] = time.perf_counter() - t
        options = weights_path(settings, job.options)  # a stored weights name is relative to the weights folder
        opts = AuditOptions(**options)
        if settings.device != "auto" and opts.device == "auto":
            opts = AuditOptions(**{**options, "device": settings.device})
        result = run_audit(ds, opts, progress=on_progress, should_stop=should_stop,
                           executor=executor_from_settings(settings), reference=reference)
        hb.stop()
        if result.timings.get("fold_threads"):
            _event("threads", "audit %s trained its folds with %s thread(s) of the cpu budget", job.id,
                   result.timings["fold_threads"], fold_threads=result.timings["fold_threads"])
        enter("storing")
        status = _store(job, result, db=db, artifacts=artifacts, worker_id=worker_id,
                        timings={**timings, **result.timings}, started=started)
        if status == "lost":
            _event("lost", "audit %s was taken away from %s before its results were stored", job.id, worker_id,
                   level=logging.WARNING)
        return status
    except AuditCancelled as exc:
        hb.stop()
        if hb.lost:
            _event("lost", "audit %s was taken away from %s", job.id, worker_id, level=logging.WARNING)
            return "lost"
        if hb.cancel.is_set():
            queue.fail(db, job.id, worker_id, exc.to_dict(), status=CANCELLED, timings=timings)
            _event("cancelled", "audit %s cancelled", job.id, duration_ms=_ms(started))
            return CANCELLED
        queue.release(db, job.id, worker_id)  # shutting down: somebody else finishes it
        _event("released", "audit %s handed back to the queue (worker stopping)", job.id)
        return "released"
    except LabelAuditError as exc:
        hb.stop()
        queue.fail(db, job.id, worker_id, _without_server_paths(exc.to_dict(), settings), timings=timings)
        # the input's fault is a warning; the audit's own failure (a fold that kept breaking) an error to look into
        failed_itself = isinstance(exc, AuditFailed)
        _event("failed", "audit %s failed: %s", job.id, exc.message,
               level=logging.ERROR if failed_itself else logging.WARNING, reason=exc.code, duration_ms=_ms(started),
               **({"exception": traceback.format_exc()} if failed_itself else {}))
        return "failed"
    except Exception as exc:  # a bug or a resource problem: record it, keep the worker alive
        hb.stop()
        code = "insufficient_storage" if is_storage_full(exc) else "internal_error"
        _event("failed", "audit %s failed: %s: %s", job.id, type(exc).__name__, exc, level=logging.ERROR,
               reason=code, duration_ms=_ms(started), exception=traceback.format_exc())
        queue.fail(db, job.id, worker_id, {"code": code, "field": None,
                                           "message": f"{type(exc).__name__}: {exc}"}, timings=timings)
        return "failed"
    finally:
        hb.stop()


def _reference(job: AuditRecord, ds, *, db: Database, artifacts: ArtifactStore):
    """The audit's reference data aligned to ``ds`` (:func:`labelaudit.core.reference.align_reference`), or
    ``None``; a reference gone or unfit fails the audit naming ``reference_dataset_id``."""
    if job.reference_dataset_id is None:
        return None
    with db.sessions() as s:
        ref = reference_record(s, job.reference_dataset_id, job.tenant)
    try:
        arrays = dataset_arrays(artifacts, ref)
    except FileNotFoundError:
        raise NotFound(f"no dataset {job.reference_dataset_id!r}", field=REFERENCE_FIELD) from None
    return align_reference(ds, arrays, field=REFERENCE_FIELD)


def _without_server_paths(error: dict, settings: Settings) -> dict:
    """An audit's error as its owner sees it: the weights folder's path left out (a weights file is named
    relative to it over the API)."""
    if settings.weights_dir is None or not isinstance(error.get("message"), str):
        return error
    root = str(settings.weights_dir.resolve()) + "/"
    return {**error, "message": error["message"].replace(root, "")}


def _store(job: AuditRecord, result: AuditResult, *, db: Database, artifacts: ArtifactStore, worker_id: str,
           timings: dict, started: float) -> str:
    t = time.perf_counter()
    staged = artifacts.stage_array(result.pred_probs, dtype=np.float32)  # streamed: no float32 copy in memory
    try:
        timings["store_seconds"] = time.perf_counter() - t
        timings["worker_seconds"] = time.perf_counter() - started
        summary = jsonable(result.summary())
        # the file is put in place under its lock in the transaction that stores the rows (store.owners)
        ok = queue.finish(db, job.id, worker_id, row_blocks=result_row_blocks(result), summary=summary,
                          evaluation=jsonable(result.evaluation), timings=jsonable(timings),
                          pred_probs_artifact=staged.digest, aggregates=jsonable(result_aggregates(result)),
                          headline=jsonable(headline(summary, timings, result.evaluation)),
                          artifacts=artifacts, staged=staged)
    finally:
        artifacts.discard(staged)
    return "done" if ok else "lost"


def result_aggregates(result: AuditResult) -> dict:
    """The dashboard aggregates of ``result`` (class table, score histogram, confusion counts)."""
    r, ds = result.ranking, result.dataset
    return audit_aggregates(ds.labels, r.suggested_labels, r.quality_scores, r.is_issue, list(ds.class_names),
                            joint=r.joint, confident_joint=r.confident_joint)


def result_row_blocks(result: AuditResult, block: int = 50_000):
    """The per-example rows of ``result`` in rank order, as column blocks of ``block`` rows
    (:data:`labelaudit.store.models.ROW_COLUMNS` to lists) for the ``audit_rows`` table; one block in memory at a time."""
    r, ds = result.ranking, result.dataset
    order = np.asarray(r.order)
    scores = np.asarray(r.quality_scores, dtype=np.float64)
    issues = np.asarray(r.is_issue, dtype=bool)
    ids = np.asarray(ds.example_ids) if ds.example_ids is not None else None
    near = result.neighbour_scores
    for start in range(0, len(order), block):
        part = order[start:start + block]
        size = len(part)
        yield {
            "rank": list(range(start, start + size)),
            "index": part.tolist(),
            "given_label": ds.labels[part].tolist(),
            "suggested_label": np.asarray(r.suggested_labels)[part].tolist(),
            "quality_score": scores[part].tolist(),
            "is_issue": issues[part].tolist(),
            "true_label": ds.true_labels[part].tolist() if ds.true_labels is not None else [None] * size,
            "example_id": ids[part].astype(str).tolist() if ids is not None else [None] * size,
            "neighbour_score": near[part].tolist() if near is not None else [None] * size,
        }


def result_rows(result: AuditResult):
    """The per-example rows of ``result`` in rank order, as dicts for the ``audit_rows`` table."""
    for cols in result_row_blocks(result):
        keys = list(cols)
        for values in zip(*cols.values()):
            yield dict(zip(keys, values))


def jsonable(obj):
    """``obj`` with numpy scalars and arrays turned into plain JSON values (NaN and infinities become null)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def warm_imports() -> None:
    """Import what audits use before the first job, not during it: cleanlab (about a second) and, where
    installed, torch and the training code (about two more), so that a worker's first audit does not pay
    for them and workers started together do not import while others train.

    For worker processes; the API's embedded workers leave it to their first audit.
    """
    import cleanlab.count  # noqa: F401
    import cleanlab.filter  # noqa: F401
    import cleanlab.rank  # noqa: F401

    try:
        from labelaudit.core.backbones.warm import import_training_stack

        import_training_stack()
    except ImportError:  # no torch: a worker for pred_probs audits only
        pass


def main() -> None:  # pragma: no cover - exercised by the crash test as a subprocess
    """``python -m labelaudit.jobs.worker``: one worker until SIGTERM/SIGINT."""
    settings = get_settings()
    logs.configure_logging(settings)
    warm_imports()
    run_worker(settings)


if __name__ == "__main__":  # pragma: no cover
    main()
