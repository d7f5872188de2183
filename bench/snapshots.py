"""Snapshot averaging of the held-out predictions (backbone option ``snapshots``) on MNIST-10k, per seed.

Two settings, each 5-fold ``cnn`` on the 10,000 MNIST test images, seeds ``--seeds``:

* ``instance``: ``instance`` noise at 1% (:func:`~labelaudit.core.dataset_noise.dataset_noise`, the seed draws
  the noise and trains), then ``rank_label_issues`` on the noisy labels: AP, the issue set's precision and
  recall, precision among the 100 lowest-quality rows;
* ``orig``: the original labels; how many of our 100 lowest-quality rows are among the 100 lowest from
  cleanlab's published probabilities (as ``bench/agreement.py``).

One training run gives every snapshot count up to its own: the snapshots are predicted in eval mode, which
changes neither the BatchNorm statistics nor the random streams, so the run with ``snapshots=k`` trains
exactly the model of ``snapshots=1`` and its last prediction is that run's. The script runs each
``--epochs`` value once with ``snapshots=--max-snapshots``, records every fold's snapshot predictions
(``training.average_snapshots``) and derives ``snapshots=1..k`` from them; ``--check`` also runs the plain
default for the first seed and asserts its probabilities equal the derived ``snapshots=1``, bit for bit,
and times it. Probabilities and CPU seconds are cached (``--cache``), so nothing is recomputed.

    python bench/snapshots.py [--seeds 3] [--epochs 8 10] [--max-snapshots 4] [--check] [--cache /tmp/snap-cache]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import labelaudit.core.backbones.training as training  # noqa: E402
from bench.data import load  # noqa: E402
from labelaudit.core.crossval import cross_val_pred_probs  # noqa: E402
from labelaudit.core.dataset_noise import dataset_noise  # noqa: E402
from labelaudit.core.evaluate import evaluate_audit  # noqa: E402
from labelaudit.core.ranking import rank_label_issues  # noqa: E402

PYX = ROOT.parent / "shared" / "datasets" / "label-errors" / "mnist_test_set_pyx.npy"
TOP = 100


def labels_for(ds, setting: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The audited labels and the flipped mask (none flipped for the original labels)."""
    if setting == "orig":
        return ds.labels, np.zeros(ds.num_examples, dtype=bool)
    noisy = dataset_noise(ds, kind="instance", rate=0.01, seed=seed)
    return noisy.labels, noisy.flipped


def recorded_run(ds, labels, seed: int, epochs: int | None, snapshots: int) -> tuple[np.ndarray, float, float]:
    """``(k, n, classes)`` probabilities of ``snapshots=1..k`` (derived from one run), its CPU seconds and the
    CPU seconds of its held-out predictions (``snapshots`` a fold, the final one included)."""
    calls: list[list[np.ndarray]] = []
    original, predict = training.average_snapshots, training._predict
    predict_cpu = [0.0]

    def record(snaps):
        calls.append([s.copy() for s in snaps])
        return original(snaps)

    def timed_predict(*a, **kw):
        start = time.process_time()
        try:
            return predict(*a, **kw)
        finally:
            predict_cpu[0] += time.process_time() - start

    training.average_snapshots, training._predict = record, timed_predict
    try:
        cpu = time.process_time()
        cv = cross_val_pred_probs(ds.features, labels, num_classes=ds.num_classes, modality="image", backbone="cnn",
                                  folds=5, seed=seed, device="cpu", epochs=epochs,
                                  options={"snapshots": snapshots} if snapshots > 1 else None)
        cpu = time.process_time() - cpu
    finally:
        training.average_snapshots, training._predict = original, predict
    assert len(calls) == 5 and all(len(c) == snapshots for c in calls), [len(c) for c in calls]
    out = np.zeros((snapshots, *cv.pred_probs.shape))
    for fold, snaps in enumerate(calls):  # each call is one fold's, held-out rows in the fold's canonical order
        rows = np.flatnonzero(cv.fold_ids == fold)
        final = original(snaps)
        where = {cv.pred_probs[r].tobytes(): r for r in rows}
        order = np.array([where[p.tobytes()] for p in final])
        assert len(set(order.tolist())) == len(rows)
        for k in range(1, snapshots + 1):
            out[k - 1, order] = original(snaps[-k:])
    return out, cpu, predict_cpu[0]


