"""Ingest of large bring-your-own pred_probs: the previous whole-array code against the streamed one, in one run.

For each size ``n x k`` a pred_probs ``.npy`` (and its labels) is written chunk by chunk and
each method runs in a fresh subprocess on the same files, the way an upload is handled
(ingest the file on disk, then store the dataset with ``ArtifactStore.put_dataset``):

- ``whole-array``: the previous code, replayed here: ``np.load`` of the whole array, the
  vectorised checks (``isfinite`` and comparisons build n x k temporaries), clipping and
  renormalising in memory when rows need it, then ``put_dataset``;
- ``streamed``: :func:`labelaudit.core.ingest.load_dataset` on the path (a read-only memory map
  checked in row chunks; rows needing repair are written chunk by chunk to an unlinked
  temporary file), then ``put_dataset``.

Data kinds (``--kinds``): ``softmax`` is :func:`bench.data.synthetic_pred_probs_file`'s float32
softmax rows, whose float32 row sums stray from 1 by more than 1e-7, so both methods
renormalise every file (as real float32 model outputs usually need); ``exact`` rows are
multiples of 2**-20 summing to exactly 1, so nothing is repaired. Both methods must store
byte-identical artifacts (``same artifact``).

Time excludes imports and includes storing. Peak memory is the child's peak resident set
(``VmHWM``, reset after its imports), so it includes the pages of memory-mapped files it
touched and still holds.

    python -m bench.ingest                                   # 1e5, 1e6 rows x 100 classes, both kinds
    python -m bench.ingest --sizes 1e6 --classes 100 --kinds softmax,exact
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import children  # noqa: E402
from bench.children import load_average, peak_bytes, reset_peak, status_bytes  # noqa: E402
METHODS = ("whole-array", "streamed")
KINDS = ("softmax", "exact")


# --------------------------------------------------------------------------- child side








def old_ingest(path: str, labels_path: str):
    """The previous ingest of a pred_probs ``.npy`` pair: the whole array read, then checked and repaired in memory.

    Returns the dataset and whether rows were repaired.
    """
    import numpy as np

    from labelaudit.core.dataset import Dataset
    from labelaudit.core.ingest import PRED_PROBS_TOLERANCE, validate_dataset
    from labelaudit.core.ingest.labels import label_values
    from labelaudit.errors import IngestError

    P = np.load(path, allow_pickle=False)
    y = label_values(np.load(labels_path, allow_pickle=False), "labels")
    n, k = P.shape
    if n and (y.min() < 0 or y.max() >= k):
        raise IngestError("labels out of range", field="labels", code="label_out_of_range")
    P = P.astype(np.float32 if P.dtype == np.float32 else np.float64, copy=False)
    finite = np.isfinite(P).all(axis=1)
    if not finite.all():
        raise IngestError("NaN or infinity", field="pred_probs", code="non_finite")
    tol = PRED_PROBS_TOLERANCE
    out_of_range = (P < -tol).any(axis=1) | (P > 1 + tol).any(axis=1)
    if out_of_range.any():
        raise IngestError("values outside [0, 1]", field="pred_probs", code="out_of_range")
    sums = P.sum(axis=1)
    bad = np.abs(sums - 1.0) > tol
    if bad.any():
        raise IngestError("rows not normalised", field="pred_probs", code="not_normalised")
    needs_repair = bool((P < 0).any() or (P > 1).any() or (np.abs(sums - 1.0) > 1e-7).any())
    if needs_repair:
        P = np.clip(P, 0.0, 1.0)
        P = P / P.sum(axis=1, keepdims=True)
    ds = Dataset(labels=y, class_names=[str(i) for i in range(k)], modality="pred_probs", pred_probs=P,
                 meta={"format": "pred-probs"})
    return validate_dataset(ds, folds=2), needs_repair


def _mapped_file(array) -> str | None:
    """The file a memory-mapped array (or a view of one) maps."""
    import numpy as np

    while array is not None and not isinstance(array, np.memmap):
        array = getattr(array, "base", None)
    return getattr(array, "filename", None)


def child(args) -> None:
    import numpy as np  # noqa: F401  imports are not timed
    import numpy.lib.format  # noqa: F401

    from labelaudit.core import ingest
    from labelaudit.store.artifacts import ArtifactStore

    work = Path(args.workdir)
    store = ArtifactStore(work / "artifacts")
    source = os.path.abspath(args.data)
    base = status_bytes("VmRSS")
    reset = reset_peak()
    t = time.perf_counter()
    if args.child == "whole-array":
        ds, repaired = old_ingest(args.data, args.labels)
    elif args.child == "streamed":
        ds = ingest.load_dataset(args.data, labels=args.labels, folds=2, temp_dir=work)
        repaired = _mapped_file(ds.pred_probs) != source  # a repaired copy maps another (unlinked) file
    else:
        raise SystemExit(f"unknown child {args.child}")
    ingest_seconds = time.perf_counter() - t
    digest = store.put_dataset(ds)
    seconds = time.perf_counter() - t
    left = [p.name for p in work.iterdir() if p.name != "artifacts"]
    print(json.dumps({"seconds": seconds, "ingest_seconds": ingest_seconds, "peak": peak_bytes(reset), "base": base,
                      "digest": digest, "repaired": repaired, "left": left}))


# --------------------------------------------------------------------------- parent side




def run_child(method: str, data: Path, labels: Path, *, timeout: float = 3600) -> dict:
    """One method on ``data`` in a fresh process (see :mod:`bench.children`)."""
    return children.run_child("bench.ingest", ["--child", method, "--data", str(data), "--labels", str(labels)],
                              prefix="labelaudit-ingest-run-", timeout=timeout)


def write_exact(path: Path, n: int, k: int, seed: int, chunk_rows: int = 65536):
    """float32 rows of multiples of 2**-20 that sum to exactly 1 (nothing to repair), written chunk by chunk."""
    import numpy as np

    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, k))
    labels = np.empty(n, dtype=np.int64)
    for i, s in enumerate(range(0, n, chunk_rows)):
        rng = np.random.default_rng([seed, i])
        rows = min(chunk_rows, n - s)
        counts = np.floor(rng.dirichlet(np.full(k, 0.1), rows) * 2**20)
        counts[np.arange(rows), counts.argmax(axis=1)] += 2**20 - counts.sum(axis=1)
        out[s:s + rows] = counts / 2**20
        labels[s:s + rows] = counts.argmax(axis=1)
    out.flush()
    del out
    return labels


def ensure_data(workdir: Path, kind: str, n: int, k: int, seed: int) -> tuple[Path, Path]:
    import numpy as np

    from bench.common import synthetic_pred_probs_file

    path = workdir / f"{kind}_{n}x{k}_s{seed}_pyx.npy"
    labels_path = workdir / f"{kind}_{n}x{k}_s{seed}_labels.npy"
    if not (path.exists() and labels_path.exists()):
        t = time.perf_counter()
        if kind == "softmax":
            _, labels = synthetic_pred_probs_file(path, n, k, noise=0.03, seed=seed)
        else:
            labels = write_exact(path, n, k, seed)
        np.save(labels_path, labels)
        print(f"# wrote {path.name} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f}s",
              flush=True)
    return path, labels_path




def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1e5,1e6", help="rows, comma-separated (default 1e5,1e6)")
    p.add_argument("--classes", default="100", help="classes, comma-separated (default 100)")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"data kinds, comma-separated (default {','.join(KINDS)})")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs of each method (fresh processes); the fastest is reported (default 1)")
    p.add_argument("--workdir", default=None, help="where the data files go (default: a temporary folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    p.add_argument("--labels", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the data folder is removed

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    classes = [int(c) for c in args.classes.split(",")]
    kinds = [k.strip() for k in args.kinds.split(",")]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise SystemExit(f"unknown kinds {unknown}; choose from {KINDS}")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="labelaudit-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"# {os.cpu_count()} CPUs; load average at start {load_average()}", flush=True)
    header = (f"{'n':>9} {'k':>4} {'array MB':>9}  {'kind':<8} {'method':<12} {'seconds':>8} {'x old':>6} "
              f"{'ingest s':>9} {'peak MB':>8} {'x array':>8}  notes")
    lines = [header, "-" * len(header)]
    print(header, flush=True)
    failed = False
    try:
        for n in sizes:
            for k in classes:
                for kind in kinds:
                    data, labels = ensure_data(workdir, kind, n, k, args.seed)
                    array_mb = n * k * 4 / 1e6
                    runs = {}
                    for method in METHODS:
                        tries = [run_child(method, data, labels) for _ in range(max(1, args.repeat))]
                        ok = [t for t in tries if "seconds" in t]
                        runs[method] = min(ok, key=lambda t: t["seconds"]) if ok else tries[0]
                    old = runs["whole-array"].get("seconds")
                    digests = {r.get("digest") for r in runs.values()}
                    for method, r in runs.items():
                        if "seconds" not in r:
                            failed = True
                            line = (f"{n:>9,} {k:>4} {array_mb:>9,.0f}  {kind:<8} {method:<12} {'-':>8} {'-':>6} "
                                    f"{'-':>9} {'-':>8} {'-':>8}  {r.get('error', '')}")
                        else:
                            ratio = f"{r['seconds'] / old:.2f}" if old else ""
                            notes = ["repaired" if r["repaired"] else "used as is", f"base {r['base'] / 1e6:.0f} MB"]
                            if method != "whole-array":
                                same = len(digests) == 1
                                failed = failed or not same
                                notes.append("same artifact" if same else "ARTIFACT DIFFERS")
                            if r["left"]:
                                failed = True
                                notes.append(f"LEFT FILES {r['left']}")
                            line = (f"{n:>9,} {k:>4} {array_mb:>9,.0f}  {kind:<8} {method:<12} {r['seconds']:>8.2f} "
                                    f"{ratio:>6} {r['ingest_seconds']:>9.2f} {r['peak'] / 1e6:>8,.0f} "
                                    f"{r['peak'] / 1e6 / array_mb:>8.2f}  {'; '.join(notes)}")
                        print(line, flush=True)
                        lines.append(line)
                    print(f"# load average {load_average()}", flush=True)
                    if not args.workdir:
                        data.unlink(missing_ok=True)
                        labels.unlink(missing_ok=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("\n".join(lines))
    print(f"# load average at end {load_average()}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
