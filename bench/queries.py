"""Latency of the dashboard queries on an audit of 1,000,000 rows, SQLite and PostgreSQL, 1 and 20 clients.

For each backend: migrate a fresh database, insert one finished audit's rows in
bulk (PostgreSQL ``COPY``, SQLite ``executemany``) with the aggregates the worker
would store, start the real API (uvicorn in a subprocess, as ``labelaudit serve`` runs it), and time
real HTTP requests: the issue browser (pages of 50 under the filters the dashboard
uses), the class table and the audit read. The clients are ``wrk`` connections when
wrk is on PATH (``apt-get install wrk``: a C load generator, so the clients take
little of the cores the server runs on), else Python threads (``--client python``:
httpx, about as much CPU per request as the server, so on 2 cores they halve what
the server gets). Then, in the same process and on
the same data, the baselines:

* with ``--baseline-ref REF`` (e.g. ``main``): the same HTTP requests answered by the
  code of git ref ``REF`` (exported with ``git archive`` into a temporary folder, run
  on the same database), for before/after figures from one run;
* the same HTTP requests after dropping migration 0003's indexes (the schema before it);
* in SQL: OFFSET paging against keyset paging at the same depth, and the class
  table as a GROUP BY over the rows against reading the stored aggregates.

Each HTTP measurement also gives the server's CPU per request: the CPU time
(user + system, from ``/proc/<pid>/stat``) of the server process and its
children over the measured requests, divided by their number. It is CPU, not
wall time, so other work on the machine changes it less than the latencies
(cache and scheduler effects remain).

    .venv/bin/python bench/queries.py [--rows 1000000] [--backends sqlite,postgres] [--clients 1,20]
        [--processes 1] [--baseline-ref main] [--client auto|wrk|python]

Runtime is bounded: each measurement stops after ``--seconds`` (default 4) or
``--requests`` per client, whichever comes first; about 5 minutes in all on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port, percentile  # noqa: E402

PG_URL = os.environ.get("LABELAUDIT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
K = 10
#: the indexes 0003 added (since 0008 each audit's table has its own, named after it)
NEW_INDEXES = ["index", "suggested_rank", "off_diagonal_rank", "score_rank"]


def rows_table(audit_id: str) -> str:
    """The table holding an audit's rows (labelaudit.store.rowtables)."""
    from labelaudit.store.rowtables import table_name

    return table_name(audit_id)


def synthetic_audit(n: int, seed: int = 0):
    """Rank-ordered columns of a plausible audit: scores rise with rank, ~6% flagged, most near the top."""
    rng = np.random.default_rng(seed)
    scores = np.sort(rng.beta(5, 1.2, n))
    given = rng.integers(0, K, n)
    flagged = rng.random(n) < np.where(np.arange(n) < n * 0.1, 0.55, 0.005)
    suggested = given.copy()
    other = (given + rng.integers(1, K, n)) % K
    suggested[flagged] = other[flagged]
    true = np.where(flagged & (rng.random(n) < 0.8), suggested, given)
    index = rng.permutation(n)
    return index, given, suggested, scores, flagged, true


def insert_audit(db, n: int, tenant: str = "local") -> str:
    """One dataset and one finished audit of ``tenant`` with ``n`` rows, inserted in bulk; returns the audit id."""
    from labelaudit.core.aggregates import audit_aggregates, headline
    from labelaudit.store.ids import new_id
    from labelaudit.store.models import AuditRecord, DatasetRecord, utcnow

    index, given, suggested, scores, flagged, true = synthetic_audit(n)
    names = [f"class_{c}" for c in range(K)]
    ds_id, audit_id = new_id("ds"), new_id("au")
    summary = {"num_examples": n, "num_classes": K, "class_names": names, "modality": "pred_probs",
               "num_issues": int(flagged.sum()), "issue_rate": float(flagged.mean()), "health_score": 0.95,
               "estimated_num_issues": int(flagged.sum()), "cv_accuracy": 0.95, "backbone": None,
               "noise_matrix": np.eye(K).tolist(), "joint": (np.eye(K) / K).tolist()}
    aggregates = audit_aggregates(given, suggested, scores, flagged, names)
    with db.sessions.begin() as s:
        s.add(DatasetRecord(id=ds_id, tenant=tenant, name="bench", rows=n, classes=K, class_names=names, modality="pred_probs",
                            sha256="0" * 64, artifact="0" * 64, has_true_labels=True, created_at=utcnow()))
        s.flush()
        s.add(AuditRecord(id=audit_id, tenant=tenant, dataset_id=ds_id, status="done", options={}, summary=summary,
                          aggregates=aggregates, headline=headline(summary, {"total_seconds": 1.0}, None),
                          timings={"total_seconds": 1.0}, progress={"stage": "done", "fraction": 1.0},
                          cancel_requested=False, attempts=1, created_at=utcnow(), finished_at=utcnow()))
    # the rows as the worker stores them (labelaudit.store.rowtables: the audit's own table, indexed after)
    from labelaudit.store.rowtables import load_rows

    size = len(index)
    block = {"rank": list(range(n)), "index": index.tolist(), "given_label": given.tolist(),
             "suggested_label": suggested.tolist(), "quality_score": scores.tolist(), "is_issue": flagged.tolist(),
             "true_label": true.tolist(), "example_id": [None] * size}
    with db.engine.begin() as conn:
        load_rows(conn, audit_id, [block])
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'ANALYZE "{rows_table(audit_id)}"')
    return audit_id



CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live descendants (Linux ``/proc``)."""
    parents: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(entry.name)
        parents.setdefault(int(fields[1]), []).append(child)
        times[child] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += times.get(p, 0.0)
        todo += parents.get(p, [])
    return total


def measure(base_url: str, path: str, params: dict, *, clients: int, requests: int, seconds: float,
            headers: dict | None = None, server_pid: int | None = None) -> tuple[list[float], float | None]:
    """Latencies (ms) of ``clients`` threads each sending up to ``requests`` GETs, for at most ``seconds``, and
    the server's CPU ms per request over them (``None`` without ``server_pid``)."""
    import httpx

    times: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)
    deadline = [0.0]
    cpu = [0.0]

    def client():
        mine = []
        with httpx.Client(base_url=base_url, timeout=120, headers=headers) as c:
            c.get("/healthz").raise_for_status()  # open the connection
            if start.wait() == 0:
                deadline[0] = time.monotonic() + seconds
                if server_pid:
                    cpu[0] = tree_cpu_seconds(server_pid)
            start.wait()
            for i in range(requests):
                if i and time.monotonic() > deadline[0]:  # every client measures at least once
                    break
                t = time.perf_counter()
                r = c.get(path, params=params)
                mine.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not server_pid or not times:
        return times, None
    return times, (tree_cpu_seconds(server_pid) - cpu[0]) * 1000 / len(times)


