"""Fixtures of the hostile-input tests: one real server (``labelaudit.main.serve`` under uvicorn, in a
subprocess) per database backend, shared by a whole module, on SQLite or PostgreSQL.

The servers lower the archive member limit (``LABELAUDIT_MAX_ZIP_MEMBERS``) to
:data:`~tests.hostile.corpus.TEST_MAX_ZIP_MEMBERS` and the upload limit to
:data:`~tests.hostile.corpus.TEST_MAX_UPLOAD_BYTES`, so that "too many members" and
"too large" are small requests; every other limit is the shipped one.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.service_fixtures import BACKENDS, PG_URL, _pg_admin_url, free_port, pg_available, service_env, serving
from tests.hostile.corpus import TEST_MAX_UPLOAD_BYTES, TEST_MAX_ZIP_MEMBERS


@dataclass
class Server:
    """A running server: its base URL, data directory and log."""

    url: str
    data_dir: Path
    backend: str
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def leftovers(self) -> list[str]:
        """Files an upload may leave behind: anything in the upload temp folder, any artifact."""
        found = [p for p in (self.data_dir / "tmp").rglob("*")] if (self.data_dir / "tmp").exists() else []
        found += [p for p in (self.data_dir / "artifacts").rglob("*") if p.is_file()] \
            if (self.data_dir / "artifacts").exists() else []
        return sorted(str(p.relative_to(self.data_dir)) for p in found)


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'hostile.sqlite'}"
        return
    import psycopg

    schema = f"la_hostile_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote('-csearch_path=' + schema)}"
    finally:
        with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def run_server(backend: str, tmp: Path, *, workers: int = 0) -> Iterator[Server]:
    """The real API on ``backend`` in a subprocess on a free port, until the block ends."""
    from labelaudit.config import get_settings

    with database(backend, tmp) as url:
        settings = get_settings(data_dir=tmp / "data", database_url=url, workers=workers, min_rows=10, auth="off",
                                heartbeat_seconds=0.2, stale_after_seconds=5.0, worker_poll_seconds=0.1)
        port = free_port()
        env = service_env(settings, LABELAUDIT_PORT=port, LABELAUDIT_WORKERS=workers,
                          LABELAUDIT_MAX_UPLOAD_BYTES=TEST_MAX_UPLOAD_BYTES,
                          LABELAUDIT_MAX_ZIP_MEMBERS=TEST_MAX_ZIP_MEMBERS)
        code = "from labelaudit.main import serve; from labelaudit.config import get_settings; serve(get_settings())"
        log = tmp / "server.log"
        with serving(env, log, code) as url:
            yield Server(url=url, data_dir=settings.data_dir, backend=backend, log=log)


def _backend(request) -> str:
    if request.param == "postgres" and not pg_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} (set LABELAUDIT_TEST_PG_URL)")
    return request.param


@pytest.fixture(scope="module", params=BACKENDS)
def hostile_server(request, tmp_path_factory) -> Iterator[Server]:
    """One server per backend for a whole module; no audit workers."""
    backend = _backend(request)
    with run_server(backend, tmp_path_factory.mktemp(f"hostile-{backend}")) as server:
        yield server


@pytest.fixture(scope="module")
def http(hostile_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_server(request, tmp_path_factory) -> Iterator[Server]:
    """One server per backend for a whole module, with one embedded audit worker."""
    backend = _backend(request)
    with run_server(backend, tmp_path_factory.mktemp(f"fuzz-{backend}"), workers=1) as server:
        yield server
