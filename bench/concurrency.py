"""Overlapping audits on one host: N audits at once against the same N one after another.

Each audit is ``labelaudit audit`` in its own process, all sharing one data directory (so
they share the host's CPU budget, ``LABELAUDIT_CPU_BUDGET=shared``), on the first ``--n``
MNIST test images (from ../shared; the scikit-learn digits when absent) with the ``cnn``
backbone. For every N in ``--overlap`` it prints the wall time of N audits started at
once, the wall time of N run one after another, their ratio (the target: at most 1.1),
and each overlapping audit's folds' thread counts; once with the budget shared and once
with it off (``LABELAUDIT_CPU_BUDGET=off``: every process sizes its pools for the whole
machine), in the same run, after one untimed warm-up audit; ``--configs passive`` adds the budget
with sleeping OpenMP threads (``OMP_WAIT_POLICY=PASSIVE``). The one-after-another runs also give a lone audit's time under each setting.

``--modes`` picks how the audits overlap: ``cli`` (the above: N ``labelaudit audit`` processes), ``workers``
(``labelaudit serve`` without embedded workers and N ``labelaudit worker`` processes, against one worker
taking the N audits one after another) and ``serve`` (one ``labelaudit serve`` with ``LABELAUDIT_WORKERS=N``
worker threads, against one thread). In the service modes the dataset is uploaded once, the N audits are
queued at once through the API, and the wall time runs from the first request to the last audit done; each
worker process (or the server) imports torch at its first audit, which the N-worker runs pay N times.

    python -m bench.concurrency                # N = 1, 2; 1,000 images, 3 folds, 1 epoch (1-2 minutes on 2 cores)
    python -m bench.concurrency --overlap 1 2 4 --n 2000
    python -m bench.concurrency --modes cli workers serve --overlap 2 4 --configs shared
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from bench.children import load_average

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = ROOT.parent / "shared" / "datasets" / "mnist-test"


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = np.frombuffer(raw[4:4 + 4 * ndim], dtype=">u4").astype(int)
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)


def write_images(folder: Path, n: int) -> tuple[Path, Path, str]:
    """The first ``n`` MNIST test images and labels as IDX files in ``folder`` (without MNIST: the digits,
    scaled to 0-255)."""
    images, labels = MNIST_DIR / "t10k-images-idx3-ubyte.gz", MNIST_DIR / "t10k-labels-idx1-ubyte.gz"
    if images.exists() and labels.exists():
        X, y, name = _read_idx(images)[:n], _read_idx(labels)[:n], f"MNIST test, first {n:,}"
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        X, y = (d.images[:n] * (255 / 16)).astype(np.uint8), d.target[:n].astype(np.uint8)
        name = f"scikit-learn digits, first {len(y):,}"
    out_x, out_y = folder / "images-idx3-ubyte.gz", folder / "labels-idx1-ubyte.gz"
    out_x.write_bytes(_idx(X))
    out_y.write_bytes(_idx(y))
    return out_x, out_y, name


def start_audit(images: Path, labels: Path, out: Path, env: dict, args) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "labelaudit.cli", "audit", str(images), "--labels", str(labels), "--backbone",
           args.backbone, "--folds", str(args.folds), "--epochs", str(args.epochs), "--device", "cpu",
           "--seed", "0", "-q", "--show", "0", "--json", str(out)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"an audit failed (exit {proc.returncode}): {err.strip()[-400:]}")


def run(n_audits: int, *, together: bool, images, labels, work: Path, env: dict, args) -> tuple[float, list]:
    """Wall seconds of ``n_audits`` audits (started at once, or one after another) and each one's fold threads."""
    outs = [work / f"audit-{i}.json" for i in range(n_audits)]
    start = time.perf_counter()
    if together:
        procs = [start_audit(images, labels, out, env, args) for out in outs]
        for p in procs:
            finish(p)
    else:
        for out in outs:
            finish(start_audit(images, labels, out, env, args))
    wall = time.perf_counter() - start
    return wall, [json.loads(out.read_text())["timings"]["fold_threads"] for out in outs]