#: wrk's report of latency percentiles (microseconds), requests and errors, from its ``done`` hook
WRK_SCRIPT = """done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LATENCY %d %d %d %d\\n", latency:percentile(50), latency:percentile(95),
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def measure_wrk(base_url: str, path: str, params: dict, *, clients: int, seconds: float, headers: dict,
                server_pid: int) -> tuple[float, float, int, float]:
    """(p50 ms, p95 ms, requests, server CPU ms per request) of ``clients`` connections of wrk (a C load
    generator: one thread, a few microseconds of CPU a request) for ``seconds``."""
    import httpx

    url = str(httpx.URL(base_url + path, params=params))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT)
    cmd = ["wrk", "-t", "1", "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "120s",
           "-s", f.name]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    try:
        # wrk leaves requests behind when it stops (the server still answers them): one request first, which
        # queues behind them, so that this measurement starts on an idle server
        httpx.get(url, headers=headers, timeout=600).raise_for_status()
        cpu = tree_cpu_seconds(server_pid)
        out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
        cpu = tree_cpu_seconds(server_pid) - cpu
    finally:
        os.unlink(f.name)
    line = next(x for x in out.splitlines() if x.startswith("LATENCY"))
    p50, p95, n, errors = (int(v) for v in line.split()[1:])
    if errors or not n:
        raise SystemExit(f"wrk: {errors} errors of {n} requests to {url}")
    return p50 / 1000, p95 / 1000, n, cpu * 1000 / n


def sql_timings(db, audit_id: str, n: int, repeats: int = 30) -> list[tuple[str, float, float]]:
    """(label, new p50 ms, baseline p50 ms) of SQL-level pairs, 1 client."""
    from sqlalchemy import text

    depth = int(n * 0.9)
    rows = f'"{rows_table(audit_id)}"'
    pairs = [
        ("issues page 50 at 90% depth: keyset vs OFFSET",
         text(f'SELECT * FROM {rows} WHERE audit_id = :a AND "rank" > :d ORDER BY "rank" LIMIT 50'),
         text(f'SELECT * FROM {rows} WHERE audit_id = :a ORDER BY "rank" LIMIT 50 OFFSET :d')),
        ("class table: stored aggregates vs GROUP BY rows",
         text("SELECT aggregates FROM audits WHERE id = :a"),
         text(f"SELECT given_label, count(*), sum(CASE WHEN is_issue THEN 1 ELSE 0 END) FROM {rows} "
              "WHERE audit_id = :a GROUP BY given_label")),
    ]
    out = []
    with db.engine.connect() as conn:
        for label, new, old in pairs:
            p50s = []
            for q in (new, old):
                ts = []
                for i in range(repeats if q is new else max(5, repeats // 3)):
                    t = time.perf_counter()
                    conn.execute(q, {"a": audit_id, "d": depth}).fetchall()
                    ts.append((time.perf_counter() - t) * 1000)
                p50s.append(statistics.median(ts))
            out.append((label, *p50s))
    return out


def start_server(settings, port: int, processes: int, code: Path = ROOT) -> tuple[subprocess.Popen, int]:
    """The API as production runs it: ``labelaudit serve`` (JSON access log, auth on) of the code in ``code``,
    with ``processes`` server processes (``LABELAUDIT_PROCESSES``; code without that setting runs uvicorn's
    ``--workers``); its log goes to ``<data_dir>/server.log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
    env.update({"LABELAUDIT_DATA_DIR": str(settings.data_dir), "LABELAUDIT_DATABASE_URL": settings.resolved_database_url,
                "LABELAUDIT_WORKERS": "0", "LABELAUDIT_PORT": str(port), "LABELAUDIT_PROCESSES": str(processes),
                "PYTHONPATH": os.pathsep.join([str(code / "app"), str(ROOT)])})
    if processes == 1 or (code / "app" / "labelaudit" / "serving.py").exists():
        cmd = [sys.executable, "-c", "from labelaudit.main import serve; serve()"]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "labelaudit.main:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(processes), "--log-level", "warning"]
    with open(settings.data_dir / "server.log", "ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    import httpx

    end = time.monotonic() + 90
    while time.monotonic() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                time.sleep(2 if processes > 1 else 0)  # every server process up, not only the first
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def export_ref(ref: str) -> Path:
    """The ``app/`` folder of git ref ``ref`` exported into a new temporary folder (``git archive``)."""
    out = Path(tempfile.mkdtemp(prefix="la-bench-ref-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "app"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def shapes(audit_id: str, n: int) -> list[tuple[str, str, dict, bool]]:
    """(label, path, params, uses a 0003 index) of the measured requests."""
    issues = f"/v1/audits/{audit_id}/issues"
    return [
        ("issues first page", issues, {"limit": 50}, False),
        ("issues page at 90% depth", issues, {"limit": 50, "cursor": int(n * 0.9)}, False),
        ("issues given=3, at 50%", issues, {"limit": 50, "given_label": 3, "cursor": n // 2}, False),
        ("issues flagged only", issues, {"limit": 50, "is_issue": "true"}, False),
        ("issues suggested=3, at 50%", issues, {"limit": 50, "suggested_label": 3, "cursor": n // 2}, True),
        ("issues cell given=3 sugg=5", issues, {"limit": 50, "given_label": 3, "suggested_label": 5}, True),
        ("issues score 0.80-0.85", issues, {"limit": 50, "min_score": 0.8, "max_score": 0.85}, True),
        ("issues score>=0.9 desc", issues, {"limit": 50, "min_score": 0.9, "sort": "-score"}, True),
        ("class table", f"/v1/audits/{audit_id}/classes", {}, False),
        ("audit read", f"/v1/audits/{audit_id}", {}, False),
    ]


def run_backend(name: str, args) -> list[dict]:
    from sqlalchemy import text

    from labelaudit.config import get_settings
    from labelaudit.store.db import open_database

    data_dir = Path(tempfile.mkdtemp(prefix="la-bench-queries-"))
    schema = None
    url = None
    if name == "postgres":
        import psycopg

        schema = f"la_bench_{secrets.token_hex(4)}"
        admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
        except Exception as exc:
            print(f"skipping PostgreSQL: {exc}")
            return []
        url = f"{PG_URL}?options={quote('-csearch_path=' + schema)}"
    settings = get_settings(data_dir=data_dir, database_url=url, workers=0)
    db = open_database(settings)
    results: list[dict] = []
    try:
        t = time.perf_counter()
        from labelaudit.services.keys import create_api_key

        headers = {"Authorization": f"Bearer {create_api_key(db, 'bench')[1]}"}  # auth on, as in production
        audit_id = insert_audit(db, args.rows, tenant="bench")
        print(f"[{name}] inserted {args.rows:,} rows in {time.perf_counter() - t:.1f}s", flush=True)
        sql = sql_timings(db, audit_id, args.rows)
        servers = {"0003": start_server(settings, free_port(), args.processes)}
        if args.baseline_ref:
            servers["ref"] = start_server(settings, free_port(), args.processes, code=export_ref(args.baseline_ref))
        try:
            for phase in ("0003", "baseline"):
                if phase == "baseline":
                    with db.engine.begin() as conn:
                        for ix in NEW_INDEXES:
                            conn.execute(text(f'DROP INDEX "{rows_table(audit_id)}_{ix}"'))
                        conn.execute(text(f'ANALYZE "{rows_table(audit_id)}"'))
                for label, path, params, uses_new in shapes(audit_id, args.rows):
                    if phase == "baseline" and not uses_new:
                        continue
                    for clients in args.clients:
                        # this code, then (same query, same moment) the --baseline-ref code on the same data
                        for run in ([phase, "ref"] if phase == "0003" and "ref" in servers else [phase]):
                            proc, port = servers["0003" if run == "baseline" else run]
                            base_url = f"http://127.0.0.1:{port}"
                            if args.client == "wrk":
                                p50, p95, n, cpu = measure_wrk(base_url, path, params, clients=clients,
                                                               seconds=args.seconds, headers=headers,
                                                               server_pid=proc.pid)
                            else:
                                ms, cpu = measure(base_url, path, params, clients=clients, requests=args.requests,
                                                  seconds=args.seconds, headers=headers, server_pid=proc.pid)
                                p50, p95, n = statistics.median(ms), percentile(ms, 0.95), len(ms)
                            results.append({"backend": name, "phase": run, "query": label, "clients": clients,
                                            "n": n, "p50": p50, "p95": p95, "cpu": cpu})
                            print(f"[{name}] {run:<8} {label:<32} x{clients:<3} n={n:<5} "
                                  f"p50={results[-1]['p50']:.1f}ms p95={results[-1]['p95']:.1f}ms "
                                  f"server CPU {cpu:.2f} ms/request", flush=True)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(30)
    finally:
        db.dispose()
        if schema:
            import psycopg

            with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
    for label, new, old in sql:
        results.append({"backend": name, "phase": "sql", "query": label, "clients": 1, "p50": new, "baseline": old})
    return results


def report(results: list[dict], args) -> str:
    cores = os.cpu_count()
    ref = args.baseline_ref
    client = "wrk (one thread)" if args.client == "wrk" else "Python threads (httpx)"
    lines = [f"Dashboard queries on an audit of {args.rows:,} rows; pages of 50; HTTP through `labelaudit serve` "
             f"({args.processes} server process(es), {cores} cores shared with the clients; clients: {client}); "
             "latencies in ms; "
             f"CPU = server CPU ms per request; index ratio = p95 without 0003's indexes / p95 (higher is better)"
             + (f"; ref = the same requests answered by the code of `{ref}` on the same data" if ref else "") + ".", ""]
    head = "| backend | query | clients | p50 | p95 | p95 <= 50 ms | CPU |"
    rule = "|---|---|---|---|---|---|---|"
    if ref:
        head += " ref p95 | ref CPU | CPU ratio (ref / this) |"
        rule += "---|---|---|"
    lines += [head + " p95 without 0003 indexes | index ratio |", rule + "---|---|"]

    def twin(r, phase):
        return next((b for b in results if b["phase"] == phase and b["backend"] == r["backend"]
                     and b["query"] == r["query"] and b["clients"] == r["clients"]), None)

    for r in (r for r in results if r["phase"] == "0003"):
        line = (f"| {r['backend']} | {r['query']} | {r['clients']} | {r['p50']:.1f} | {r['p95']:.1f} | "
                f"{'yes' if r['p95'] <= 50 else 'NO'} | {r['cpu']:.2f} |")
        if ref:
            b = twin(r, "ref")
            line += (f" {b['p95']:.1f} | {b['cpu']:.2f} | {b['cpu'] / r['cpu']:.1f}x |" if b and r["cpu"]
                     else " | | |")
        base = twin(r, "baseline")
        line += f" {base['p95']:.1f} | {base['p95'] / r['p95']:.1f}x |" if base else " same (0001 index) | 1.0x |"
        lines.append(line)
    lines += ["", "SQL level, 1 client, p50 ms:", "",
              "| backend | pair (new vs baseline) | new | baseline | ratio |", "|---|---|---|---|---|"]
    for r in (r for r in results if r["phase"] == "sql"):
        lines.append(f"| {r['backend']} | {r['query']} | {r['p50']:.2f} | {r['baseline']:.2f} | "
                     f"{r['baseline'] / r['p50']:.0f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--clients", default="1,20")
    ap.add_argument("--requests", type=int, default=100, help="per client and query, at most")
    ap.add_argument("--seconds", type=float, default=4.0, help="per query and client count, at most")
    ap.add_argument("--processes", type=int, default=1,
                    help="server processes on the port (`labelaudit serve --processes`; a --baseline-ref without "
                         "that option runs uvicorn's --workers)")
    ap.add_argument("--baseline-ref", default=None,
                    help="also answer every request with the code of this git ref (e.g. main) on the same data")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                    help="load generator: wrk (C, `apt-get install wrk`; the default when on PATH) or Python threads "
                         "(httpx; their own CPU shares the cores with the server)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    args = ap.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    results = []
    for name in args.backends.split(","):
        results += run_backend(name.strip(), args)
    table = report(results, args)
    print("\n" + table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
