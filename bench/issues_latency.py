"""Latency of ``GET /v1/audits/{id}/issues`` on an audit of 100k examples.

Uploads synthetic pred_probs (so no training), runs the audit in-process, serves
the API with uvicorn in a thread and times real HTTP requests. Prints p50/p95 per
query shape, with the ratio to ``GET /healthz`` measured in the same process.

    .venv/bin/python bench/issues_latency.py [--rows 100000] [--requests 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile, synthetic_pred_probs  # noqa: E402


def npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    args = ap.parse_args()

    import httpx
    import uvicorn

    from labelaudit.config import get_settings
    from labelaudit.jobs.worker import run_pending
    from labelaudit.main import create_app

    data_dir = Path(tempfile.mkdtemp(prefix="la-bench-"))
    settings = get_settings(data_dir=data_dir, database_url=args.database_url, workers=0, auth="off")
    app = create_app(settings)
    port = 8765
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=120) as c:
        P, y = synthetic_pred_probs(args.rows)
        t = time.perf_counter()
        ds = c.post("/v1/datasets", files={"file": ("b_pyx.npy", npy(P)), "labels_file": ("b_labels.npy", npy(y))})
        ds.raise_for_status()
        upload_s = time.perf_counter() - t
        audit = c.post("/v1/audits", json={"dataset_id": ds.json()["id"]}).json()
        t = time.perf_counter()
        run_pending(settings, app.state.db)
        audit_s = time.perf_counter() - t
        a = c.get(f"/v1/audits/{audit['id']}").json()
        assert a["status"] == "done", a
        url = f"/v1/audits/{audit['id']}/issues"
        deep = str(args.rows - 200)
        shapes = [
            ("healthz (baseline)", "/healthz", {}),
            ("issues first page (100)", url, {"limit": 100}),
            ("issues page 1000 rows", url, {"limit": 1000}),
            ("issues deep cursor", url, {"limit": 100, "cursor": deep}),
            ("issues given_label=3", url, {"limit": 100, "given_label": 3}),
            ("issues given_label deep", url, {"limit": 100, "given_label": 3, "cursor": str(args.rows // 2)}),
            ("issues only_issues", url, {"limit": 100, "only_issues": "true"}),
            ("issues max_score=0.2", url, {"limit": 100, "max_score": 0.2}),
        ]
        results = []
        for label, path, params in shapes:
            c.get(path, params=params).raise_for_status()  # warm-up
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                r = c.get(path, params=params)
                times.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            results.append((label, statistics.median(times), percentile(times, 0.95)))
    server.should_exit = True
    thread.join(10)

    base_p50 = results[0][1]
    print(f"\nGET /issues latency: {args.rows:,} rows, {a['summary']['num_issues']:,} issues, "
          f"{args.requests} requests per shape, {app.state.db.engine.dialect.name}")
    print(f"(upload {upload_s:.2f}s, audit + store {audit_s:.2f}s)\n")
    print(f"{'query':<28}{'p50 ms':>10}{'p95 ms':>10}{'p50 / healthz':>16}")
    print("-" * 64)
    for label, p50, p95 in results:
        print(f"{label:<28}{p50:>10.2f}{p95:>10.2f}{p50 / base_p50:>15.1f}x")


if __name__ == "__main__":
    main()
