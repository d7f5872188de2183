"""Agreement with a stronger model on the MNIST test set's real label errors, per training configuration.

For each configuration and seed: 5-fold cross-validated probabilities of the ``cnn`` backbone on the
10,000 MNIST test images with their original labels (some are wrong, verified by people), then how many
of our 100 lowest-quality rows are among the 100 lowest ranked from cleanlab's published out-of-sample
probabilities (``mnist_test_set_pyx.npy``, models trained on the 60,000 training images; same ranking
method). Also: CV accuracy, the issue set's size, CPU seconds against the default configuration run in
the same process, the overlap of two seeds' 100 lowest rows (how reproducible they are), and the
probabilities mixed with the neighbour vote in the fold model's embedding.

    python bench/agreement.py [--configs default epochs5 ensemble3] [--seeds 3]

``epochs5`` is the default before 2026-12-07 (5 epochs on these 8,000 training images a fold, about 35 s of
2 cores); ``default`` (8 epochs) about 1.5x that, ``e15`` and ``ensemble3`` about 3x. ``snap3`` and ``snap4``
average the held-out predictions of the last 3 or 4 epochs' models (backbone option ``snapshots``;
``bench/snapshots.py`` derives every snapshot count from one run).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.data import load  # noqa: E402
from labelaudit.core.crossval import cross_val_pred_probs  # noqa: E402
from labelaudit.core.ranking import rank_label_issues  # noqa: E402

PYX = ROOT.parent / "shared" / "datasets" / "label-errors" / "mnist_test_set_pyx.npy"
TOP = 100
NEIGHBOURS = 10
CONFIGS = {
    "default": {},
    "epochs5": {"epochs": 5},
    "e15": {"epochs": 15},
    "ce": {"options": {"loss": "ce", "label_smoothing": 0.0}},
    "ensemble3": {"members": 3},
    "rotate_zoom": {"options": {"augment_rotate": 10, "augment_scale": 0.1}},
    "snap3": {"options": {"snapshots": 3}},
    "snap4": {"options": {"snapshots": 4}},
    "e10snap4": {"epochs": 10, "options": {"snapshots": 4}},
    "stem1": {"options": {"stem_stride": 1}},
    "folds10": {"folds": 10},
}


def lowest(labels: np.ndarray, probs: np.ndarray) -> tuple[set, int]:
    """The ``TOP`` lowest-quality rows and the issue set's size."""
    r = rank_label_issues(labels, probs)
    return set(np.argsort(r.quality_scores, kind="stable")[:TOP].tolist()), int(r.is_issue.sum())


def run(ds, name: str, seed: int) -> dict:
    cpu = time.process_time()
    cv = cross_val_pred_probs(ds.features, ds.labels, num_classes=ds.num_classes, modality="image", backbone="cnn",
                              seed=seed, device="cpu", neighbours=NEIGHBOURS, **{"folds": 5, **CONFIGS[name]})
    return {"probs": cv.pred_probs, "near": cv.neighbour_probs, "cpu": time.process_time() - cpu,
            "epochs": cv.epochs, "accuracy": float((cv.pred_probs.argmax(1) == ds.labels).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["default", "epochs5"], choices=sorted(CONFIGS))
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    ds = load("mnist")
    ref, ref_issues = lowest(ds.labels, np.load(PYX))
    print(f"published probabilities: {ref_issues} issues", flush=True)
    configs = ["default"] + [c for c in args.configs if c != "default"]
    rows, base_cpu = [], None
    for name in configs:
        found = []
        for seed in range(args.seeds):
            r = run(ds, name, seed)
            mine, issues = lowest(ds.labels, r["probs"])
            mixed, _ = lowest(ds.labels, 0.75 * r["probs"] + 0.25 * r["near"]) if r["near"] is not None else (set(), 0)
            found.append({**r, "agree": len(mine & ref), "issues": issues, "mixed": len(mixed & ref), "mine": mine})
            print(f"  {name} seed {seed}: {r['epochs']} epochs, accuracy {r['accuracy']:.4f}, agreement "
                  f"{found[-1]['agree']}, issues {issues}, {r['cpu']:.0f} CPU s", flush=True)
        agree = [f["agree"] for f in found]
        cpu = float(np.mean([f["cpu"] for f in found]))
        base_cpu = base_cpu or cpu
        pairs = [len(a["mine"] & b["mine"]) for a, b in itertools.combinations(found, 2)]
        accuracy = " / ".join(f"{f['accuracy']:.4f}" for f in found)
        rows.append(f"| {name} | {accuracy} | {' / '.join(map(str, agree))} | "
                    f"{np.mean(agree):.1f} ± {np.std(agree):.1f} | {' / '.join(str(f['issues']) for f in found)} | "
                    f"{np.mean([f['mixed'] for f in found]):.1f} | {' / '.join(map(str, pairs)) or '-'} | "
                    f"{cpu:.0f} | {cpu / base_cpu:.2f}x |")
    print("\n| config | CV accuracy by seed | agreement by seed | mean ± sd | issues | mixed with neighbours "
          "(mean) | seed-to-seed overlap | CPU s | CPU ratio |\n|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
