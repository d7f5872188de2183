"""Prometheus metrics: request counts and latencies and error responses by code (this
process), jobs by state and job durations (read from the database at scrape time, so
they cover every worker)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from starlette.types import ASGIApp, Receive, Scope, Send

from labelaudit.store import queries
from labelaudit.store.db import Database
from labelaudit.store.models import STATES, as_utc

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, float("inf"))


class JobsCollector:
    """Collects ``labelaudit_jobs{state}`` and ``labelaudit_job_duration_seconds`` from the database."""

    def __init__(self, db: Database):
        self.db = db

    def collect(self):
        with self.db.sessions() as s:
            counts = queries.count_by_status(s)
            spans = queries.recent_durations(s)
        jobs = GaugeMetricFamily("labelaudit_jobs", "Audits by state.", labels=["state"])
        for state in STATES:
            jobs.add_metric([state], counts.get(state, 0))
        yield jobs
        durations = [(as_utc(b) - as_utc(a)).total_seconds() for a, b in spans]
        buckets = [(str(le) if le != float("inf") else "+Inf", sum(d <= le for d in durations))
                   for le in DURATION_BUCKETS]
        hist = HistogramMetricFamily("labelaudit_job_duration_seconds",
                                     "Run time of finished audits (claim to finish; recent 10k).",
                                     buckets=buckets, sum_value=sum(durations))
        yield hist


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self, db: Database):
        self.registry = CollectorRegistry()
        self.requests = Counter("labelaudit_http_requests", "HTTP requests.", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("labelaudit_http_request_seconds", "HTTP request latency.", ["method", "route"],
                                 registry=self.registry)
        self.errors = Counter("labelaudit_errors", "Problem responses by error code (internal_error: unhandled "
                              "exceptions).", ["code", "status"], registry=self.registry)
        self.registry.register(JobsCollector(db))

    def count_error(self, code: str, status: int) -> None:
        """Count one problem response (``labelaudit_errors_total{code,status}``)."""
        self.errors.labels(code, str(status)).inc()


class MetricsMiddleware:
    """Counts requests by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        start = time.perf_counter()

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], path, str(status["code"])).inc()
            self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - start)
