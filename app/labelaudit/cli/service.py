"""``labelaudit serve`` and ``labelaudit worker``: the service and its audit workers."""

from __future__ import annotations

from typing import Optional

import typer

from labelaudit.cli.common import need_extra


def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Bind address (LABELAUDIT_HOST)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (LABELAUDIT_PORT)."),
    processes: Optional[int] = typer.Option(None, "--processes", min=1, max=64,
                                            help="HTTP server processes sharing the port (LABELAUDIT_PROCESSES)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="In-process audit workers (LABELAUDIT_WORKERS)."),
) -> None:
    """Run the HTTP API (and, by default, an in-process audit worker)."""
    need_extra("server", "labelaudit serve")
    from labelaudit.config import get_settings

    overrides = {k: v for k, v in {"host": host, "port": port, "processes": processes,
                                   "workers": workers}.items() if v is not None}
    from labelaudit.main import serve as run_server

    run_server(get_settings(**overrides))  # serve() sets up the JSON logs


def worker() -> None:
    """Run an audit worker that claims jobs from the service's database."""
    need_extra("server", "labelaudit worker")
    from labelaudit.config import get_settings
    from labelaudit.jobs.worker import run_worker, warm_imports
    from labelaudit.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    warm_imports()
    run_worker(settings)
