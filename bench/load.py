"""Load and fault bench: concurrent clients against the real server and separate worker processes.

Starts the production shape on loopback and a temporary data dir: ``labelaudit serve``
(uvicorn, ``LABELAUDIT_WORKERS=0``) plus ``--workers`` ``labelaudit worker`` processes on
one database. Each client thread loops: upload a small dataset (a CSV table and a
pred_probs pair, alternately), queue an audit of it, poll it until done, page through
its issues. Clients stop after ``--duration`` seconds (or ``--max-requests`` in all);
then every accepted audit must finish (bounded wait) with all its rows stored.

    .venv/bin/python bench/load.py [--clients 8] [--duration 60] [--workers 2] [--seed 0]
                                   [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                                   [--kill-worker-after 20 [--restart-worker]]

Prints requests/s and p50/p95/p99 latency per request type and overall, the error
count, jobs accepted/done/failed, peak memory of the server and worker processes
(``/proc``'s VmHWM, Linux), and the job events counted in the processes' JSON logs.
With ``--kill-worker-after S`` a worker is SIGKILLed at S seconds while it holds a
running audit (it is stopped with SIGSTOP first, so the kill is known to land mid-job);
that audit goes back to the queue through the stale-heartbeat path. On PostgreSQL the
bench works in a schema of its own, dropped afterwards. Exit status 1 when a request
failed or an accepted audit did not finish complete.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import free_port, percentile  # noqa: E402

KINDS = ("upload", "create audit", "poll audit", "issues page")
TERMINAL = ("done", "failed", "cancelled")


# ---------------------------------------------------------------- datasets

def csv_dataset(rng: np.random.Generator, rows: int = 120, features: int = 6, classes: int = 3) -> bytes:
    """A small table: Gaussian blobs per class, about 8% of labels moved to another class."""
    y = rng.integers(0, classes, rows)
    centers = rng.normal(0, 3, (classes, features))
    X = centers[y] + rng.normal(0, 1, (rows, features))
    flip = rng.random(rows) < 0.08
    y = np.where(flip, (y + 1) % classes, y)
    lines = [",".join([f"f{i}" for i in range(features)] + ["label"])]
    lines += [",".join([*(f"{v:.4f}" for v in x), str(label)]) for x, label in zip(X, y)]
    return ("\n".join(lines) + "\n").encode()


def pred_probs_dataset(rng: np.random.Generator, rows: int = 200, classes: int = 4) -> tuple[bytes, bytes]:
    """A pred_probs ``.npy`` and its labels ``.npy`` (see bench/data.py)."""
    from bench.common import synthetic_pred_probs

    P, y = synthetic_pred_probs(rows, k=classes, noise=0.05, seed=int(rng.integers(1 << 31)))
    return _npy(P), _npy(y.astype(np.int64))


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


# ---------------------------------------------------------------- clients

@dataclass
class Recorder:
    """What the clients saw: latencies by request type, errors, accepted audits (id -> dataset rows)."""

    max_requests: int
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    errors: list = field(default_factory=list)
    accepted: dict = field(default_factory=dict)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        """Reserve one request under the cap."""
        with self.lock:
            if self.requests >= self.max_requests:
                return False
            self.requests += 1
            return True

    def record(self, kind: str, ms: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(ms)
            if error:
                self.errors.append(f"{kind}: {error}")

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


class _Stop(Exception):
    """The deadline or the request cap is reached."""


class _Failed(Exception):
    """A request failed (recorded); the client starts its next iteration."""


def client_loop(base_url: str, index: int, rec: Recorder, deadline: float, *, seed: int = 0,
                poll_seconds: float = 0.1, page_size: int = 50) -> None:
    """One client: upload, audit, poll, page, until ``deadline`` (monotonic) or the request cap."""
    import httpx

    rng = np.random.default_rng([seed, index])

    def call(c: httpx.Client, kind: str, method: str, url: str, expect: int, **kwargs):
        if time.monotonic() >= deadline or not rec.take():
            raise _Stop
        t = time.perf_counter()
        try:
            r = c.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            rec.record(kind, (time.perf_counter() - t) * 1000, f"{type(exc).__name__}: {exc}")
            raise _Failed from exc
        ms = (time.perf_counter() - t) * 1000
        if r.status_code != expect:
            rec.record(kind, ms, f"{method} {url} -> {r.status_code} {r.text[:300]}")
            raise _Failed
        rec.record(kind, ms)
        return r.json()

    with httpx.Client(base_url=base_url, timeout=60) as c:
        iteration = 0
        while True:
            try:
                if (index + iteration) % 2 == 0:
                    files = {"file": (f"c{index}-{iteration}.csv", csv_dataset(rng))}
                    audit_opts = {"backbone": "logreg", "folds": 3, "seed": iteration}
                else:
                    probs, labels = pred_probs_dataset(rng)
                    files = {"file": ("pred_probs.npy", probs), "labels_file": ("labels.npy", labels)}
                    audit_opts = {}
                iteration += 1
                ds = call(c, "upload", "POST", "/v1/datasets", 201, files=files)
                audit = call(c, "create audit", "POST", "/v1/audits", 202,
                             json={"dataset_id": ds["id"], **audit_opts})
                with rec.lock:
                    rec.accepted[audit["id"]] = ds["rows"]
                while audit["status"] not in TERMINAL:
                    time.sleep(poll_seconds)
                    audit = call(c, "poll audit", "GET", f"/v1/audits/{audit['id']}", 200)
                if audit["status"] != "done":
                    rec.error(f"audit {audit['id']} ended {audit['status']}: {audit['error']}")
                    continue
                cursor, seen = None, 0
                while True:
                    page = call(c, "issues page", "GET", f"/v1/audits/{audit['id']}/issues", 200,
                                params={"limit": page_size, **({"cursor": cursor} if cursor else {})})
                    seen += len(page["items"])
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
                if seen != ds["rows"]:
                    rec.error(f"audit {audit['id']}: paged {seen} issue rows of {ds['rows']}")
            except _Failed:
                time.sleep(0.1)  # no tight loop against a failing server
            except _Stop:
                return


def run_clients(base_url: str, clients: int, duration: float, *, max_requests: int = 100_000, seed: int = 0,
                poll_seconds: float = 0.1) -> tuple[Recorder, float]:
    """Run ``clients`` client threads for ``duration`` seconds; returns what they saw and the wall time."""
    rec = Recorder(max_requests=max_requests)
    start = time.monotonic()
    deadline = start + duration
    threads = [threading.Thread(target=client_loop, args=(base_url, i, rec, deadline),
                                kwargs={"seed": seed, "poll_seconds": poll_seconds}, daemon=True)
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 120)
    return rec, time.monotonic() - start


# ---------------------------------------------------------------- processes

def read_memory(pid: int) -> tuple[int, int] | None:
    """(current RSS, peak RSS) of ``pid`` in bytes from ``/proc/<pid>/status``; ``None`` when unavailable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    if "VmRSS" not in values:
        return None  # a zombie
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])


