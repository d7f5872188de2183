"""A large bring-your-own pred_probs audit through the real service: time per stage and peak memory per process.

Starts ``labelaudit serve`` (no embedded workers) and one ``labelaudit worker`` on a
temporary data dir (SQLite, or ``--database-url`` in a schema of its own), writes a
synthetic float32 pred_probs ``.npy`` of ``--n`` x ``--k`` with its labels, then:

1. uploads both, streamed (the CLI's multipart body, 1 MiB at a time), and waits for the 201;
2. queues an audit and polls it until done (the worker maps the stored pred_probs, ranks
   them in chunks, writes the pred_probs artifact and bulk-loads one row per example);
3. pages once through the issues and reads one example's detail;
4. exports every row, as CSV and as Parquet (read as a stream).

Baseline, in the same run: reading the file once (what any upload costs at least) for
time, the array's size for memory. The table gives each stage's seconds (the worker's
own stage timings for the audit) and each process's peak resident set (``VmHWM``,
which includes the interpreter and the mapped pages the process touched) against them.

    python bench/service_scale.py                               # 1,000,000 x 100 (400 MB) on SQLite
    python bench/service_scale.py --n 3e6 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import Cluster, pg_schema  # noqa: E402
from bench.scale import ensure_data  # noqa: E402


def read_once(path: Path) -> float:
    """Seconds to read ``path`` once in 1 MiB pieces (the least an upload of it costs)."""
    t = time.perf_counter()
    with open(path, "rb") as fh:
        while fh.read(1 << 20):
            pass
    return time.perf_counter() - t


def run(n: int, k: int, *, workdir: Path, database_url: str | None, seed: int) -> dict:
    import httpx

    from labelaudit.client.multipart import MultipartBody

    data = ensure_data(workdir, n, k, seed)
    labels = Path(str(data) + ".labels.npy")
    floor = min(read_once(data) for _ in range(3))
    out: dict = {"array_mb": n * k * 4 / 1e6, "floor": floor}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(pg_schema(database_url)) if database_url else None
        cluster = Cluster(workdir / "service", url, workers=1)
        cluster.env["LABELAUDIT_MAX_UPLOAD_BYTES"] = str(data.stat().st_size + labels.stat().st_size + (1 << 20))
        cluster.env["LABELAUDIT_MAX_ROWS"] = str(max(n, 5_000_000))
        stack.enter_context(cluster)
        with httpx.Client(base_url=cluster.base_url, timeout=900) as client:
            body = MultipartBody({"name": data.name, "format": "pred-probs"}, {"file": data, "labels_file": labels})
            t = time.perf_counter()
            r = client.post("/v1/datasets", content=iter(body), headers=body.headers)
            out["upload"] = time.perf_counter() - t
            r.raise_for_status()
            dataset = r.json()
            t = time.perf_counter()
            audit = client.post("/v1/audits", json={"dataset_id": dataset["id"]}).json()
            while audit["status"] not in ("done", "failed", "cancelled"):
                time.sleep(0.2)
                audit = client.get(f"/v1/audits/{audit['id']}").json()
            out["audit"] = time.perf_counter() - t
            if audit["status"] != "done":
                raise SystemExit(f"the audit ended {audit['status']}: {audit.get('error')}")
            out["timings"] = audit["timings"]
            t = time.perf_counter()
            page = client.get(f"/v1/audits/{audit['id']}/issues", params={"limit": 50}).json()
            client.get(f"/v1/audits/{audit['id']}/examples/{page['items'][0]['index']}").raise_for_status()
            out["first page + example"] = time.perf_counter() - t
            out["issues"] = audit["summary"]["num_issues"]
            cluster.memory.sample()
            out["peak before export"] = dict(cluster.memory.peak)
            for fmt in ("csv", "parquet"):
                t = time.perf_counter()
                size = 0
                with client.stream("GET", f"/v1/audits/{audit['id']}/export", params={"format": fmt}) as r:
                    r.raise_for_status()
                    for part in r.iter_bytes():
                        size += len(part)
                out[f"export {fmt}"] = (time.perf_counter() - t, size)
        cluster.memory.sample()
        out["peak"] = dict(cluster.memory.peak)
    return out


def report(n: int, k: int, r: dict, backend: str) -> str:
    floor, array_mb = r["floor"], r["array_mb"]
    lines = [f"{n:,} x {k} float32 pred_probs ({array_mb:,.0f} MB), {backend}; {r['issues']:,} issues", "",
             f"{'stage':<44} {'seconds':>8} {'x read once':>12}",
             "-" * 66,
             f"{'baseline: read the file once':<44} {floor:>8.2f} {1:>12.2f}",
             f"{'upload (streamed; server ingests and stores)':<44} {r['upload']:>8.2f} {r['upload'] / floor:>12.2f}",
             f"{'audit, queued to done (polled every 0.2 s)':<44} {r['audit']:>8.2f} {r['audit'] / floor:>12.2f}"]
    for key, value in r["timings"].items():
        if isinstance(value, (int, float)) and key.endswith("seconds"):
            lines.append(f"{'  worker: ' + key:<44} {value:>8.2f} {value / floor:>12.2f}")
    lines.append(f"{'first issues page + one example':<44} {r['first page + example']:>8.2f} "
                 f"{r['first page + example'] / floor:>12.2f}")
    for fmt in ("csv", "parquet"):
        seconds, size = r[f"export {fmt}"]
        label = f"export all rows as {fmt} ({size / 1e6:,.0f} MB)"
        lines.append(f"{label:<44} {seconds:>8.2f} {seconds / floor:>12.2f}")
    lines += ["", f"{'process':<12} {'peak MB':>8} {'x array':>8}  {'before the exports':>18}", "-" * 50]
    for name, peak in r["peak"].items():
        before = r["peak before export"].get(name, 0)
        lines.append(f"{name:<12} {peak / 1e6:>8,.0f} {peak / 1e6 / array_mb:>8.2f}  {before / 1e6:>15,.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=float, default=1e6, help="rows (default 1e6)")
    p.add_argument("--k", type=int, default=100, help="classes (default 100)")
    p.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite (a schema of its own)")
    p.add_argument("--workdir", default=None, help="where the data go (default: a temporary folder, removed)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    n = int(args.n)
    with contextlib.ExitStack() as stack:
        workdir = Path(args.workdir) if args.workdir else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="labelaudit-service-scale-")))
        r = run(n, args.k, workdir=workdir, database_url=args.database_url, seed=args.seed)
        print(report(n, args.k, r, "PostgreSQL" if args.database_url else "SQLite"))


if __name__ == "__main__":
    main()
