"""``labelaudit serve --processes N``: several server processes on one port, through real HTTP; the socket they
share gives every connection TCP_NODELAY; processes starting together on a fresh SQLite file migrate it once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from labelaudit.serving import listening_socket
from tests.service_fixtures import free_port, npy_bytes, server_process, service_env, synthetic_pred_probs, wait_for


def _server_children(pid: int) -> list[int]:
    """The server processes uvicorn's supervisor (``pid``) spawned (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _serve(env: dict, log: Path):
    """``labelaudit serve`` with ``env``, ready once both of its server processes are up."""
    return server_process([sys.executable, "-m", "labelaudit.cli", "serve"], env, log,
                          ready=lambda proc: len(_server_children(proc.pid)) == 2, timeout=90)


def test_two_server_processes_share_one_port(service_settings, tmp_path):
    """Two server processes answer on one port over fresh connections; the audit worker runs once, in the
    parent; a killed server process is replaced while the other keeps answering."""
    env = service_env(service_settings, LABELAUDIT_PORT=free_port(), LABELAUDIT_PROCESSES=2, LABELAUDIT_WORKERS=1)
    log = tmp_path / "server.log"
    with _serve(env, log) as (url, proc):
        assert len(_server_children(proc.pid)) == 2
        probs, labels = synthetic_pred_probs(300, k=4)[:2]
        ds = httpx.post(url + "/v1/datasets", files={"file": ("p.npy", npy_bytes(probs)),
                                                     "labels_file": ("l.npy", npy_bytes(labels))}, timeout=60)
        assert ds.status_code == 201, ds.text
        audit = httpx.post(url + "/v1/audits", json={"dataset_id": ds.json()["id"]}, timeout=60).json()
        wait_for(lambda: httpx.get(f"{url}/v1/audits/{audit['id']}").json()["status"] == "done", timeout=120)

        first = httpx.get(f"{url}/v1/audits/{audit['id']}/issues", params={"limit": 20}).json()
        classes = httpx.get(f"{url}/v1/audits/{audit['id']}/classes").json()
        assert len(first["items"]) == 20 and first["total"] == 300 and len(classes["classes"]) == 4
        answers, errors = [], []

        def client():
            try:
                for _ in range(15):  # a new connection per request: the kernel hands them to either process
                    r = httpx.get(f"{url}/v1/audits/{audit['id']}/issues", params={"limit": 20},
                                  headers={"Connection": "close"}, timeout=30)
                    answers.append((r.status_code, r.json()))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and len(answers) == 90 and all(a == (200, first) for a in answers)

        victim = _server_children(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)  # one server process dies: the other answers, a new one replaces it
        assert httpx.get(f"{url}/v1/audits/{audit['id']}/classes", headers={"Connection": "close"}).json() == classes
        wait_for(lambda: len(_server_children(proc.pid)) == 2 and victim not in _server_children(proc.pid),
                 timeout=60)
    text = log.read_text()
    assert text.count('"event": "worker_started"') == 1  # the embedded worker runs once, in the parent
    assert "2 server processes" in text and "Traceback" not in text


def test_connections_on_the_shared_socket_get_tcp_nodelay():
    """On the plain asyncio loop too (uvicorn's own shared socket lacks it: ~40 ms per response, delayed ACKs)."""
    sock = listening_socket("127.0.0.1", free_port())
    seen = []

    async def main():
        def on_connection(reader, writer):
            conn = writer.get_extra_info("socket")
            seen.append(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connection, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname())
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()

    try:
        asyncio.run(main())
    finally:
        sock.close()
    assert seen and seen[0] != 0


def test_processes_starting_together_migrate_a_fresh_sqlite_file_once(tmp_path):
    """Three processes open (and migrate) one new SQLite file at the same moment: all succeed."""
    code = ("import sys; from labelaudit.config import get_settings; from labelaudit.store.db import open_database; "
            "open_database(get_settings(data_dir=sys.argv[1], workers=0)).dispose()")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "app")}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env, stderr=subprocess.PIPE)
             for _ in range(3)]
    outcomes = [(p.wait(120), p.stderr.read().decode()[-2000:]) for p in procs]
    assert all(rc == 0 for rc, _ in outcomes), outcomes