class MemorySampler(threading.Thread):
    """Samples the RSS of named processes every ``interval`` seconds; keeps each one's peak and last value."""

    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True, name="memory-sampler")
        self.interval = interval
        self.pids: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self._stop = threading.Event()

    def watch(self, name: str, pid: int) -> None:
        self.pids[name] = pid
        self.sample()

    def sample(self) -> None:
        for name, pid in list(self.pids.items()):
            mem = read_memory(pid)
            if mem is not None:
                self.last[name] = mem[0]
                self.peak[name] = max(self.peak.get(name, 0), mem[0], mem[1])

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.sample()
        self._stop.set()



@contextmanager
def pg_schema(url: str):
    """A fresh schema on the PostgreSQL at ``url``; yields ``url`` with ``search_path`` set to it; drops it after."""
    import psycopg

    schema = f"la_bench_load_{secrets.token_hex(4)}"
    admin = url.replace("postgresql+psycopg://", "postgresql://").split("?")[0]
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote('-csearch_path=' + schema)}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Cluster:
    """``labelaudit serve`` (no embedded workers) and ``workers`` ``labelaudit worker`` processes on loopback.

    Logs go to ``<data_dir>/logs``. Use as a context manager; every process is stopped on exit.
    """

    def __init__(self, data_dir: Path, database_url: str | None = None, *, workers: int = 2,
                 heartbeat_seconds: float = 2.0, stale_after_seconds: float = 60.0,
                 worker_poll_seconds: float = 0.1):
        self.data_dir = Path(data_dir)
        self.logs = self.data_dir / "logs"
        self.database_url = database_url or f"sqlite:///{(self.data_dir / 'labelaudit.sqlite').resolve()}"
        self.n_workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
        self.env.update({
            "LABELAUDIT_DATA_DIR": str(self.data_dir), "LABELAUDIT_DATABASE_URL": self.database_url,
            "LABELAUDIT_HOST": "127.0.0.1", "LABELAUDIT_PORT": str(self.port), "LABELAUDIT_WORKERS": "0",
            "LABELAUDIT_AUTH": "off", "LABELAUDIT_DEVICE": "cpu", "LABELAUDIT_LOG_FORMAT": "json",
            "LABELAUDIT_HEARTBEAT_SECONDS": str(heartbeat_seconds),
            "LABELAUDIT_STALE_AFTER_SECONDS": str(stale_after_seconds),
            "LABELAUDIT_WORKER_POLL_SECONDS": str(worker_poll_seconds),
            # every client has at most one audit in flight, but a stale one may linger until requeued
            "LABELAUDIT_MAX_ACTIVE_JOBS_PER_TENANT": "100000",
            "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
            # this checkout's code first: the environment may have another checkout installed
            "PYTHONPATH": os.pathsep.join([str(ROOT / "app"), str(ROOT)])})
        self.server: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.killed: list[subprocess.Popen] = []
        self.memory = MemorySampler()

    def _spawn(self, command: str, log_name: str) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / log_name, "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "labelaudit.cli", command], env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=ROOT)

    def start(self) -> "Cluster":
        """Start the server, wait until it is ready (it migrates the database), then the workers."""
        import httpx

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = self._spawn("serve", "server.log")
        self.memory.watch("server", self.server.pid)
        self.memory.start()
        end = time.monotonic() + 90
        while True:
            if self.server.poll() is not None:
                raise RuntimeError("the server exited:\n" + (self.logs / "server.log").read_text()[-3000:])
            try:
                if httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("the server did not become ready in 90 s")
            time.sleep(0.2)
        for _ in range(self.n_workers):
            self.start_worker()
        return self

    def start_worker(self) -> subprocess.Popen:
        """One more ``labelaudit worker`` process."""
        n = len(self.workers) + len(self.killed)
        proc = self._spawn("worker", f"worker-{n}.log")
        self.workers.append(proc)
        self.memory.watch(f"worker-{n}", proc.pid)
        return proc

    def kill_busy_worker(self, db, timeout: float = 10.0) -> dict:
        """SIGKILL a worker while it holds a running audit; returns ``{pid, audit_id}`` (audit_id None if none was
        caught in ``timeout``, and then the first worker is killed anyway).

        The worker is frozen with SIGSTOP before the check, so an audit it still owns then is
        certainly unfinished when SIGKILL lands.
        """
        end = time.monotonic() + timeout
        while True:
            held = running_audits_by_pid(db)
            for proc in self.workers:
                if proc.pid not in held:
                    continue
                proc.send_signal(signal.SIGSTOP)
                still = running_audits_by_pid(db).get(proc.pid)
                if still is None:
                    proc.send_signal(signal.SIGCONT)
                    continue
                self._kill(proc)
                return {"pid": proc.pid, "audit_id": still}
            if time.monotonic() > end:
                proc = self.workers[0]
                self._kill(proc)
                return {"pid": proc.pid, "audit_id": None}
            time.sleep(0.01)

    def _kill(self, proc: subprocess.Popen) -> None:
        self.memory.sample()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.workers.remove(proc)
        self.killed.append(proc)

    def stop(self) -> None:
        """SIGTERM everything (workers first), SIGKILL what is still alive after 20 s."""
        self.memory.stop()
        procs = [*self.workers, *([self.server] if self.server else [])]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------- checks

