"""Large-n ranking and storing: time and peak memory, against cleanlab and a numpy floor, in one run.

For each size ``n x k`` a synthetic float32 pred_probs ``.npy`` is written chunk by chunk
(:func:`bench.data.synthetic_pred_probs_file`) and every method runs in a fresh
subprocess on the same file, opened as a read-only memory map:

- ``floor``: self-confidence ``p[i, y_i]`` and ``np.argsort`` of it: the least any ranking does;
- ``argmax floor``: the floor plus each row's ``np.argmax`` (chunks of 4 MB on every CPU, threads):
  the least a method pays that reads every probability, as confident learning must (the
  suggested label, the margin and the confident joint depend on every value of a row);
- ``labelaudit``: :func:`labelaudit.core.ranking.rank_label_issues` in chunks (the whole Ranking:
  issue mask, scores, ranks, noise matrices; the chunked path is forced at every size);
- ``cleanlab``: cleanlab's ``find_label_issues`` (prune_by_noise_rate, ``n_jobs=1`` as the
  service calls it) + ``get_label_quality_scores`` (normalized_margin) + argsort;
- ``cleanlab batched``: cleanlab's streaming ``find_label_issues_batched`` (its own
  low-self-confidence issues, not the same results; ``n_jobs=1``);
- ``store sqlite`` / ``store postgres``: the worker's storing step (:func:`labelaudit.jobs.worker._store`:
  the pred_probs artifact, streamed, and the per-example rows bulk-loaded with the done status
  in one transaction); ``rows`` is the row-loading part. ``store old`` replays the previous code
  (a float32 copy + an in-memory ``.npy``, and ORM inserts of row dicts in batches of 5,000).

Each ranking method runs ``--repeat`` times (the fastest run is shown: the machine may be
shared); each storing step once. Time excludes imports. Peak memory is the child's peak
resident set (``VmHWM``, reset after its imports), so it includes the interpreter and the pages
of the memory-mapped file it touched.

    python -m bench.scale                                  # 1e5, 1e6, 3e6 rows x 10, 100 classes
    python -m bench.scale --sizes 1e6 --classes 100 --database-url postgresql+psycopg://postgres@127.0.0.1/test

PostgreSQL runs in a temporary schema (``options=-csearch_path=...``), dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import children  # noqa: E402
from bench.children import load_average, peak_bytes, reset_peak, status_bytes  # noqa: E402
METHODS = ("floor", "argmax floor", "labelaudit", "cleanlab", "cleanlab batched")


# --------------------------------------------------------------------------- child side








def child(args) -> None:
    import numpy as np

    import cleanlab.count  # noqa: F401  imports are not timed
    import cleanlab.filter  # noqa: F401
    import cleanlab.rank  # noqa: F401
    from cleanlab.experimental.label_issues_batched import find_label_issues_batched

    from labelaudit.core.ranking import rank_label_issues

    P = np.load(args.data, mmap_mode="r")
    labels = np.load(args.data + ".labels.npy")
    extra: dict = {}
    if args.child.startswith("store"):
        setup = _store_setup(args, P, labels)
    base = status_bytes("VmRSS")
    reset = reset_peak()
    t = time.perf_counter()
    if args.child == "floor":
        order = np.argsort(P[np.arange(labels.size), labels])
        extra["checksum"] = int(order[0])
    elif args.child == "argmax floor":
        from concurrent.futures import ThreadPoolExecutor

        from labelaudit.core.ranking.chunked import CHUNK_CELLS, _cpus

        n, k = P.shape
        rows = max(1, CHUNK_CELLS // k)
        best = np.empty(n, dtype=np.int64)

        def argmax(s: int) -> None:
            best[s:s + rows] = np.asarray(P[s:s + rows]).argmax(axis=1)

        with ThreadPoolExecutor(_cpus()) as pool:
            list(pool.map(argmax, range(0, n, rows)))
        order = np.argsort(P[np.arange(labels.size), labels])
        extra["checksum"] = int(order[0] + best[0])
    elif args.child == "labelaudit":
        r = rank_label_issues(labels, P, chunked=True)
        extra.update(issues=r.num_issues, estimated=r.estimated_num_issues)
    elif args.child == "cleanlab":
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores

        issues = find_label_issues(labels, P, filter_by="prune_by_noise_rate", n_jobs=1)
        scores = get_label_quality_scores(labels, P, method="normalized_margin")
        order = np.argsort(scores, kind="stable")
        extra.update(issues=int(issues.sum()), checksum=int(order[0]))
    elif args.child == "cleanlab batched":
        ranked = find_label_issues_batched(labels=labels, pred_probs=P, batch_size=10_000, n_jobs=1, verbose=False)
        extra.update(issues=int(len(ranked)))
    elif args.child.startswith("store"):
        extra.update(_store_run(args, setup))
    else:
        raise SystemExit(f"unknown child {args.child}")
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "peak": peak_bytes(reset), "base": base, **extra}))


def _store_setup(args, P, labels):
    import numpy as np

    from labelaudit.core.dataset import Dataset
    from labelaudit.core.pipeline import AuditOptions, AuditResult
    from labelaudit.core.ranking import rank_label_issues
    from labelaudit.config import Settings
    from labelaudit.store import queue
    from labelaudit.store.artifacts import ArtifactStore
    from labelaudit.store.db import open_database
    from labelaudit.store.ids import new_id
    from labelaudit.store.models import DatasetRecord, utcnow

    work = Path(args.workdir)
    settings = Settings(data_dir=work / "data", database_url=args.database_url or None)
    db = open_database(settings)
    artifacts = ArtifactStore(work / "artifacts")
    k = P.shape[1]
    names = [f"c{i}" for i in range(k)]
    ds = Dataset(labels=labels, class_names=names, modality="pred_probs", pred_probs=P)
    ranking = rank_label_issues(labels, P, chunked=True)
    result = AuditResult(dataset=ds, options=AuditOptions(), pred_probs=P, ranking=ranking, evaluation=None,
                         crossval=None, timings={})
    rec = DatasetRecord(id=new_id("ds"), name="bench", rows=int(labels.size), classes=k, class_names=names,
                        modality="pred_probs", feature_shape=[k], format="pred-probs", sha256="0" * 64,
                        artifact="0" * 64, created_at=utcnow())
    with db.sessions.begin() as s:
        s.add(rec)
    queue.enqueue(db, dataset_id=rec.id, options={})
    job = queue.claim(db, "bench")
    return {"db": db, "artifacts": artifacts, "result": result, "job": job, "np": np}


def _store_run(args, setup) -> dict:
    from labelaudit.jobs import worker
    from labelaudit.store import queries

    db, artifacts, result, job = setup["db"], setup["artifacts"], setup["result"], setup["job"]
    t = time.perf_counter()
    if args.child == "store old":
        artifact_seconds = _old_store(db, artifacts, result, job)
    else:
        timings: dict = {}
        status = worker._store(job, result, db=db, artifacts=artifacts, worker_id="bench", timings=timings,
                               started=t)
        assert status == "done", status
        artifact_seconds = timings["store_seconds"]
    total = time.perf_counter() - t
    with db.sessions() as s:
        stored = queries.count_rows(s, audit_id=job.id)
    assert stored == result.dataset.num_examples, (stored, result.dataset.num_examples)
    db.dispose()
    return {"rows_seconds": total - artifact_seconds, "artifact_seconds": artifact_seconds}


def _old_store(db, artifacts, result, job) -> float:
    """The storing code before the COPY / streaming change, for comparison (since 0008 into the audit's own
    table, indexed after, as the store does)."""
    import io

    import numpy as np
    from sqlalchemy import insert, update

    from labelaudit.store.models import DONE
    from labelaudit.store.queue import _owned
    from labelaudit.store.rowtables import create_bare, index_and_attach, rows_table

    t = time.perf_counter()
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(result.pred_probs.astype(np.float32)), allow_pickle=False)
    artifacts.put_bytes(buf.getvalue(), "npy")
    del buf
    artifact_seconds = time.perf_counter() - t
    r, ds = result.ranking, result.dataset
    order = np.asarray(r.order)
    cols = {
        "index": order.tolist(),
        "given_label": ds.labels[order].tolist(),
        "suggested_label": np.asarray(r.suggested_labels)[order].tolist(),
        "quality_score": np.asarray(r.quality_scores, dtype=np.float64)[order].tolist(),
        "is_issue": np.asarray(r.is_issue, dtype=bool)[order].tolist(),
        "true_label": [None] * len(order),
        "example_id": [None] * len(order),
    }
    keys = list(cols)
    with db.sessions.begin() as s:
        s.execute(update(type(job)).where(*_owned(job.id, "bench")).values(status=DONE))
        create_bare(s.connection(), job.id)
        table = rows_table(job.id)
        chunk = []
        for rank, values in enumerate(zip(*cols.values())):
            row = dict(zip(keys, values))
            row["rank"] = rank
            chunk.append({**row, "audit_id": job.id})
            if len(chunk) >= 5000:
                s.execute(insert(table), chunk)
                chunk = []
        if chunk:
            s.execute(insert(table), chunk)
        index_and_attach(s.connection(), job.id, len(order))
    return artifact_seconds


# --------------------------------------------------------------------------- parent side




def run_child(method: str, data: Path, *, database_url: str | None = None, timeout: float = 3600) -> dict:
    """One method on ``data`` in a fresh process (see :mod:`bench.children`)."""
    args = ["--child", method, "--data", str(data)] + (["--database-url", database_url] if database_url else [])
    return children.run_child("bench.scale", args, prefix="labelaudit-scale-store-", timeout=timeout)


class TempSchema:
    """A fresh PostgreSQL schema for one run, dropped afterwards; ``url`` points its search_path there."""

    def __init__(self, url: str):
        self.admin = url.replace("postgresql+psycopg://", "postgresql://")
        self.schema = f"la_scale_{os.getpid()}_{secrets.token_hex(4)}"
        sep = "&" if "?" in url else "?"
        self.url = f"{url}{sep}options={quote('-csearch_path=' + self.schema)}"

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        return self.url

    def __exit__(self, *exc) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def ensure_data(workdir: Path, n: int, k: int, seed: int) -> Path:
    from bench.common import synthetic_pred_probs_file

    import numpy as np

    path = workdir / f"pred_probs_{n}x{k}_s{seed}.npy"
    if not (path.exists() and Path(str(path) + ".labels.npy").exists()):
        t = time.perf_counter()
        _, labels = synthetic_pred_probs_file(path, n, k, noise=0.03, seed=seed)
        np.save(str(path) + ".labels.npy", labels)
        print(f"# wrote {path.name} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f}s",
              flush=True)
    return path




def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1e5,1e6,3e6", help="rows, comma-separated (default 1e5,1e6,3e6)")
    p.add_argument("--classes", default="10,100", help="classes, comma-separated (default 10,100)")
    p.add_argument("--skip-cleanlab-above", type=float, default=1e8,
                   help="skip cleanlab's whole-array find_label_issues above this many values (n x k); "
                        "default 1e8 (its copies of a 3e6 x 100 array need several GB)")
    p.add_argument("--skip-old-store-above", type=float, default=1e6,
                   help="skip the previous storing code above this many rows (default 1e6)")
    p.add_argument("--database-url", default=None, help="also store into PostgreSQL (a temporary schema)")
    p.add_argument("--no-store", action="store_true", help="rank only: skip the storing steps")
    p.add_argument("--workdir", default=None, help="where the data files go (default: a temporary folder)")
    p.add_argument("--keep-data", action="store_true", help="keep the generated data files")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each ranking method (fresh processes); the fastest is reported (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the running child is killed, schemas dropped

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    classes = [int(c) for c in args.classes.split(",")]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="labelaudit-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"# {os.cpu_count()} CPUs; load average at start {load_average()}", flush=True)
    header = (f"{'n':>9} {'k':>4} {'array MB':>9}  {'method':<17} {'seconds':>8} {'x floor':>8} "
              f"{'peak MB':>8} {'x array':>8}  notes")
    lines = [header, "-" * len(header)]
    print(header, flush=True)
    verdicts = []
    try:
        for n in sizes:
            for k in classes:
                data = ensure_data(workdir, n, k, args.seed)
                array_mb = n * k * 4 / 1e6
                runs: list[tuple[str, dict]] = []
                for method in METHODS:
                    if method == "cleanlab" and n * k > args.skip_cleanlab_above:
                        runs.append((method, {"skipped": f"skipped: n x k > --skip-cleanlab-above "
                                                          f"{args.skip_cleanlab_above:g}"}))
                        continue
                    tries = [run_child(method, data) for _ in range(max(1, args.repeat))]
                    ok = [t for t in tries if "seconds" in t]
                    runs.append((method, min(ok, key=lambda t: t["seconds"]) if ok else tries[0]))
                if not args.no_store:
                    runs.append(("store sqlite", run_child("store sqlite", data)))
                    if args.database_url:
                        with TempSchema(args.database_url) as url:
                            runs.append(("store postgres", run_child("store postgres", data, database_url=url)))
                    if n <= args.skip_old_store_above:
                        runs.append(("store old sqlite", run_child("store old", data)))
                        if args.database_url:
                            with TempSchema(args.database_url) as url:
                                runs.append(("store old postgres",
                                             run_child("store old", data, database_url=url)))
                    else:
                        runs.append(("store old", {"skipped": f"skipped: n > --skip-old-store-above "
                                                              f"{args.skip_old_store_above:g}"}))
                floor = dict(runs)["floor"].get("seconds")
                for method, r in runs:
                    if "seconds" not in r:
                        note = r.get("skipped") or r.get("error", "")
                        line = (f"{n:>9,} {k:>4} {array_mb:>9,.0f}  {method:<17} {'-':>8} {'-':>8} {'-':>8} {'-':>8}"
                                f"  {note}")
                    else:
                        ratio = f"{r['seconds'] / floor:.2f}" if floor and not method.startswith("store") else ""
                        notes = []
                        if method == "labelaudit" and "seconds" in dict(runs)["argmax floor"]:
                            notes.append(f"{r['seconds'] / dict(runs)['argmax floor']['seconds']:.2f}x argmax floor")
                        if "issues" in r:
                            notes.append(f"{r['issues']:,} issues")
                        if "rows_seconds" in r:
                            notes.append(f"rows {r['rows_seconds']:.2f}s, artifact {r['artifact_seconds']:.2f}s")
                        notes.append(f"base {r['base'] / 1e6:.0f} MB")
                        line = (f"{n:>9,} {k:>4} {array_mb:>9,.0f}  {method:<17} {r['seconds']:>8.2f} {ratio:>8} "
                                f"{r['peak'] / 1e6:>8,.0f} {r['peak'] / 1e6 / array_mb:>8.2f}  {'; '.join(notes)}")
                    print(line, flush=True)
                    lines.append(line)
                    if method == "labelaudit" and "seconds" in r and n == 1_000_000 and k == 100:
                        read = dict(runs)["argmax floor"].get("seconds")
                        verdicts.append((r["seconds"] / floor, r["seconds"] / read if read else float("nan"),
                                         read / floor if read else float("nan"), r["peak"] / 1e6 / array_mb))
                print(f"# load average {load_average()}", flush=True)
    finally:
        if not args.keep_data and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("\n".join(lines))
    for time_ratio, read_ratio, read_floor_ratio, mem_ratio in verdicts:
        print(f"\ntarget at 1e6 x 100: time {time_ratio:.2f}x the floor (target <= 2; reading every value once "
              f"with numpy alone, the argmax floor, takes {read_floor_ratio:.2f}x the floor, and labelaudit "
              f"{read_ratio:.2f}x that), peak memory {mem_ratio:.2f}x the pred_probs array (target < 2)")
    print(f"# load average at end {load_average()}")


if __name__ == "__main__":
    main()