def cached(cache: Path, ds, setting: str, seed: int, epochs: int | None, snapshots: int):
    path = cache / f"mnist_{setting}_s{seed}_e{epochs or 'default'}_snap{snapshots}.npz"
    if not path.exists():
        labels, _ = labels_for(ds, setting, seed)
        probs, cpu, predict_cpu = recorded_run(ds, labels, seed, epochs, snapshots)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, probs=probs, cpu=cpu, predict_cpu=predict_cpu)
        print(f"  cached {path.name} ({cpu:.0f} CPU s, {predict_cpu:.0f} of them predicting)", flush=True)
    z = np.load(path)
    return z["probs"], float(z["cpu"]), float(z["predict_cpu"]) if "predict_cpu" in z else float("nan")


def plain_default(cache: Path, ds, setting: str, seed: int) -> tuple[np.ndarray, float]:
    """The default audit without the option, for the bit-for-bit check and its CPU seconds."""
    path = cache / f"mnist_{setting}_s{seed}_plain.npz"
    cache.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        labels, _ = labels_for(ds, setting, seed)
        cpu = time.process_time()
        cv = cross_val_pred_probs(ds.features, labels, num_classes=ds.num_classes, modality="image",
                                  backbone="cnn", folds=5, seed=seed, device="cpu")
        np.savez(path, probs=cv.pred_probs, cpu=time.process_time() - cpu)
    z = np.load(path)
    return z["probs"], float(z["cpu"])


def lowest(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, dict]:
    r = rank_label_issues(labels, probs)
    return np.argsort(r.quality_scores, kind="stable")[:TOP], {"quality": r.quality_scores, "issue": r.is_issue}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, nargs="+", default=[0], help="0: the backbone's default (8 here)")
    ap.add_argument("--max-snapshots", type=int, default=4)
    ap.add_argument("--settings", nargs="+", default=["instance", "orig"], choices=["instance", "orig"])
    ap.add_argument("--check", action="store_true", help="also run the plain default for the first seed")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/snap-cache"))
    args = ap.parse_args()
    ds = load("mnist")
    ref = set(lowest(ds.labels, np.load(PYX))[0].tolist())
    for setting in args.settings:
        if args.check:
            plain, plain_cpu = plain_default(args.cache, ds, setting, args.seeds[0])
            derived, _, _ = cached(args.cache, ds, setting, args.seeds[0], None, args.max_snapshots)
            same = np.array_equal(plain, derived[0])
            print(f"{setting}: plain default (seed {args.seeds[0]}, {plain_cpu:.0f} CPU s) equals the derived "
                  f"snapshots=1: {same} (max diff {np.abs(plain - derived[0]).max():.2e})", flush=True)
        for epochs in args.epochs:
            rows: dict[int, list[dict]] = {k: [] for k in range(1, args.max_snapshots + 1)}
            for seed in args.seeds:
                probs, cpu, predict_cpu = cached(args.cache, ds, setting, seed, epochs or None, args.max_snapshots)
                per_prediction = predict_cpu / args.max_snapshots  # of the 5 folds' held-out parts, TTA included
                labels, flipped = labels_for(ds, setting, seed)
                for k in rows:
                    low, r = lowest(labels, probs[k - 1])
                    # this count's CPU: the run less the snapshot predictions it does not need
                    m = {"seed": seed, "cpu": cpu - (args.max_snapshots - k) * per_prediction,
                         "issues": int(r["issue"].sum()),
                         "accuracy": float((probs[k - 1].argmax(1) == labels).mean())}
                    if setting == "orig":
                        m["agree"] = len(set(low.tolist()) & ref)
                    else:
                        ev = evaluate_audit(labels, ds.labels, r["issue"], r["quality"])
                        m.update(ap=ev["average_precision"], precision=ev["precision"], recall=ev["recall"],
                                 p100=float(flipped[low].mean()))
                    rows[k].append(m)
            name = f"epochs {epochs or 'default'}"
            for k, ms in rows.items():
                keys = ["agree"] if setting == "orig" else ["ap", "precision", "recall", "p100"]
                cells = []
                for key in keys + ["issues", "accuracy"]:
                    v = np.array([m[key] for m in ms], dtype=float)
                    cells.append(f"{key} " + " / ".join(f"{x:.3f}" if key != "agree" and key != "issues" else
                                                        f"{x:.0f}" for x in v)
                                 + f" = {v.mean():.3f} ± {v.std():.3f}")
                cpu = np.array([m["cpu"] for m in ms])
                base = np.array([m["cpu"] for m in rows[1]])
                print(f"| {setting} | {name} | snapshots {k} | " + " | ".join(cells) + " | CPU s "
                      + " / ".join(f"{c:.0f}" for c in cpu)
                      + f" | x snapshots 1 of this run: {np.mean(cpu / base):.3f} |", flush=True)


if __name__ == "__main__":
    main()