def running_audits_by_pid(db) -> dict[int, str]:
    """Running audits by the pid in their ``worker_id`` (``host:pid:thread:random``)."""
    from sqlalchemy import select

    from labelaudit.store.models import RUNNING, AuditRecord

    with db.sessions() as s:
        rows = s.execute(select(AuditRecord.id, AuditRecord.worker_id).where(AuditRecord.status == RUNNING)).all()
    out = {}
    for audit_id, worker_id in rows:
        try:
            out[int((worker_id or "").rsplit(":", 3)[1])] = audit_id
        except (IndexError, ValueError):
            pass
    return out


def audit_states(db, ids) -> dict[str, tuple[str, int, int]]:
    """``{audit_id: (status, attempts, stored rows)}`` of ``ids``."""
    from sqlalchemy import select

    from labelaudit.store import queries
    from labelaudit.store.models import AuditRecord

    out = {}
    # Status and row count from one statement per audit (queries.status_and_row_count), so they come from the
    # same snapshot: read separately, an audit committing between the two reads would look half-written.
    with db.sessions() as s:
        for audit_id in ids:
            found = queries.status_and_row_count(s, audit_id=audit_id)
            if found is not None:
                attempts = s.scalar(select(AuditRecord.attempts).where(AuditRecord.id == audit_id))
                out[audit_id] = (found[0], attempts, found[1])
    return out


