"""The service test plugin (registered in ``tests/conftest.py``): settings on a fresh database
per test, SQLite or PostgreSQL, an app, a client, a live server, and small uploads.

Fixtures are found by pytest; the helpers (``csv_bytes``, ``run_jobs``, ``wait_for``, ...)
are imported by name from this module.

PostgreSQL tests use ``LABELAUDIT_TEST_PG_URL`` (default: the local
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and skip when it does not
answer; each test gets its own schema (``search_path``), dropped afterwards.
"""

from __future__ import annotations

import io
import os
import secrets
import time
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote

import numpy as np
import pytest

from bench.common import free_port  # noqa: F401 - a helper of the service tests too

PG_URL = os.environ.get("LABELAUDIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgres"]


def _pg_admin_url() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://")


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(_pg_admin_url(), connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "postgres" and not pg_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} (set LABELAUDIT_TEST_PG_URL)")
    return request.param


@pytest.fixture
def database_url(backend, tmp_path):
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    import psycopg

    schema = f"la_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options={quote('-csearch_path=' + schema)}"
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def service_settings(database_url, tmp_path):
    """Settings on the test database; no embedded workers (tests run jobs explicitly)."""
    from labelaudit.config import get_settings

    return get_settings(data_dir=tmp_path / "data", database_url=database_url, workers=0, min_rows=10, auth="off",
                        heartbeat_seconds=0.2, stale_after_seconds=2.0, worker_poll_seconds=0.1)


@pytest.fixture
def app(service_settings):
    from labelaudit.main import create_app

    return create_app(service_settings)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def run_jobs(app) -> int:
    """Run every queued audit in this thread (what a worker would do)."""
    from labelaudit.jobs.worker import run_pending

    return run_pending(app.state.settings, app.state.db)


def digits_arrays(n: int = 400):
    """The first ``n`` sklearn digits as (X float32 (n, 64), y int64)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data[:n].astype(np.float32), d.target[:n].astype(np.int64)


def csv_bytes(n: int = 400) -> bytes:
    """The digits as CSV bytes (64 pixel columns and ``label``)."""
    X, y = digits_arrays(n)
    lines = [",".join([f"p{i}" for i in range(X.shape[1])] + ["label"])]
    lines += [",".join([*(f"{v:g}" for v in row), str(lbl)]) for row, lbl in zip(X, y)]
    return ("\n".join(lines) + "\n").encode()


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def synthetic_pred_probs(n: int, k: int = 5, noise: float = 0.05, seed: int = 0):
    """pred_probs that mostly agree with labels, with ``noise`` of the labels flipped (see bench/common.py)."""
    from bench.common import synthetic_pred_probs as make

    return make(n, k=k, noise=noise, seed=seed)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s")


def service_env(settings, **extra) -> dict:
    """Environment for a subprocess (server or worker) with every one of ``settings`` (CPU training), plus ``extra``."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"LABELAUDIT_{name.upper()}"] = str(value)
    env.update({"LABELAUDIT_DATABASE_URL": settings.resolved_database_url, "LABELAUDIT_DEVICE": "cpu",
                "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
                # this checkout's package first (app/), not an installed copy of another checkout
                "PYTHONPATH": os.pathsep.join([str(root / "app"), str(root)])})
    env.update({k: str(v) for k, v in extra.items()})
    env["_PYTHON"] = sys.executable
    return env


@pytest.fixture
def live_workers() -> int:
    """Embedded workers of :func:`live_server` (override in a module to change it)."""
    return 1


SERVE_CODE = "from labelaudit.main import serve; from labelaudit.config import get_settings; serve(get_settings())"


@contextmanager
def serving(env: dict, log_path, code: str = SERVE_CODE) -> Iterator[str]:
    """``labelaudit.main.serve`` (or ``code``) in a subprocess with ``env``, its output in ``log_path``; yields the base
    URL once ``/readyz`` answers, and stops the server when the block ends."""
    import sys

    with server_process([sys.executable, "-c", code], env, log_path) as (url, _proc):
        yield url


@contextmanager
def server_process(argv: list[str], env: dict, log_path, *, ready=None, timeout: float = 60):
    """The server ``argv`` starts, in a subprocess with ``env`` and its output in ``log_path``; yields
    ``(base URL, process)`` once ``/readyz`` answers and ``ready(process)`` (when given) holds, and stops the
    server when the block ends."""
    import subprocess
    from pathlib import Path

    import httpx

    url = f"http://127.0.0.1:{env['LABELAUDIT_PORT']}"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    def up():
        if proc.poll() is not None:
            raise AssertionError("server exited:\n" + Path(log_path).read_text(errors="replace")[-3000:])
        try:
            answered = httpx.get(url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
        return answered and (ready is None or ready(proc))

    try:
        wait_for(up, timeout=timeout, interval=0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def live_server(service_settings, live_workers, tmp_path):
    """The real API (``labelaudit.main.serve``, ``live_workers`` embedded workers) in a subprocess on a free port;
    yields its base URL."""
    env = service_env(service_settings, LABELAUDIT_PORT=free_port(), LABELAUDIT_WORKERS=live_workers)
    with serving(env, tmp_path / "server.log") as url:
        yield url


def status_and_rows(db, audit_id: str) -> tuple[str, int]:
    """An audit's status and stored row count from one statement (one snapshot: read apart, a commit
    landing between the two reads would look half-written)."""
    from labelaudit.store import queries

    with db.sessions() as s:
        found = queries.status_and_row_count(s, audit_id=audit_id)
    assert found is not None, f"no audit {audit_id}"
    return found
