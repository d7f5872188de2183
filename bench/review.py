"""Bulk review decisions on an audit of 100,000 examples, SQLite and PostgreSQL.

For each backend: a fresh database, the real app (``labelaudit.main.create_app``,
requests through its whole ASGI stack by ``fastapi.testclient``), a 100,000 x 10
pred_probs dataset uploaded and audited by the real worker code; then timed:

* ``PUT /v1/audits/{id}/decisions`` with 100,000 items (first decisions: inserts),
  the same request again (idempotent: nothing changes), 100,000 changed decisions
  (updates), one filter request deciding every example, the progress read
  (``GET ...?limit=1``), and undoing everything by filter;
* the baseline, in the same process on the same audit: one request per decision
  (what a client without bulk decisions does), 500 of them, per decision.

    .venv/bin/python bench/review.py [--rows 100000] [--backends sqlite,postgres] [--single 500]

About 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import synthetic_pred_probs  # noqa: E402

PG_URL = os.environ.get("LABELAUDIT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _pg_schema():
    import psycopg

    schema = f"la_bench_{secrets.token_hex(4)}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    return f"{PG_URL}?options={quote('-csearch_path=' + schema)}", drop


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_backend(backend: str, rows: int, single: int) -> list[tuple[str, float, int]]:
    from fastapi.testclient import TestClient

    from labelaudit.config import get_settings
    from labelaudit.jobs.worker import run_pending
    from labelaudit.main import create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-review-"))
    drop = None
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    if backend == "postgres":
        url, drop = _pg_schema()
    settings = get_settings(data_dir=tmp / "data", database_url=url, workers=0, auth="off")
    out: list[tuple[str, float, int]] = []
    try:
        app = create_app(settings)
        with TestClient(app) as c:
            P, y = synthetic_pred_probs(rows, k=10, noise=0.05, seed=0)
            ds = c.post("/v1/datasets", files={"file": ("p.npy", _npy(P.astype(np.float32))),
                                               "labels_file": ("y.npy", _npy(y))}).json()
            aid = c.post("/v1/audits", json={"dataset_id": ds["id"]}).json()["id"]
            run_pending(app.state.settings, app.state.db)
            base = f"/v1/audits/{aid}/decisions"

            def put(body):
                r = c.put(base, json=body)
                assert r.status_code == 200, r.text
                return r.json()

            keep = [{"index": i, "decision": "keep"} for i in range(rows)]
            relabel = [{"index": i, "decision": "relabel", "label": str(i % 10)} for i in range(rows)]
            for name, body, expect in ((f"PUT {rows:,} items, first decisions (insert)", {"items": keep}, rows),
                                       (f"PUT the same {rows:,} again (idempotent)", {"items": keep}, 0),
                                       (f"PUT {rows:,} changed decisions (update)", {"items": relabel}, rows),
                                       ("PUT by filter: every example, one decision", {
                                           "filter": {}, "decision": "exclude"}, rows)):
                seconds, got = timed(lambda body=body: put(body))
                assert got["changed"] == expect, (name, got["changed"])
                out.append((name, seconds, rows))
            seconds, page = timed(lambda: c.get(base, params={"limit": 1}).json())
            assert page["progress"]["excluded"] == rows
            out.append((f"GET progress (all {rows:,} decided)", seconds, 1))
            seconds, got = timed(lambda: c.request("DELETE", base, json={"filter": {}}).json())
            assert got["changed"] == rows
            out.append(("DELETE by filter: undo all", seconds, rows))
            seconds, _ = timed(lambda: [put({"items": [{"index": i, "decision": "unsure"}]}) for i in range(single)])
            out.append((f"baseline: one PUT per decision ({single} requests)", seconds, single))
        app.state.db.dispose()
    finally:
        if drop:
            drop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--single", type=int, default=500)
    args = ap.parse_args()
    print("| backend | request | seconds | examples | µs per decision | vs one request each |")
    print("|---|---|---|---|---|---|")
    for backend in args.backends.split(","):
        results = run_backend(backend, args.rows, args.single)
        per_single = results[-1][1] / results[-1][2]
        for name, seconds, n in results:
            per = seconds / n * 1e6
            ratio = f"{per_single / (seconds / n):,.0f}x faster" if n > 1 and not name.startswith("baseline") else ""
            print(f"| {backend} | {name} | {seconds:.2f} | {n:,} | {per:,.1f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