def run_service(n_audits: int, *, together: bool, mode: str, images, labels, work: Path, env: dict,
                args) -> tuple[float, list]:
    """:func:`run` through the service: N audits queued at once for N workers (``workers``: processes,
    ``serve``: threads of the server) or for one (``together=False``)."""
    import httpx

    from bench.load import Cluster

    lanes = n_audits if together else 1
    data = work / f"service-{mode}-{n_audits}-{'together' if together else 'sequential'}-{time.monotonic_ns()}"
    cluster = Cluster(data, workers=lanes if mode == "workers" else 0)
    cluster.env.pop("OMP_NUM_THREADS", None)  # the CPU budget sizes the pools, as in production
    cluster.env.update({k: v for k, v in env.items() if k in ("LABELAUDIT_CPU_BUDGET", "OMP_WAIT_POLICY")})
    if mode == "serve":
        cluster.env["LABELAUDIT_WORKERS"] = str(lanes)
    with cluster, httpx.Client(base_url=cluster.base_url, timeout=120) as client:
        logs = [cluster.logs / "server.log"] if mode == "serve" else \
            [cluster.logs / f"worker-{i}.log" for i in range(lanes)]
        end = time.monotonic() + 120
        while sum(p.exists() and p.read_text().count('"worker_started"') for p in logs) < lanes:
            if time.monotonic() > end:
                raise SystemExit(f"the workers did not start: see {cluster.logs}")
            time.sleep(0.1)
        start = time.perf_counter()
        with open(images, "rb") as fx, open(labels, "rb") as fy:
            r = client.post("/v1/datasets", files={"file": (images.name, fx), "labels_file": (labels.name, fy)})
        r.raise_for_status()
        options = {"dataset_id": r.json()["id"], "backbone": args.backbone, "folds": args.folds,
                   "epochs": args.epochs, "device": "cpu", "seed": 0}
        ids = [client.post("/v1/audits", json=options).raise_for_status().json()["id"] for _ in range(n_audits)]
        audits = {}
        while len(audits) < n_audits:
            for i in ids:
                if i not in audits:
                    a = client.get(f"/v1/audits/{i}").json()
                    if a["status"] in ("failed", "cancelled"):
                        raise SystemExit(f"an audit {a['status']}: {a.get('error')}")
                    if a["status"] == "done":
                        audits[i] = a
            time.sleep(0.1)
        wall = time.perf_counter() - start
    return wall, [audits[i]["timings"]["fold_threads"] for i in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overlap", type=int, nargs="+", default=[1, 2], help="audits started together (N)")
    parser.add_argument("--n", type=int, default=1000, help="images per audit")
    parser.add_argument("--backbone", default="cnn")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--configs", nargs="+", default=["shared", "off"], choices=["shared", "off", "passive"],
                        help="shared: the CPU budget; off: LABELAUDIT_CPU_BUDGET=off (every process sizes its "
                             "pools for the machine, as before the budget); passive: the budget and "
                             "OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep instead of spinning while they wait)")
    parser.add_argument("--modes", nargs="+", default=["cli"], choices=["cli", "workers", "serve"],
                        help="cli: N `labelaudit audit` processes; workers: N `labelaudit worker` processes; "
                             "serve: N worker threads of one `labelaudit serve`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="la-concurrency-") as tmp:
        work = Path(tmp)
        images, labels, name = write_images(work, args.n)
        print(f"{name} images, backbone {args.backbone}, {args.folds} folds x {args.epochs} epochs, "
              f"{len(os.sched_getaffinity(0))} cores, load {load_average()}")
        # one untimed audit first, so that no timed run pays for cold caches (imports, the page cache)
        run(1, together=False, images=images, labels=labels, work=work,
            env={**os.environ, "LABELAUDIT_DATA_DIR": str(work / "warm-up")}, args=args)
        print("| mode | setting | N | overlapping wall s | one after another s | ratio | lone audit s "
              "| fold threads (overlapping) |")
        print("|---|---|---|---|---|---|---|---|")
        for n, mode, config in ((n, m, c) for n in args.overlap for m in args.modes for c in args.configs):
            # the settings alternate, so that a change in the machine's load hits each of them
            env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
            env.pop("OMP_WAIT_POLICY", None)
            env.update(LABELAUDIT_DATA_DIR=str(work / f"data-{config}"),
                       LABELAUDIT_CPU_BUDGET="off" if config == "off" else "shared")
            if config == "passive":
                env["OMP_WAIT_POLICY"] = "PASSIVE"
            measure = run if mode == "cli" else partial(run_service, mode=mode)
            seq, threads = measure(n, together=False, images=images, labels=labels, work=work, env=env,
                                   args=args)
            par = seq
            if n > 1:
                par, threads = measure(n, together=True, images=images, labels=labels, work=work, env=env,
                                       args=args)
            print(f"| {mode} | {config} | {n} | {par:.1f} | {seq:.1f} | {par / seq:.2f} | {seq / n:.1f} | "
                  f"{'; '.join(','.join(map(str, t)) for t in threads)} |", flush=True)

if __name__ == "__main__":
    main()
