"""The FastAPI app factory, its lifespan (database, embedded workers) and ``serve`` (one process, or several
server processes on one port)."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from labelaudit.api import audit_views, audits, datasets, errors, health, openapi, review, usage
from labelaudit.api.deps import authenticate
from labelaudit.api.metrics import Metrics, MetricsMiddleware
from labelaudit.api.request_log import RequestLogMiddleware
from labelaudit.api.timeouts import TimeoutMiddleware
from labelaudit import __version__, dashboard
from labelaudit.config import Settings, get_settings
from labelaudit.store.artifacts import artifact_store
from labelaudit.store.db import open_database
from labelaudit.serving import serve_processes, start_workers, stop_workers
from labelaudit.store.leftovers import clean_leftovers

log = logging.getLogger("labelaudit")


def create_app(settings: Settings | None = None, *, prepared: bool = False) -> FastAPI:
    """Build the API for ``settings``.

    The database is opened (and migrated) when the app starts, and upload
    leftovers are cleaned; ``prepared`` says a parent process did both already
    (``serve`` with several processes). With ``settings.workers > 0`` that many
    audit workers run as threads of this process (embedded mode) and stop with it.
    """
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not prepared:
        clean_leftovers(settings.data_dir, artifact_store(settings), stale_seconds=settings.stale_upload_seconds)
    db = open_database(settings, migrate=not prepared)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        threads = start_workers(settings, db, stop)
        app.state.worker_threads = threads
        try:
            yield
        finally:
            stop_workers(threads, stop)
            db.dispose()

    # Swagger UI and ReDoc served from the package's own copies of their assets (no CDN: /docs works offline)
    app = FastAPIOffline(title="labelaudit", version=__version__, lifespan=lifespan,
                         generate_unique_id_function=openapi.operation_id,
                         description="Label-noise auditing: upload a dataset, queue an audit, page through ranked "
                                     "label issues. Errors are RFC 9457 application/problem+json.")
    app.state.settings = settings
    app.state.db = db
    app.state.artifacts = artifact_store(settings)
    app.state.metrics = Metrics(db)
    app.state.ingest_slots = threading.BoundedSemaphore(settings.ingest_slots)
    app.add_middleware(TimeoutMiddleware, request_seconds=settings.request_timeout_seconds,
                       upload_seconds=settings.upload_timeout_seconds)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestLogMiddleware)  # outermost: the request id covers the metrics and every log line
    errors.install(app)
    app.include_router(health.router)
    secured = [Depends(authenticate)]
    app.include_router(datasets.router, dependencies=secured, responses=errors.responses(401))
    app.include_router(audits.router, dependencies=secured, responses=errors.responses(401))
    app.include_router(audit_views.router, dependencies=secured, responses=errors.responses(401))
    app.include_router(review.router, dependencies=secured, responses=errors.responses(401))
    app.include_router(usage.router, dependencies=secured, responses=errors.responses(401))
    dashboard.install(app)
    openapi.install(app)
    return app


def warn_if_open(settings: Settings) -> None:
    """Say loudly, at start-up, that authentication is off (local single-user mode)."""
    if settings.auth == "off":
        log.warning("AUTHENTICATION IS OFF (LABELAUDIT_AUTH=off): anyone who can reach http://%s:%d reads and "
                    "deletes every dataset. Local single-user mode only; set LABELAUDIT_AUTH=on and create keys "
                    "with `labelaudit keys create` before exposing it.", settings.host, settings.port)


def serve(settings: Settings | None = None) -> None:
    """Run the API (with its embedded workers) on ``settings.host:settings.port`` until interrupted;
    ``settings.processes > 1`` runs that many server processes on the port (:func:`serve_processes`)."""
    import uvicorn

    from labelaudit.logs import configure_logging

    settings = settings or get_settings()
    configure_logging(settings)
    if settings.processes > 1:
        warn_if_open(settings)
        serve_processes(settings, create_app)
        return
    app = create_app(settings)
    log.info("labelaudit API on http://%s:%d  (dashboard: /dashboard, docs: /docs, workers: %d)",
             settings.host, settings.port, settings.workers)
    warn_if_open(settings)
    # log_config=None keeps our JSON handler; the API writes its own access line (with the request id).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", log_config=None, access_log=False)
