"""How ``labelaudit serve`` runs: its embedded audit worker threads, and with ``--processes N`` several HTTP
server processes sharing one port.

A Python server process answers requests on one core at a time; more processes
use more cores. Started naively (``uvicorn --workers N`` on the app factory)
each process would run what belongs to the whole service: every process would
migrate the database at start-up (on a fresh SQLite file two migrations collided
and one process died; :func:`labelaudit.store.migrations.upgrade` now takes a
lock), clean upload leftovers, and start its own embedded audit workers (N times
the configured concurrency). And uvicorn's shared socket is
made without ``IPPROTO_TCP``, so on the asyncio loop (no uvloop) the accepted
connections never get ``TCP_NODELAY``: every response then waits for the
client's delayed ACK, about 40 ms.

So the parent process here does the once-per-service work: it migrates the
database, cleans leftovers, runs the embedded audit workers (``settings.workers``
threads, as a one-process ``serve`` would) and binds the listening socket itself
(TCP, ``TCP_NODELAY``). Uvicorn's supervisor then starts ``settings.processes``
server processes on that socket (restarting any that dies); each builds the app
with ``prepared=True`` and no workers. Each process keeps its own caches (API
keys, finished-audit views) and its own request metrics: ``/metrics`` shows the
process that answered the scrape.
"""

from __future__ import annotations

import logging
import socket
import threading
from functools import partial
from typing import Any, Callable

from labelaudit.config import Settings

log = logging.getLogger("labelaudit")
#: How long uvicorn's supervisor waits for a server process to answer its health ping before replacing it.
HEALTHCHECK_SECONDS = 60


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, with ``TCP_NODELAY`` (inherited by accepted
    connections), made with ``IPPROTO_TCP`` so asyncio sets ``TCP_NODELAY`` on each connection as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def start_workers(settings: Settings, db, stop: threading.Event) -> list[threading.Thread]:
    """``settings.workers`` embedded audit workers, as daemon threads of this process, running until ``stop``."""
    threads = []
    if settings.workers > 0:
        from labelaudit.jobs.worker import run_worker

        for i in range(settings.workers):
            t = threading.Thread(target=run_worker, args=(settings, stop), kwargs={"db": db},
                                 name=f"labelaudit-worker-{i}", daemon=True)
            t.start()
            threads.append(t)
    return threads


def stop_workers(threads: list[threading.Thread], stop: threading.Event) -> None:
    """Ask the workers of :func:`start_workers` to stop and wait for them (30 s each at most)."""
    stop.set()
    for t in threads:
        t.join(timeout=30)


def process_app(settings: Settings, create_app: Callable[..., Any]):
    """The app of one server process (the factory uvicorn calls in the child, ``create_app`` being
    :func:`labelaudit.main.create_app`): the parent has migrated the database and runs the audit workers."""
    from labelaudit.logs import configure_logging

    configure_logging(settings)
    return create_app(settings.model_copy(update={"workers": 0}), prepared=True)


def serve_processes(settings: Settings, create_app: Callable[..., Any]) -> None:
    """Run ``settings.processes`` server processes of ``create_app``'s app on ``settings.host:settings.port``
    until interrupted (SIGINT/SIGTERM), with the embedded audit workers in this process."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from labelaudit.store.artifacts import artifact_store
    from labelaudit.store.db import open_database
    from labelaudit.store.leftovers import clean_leftovers

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clean_leftovers(settings.data_dir, artifact_store(settings), stale_seconds=settings.stale_upload_seconds)
    db = open_database(settings)  # migrated once, here, before any server process opens it
    sock = listening_socket(settings.host, settings.port)
    options = dict(factory=True, host=settings.host, port=settings.port, workers=settings.processes,
                   log_level="info", log_config=None, access_log=False)
    try:
        # The supervisor kills a process that does not answer its ping within this: uvicorn's 5 s default
        # killed processes still importing the app on a loaded machine (spawned processes import everything).
        config = uvicorn.Config(partial(process_app, settings, create_app), timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
                                **options)
    except TypeError:  # uvicorn before 0.30: no health check
        config = uvicorn.Config(partial(process_app, settings, create_app), **options)
    stop = threading.Event()
    threads = start_workers(settings, db, stop)
    log.info("labelaudit API on http://%s:%d  (%d server processes; dashboard: /dashboard, docs: /docs, "
             "workers: %d)", settings.host, settings.port, settings.processes, settings.workers)
    try:
        try:
            supervisor = Multiprocess(config, sockets=[sock])
        except TypeError:  # older uvicorn: the supervisor is handed the server's run method
            supervisor = Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock])
        supervisor.run()
    finally:
        stop_workers(threads, stop)
        db.dispose()
        sock.close()