def wait_for_jobs(db, ids, timeout: float) -> tuple[dict, float]:
    """Poll until every audit in ``ids`` is finished (or ``timeout``); returns their states and the seconds waited."""
    start = time.monotonic()
    while True:
        states = audit_states(db, ids)
        if all(states.get(i, ("?",))[0] in TERMINAL for i in ids) or time.monotonic() - start > timeout:
            return states, time.monotonic() - start
        time.sleep(0.25)


def log_summary(log_dir: Path) -> dict:
    """Lines, lines that are not JSON objects, and job events by kind, over every log in ``log_dir``."""
    lines = bad = 0
    events: Counter = Counter()
    with_request_id = access = 0
    for path in sorted(log_dir.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            lines += 1
            try:
                doc = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if not isinstance(doc, dict):
                bad += 1
                continue
            if doc.get("event"):
                events[doc["event"]] += 1
            if doc.get("logger") == "labelaudit.access":
                access += 1
                with_request_id += bool(doc.get("request_id"))
    return {"lines": lines, "not_json": bad, "events": dict(events), "access": access,
            "access_with_request_id": with_request_id}


# ---------------------------------------------------------------- the run


def run(*, data_dir: Path, database_url: str | None = None, clients: int = 8, duration: float = 60.0,
        workers: int = 2, seed: int = 0, max_requests: int = 100_000, kill_worker_after: float | None = None,
        restart_worker: bool = False, stale_after: float | None = None, drain_timeout: float = 120.0,
        log=print) -> dict:
    """Run the load (and the fault, with ``kill_worker_after``) and return the figures as a dict."""
    from sqlalchemy.orm import sessionmaker

    from labelaudit.store.db import Database, make_engine

    stale = stale_after or (4.0 if kill_worker_after is not None else 60.0)
    heartbeat = min(2.0, stale / 5)
    cluster = Cluster(data_dir, database_url, workers=workers, heartbeat_seconds=heartbeat,
                      stale_after_seconds=stale)
    fault: dict = {}
    with cluster:
        engine = make_engine(cluster.database_url)
        db = Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
        try:
            log(f"server {cluster.base_url} pid {cluster.server.pid}, workers "
                f"{[p.pid for p in cluster.workers]}, {clients} clients for {duration:g}s")

            def fault_injection():
                time.sleep(kill_worker_after)
                t = time.monotonic()
                fault.update(cluster.kill_busy_worker(db))
                fault["at"] = kill_worker_after + (time.monotonic() - t)
                log(f"SIGKILLed worker pid {fault['pid']} at {fault['at']:.1f}s holding audit {fault['audit_id']}")
                if restart_worker:
                    fault["restarted_pid"] = cluster.start_worker().pid

            injector = None
            if kill_worker_after is not None:
                injector = threading.Thread(target=fault_injection, daemon=True)
                injector.start()
            rec, wall = run_clients(cluster.base_url, clients, duration, max_requests=max_requests, seed=seed)
            if injector is not None:
                injector.join(30)
            log(f"clients stopped after {wall:.1f}s; waiting for {len(rec.accepted)} accepted audits")
            states, drained = wait_for_jobs(db, list(rec.accepted), drain_timeout + stale)
            metrics = _scrape(cluster.base_url)
        finally:
            engine.dispose()
    result = {
        "backend": "postgresql" if cluster.database_url.startswith("postgresql") else "sqlite",
        "clients": clients, "duration": duration, "workers": workers, "wall": wall,
        "requests": rec.requests, "latencies": {k: list(v) for k, v in rec.latencies.items()},
        "errors": list(rec.errors), "accepted": dict(rec.accepted), "states": states, "drain_seconds": drained,
        "memory_peak": dict(cluster.memory.peak), "memory_last": dict(cluster.memory.last),
        "logs": log_summary(cluster.logs), "fault": fault, "metrics_errors": metrics,
        "stale_after": stale,
    }
    result["jobs"] = job_counts(result)
    return result


def _scrape(base_url: str) -> dict:
    """``labelaudit_errors_total`` samples from /metrics (``{"code/status": count}``)."""
    import httpx

    out = {}
    try:
        text = httpx.get(base_url + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return {"unavailable": 1}
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        if family.name == "labelaudit_errors":
            for s in family.samples:
                if s.name.endswith("_total"):
                    out[f"{s.labels['code']}/{s.labels['status']}"] = int(s.value)
    return out


def job_counts(result: dict) -> dict:
    """Accepted, done, failed, cancelled, unfinished, complete (done with every row stored), requeued."""
    states, accepted = result["states"], result["accepted"]
    got = {i: states.get(i, ("missing", 0, 0)) for i in accepted}
    c = Counter(status for status, _, _ in got.values())
    complete = sum(1 for i, rows in accepted.items() if got[i][0] == "done" and got[i][2] == rows)
    # rows are stored in the transaction that marks the audit done: anything else is half-written
    half = sum(1 for i, rows in accepted.items() if (got[i][0] == "done") != (got[i][2] == rows)
               or got[i][2] not in (0, rows))
    return {"accepted": len(accepted), "done": c["done"], "failed": c["failed"], "cancelled": c["cancelled"],
            "unfinished": len(accepted) - sum(c[s] for s in TERMINAL), "complete": complete,
            "half_written": half, "retried": sum(1 for _, attempts, _ in got.values() if attempts > 1)}


def ok(result: dict) -> bool:
    """No request failed and every accepted audit finished done with all its rows."""
    j = result["jobs"]
    return not result["errors"] and j["accepted"] > 0 and j["complete"] == j["accepted"]


def report(result: dict) -> str:
    """The figures as markdown tables."""
    mib = 1024 * 1024
    lat = result["latencies"]
    wall = result["wall"]
    every = [x for k in KINDS for x in lat.get(k, [])]
    lines = [f"Load: {result['clients']} clients for {result['duration']:g} s on {result['backend']}; "
             f"`labelaudit serve` (1 uvicorn process, no embedded workers) + {result['workers']} "
             f"`labelaudit worker` processes, loopback; latencies in ms.", "",
             "| request | count | req/s | p50 | p95 | p99 | max |", "|---|---|---|---|---|---|---|"]
    for kind, xs in [*((k, lat.get(k, [])) for k in KINDS), ("all", every)]:
        if not xs:
            continue
        name = f"**{kind}**" if kind == "all" else kind
        lines.append(f"| {name} | {len(xs)} | {len(xs) / wall:.1f} | {percentile(xs, .5):.1f} | "
                     f"{percentile(xs, .95):.1f} | {percentile(xs, .99):.1f} | {max(xs):.1f} |")
    j, logs, mem = result["jobs"], result["logs"], result["memory_peak"]
    worker_peaks = [v for k, v in mem.items() if k.startswith("worker")]
    lines += ["", "| figure | value |", "|---|---|",
              f"| errors (client side) | {len(result['errors'])} |",
              f"| labelaudit_errors_total on /metrics | {sum(v for v in result['metrics_errors'].values())} "
              f"{result['metrics_errors'] or ''} |",
              f"| audits accepted / done / failed / cancelled / unfinished | {j['accepted']} / {j['done']} / "
              f"{j['failed']} / {j['cancelled']} / {j['unfinished']} |",
              f"| done with every row stored / half-written | {j['complete']} / {j['half_written']} |",
              f"| audits claimed more than once | {j['retried']} |",
              f"| all accepted audits finished | {result['drain_seconds']:.1f} s after the clients stopped |",
              f"| server RSS peak / at end | {mem.get('server', 0) / mib:.0f} MiB / "
              f"{result['memory_last'].get('server', 0) / mib:.0f} MiB |",
              f"| worker RSS peak (each) | {', '.join(f'{v / mib:.0f}' for v in worker_peaks)} MiB |",
              f"| log lines / not JSON / access lines with request_id | {logs['lines']} / {logs['not_json']} / "
              f"{logs['access_with_request_id']} of {logs['access']} |",
              f"| job events logged | {', '.join(f'{k} {v}' for k, v in sorted(logs['events'].items()))} |"]
    f = result["fault"]
    if f:
        st = result["states"].get(f.get("audit_id"), ("-", 0, 0))
        lines.append(f"| fault | worker pid {f['pid']} SIGKILLed at {f['at']:.1f} s holding "
                     f"{f.get('audit_id') or 'no audit'}; that audit: {st[0]} after {st[1]} attempts, {st[2]} rows "
                     f"(stale after {result['stale_after']:g} s"
                     f"{', a replacement worker started' if f.get('restarted_pid') else ', no replacement'}) |")
    if result["errors"]:
        lines += ["", "first errors:", *(f"- {e}" for e in result["errors"][:10])]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of client load")
    ap.add_argument("--workers", type=int, default=2, help="`labelaudit worker` processes")
    ap.add_argument("--database-url", default=None,
                    help="PostgreSQL URL (a schema of its own is made and dropped); default a SQLite file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-requests", type=int, default=100_000, help="hard cap on requests, all clients together")
    ap.add_argument("--kill-worker-after", type=float, default=None, metavar="S",
                    help="SIGKILL a busy worker S seconds into the load")
    ap.add_argument("--restart-worker", action="store_true", help="start a replacement after the kill")
    ap.add_argument("--stale-after", type=float, default=None,
                    help="LABELAUDIT_STALE_AFTER_SECONDS (default 4 with --kill-worker-after, else 60)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="la-bench-load-"))
    kwargs = dict(data_dir=data_dir, clients=args.clients, duration=args.duration, workers=args.workers,
                  seed=args.seed, max_requests=args.max_requests, kill_worker_after=args.kill_worker_after,
                  restart_worker=args.restart_worker, stale_after=args.stale_after)
    try:
        if args.database_url and args.database_url.startswith("postgresql"):
            with pg_schema(args.database_url) as url:
                result = run(database_url=url, **kwargs)
        else:
            result = run(database_url=args.database_url, **kwargs)
    finally:
        if args.keep:
            print(f"data and logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    print("\n" + report(result))
    sys.exit(0 if ok(result) else 1)


if __name__ == "__main__":
    main()
